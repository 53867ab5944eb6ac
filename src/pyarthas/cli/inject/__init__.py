"""Load the pyarthas agent into a running CPython process and start it.

How the bootstrap (``bootstrap.py``) gets to run in the target, first that applies:
1. the target is armed (started with ``PYARTHAS_ARM=1`` or called ``pyarthas.arm()``): a request file and a
   signal, no ptrace at all (``agent/arm.py``);
2. Linux x86-64: the ptrace injector (``ptrace_inject.py``), whatever the main thread is doing;
3. CPython 3.14+ where ptrace is closed and the main thread runs Python: ``sys.remote_exec`` (PEP 768).
The bootstrap answers on a FIFO; the agent then has to answer ``init_session`` before attach says yes.
"""
import hashlib
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from typing import NamedTuple, Optional, Tuple

from ...agent.arm import ARM_DIRECTORY, ARM_REQUEST, ARM_SIGNAL
from .process import AttachError, PythonProcess, inspect, main_thread_blocked_in

ARM_WAIT = 1.0                  # an armed target accepts in about 1 ms; past this, use ptrace
REPLY_TIMEOUT = 10.0
MIN_VERSION, REMOTE_EXEC_VERSION = (3, 9), (3, 14)
AGENT_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "agent")
BOOTSTRAP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bootstrap.py")
CODE_CACHE = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
                          "pyarthas", "bytecode")


class Attached(NamedTuple):
    status: str       # "started" or "running" (an agent was already serving there)
    url: str
    pid: int
    how: str          # which mechanism, for --verbose and the benchmark
    generated_password: Optional[Tuple[str, str]] = None   # (username, password) the agent made up
    token_path: Optional[str] = None  # where the agent wrote its token (started with token=True)
    notes: Tuple[str, ...] = ()       # what the agent said while starting (a default port it found taken)


def private_package_name() -> str:
    """The name the agent is loaded under in the target: tied to this install, so that two installs (or
    versions) never share one, and nothing in the target can import it by accident."""
    from ...agent import VERSION
    digest = hashlib.sha1((AGENT_DIR + "\0" + VERSION).encode("utf-8")).hexdigest()[:12]
    return "_pyarthas_agent_" + digest


def write_agent_bundle(path: str, target: PythonProcess) -> Optional[str]:
    """Every module of the agent in one file for bootstrap.py's finder: its source, and its code compiled
    by an earlier attach to the same interpreter version when the code cache has it. Returns the cache
    file the target may write (None when it must not: it runs as another user)."""
    import marshal
    sources = {}
    for folder, folders, files in os.walk(AGENT_DIR):
        folders[:] = [name for name in folders if name != "__pycache__"]
        for file_name in (name for name in files if name.endswith(".py")):
            path_here = os.path.join(folder, file_name)
            relative = os.path.relpath(path_here, AGENT_DIR)[:-3].replace(os.sep, ".")
            is_package = relative == "__init__" or relative.endswith(".__init__")
            with open(path_here, "rb") as handle:
                sources[relative[:-len("__init__")].rstrip(".") if is_package else relative] = (
                    path_here, is_package, handle.read())
    cache_file = _code_cache_file(sources, target)
    cached = _read_code_cache(cache_file)
    bundle = {name: entry + (cached.get(name),) for name, entry in sources.items()}
    with open(path, "wb") as handle:
        handle.write(marshal.dumps(bundle, 4))
    return cache_file if target.uid == os.getuid() else None


def _code_cache_file(sources, target: PythonProcess) -> str:
    """Named after every path and source (both are in the code objects) and the interpreter version."""
    digest = hashlib.sha1()
    for name in sorted(sources):
        path, _, source = sources[name]
        digest.update(path.encode("utf-8") + b"\0" + source + b"\0")
    tag = "cpython-%d%d" % target.version if target.version else "unknown"
    return os.path.join(CODE_CACHE, "agent-%s.%s" % (digest.hexdigest()[:16], tag))


def _read_code_cache(cache_file: str) -> dict:
    import marshal
    try:
        with open(cache_file, "rb") as handle:
            cached = marshal.loads(handle.read())
        return cached if isinstance(cached, dict) else {}
    except (OSError, ValueError, EOFError, TypeError):
        pass
    # none for these sources: make room for it, and drop what older sources left for this version
    tag = cache_file.rsplit(".", 1)[1]
    try:
        os.makedirs(CODE_CACHE, mode=0o700, exist_ok=True)
        for name in os.listdir(CODE_CACHE):
            if name.endswith("." + tag):
                os.unlink(os.path.join(CODE_CACHE, name))
    except OSError:
        pass
    return {}


def bootstrap_code(ip: str, port: Optional[int], reply: str, bundle: str, cache: Optional[str] = None,
                   credentials: Tuple[Optional[str], Optional[str]] = (None, None),
                   access: Optional[dict] = None) -> str:
    """Code that runs bootstrap.py, binds no name in the target's ``__main__`` and never fails (a failing
    pending call would raise SystemError into the target's main thread)."""
    args = {"agent_dir": AGENT_DIR, "package": private_package_name(), "ip": ip, "port": port, "reply": reply,
            "bundle": bundle, "cache": cache, "username": credentials[0], "password": credentials[1],
            "access": access or {}}
    run = ("(lambda b: b.exec(b.compile(b.open(%r, 'rb').read(), %r, 'exec'), "
           "{'__name__': '_pyarthas_bootstrap', 'ARGS': %r}))(__import__('builtins'))" % (BOOTSTRAP, BOOTSTRAP, args))
    # bootstrap.py unreadable (say, the target lives in a container): tell the CLI why
    report = ("(lambda o, j: (lambda fd: (o.write(fd, (j.dumps({'status': 'error', 'message': "
              "repr(__import__('sys').exc_info()[1])}) + '\\n').encode()), o.close(fd)))"
              "(o.open(%r, o.O_WRONLY | o.O_NONBLOCK)))(__import__('os'), __import__('json'))" % reply)
    return "try:\n %s\nexcept BaseException:\n try:\n  %s\n except BaseException:\n  pass\n" % (run, report)


def attach(pid: int, ip: str = "127.0.0.1", port: Optional[int] = None, timeout: float = REPLY_TIMEOUT,
           username: Optional[str] = None, password: Optional[str] = None, access: Optional[dict] = None) -> Attached:
    """Start the agent in process ``pid`` (or find the one already there). Raises AttachError. ``port`` None:
    8563, or a free port when that is taken (the agent says which in its URL).
    The password travels in the bootstrap code: only to a FIFO and a file private to the target's user."""
    target = inspect(pid)
    if target.version is not None and target.version < MIN_VERSION:
        raise AttachError("process %d runs Python %s; pyarthas needs 3.9 or later" % (pid, target.version_text))
    with ReplyChannel(target) as channel:
        bundle = os.path.join(channel.directory, "agent.bundle")
        cache_file = write_agent_bundle(bundle, target)
        channel.give_to_target(bundle)
        code = bootstrap_code(ip, port, channel.path, bundle, cache_file, (username, password), access)
        reply, how = None, None
        if is_armed(pid):
            _request_armed(target, code)
            how = "armed signal handler"
            reply = channel.read(ARM_WAIT)
        if reply is None:
            how = _inject(target, code, channel)
            reply = channel.read(timeout)
        if reply is None:
            raise AttachError("the injected code did not run within %.0f s (%s); the target's main thread may "
                              "be busy inside a long C call" % (timeout, how))
        if reply["status"] == "accepted":
            reply = channel.read(timeout)
            if reply is None:
                raise AttachError("the agent did not start within %.0f s in process %d" % (timeout, pid))
    return _check_reply(reply, pid, ip, port, how)


def _inject(target: PythonProcess, code: str, channel: "ReplyChannel") -> str:
    """The ptrace injector first, on 3.14 too: it reaches a main thread blocked in a system call or a lock,
    which ``sys.remote_exec`` never does (that runs at the main thread's next eval-breaker check). Where
    ptrace is closed (another tracer, a shadow stack, not x86-64) and the main thread runs Python code,
    3.14's ``sys.remote_exec`` gets in."""
    from .ptrace_inject import PtraceUnavailable, inject
    try:
        return "ptrace injector: " + inject(target, code)
    except PtraceUnavailable as closed:
        if target.version is None or target.version < REMOTE_EXEC_VERSION:
            raise
        blocked_in = main_thread_blocked_in(target.pid)
        if blocked_in:
            raise AttachError("%s; sys.remote_exec cannot help: the main thread waits in %s and would run it "
                              "only once it runs Python code again" % (closed, blocked_in)) from None
        try:
            return "%s (ptrace: %s)" % (_remote_exec(target, code, channel), closed)
        except AttachError as failed:
            raise AttachError("%s; and %s" % (closed, failed)) from None


def _check_reply(reply: dict, pid: int, ip: str, port: int, how: str) -> Attached:
    status = reply.get("status")
    if status == "port-in-use":
        raise AttachError("port in use: the agent in process %d cannot listen on %s:%s (%s); choose another "
                          "with --port" % (pid, ip, port, reply.get("message")))
    if status not in ("started", "running"):
        raise AttachError("the agent failed to start in process %d: %s" % (pid, reply.get("message")))
    url = reply["url"]
    _wait_until_answers(url, reply.get("token"))
    generated = (reply["username"], reply["password"]) if reply.get("password") else None
    return Attached(status, url, pid, how, generated, reply.get("token_path"), tuple(reply.get("notes") or ()))


def _wait_until_answers(url: str, token: Optional[str] = None) -> None:
    """The first successful init_session (the session is closed again right away)."""
    from ..client import ApiError, Client
    client = Client(url, timeout=10.0, token=token)
    try:
        session_id = client.request("init_session")["sessionId"]
        client.request("close_session", sessionId=session_id)
    except ApiError as error:
        raise AttachError("the agent started at %s but does not answer: %s" % (url, error)) from None


# ---- the reply channel ----

class ReplyChannel:
    """A FIFO in a private directory; the bootstrap writes one JSON line into it."""

    PREFIX = "pyarthas-attach-"

    def __init__(self, target: PythonProcess):
        self.target = target
        _remove_stale_channels()
        self.directory = tempfile.mkdtemp(prefix="%s%d-" % (self.PREFIX, os.getpid()))
        self.path = os.path.join(self.directory, "reply")
        os.mkfifo(self.path, 0o600)
        self.give_to_target(self.directory)
        self.give_to_target(self.path)
        # read-write, so that the FIFO never reports end-of-file before the bootstrap writes to it
        self.fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK)
        self.buffer = b""

    def give_to_target(self, path: str) -> None:
        """Root attaching to another user's process: that user must read and write what is ours here."""
        if self.target.uid != os.getuid() and os.getuid() == 0:
            os.chown(path, self.target.uid, self.target.gid)

    def read(self, timeout: float) -> Optional[dict]:
        import json
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.fd], [], [], remaining)[0]:
                return None
            self.buffer += os.read(self.fd, 65536)
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line.decode("utf-8"))

    def __enter__(self) -> "ReplyChannel":
        return self

    def __exit__(self, *exc_info) -> None:
        os.close(self.fd)
        shutil.rmtree(self.directory, ignore_errors=True)


def _remove_stale_channels() -> None:
    """What an attach that was killed left behind (its FIFO and bundle)."""
    parent = tempfile.gettempdir()
    for name in os.listdir(parent):
        if not name.startswith(ReplyChannel.PREFIX):
            continue
        pid = name[len(ReplyChannel.PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not os.path.exists("/proc/" + pid):
            shutil.rmtree(os.path.join(parent, name), ignore_errors=True)


# ---- armed targets ----

def is_armed(pid: int) -> bool:
    """The target catches ARM_SIGNAL (pyarthas's handler): sending it is then harmless and enough."""
    try:
        with open("/proc/%d/status" % pid) as handle:
            for line in handle:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) >> (ARM_SIGNAL - 1) & 1)
    except OSError:
        pass
    return False


def _request_armed(target: PythonProcess, code: str) -> None:
    directory = ARM_DIRECTORY % target.uid
    try:
        os.mkdir(directory, 0o700)
        if os.getuid() != target.uid:
            os.chown(directory, target.uid, target.gid)
    except FileExistsError:
        pass
    info = os.lstat(directory)
    if info.st_uid != target.uid or info.st_mode & 0o077 or not os.path.isdir(directory):
        raise AttachError("%s must be a directory private to uid %d" % (directory, target.uid))
    request = os.path.join(directory, ARM_REQUEST % target.pid)
    temporary = request + ".tmp"
    with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
        handle.write(code)  # may hold the password
    if os.getuid() != target.uid:
        os.chown(temporary, target.uid, target.gid)
    os.replace(temporary, request)
    os.kill(target.pid, ARM_SIGNAL)


# ---- CPython 3.14+ ----

def _remote_exec(target: PythonProcess, code: str, channel: ReplyChannel) -> str:
    """PEP 768: the target's own interpreter runs the script at its main thread's next eval-breaker check."""
    script = os.path.join(channel.directory, "bootstrap_call.py")
    with open(script, "w") as handle:
        handle.write(code + "\n")
    channel.give_to_target(script)
    call = "import sys; sys.remote_exec(%d, %r)" % (target.pid, script)
    if sys.version_info[:2] == target.version and hasattr(sys, "remote_exec"):
        try:
            sys.remote_exec(target.pid, script)
        except (OSError, RuntimeError) as error:
            raise AttachError("sys.remote_exec failed: %s" % error) from None
        return "sys.remote_exec"
    done = subprocess.run(["/proc/%d/exe" % target.pid, "-I", "-c", call], capture_output=True, text=True,
                          timeout=30)
    if done.returncode != 0:
        raise AttachError("sys.remote_exec failed: %s" % (done.stderr.strip().splitlines() or ["?"])[-1])
    return "sys.remote_exec (target's interpreter)"


__all__ = ["attach", "Attached", "AttachError", "is_armed"]
