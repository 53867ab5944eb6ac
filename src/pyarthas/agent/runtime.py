"""The agent: one object that owns the server, the sessions, the jobs and the services commands use.

Commands reach the services through ``process.agent``:
- ``options``: the global options (``settings.GlobalOptions``); ``timeouts``: protocol timeouts.
- ``engine``: the enhancement engine (created on first use).
- ``output_dir``: the folder served read-only at ``/arthas-output/`` (created on first use).
- ``history``: the global command history (``job.history.CommandHistory``: bounded in lines and bytes).
- ``pid``, ``version``, ``start_time``, ``url``; ``telnet_port`` (None when telnet is off or its port was taken).
- ``access``: who may talk to the agent (``http.access.AccessPolicy``); ``limits``: what requests may cost.
- ``fleet``: the link to the fleet (``fleet.link.FleetLink``) when the agent joined one, else None;
  ``fleet_id`` / ``fleet_app``: its id and app there (None when not joined).
- ``on_stop(callback)``: cleanup to run when the agent stops (profiler, tracemalloc...).
- ``request_stop(job)``: stop the agent once ``job`` has delivered its last result.

``start()`` / ``stop()`` / ``current()`` below keep the one agent of the process.
"""
import os
import sys
import threading
import time
from typing import TYPE_CHECKING, Callable, Iterable, List, Optional

from .settings import GlobalOptions, Limits, Timeouts
from .util import heap, lifetime, threads
from .util.net import is_loopback
from .version import VERSION

if TYPE_CHECKING:
    from .engine import Engine
    from .http.server import ApiServer
    from .tunnel.client import TunnelClient

_lock = threading.Lock()
_agent: Optional["Agent"] = None


def start(ip: str = "127.0.0.1", port: int = 8563, output_dir: Optional[str] = None, quiet: bool = False,
          password: Optional[str] = None, username: Optional[str] = None, **access) -> "Agent":
    """Start the agent (once per process) and return it; prints the URL it serves on stderr.
    ``access``: ``allow_hosts``, ``local_connection_non_auth``, ``token``, ``unix_socket``, ``telnet_port``,
    ``wire_format``, ``tunnel_server``, ``app_name``, ``agent_id``, ``fleet``, ``fleet_key`` (see ``Agent``)."""
    global _agent
    with _lock:
        if _agent is not None and not _agent.stopped:
            return _agent
        agent = Agent(ip=ip, port=port, output_dir=output_dir, password=password, username=username,
                      **access).start()
        _agent = agent
    if not quiet:
        sys.stderr.write("pyarthas agent %s serving %s/api (pid %d)\n" % (VERSION, agent.url, agent.pid))
        if agent.telnet_port is not None:
            sys.stderr.write("pyarthas shell: telnet %s %d, or ws://%s/ws\n"
                             % (agent.ip, agent.telnet_port, agent.url.split("//", 1)[1]))
        elif agent.telnet_error:
            sys.stderr.write("pyarthas: no telnet shell (%s); the shell is at ws://%s/ws\n"
                             % (agent.telnet_error, agent.url.split("//", 1)[1]))
        if agent.unix_socket:
            sys.stderr.write("pyarthas: also serving on the Unix socket %s\n" % agent.unix_socket)
        if agent.token_path:
            sys.stderr.write("pyarthas: token required (Authorization: Bearer TOKEN or ?token=TOKEN); "
                             "it is in %s\n" % agent.token_path)
        if agent.fleet_message:
            sys.stderr.write(agent.fleet_message + "\n")
        if agent.generated_password:
            sys.stderr.write("pyarthas: bound beyond loopback; using generated password for user %s: %s\n"
                             % (agent.username, agent.password))
        sys.stderr.flush()
    return agent


def stop() -> None:
    agent = _agent
    if agent is not None:
        agent.stop()


def current() -> Optional["Agent"]:
    """The running agent, or None."""
    agent = _agent
    return agent if agent is not None and not agent.stopped else None


def _forget(agent: "Agent") -> None:
    global _agent
    with _lock:
        if _agent is agent:
            _agent = None


class Agent:
    def __init__(self, ip: str = "127.0.0.1", port: int = 8563, output_dir: Optional[str] = None,
                 password: Optional[str] = None, username: Optional[str] = None, allow_hosts: Iterable[str] = (),
                 local_connection_non_auth: bool = True, token: bool = False, unix_socket: Optional[str] = None,
                 telnet_port: int = 3658, tunnel_server: Optional[str] = None, app_name: Optional[str] = None,
                 agent_id: Optional[str] = None, wire_format: Optional[str] = None, fleet: Optional[str] = None,
                 fleet_key: Optional[str] = None):
        """``allow_hosts``: more names the agent may be reached by (the Host check); ``local_connection_non_auth``:
        Arthas's option, false to ask the password from loopback too; ``token``: require the per-user token
        (written to ``token_path``); ``unix_socket``: also serve on this Unix socket (mode 0600);
        ``telnet_port``: the shell on telnet (Arthas's 3658; 0 picks a free port, -1 turns telnet off);
        ``tunnel_server``: an Arthas tunnel server to register with (``ws://HOST:7777/ws``), as ``app_name``
        and ``agent_id`` (the server names the agent ``APPNAME_<random>`` when no id is given, as Arthas);
        ``wire_format``: the global option ``wire-format`` to start with (``seed`` or ``arthas4``);
        ``fleet``: ``redis://[user:pass@]HOST:PORT/DB`` to join (else ``$PYARTHAS_FLEET``), as ``agent_id``
        (there by default ``APPNAME@HOST:PID``) of ``app_name`` (else the program's name), with ``fleet_key``
        (else ``$PYARTHAS_FLEET_KEY``; without one the agent does not join)."""
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
        if wire_format is not None:
            self.options.set("wire-format", wire_format)
        self.timeouts = Timeouts()
        from .job.history import CommandHistory
        self.history = CommandHistory()
        self.limits = Limits()
        self.unix_socket = unix_socket
        self.tunnel_server = tunnel_server or os.environ.get("PYARTHAS_TUNNEL_SERVER") or None
        self.app_name = app_name or os.environ.get("PYARTHAS_APP_NAME") or None
        self.agent_id = agent_id or os.environ.get("PYARTHAS_AGENT_ID") or None
        self.tunnel: Optional["TunnelClient"] = None
        if self.tunnel_server:
            from .tunnel.client import connect_check
            connect_check(self.tunnel_server)
        self._output_dir = output_dir or os.environ.get("PYARTHAS_OUTPUT_DIR") or os.path.join(
            os.getcwd(), "arthas-output")
        self._engine: Optional["Engine"] = None
        self._engine_lock = threading.Lock()
        self._stop_callbacks: List[Callable[[], None]] = []
        self._stopped = threading.Event()
        from .job.controller import JobController
        from .session.manager import SessionManager
        self.jobs = JobController(self)
        self.sessions = SessionManager(self)
        self.server: Optional["ApiServer"] = None
        self.username = username or os.environ.get("PYARTHAS_USERNAME") or "arthas"
        self.password = password or os.environ.get("PYARTHAS_PASSWORD") or None
        self.generated_password = False
        if self.password is None and not is_loopback(ip):
            # Arthas: bound beyond loopback without a password, one is generated and printed.
            import secrets
            self.password = secrets.token_urlsafe(48)[:64]
            self.generated_password = True
        from .http.access import AccessPolicy, new_token
        self.token = new_token() if token else None
        self.token_path: Optional[str] = None
        self.access = AccessPolicy(ip, self.username, self.password, allow_hosts, local_connection_non_auth,
                                   self.token)
        self.main_class: Optional[str] = None  # shown in the welcome; the demo sets demo.MathGame
        self._fleet_url, self._fleet_key = fleet, fleet_key
        self.fleet = None
        self.fleet_message: Optional[str] = None

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
        from .commands import load_all
        from .http.server import ApiServer
        load_all()
        server = self.server = ApiServer(self)
        from .shell.websocket import upgrade_handler
        server.add_upgrade("/ws", upgrade_handler(self))
        self.port = server.port
        if self.token is not None:
            from .http.access import write_token_file
            try:
                self.token_path = write_token_file(self.pid, self.token)
            except OSError:
                server.stop()
                raise
            self.on_stop(self._remove_token_file)
        self.sessions.start()
        server.start()
        self._start_telnet()
        self._start_tunnel()
        self._join_fleet()
        return self

    def _start_tunnel(self) -> None:
        if not self.tunnel_server:
            return
        from .tunnel.client import TunnelClient
        tunnel = self.tunnel = TunnelClient(self, self.tunnel_server, self.app_name, self.agent_id).start()
        self.on_stop(tunnel.stop)

    def _join_fleet(self) -> None:
        from .fleet import join
        self.fleet, self.fleet_message = join(self, self._fleet_url, self.app_name, self.agent_id, self._fleet_key)
        if self.fleet is not None:
            self.on_stop(self.fleet.stop)

    @property
    def fleet_id(self) -> Optional[str]:
        return self.fleet.agent_id if self.fleet is not None else None

    @property
    def fleet_app(self) -> Optional[str]:
        return self.fleet.app if self.fleet is not None else None

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
        for callback in list(reversed(self._stop_callbacks)) + lifetime.at_agent_stop_callbacks():
            _quietly(callback)
        if self.server is not None:
            self.server.stop()
        self.jobs.close()
        _forget(self)
        heap.trim_when_threads_end(lambda: current() is None)

    def _remove_token_file(self) -> None:
        if self.token_path and os.path.exists(self.token_path):
            os.unlink(self.token_path)

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()


def _quietly(callback: Callable[[], object]) -> None:
    try:
        callback()
    except Exception as exc:  # cleanup must go on whatever one part does
        sys.stderr.write("pyarthas: cleanup failed: %r\n" % (exc,))
