"""The agent: one object that owns the server, the sessions, the jobs and the services commands use.

Commands reach the services through ``process.agent``:
- ``options``: the global options (``settings.GlobalOptions``); ``timeouts``: protocol timeouts.
- ``engine``: the enhancement engine (created on first use).
- ``output_dir``: the folder served read-only at ``/arthas-output/`` (created on first use).
- ``history``: the global command history (at most 500 lines).
- ``pid``, ``version``, ``start_time``, ``url``; ``telnet_port`` (None when telnet is off or its port was taken).
- ``on_stop(callback)``: cleanup to run when the agent stops (profiler, tracemalloc...).
- ``request_stop(job)``: stop the agent once ``job`` has delivered its last result.
"""
import collections
import os
import sys
import threading
import time
from typing import Callable, List, Optional

from . import VERSION
from .settings import GlobalOptions, Timeouts
from .util import threads
from .util.net import is_loopback


class Agent:
    def __init__(self, ip: str = "127.0.0.1", port: int = 8563, output_dir: Optional[str] = None,
                 password: Optional[str] = None, username: Optional[str] = None, telnet_port: int = 3658):
        self.ip = ip
        self.requested_port = port
        self.port = port
        self.requested_telnet_port = telnet_port
        self.telnet_port: Optional[int] = None
        self.telnet_error: Optional[str] = None
        self.pid = os.getpid()
        self.version = VERSION
        self.start_time = time.time()
        self.options = GlobalOptions()
        self.timeouts = Timeouts()
        self.history: collections.deque = collections.deque(maxlen=500)
        self._output_dir = output_dir or os.environ.get("PYARTHAS_OUTPUT_DIR") or os.path.join(
            os.getcwd(), "arthas-output")
        self._engine = None
        self._engine_lock = threading.Lock()
        self._stop_callbacks: List[Callable[[], None]] = []
        self._stopped = threading.Event()
        from .session.manager import SessionManager
        from .job.controller import JobController
        self.jobs = JobController(self)
        self.sessions = SessionManager(self)
        self.server = None
        self.username = username or os.environ.get("PYARTHAS_USERNAME") or "arthas"
        self.password = password or os.environ.get("PYARTHAS_PASSWORD") or None
        self.generated_password = False
        if self.password is None and not is_loopback(ip):
            # Arthas: bound beyond loopback without a password, one is generated and printed.
            import secrets
            self.password = secrets.token_urlsafe(48)[:64]
            self.generated_password = True
        self.main_class: Optional[str] = None  # shown in the welcome; the demo sets demo.MathGame

    # ---- services for commands ----

    @property
    def engine(self):
        if self._engine is None:
            with self._engine_lock:
                if self._engine is None:
                    from .engine import Engine
                    self._engine = Engine(self)
        return self._engine

    @property
    def engine_if_started(self):
        return self._engine

    @property
    def output_dir(self) -> str:
        os.makedirs(self._output_dir, exist_ok=True)
        return self._output_dir

    @property
    def output_root(self) -> str:
        """The output folder's path without creating it (for the static file server)."""
        return self._output_dir

    @property
    def url(self) -> str:
        host = "[%s]" % self.ip if ":" in self.ip else self.ip
        return "http://%s:%d" % (host, self.port)

    def on_stop(self, callback: Callable[[], None]) -> None:
        self._stop_callbacks.append(callback)

    # ---- life cycle ----

    def start(self) -> "Agent":
        from .http.server import ApiServer
        from .commands import load_all
        load_all()
        self.server = ApiServer(self)
        self.port = self.server.port
        self.sessions.start()
        self.server.start()
        self._start_telnet()
        return self

    def _start_telnet(self) -> None:
        """The shell on telnet; a taken port costs the telnet door only (the HTTP API and /ws still work)."""
        if self.requested_telnet_port is None or self.requested_telnet_port < 0:
            return
        from .shell.telnet import TelnetServer
        try:
            telnet = TelnetServer(self, self.requested_telnet_port)
        except OSError as exc:
            self.telnet_error = "telnet port %s: %s" % (self.requested_telnet_port, exc.strerror or exc)
            return
        self.telnet_port = telnet.port
        telnet.start()
        self.on_stop(telnet.stop)

    def request_stop(self, job=None) -> None:
        """Stop from inside a job (the ``stop`` command): once that job has delivered its last result."""

        def stop_after_job() -> None:
            if job is not None:
                job.wait_terminated(5.0)
            self.stop()

        threads.spawn("stopper", stop_after_job)

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        self.sessions.close_all("arthas server is going to shutdown.")
        if self._engine is not None:
            _quietly(self._engine.reset_all)
        for callback in reversed(self._stop_callbacks):
            _quietly(callback)
        if self.server is not None:
            self.server.stop()
        self.jobs.close()
        from . import _forget_agent
        _forget_agent(self)

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()


def _quietly(callback: Callable[[], None]) -> None:
    try:
        callback()
    except Exception as exc:  # cleanup must go on whatever one part does
        sys.stderr.write("pyarthas: cleanup failed: %r\n" % (exc,))
