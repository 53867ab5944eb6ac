"""Real target processes with the agent inside, and a plain HTTP client to talk to them.

Nothing here mocks the agent: a target is a real interpreter (each CPython the machine has, see
``target_pythons``) running real code, and the client speaks HTTP over loopback.
"""
import http.client
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any, Dict, Iterable, List, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "src")
URL_LINE = re.compile(r"serving (http://\S+)/api")


def target_pythons() -> List[str]:
    """Interpreters to run targets under: $PYARTHAS_TEST_PYTHONS (os.pathsep-separated), else every
    pyenv CPython from 3.9 up and the CPython 3.14 scripts/python314.sh installed, else this interpreter."""
    configured = os.environ.get("PYARTHAS_TEST_PYTHONS")
    if configured:
        return [p for p in configured.split(os.pathsep) if p]
    found = _pyenv_pythons()
    python314, _ = installed_python314()
    if python314 and not any(python_id(exe) == "py3.14" for exe in found):
        found.append(python314)
    return found or [sys.executable]


def python314_home() -> str:
    """Where scripts/python314.sh installs CPython 3.14 (the same rule as the script)."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.environ.get("PYARTHAS_PYTHON314_HOME") or os.path.join(cache, "pyarthas", "python3.14")


def installed_python314() -> Tuple[Optional[str], str]:
    """(the interpreter scripts/python314.sh installed, or None; why it is missing)."""
    home = python314_home()
    exe = os.path.join(home, "prefix", "usr", "bin", "python3.14")
    if os.access(exe, os.X_OK):
        return exe, ""
    try:
        with open(os.path.join(home, "unavailable")) as handle:
            return None, handle.read().strip()
    except OSError:
        return None, "not installed in %s (scripts/python314.sh installs it)" % home


def _pyenv_pythons() -> List[str]:
    pyenv = shutil.which("pyenv")
    if not pyenv:
        return []
    try:
        out = subprocess.run([pyenv, "versions", "--bare", "--skip-aliases"], capture_output=True, text=True,
                             timeout=20).stdout
        root = subprocess.run([pyenv, "root"], capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return []
    pythons = {}
    for version in out.split():
        match = re.fullmatch(r"3\.(\d+)\.\d+", version)
        if match and int(match.group(1)) >= 9:
            exe = os.path.join(root, "versions", version, "bin", "python3")
            if os.path.exists(exe):
                pythons[int(match.group(1))] = exe
    return [pythons[k] for k in sorted(pythons)]


def python_version(exe: str) -> tuple:
    """(major, minor) of the interpreter ``exe``."""
    out = subprocess.run([exe, "-c", "import sys; print('%d %d' % sys.version_info[:2])"], capture_output=True,
                         text=True, timeout=30).stdout
    return tuple(int(part) for part in out.split())


def python_id(exe: str) -> str:
    match = re.search(r"(\d+\.\d+)\.\d+", exe) or re.search(r"python(\d+\.\d+)$", exe)
    return "py" + match.group(1) if match else os.path.basename(exe)


def target_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("PYARTHAS_ARM", None)
    # the profiler's py-spy engine: the one installed with the tests' dependencies, for targets run by
    # interpreters that have none of their own
    py_spy = os.path.join(os.path.dirname(sys.executable), "py-spy")
    if os.path.isfile(py_spy) and "PYARTHAS_PY_SPY" not in env:
        env["PYARTHAS_PY_SPY"] = py_spy
    if extra:
        env.update(extra)
    return env


class Target:
    """A running target process. ``url`` is set once the agent printed it."""

    def __init__(self, argv: List[str], env: Dict[str, str], cwd: Optional[str] = None, wait_for_agent=True,
                 start_timeout: float = 60.0):
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd,
                                     stdin=subprocess.DEVNULL)
        self.stdout_lines: "queue.Queue[str]" = queue.Queue()
        self.stderr_lines: List[str] = []
        self._url_found: "queue.Queue[str]" = queue.Queue()
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stderr, True), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stdout, False), daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        self.url = None
        if wait_for_agent:
            self.url = self.wait_for_url(start_timeout)

    def _read(self, stream, is_stderr: bool) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace")
            if is_stderr:
                self.stderr_lines.append(line)
                match = URL_LINE.search(line)
                if match:
                    self._url_found.put(match.group(1))
            else:
                self.stdout_lines.put(line)

    def wait_for_url(self, timeout: float) -> str:
        try:
            return self._url_found.get(timeout=timeout)
        except queue.Empty:
            self.kill()
            raise AssertionError("the agent did not start; stderr:\n" + "".join(self.stderr_lines)) from None

    def wait_stdout(self, pattern: str, timeout: float = 10.0) -> str:
        """Wait for a stdout line matching ``pattern`` (the target's own output)."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("no stdout line matched %r; stderr:\n%s" % (pattern, "".join(self.stderr_lines)))
            try:
                line = self.stdout_lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if regex.search(line):
                return line

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def api(self, action: str, **fields: Any) -> Dict[str, Any]:
        body = dict(fields, action=action)
        return post_json(self.url, body)

    def exec(self, command: str, **fields: Any) -> Dict[str, Any]:
        return self.api("exec", command=command, **fields)

    def results(self, command: str, **fields: Any) -> List[Dict[str, Any]]:
        """``exec`` a command and return its results, asserting the request succeeded."""
        reply = self.exec(command, **fields)
        assert reply["state"] == "SUCCEEDED", reply
        return reply["body"]["results"]

    def ognl(self, expression: str) -> Any:
        """Evaluate ``expression`` in the target (``ognl``); asserts it succeeded, returns its value."""
        results = self.results("ognl %s" % quote(expression))
        assert status_of(results)["statusCode"] == 0, results
        return only(results, "ognl")["value"]

    def session(self) -> "Session":
        return Session(self)

    def kill(self) -> None:
        kill_process(self.proc)

    def alive(self) -> bool:
        return self.proc.poll() is None


def kill_process(proc: subprocess.Popen) -> None:
    """Kill ``proc`` if it still runs and reap it (waiting at most 10 s)."""
    if proc.poll() is None:
        proc.kill()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


class Session:
    """An init_session'd session with its first consumer."""

    def __init__(self, target: Target):
        self.target = target
        reply = target.api("init_session")
        assert reply["state"] == "SUCCEEDED", reply
        self.id = reply["sessionId"]
        self.consumer = reply["consumerId"]

    @classmethod
    def of(cls, target: Target, session_id: str, consumer_id: str) -> "Session":
        """A client of an existing session and consumer (made by init_session or join_session)."""
        session = cls.__new__(cls)
        session.target, session.id, session.consumer = target, session_id, consumer_id
        return session

    def api(self, action: str, **fields: Any) -> Dict[str, Any]:
        return self.target.api(action, sessionId=self.id, **fields)

    def pull(self, consumer: Optional[str] = None, **fields: Any) -> List[Dict[str, Any]]:
        reply = self.api("pull_results", consumerId=consumer or self.consumer, **fields)
        assert reply["state"] == "SUCCEEDED", reply
        return reply["body"]["results"]

    def async_exec(self, command: str) -> Dict[str, Any]:
        reply = self.api("async_exec", command=command)
        assert reply["state"] == "SCHEDULED", reply
        return reply

    def pull_until(self, predicate, timeout: float = 15.0, consumer: Optional[str] = None,
                   **fields: Any) -> List[Dict[str, Any]]:
        """Pull until some result satisfies ``predicate``; returns everything pulled so far."""
        collected: List[Dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batch = self.pull(consumer, **fields)
            collected.extend(batch)
            if any(predicate(r) for r in batch):
                return collected
        raise AssertionError("timed out; pulled: %s" % json.dumps(collected)[:4000])

    def run_to_status(self, command: str, timeout: float = 15.0, **fields: Any) -> List[Dict[str, Any]]:
        """async_exec ``command`` and pull (with ``fields``) until its status result; returns this job's results."""
        job_id = self.async_exec(command)["body"]["jobId"]
        pulled = self.pull_until(lambda r: r.get("type") == "status" and r.get("jobId") == job_id, timeout,
                                 **fields)
        return [r for r in pulled if r.get("jobId") == job_id]

    def close(self) -> None:
        self.api("close_session")


def quote(text: str) -> str:
    """Quote ``text`` as one word for the agent's shell-like tokenizer."""
    if "'" not in text:
        return "'" + text + "'"
    return '"' + re.sub(r'(["\\\\$`])', r"\\\1", text) + '"'


def of_type(results: List[Dict[str, Any]], kind: str) -> List[Dict[str, Any]]:
    return [r for r in results if r.get("type") == kind]


def only(results: List[Dict[str, Any]], kind: str) -> Dict[str, Any]:
    """The one result of type ``kind``, asserting there is exactly one."""
    found = of_type(results, kind)
    assert len(found) == 1, results
    return found[0]


def status_of(results: List[Dict[str, Any]]) -> Dict[str, Any]:
    """A job's one ``status`` result."""
    return only(results, "status")


def run(target: Target, command: str):
    """Results of ``command`` other than its status, and its status result."""
    results = target.results(command)
    return [r for r in results if r["type"] != "status"], status_of(results)


def post_raw(url: str, body: bytes, headers: Optional[Dict[str, str]] = None, method: str = "POST",
             path: str = "/api", timeout: float = 60.0):
    """Send one HTTP request; returns (status, headers, body bytes)."""
    host, port = url.split("//", 1)[1].rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        all_headers = {"Content-Type": "application/json"}
        all_headers.update(headers or {})
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def post_json(url: str, body: Any, headers: Optional[Dict[str, str]] = None, timeout: float = 60.0):
    status, _, raw = post_raw(url, json.dumps(body).encode("utf-8"), headers, timeout=timeout)
    assert status == 200, (status, raw)
    return json.loads(raw)


def start_script(python: str, code: str, tmp_path, env: Optional[Dict[str, str]] = None,
                 agent: bool = True, args: Iterable[str] = ()) -> Target:
    """Run ``code`` (dedented) as ``__main__`` of a real process, through ``pyarthas run --port 0``."""
    script = tmp_path / "target_main.py"
    script.write_text(textwrap.dedent(code))
    if agent:
        argv = [python, "-m", "pyarthas", "run", "--port", "0", str(script), *args]
    else:
        argv = [python, str(script), *args]
    return Target(argv, target_env(env), cwd=str(tmp_path), wait_for_agent=agent)


def start_demo(python: str, tmp_path, env: Optional[Dict[str, str]] = None, args: Iterable[str] = ()) -> Target:
    return Target([python, "-m", "pyarthas", "demo", "--port", "0", *args], target_env(env), cwd=str(tmp_path))


# ---- what the tests of the enhancing commands (trace, stack, monitor, tt) share

# A target with known shapes: Worker.step makes 5 helper calls from one line (merged), one len/str, one
# call that raises and is caught; Worker.risky raises on every 4th call; handle() awaits a child coroutine
# and a bare future; ticker() calls tick() on a fixed 10 ms grid (100 calls/s, every 4th fails).
WORKER_TARGET = """
import asyncio, sys, threading, time

class Worker:
    def step(self, n):
        total = 0
        for i in range(n):
            total += helper(i)
        total += len(str(total))
        try:
            fail(n)
        except ValueError:
            total -= 1
        return total

    def risky(self, n):
        helper(n)
        if n % 4 == 0:
            raise ValueError("bad %d" % n)
        return n

    def outer(self):
        return self.inner(3) + helper(1)

    def inner(self, n):
        return helper(n) + helper(n + 1)

def helper(x):
    return x * 2

def fail(n):
    raise ValueError("no %d" % n)

TICKS = 0

def tick(n):
    global TICKS
    TICKS += 1
    if n % 4 == 0:
        raise KeyError(n)
    return n

def ticker():
    start = time.monotonic()
    n = 0
    while True:
        n += 1
        try:
            tick(n)
        except KeyError:
            pass
        delay = start + n * 0.01 - time.monotonic()
        if delay > 0:
            time.sleep(delay)

async def child(delay):
    await asyncio.sleep(delay)
    return delay

async def handle(delay):
    helper(1)
    await child(delay)
    future = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_later(delay, future.set_result, 1)
    await future
    return helper(2)

async def serve():
    while True:
        await asyncio.gather(handle(0.02), asyncio.sleep(0.005))

def worker_loop(worker):
    n = 0
    while True:
        worker.step(5)
        try:
            worker.risky(n)
        except ValueError:
            pass
        worker.outer()
        n += 1
        time.sleep(0.003)

threading.Thread(target=lambda: asyncio.run(serve()), name="async-loop", daemon=True).start()
threading.Thread(target=ticker, name="ticker", daemon=True).start()
for index in range(4):
    threading.Thread(target=worker_loop, args=(Worker(),), name="worker-%d" % index, daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
"""


def start_target(spawn):
    target = spawn(WORKER_TARGET)
    target.wait_stdout("ready", timeout=20)
    return target


def run_in_session(target, command, timeout=60.0, **fields):
    """``command``'s results as a session sees them (async_exec and pull, as the shells do), to its status."""
    session = target.session()
    try:
        return session.run_to_status(command, timeout=timeout, **fields)
    finally:
        session.close()


def run_ok(target, command, timeout_ms=20000):
    """exec ``command``; assert it enhanced and ended with status 0; return its results."""
    results = target.results(command, execTimeout=timeout_ms)
    enhancer = of_type(results, "enhancer")
    assert enhancer and enhancer[0]["success"], results
    assert status_of(results)["statusCode"] == 0, results
    return results


def is_enhanced(target, dotted):
    """Whether the function's code is an engine wrapper (false once every job on it ended)."""
    results = target.results("ognl 'any(type(c).__name__ == \"Enhancement\" for c in %s.__code__.co_consts)'"
                             % dotted)
    values = of_type(results, "ognl")
    assert values, results
    return values[0]["value"]
