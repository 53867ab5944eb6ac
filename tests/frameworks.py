"""Real web frameworks from PyPI (Flask under gunicorn, FastAPI under uvicorn, Django's runserver) serving the
apps of ``framework_apps/``, with the agent inside, and a bounded load of the tests' own.

The frameworks are in the tests' dependencies (pyproject's ``test`` extra), installed into the interpreter that
runs the tests; the servers run under that interpreter.
"""
import http.client
import os
import socket
import sys
import threading
import time
from typing import Dict, List, Optional

from harness import SRC, Target, target_env

APPS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "framework_apps")
FRAMEWORK_PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server(Target):
    """A framework server process. ``agent_urls(n)`` waits for ``n`` agents to say where they serve (one per
    worker when each worker starts its own)."""

    def __init__(self, argv: List[str], port: int, env: Optional[Dict[str, str]] = None, cwd: Optional[str] = None):
        extra = {"PYTHONPATH": os.pathsep.join([SRC, APPS]), **(env or {})}
        super().__init__(argv, target_env(extra), cwd=cwd or APPS, wait_for_agent=False)
        self.http_port = port
        self.urls: List[str] = []

    def agent_urls(self, count: int, timeout: float = 60.0) -> List[str]:
        while len(self.urls) < count:
            self.urls.append(self.wait_for_url(timeout))
        self.url = self.urls[0]
        return list(self.urls)

    def wait_ready(self, path: str = "/answer", timeout: float = 60.0) -> None:
        """Until the server answers ``path`` with 200 (it binds before its workers are ready)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise AssertionError("the server exited; stderr:\n" + "".join(self.stderr_lines))
            try:
                if get(self.http_port, path, timeout=5)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)  # a bounded readiness poll: the server gives no other signal
        raise AssertionError("the server never answered %s; stderr:\n%s" % (path, "".join(self.stderr_lines)))

    def get(self, path: str):
        return get(self.http_port, path)


def get(port: int, path: str, timeout: float = 30.0):
    """(status, body text) of one GET on 127.0.0.1:``port``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def start_gunicorn(app: str = "flask_app:app", workers: int = 3, worker_agents: bool = True,
                   env: Optional[Dict[str, str]] = None) -> Server:
    """gunicorn (sync workers); with ``worker_agents`` every worker starts its own agent (post_fork)."""
    port = free_port()
    argv = [FRAMEWORK_PYTHON, "-m", "gunicorn", "-c", "gunicorn_conf.py", "-w", str(workers),
            "-b", "127.0.0.1:%d" % port, app]
    extra = {"PYARTHAS_WORKER_AGENTS": "1" if worker_agents else "0", **(env or {})}
    server = Server(argv, port, extra)
    if worker_agents:
        server.agent_urls(workers)
    server.wait_ready()
    return server


def start_uvicorn(app: str = "starlette_app:app", env: Optional[Dict[str, str]] = None) -> Server:
    """uvicorn in one process, under ``pyarthas run -m uvicorn``."""
    port = free_port()
    argv = [FRAMEWORK_PYTHON, "-m", "pyarthas", "run", "--port", "0", "--telnet-port", "-1",
            "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    server = Server(argv, port, env)
    server.agent_urls(1)
    server.wait_ready()
    return server


def start_django(env: Optional[Dict[str, str]] = None) -> Server:
    """Django's own server, without its autoreloader, under ``pyarthas run``."""
    port = free_port()
    argv = [FRAMEWORK_PYTHON, "-m", "pyarthas", "run", "--port", "0", "--telnet-port", "-1",
            os.path.join(APPS, "django_app.py"), "runserver", "127.0.0.1:%d" % port, "--noreload"]
    server = Server(argv, port, env)
    server.agent_urls(1)
    server.wait_ready()
    return server


class Load:
    """A bounded load: ``clients`` threads each sending GETs on ``path`` one after the other, until ``stop()``
    or ``max_seconds``. A context manager."""

    def __init__(self, port: int, path: str = "/hot", clients: int = 2, max_seconds: float = 120.0):
        self.port, self.path, self.max_seconds = port, path, max_seconds
        self.done = threading.Event()
        self.count = 0
        self.errors: List[str] = []
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]

    def __enter__(self) -> "Load":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self.done.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _client(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        conn = None
        while not self.done.is_set() and time.monotonic() < deadline:
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                conn.request("GET", self.path)
                response = conn.getresponse()
                response.read()
                if response.will_close:
                    conn.close()
                    conn = None
                with self._lock:
                    self.count += 1
            except (OSError, http.client.HTTPException) as error:
                with self._lock:
                    self.errors.append(repr(error))
                if conn is not None:
                    conn.close()
                conn = None
                self.done.wait(0.05)  # back off from a failing server rather than spin
        if conn is not None:
            conn.close()
