"""py-spy as the profiler's engine: a native sampler that reads this process's memory from a child process.

Its samples do not wait for the GIL (as async-profiler's do not wait for a safepoint), so a handler that
computes for 2 ms shows up as much as it runs. The agent starts ``py-spy record -p <own pid> -f raw``
and turns the raw collapsed stacks into the profiler's stacks:
- ``cpu`` adds ``--gil`` by default: the thread holding the GIL counts, read from outside (no switch-point
  bias). The benchmark and the framework tests measured py-spy's own idle detection (``--gil false``) counting
  a thread that woke up and waits for the GIL or for a CPU as running: 18 points too few on the hot code,
  and a server's accept loop taking 40-60% of a loaded gunicorn or Django worker. ``wall`` adds ``--idle``.
  ``--nonblocking``: py-spy reads the stacks without stopping the threads, so the
  target never pauses (a stack read while it changes is rare and only costs one sample).
- Before 3.11 a thread state does not hold its kernel thread id, and py-spy finds it only while the
  threads are stopped: without that, ``--nonblocking`` takes every thread for active (a sleeping thread
  got half of a cpu profile). There cpu mode always adds ``--gil``; a thread computing in C without the GIL
  is not counted (status says so).
- py-spy writes its file when it stops, so a ``dump`` or ``getSamples`` while it runs closes the current
  recording (SIGINT, which makes py-spy write) and starts the next one: a segment. Segments are merged.
- py-spy needs ptrace. Where Yama's ptrace scope is 1 (only ancestors may trace), the agent names its
  child as its tracer (``prctl(PR_SET_PTRACER)``) before the child execs py-spy.
Frames are named as the in-process sampler names them (``module.qualname``), found from py-spy's file,
first line and function name (``-F --full-filenames``).
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from typing import Dict, List, Optional, Tuple

from ..util import threads
from .frames import Frame, module_code_index, modules_by_file

YAMA_SCOPE = "/proc/sys/kernel/yama/ptrace_scope"
IDLE_DETECTION_WITHOUT_PAUSE = sys.version_info >= (3, 11)
PR_SET_PTRACER = 0x59616D61
START_TIMEOUT = 10.0       # py-spy attaching to this process (it reads the interpreter's memory once)
STOP_TIMEOUT = 10.0        # py-spy writing its file after SIGINT
MIN_SEGMENT = 1.0          # getSamples does not restart a recording younger than this
MAX_STACKS = 200000        # distinct stacks kept; later new ones count under "[other stacks]"
MAX_ERROR_LINES = 20

_THREAD = re.compile(r"^thread \((0x[0-9A-Fa-f]+|\d+)\)(?:: (.*))?$")
_FRAME = re.compile(r"^(.*) \((.*?)(?::(\d+))?\)$")

AGENT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
RawStack = Tuple[str, ...]   # py-spy's frame texts, outermost first, after the thread's "[name tid=N]"


class PySpyUnavailable(Exception):
    """py-spy cannot profile this process; the message says why (shown by ``profiler status``)."""


def find_py_spy(explicit: Optional[str] = None) -> str:
    """The py-spy executable: ``explicit`` (an option), else $PYARTHAS_PY_SPY, else the one installed beside
    this interpreter (its environment's scripts folder), else the first on PATH."""
    explicit = explicit or os.environ.get("PYARTHAS_PY_SPY")
    if explicit:
        if os.path.isfile(explicit) and os.access(explicit, os.X_OK):
            return explicit
        raise PySpyUnavailable("py-spy not found at %s" % explicit)
    folders = [os.path.dirname(sys.executable)]
    try:
        folders.append(sysconfig.get_path("scripts"))
    except (KeyError, ValueError):
        pass
    for folder in folders:
        candidate = os.path.join(folder or "", "py-spy")
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("py-spy")
    if found:
        return found
    raise PySpyUnavailable("py-spy is not installed in this interpreter's environment nor on PATH "
                           "(pip install py-spy)")


def ptrace_scope() -> Optional[int]:
    """Yama's ptrace scope (0 classic, 1 ancestors only, 2 admin only, 3 none); None without Yama."""
    try:
        with open(YAMA_SCOPE) as scope:
            return int(scope.read().strip())
    except (OSError, ValueError):
        return None


def _allow_tracer(pid: int) -> bool:
    """Let ``pid`` (and what it execs) ptrace this process under Yama scope 1."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PTRACER, ctypes.c_ulong(pid), 0, 0, 0) == 0
    except (OSError, AttributeError, ImportError):
        return False


class PySpyRecorder:
    """Runs py-spy against this process in segments and merges their raw stacks.

    ``counts`` maps (thread frame, frame texts...) to samples. Agent threads (``pyarthas-*``) are dropped."""

    def __init__(self, mode: str, interval: float, executable: Optional[str] = None, gil: bool = False):
        if sys.platform != "linux":
            raise PySpyUnavailable("py-spy can read this process only on Linux without root")
        scope = ptrace_scope()
        if scope is not None and scope >= 3:
            raise PySpyUnavailable("ptrace is disabled on this machine (Yama ptrace_scope=%d)" % scope)
        self.executable = find_py_spy(executable)
        self.mode = mode
        self.gil = gil or (mode == "cpu" and not IDLE_DETECTION_WITHOUT_PAUSE)
        self.rate = max(1, round(1.0 / interval))
        self.counts: Dict[RawStack, int] = {}
        self.samples = 0
        self.errors: List[str] = []
        self._lock = threading.RLock()
        self._process: Optional[subprocess.Popen] = None
        self._output = ""
        self._segment_started = 0.0
        self._directory = tempfile.mkdtemp(prefix="pyarthas-py-spy-")
        self._messages: List[str] = []
        self._segments = 0

    # ---- segments ----

    def begin(self) -> None:
        """Start a recording segment; raises PySpyUnavailable when py-spy cannot attach."""
        with self._lock:
            if self._process is not None:
                return
            self._segments += 1
            self._output = os.path.join(self._directory, "segment-%d.txt" % self._segments)
            self._process, self._messages = self._spawn(self._output)
            self._segment_started = time.monotonic()

    def end(self) -> None:
        """Stop the running segment and merge what it recorded."""
        with self._lock:
            process, self._process = self._process, None
            if process is None:
                return
            if process.poll() is None:
                try:
                    process.send_signal(signal.SIGINT)
                    process.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(STOP_TIMEOUT)
                except OSError:
                    pass
            self._merge(self._output)

    def rotate(self, min_age: float = 0.0) -> None:
        """Close the running segment (its samples become visible) and start the next one."""
        with self._lock:
            if self._process is None or time.monotonic() - self._segment_started < min_age:
                return
            self.end()
            self.begin()

    @property
    def alive(self) -> bool:
        process = self._process
        return process is not None and process.poll() is None

    def close(self) -> None:
        self.end()
        shutil.rmtree(self._directory, ignore_errors=True)

    def _argv(self, output: str) -> List[str]:
        argv = [self.executable, "record", "--pid", str(os.getpid()), "--format", "raw", "--output", output,
                "--rate", str(self.rate), "--threads", "--function", "--full-filenames", "--nonblocking"]
        if self.mode == "wall":
            argv.append("--idle")
        elif self.gil:
            argv.append("--gil")
        return argv

    def _spawn(self, output: str):
        # The child waits for one line on stdin before it execs py-spy, so that the agent can name it as
        # its tracer first (Yama scope 1 only lets ancestors trace otherwise); exec keeps the pid.
        argv = ["/bin/sh", "-c", 'read go && exec "$0" "$@"'] + self._argv(output)
        try:
            # py-spy says what it does on stdout and what went wrong on stderr: one pipe reads both
            process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, close_fds=True, start_new_session=True)
        except OSError as exc:
            raise PySpyUnavailable("cannot start py-spy: %s" % (exc.strerror or exc)) from None
        if ptrace_scope() == 1:
            _allow_tracer(process.pid)
        messages: List[str] = []
        attached = threading.Event()
        threads.spawn("py-spy-output", lambda: _read_output(process, messages, attached))
        try:
            assert process.stdin is not None
            process.stdin.write(b"go\n")
            process.stdin.close()
        except OSError:
            pass
        if not attached.wait(START_TIMEOUT) or process.poll() is not None:
            if process.poll() is None:
                process.kill()
            process.wait(STOP_TIMEOUT)
            raise PySpyUnavailable("py-spy could not sample this process: %s"
                                   % (_reason(messages) or "no answer within %gs" % START_TIMEOUT))
        return process, messages

    def _merge(self, path: str) -> None:
        try:
            with open(path, encoding="utf-8", errors="replace") as raw:
                text = raw.read()
            os.unlink(path)
        except OSError:
            reason = _reason(self._messages)
            if reason:
                self.errors = (self.errors + [reason])[-MAX_ERROR_LINES:]
            return
        merge_raw(text, self.counts, agent_thread_native_ids())
        self.samples = sum(self.counts.values())


def _read_output(process: subprocess.Popen, lines: List[str], attached: threading.Event) -> None:
    """py-spy says "Sampling process ..." once attached, then nothing until it stops. Reads until it exits."""
    stream = process.stdout
    assert stream is not None
    for raw in stream:
        line = raw.decode("utf-8", "replace").rstrip()
        if "Sampling process" in line:
            attached.set()
        elif line and len(lines) < MAX_ERROR_LINES:
            lines.append(line)
    stream.close()
    attached.set()   # exited: the waiter looks at the exit status


def _reason(lines: List[str]) -> str:
    for line in lines:
        text = line.replace("py-spy>", "").strip()
        if text.lower().startswith("error") or "permission" in text.lower() or "failed" in text.lower():
            return text
    return "; ".join(line.strip() for line in lines[:2])


def agent_thread_native_ids() -> set:
    return {t.native_id for t in threading.enumerate()
            if t.ident in threads.AGENT_THREAD_IDS and getattr(t, "native_id", None)}


def merge_raw(text: str, counts: Dict[RawStack, int], skip_native_ids=frozenset()) -> None:
    """Add py-spy's raw output (``thread (TID): NAME;frame;...;frame COUNT`` lines) to ``counts``, keyed by
    ``("[NAME tid=TID]", frame, ...)``; stacks of the agent's own threads (by name, native id, or a frame
    of the agent's code: needs ``--full-filenames``) are left out."""
    for line in text.splitlines():
        stack_text, _, count_text = line.rstrip().rpartition(" ")
        if not stack_text or not count_text.isdigit():
            continue
        frames = stack_text.split(";")
        thread = _THREAD.match(frames[0])
        if thread is None:
            root = "[thread]"
        else:
            frames = frames[1:]
            tid_text, name = thread.group(1), thread.group(2) or "Thread"
            tid = int(tid_text, 16) if tid_text.startswith("0x") else int(tid_text)
            if name.startswith(threads.THREAD_PREFIX) or tid in skip_native_ids:
                continue
            root = "[%s tid=%d]" % (name, tid)
        if not frames:
            continue   # a thread without Python frames (starting, or ending)
        if any(AGENT_DIR in frame for frame in frames):
            continue   # an agent thread py-spy knows under a stale name (thread ids are reused)
        key = (root,) + tuple(frames)
        if key not in counts and len(counts) >= MAX_STACKS:
            key = (root, "[other stacks]")
        counts[key] = counts.get(key, 0) + int(count_text)


class FrameNamer:
    """py-spy's ``function (file:firstline)`` texts to ``Frame``s named ``module.qualname``, as the
    in-process sampler names them: the module from the file (the loaded modules' ``__file__``), the
    qualified name from the module's code objects with that first line and name."""

    def __init__(self) -> None:
        self._modules = modules_by_file()
        self._qualnames: Dict[str, Dict[Tuple[int, str], str]] = {}
        self._cache: Dict[str, Frame] = {}

    def frame(self, text: str) -> Frame:
        found = self._cache.get(text)
        if found is None:
            found = self._cache[text] = self._name(text)
        return found

    def _name(self, text: str) -> Frame:
        match = _FRAME.match(text)
        if match is None:
            return Frame(text, "", 0)
        function, path, line_text = match.group(1), match.group(2), match.group(3)
        line = int(line_text) if line_text else 0
        module = self._modules.get(path) or self._modules.get(os.path.realpath(path))
        if module is None:
            return Frame(function, path, line)
        short = function.rpartition(".")[2]
        qualname = self._qualname(module, line, short) or function
        return Frame("%s.%s" % (module, qualname), path, line)

    def _qualname(self, module: str, line: int, name: str) -> Optional[str]:
        index = self._qualnames.get(module)
        if index is None:
            index = self._qualnames[module] = {
                (code.co_firstlineno, code.co_name): qualname
                for code, qualname in module_code_index(module).items()}
            index.setdefault((1, "<module>"), "<module>")
        if name == "<module>":
            return "<module>"
        return index.get((line, name))


def version(executable: str) -> str:
    try:
        done = subprocess.run([executable, "--version"], capture_output=True, text=True, timeout=10)
        return done.stdout.strip() or "py-spy"
    except (OSError, subprocess.SubprocessError):
        return "py-spy"
