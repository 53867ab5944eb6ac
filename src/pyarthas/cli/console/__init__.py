"""``pyarthas console [URL]``: Arthas's console over the HTTP session API.

Interactive on a terminal (prompt ``[arthas@PID]$``, history in ``~/.pyarthas/history``, tab completion,
``q``/Ctrl-C interrupts the foreground job, Ctrl-D/``quit``/``exit`` leaves, ``stop`` stops the agent);
batch with ``-c 'cmd1; cmd2'``, ``-f FILE`` or commands piped on stdin, printing text or ``--json``
lines, exiting 1 when a command failed. ``open_console(url)`` is what ``pyarthas attach`` opens.

Only the standard library is imported here (``pyarthas run`` loads this module in the target's
interpreter); prompt_toolkit is imported when the prompt starts.
"""
import sys
from typing import List, Optional, Tuple

from ..client import DEFAULT_URL, AgentUnavailable, ApiError, Client


def configure(name, parser) -> None:
    parser.add_argument("url", nargs="?", default=DEFAULT_URL,
                        help="the agent's address: URL, host:port or port (default %s)" % DEFAULT_URL)
    parser.add_argument("--session", metavar="ID", help="join this session (shared with whoever opened it)")
    parser.add_argument("-c", "--command", dest="commands", metavar="'CMD1; CMD2'",
                        help="run these commands (separated by ;) and exit")
    parser.add_argument("-f", "--file", metavar="FILE", help="run the commands in FILE (one a line) and exit")
    parser.add_argument("--json", action="store_true", help="batch mode: print each result as a JSON line")
    parser.add_argument("--fleet", metavar="redis://[USER:PASS@]HOST:PORT/DB",
                        help="reach the agent through this fleet's Redis instead of HTTP (with --agent; requests "
                             "are signed with $PYARTHAS_FLEET_KEY)")
    parser.add_argument("--agent", metavar="ID", help="with --fleet: the agent's id (see pyarthas fleet)")


def run(args) -> int:
    url = normalize_url(args.url)
    fleet = None
    if args.fleet or args.agent:
        if not (args.fleet and args.agent):
            sys.stderr.write("pyarthas console: --fleet and --agent go together\n")
            return 2
        fleet = (args.fleet, args.agent)
    commands = None
    try:
        if args.commands is not None:
            from .runner import split_commands
            commands = split_commands(args.commands)
        elif args.file:
            commands = read_command_file(args.file)
        elif not sys.stdin.isatty():
            commands = [line.strip() for line in sys.stdin if _is_command(line)]
    except OSError as error:
        sys.stderr.write("pyarthas console: %s\n" % error)
        return 2
    if commands is None:
        return open_console(url, args.session, fleet)
    return run_batch(url, commands, args.session, json_mode=args.json, fleet=fleet)


def normalize_url(url: str) -> str:
    """``8563`` and ``host:8563`` are accepted for ``http://127.0.0.1:8563`` / ``http://host:8563``."""
    url = url.strip().rstrip("/")
    if url.isdigit():
        return "http://127.0.0.1:" + url
    if "://" not in url:
        return "http://" + url
    return url[:-len("/api")] if url.endswith("/api") else url


def _is_command(line: str) -> bool:
    line = line.strip()
    return bool(line) and not line.startswith("#")


def read_command_file(path: str) -> List[str]:
    with open(path, encoding="utf-8") as handle:
        return [line.strip() for line in handle if _is_command(line)]


def _client(url: str, fleet: Optional[Tuple[str, str]]) -> Client:
    """An HTTP client for ``url``, or with ``fleet`` (Redis URL, agent id) one whose requests travel through
    the fleet."""
    if fleet is None:
        return Client(url)
    from ..fleet_client import Fleet, FleetClient
    return FleetClient(Fleet(fleet[0]), fleet[1])


def _connect(url: str, session_id: Optional[str], fleet: Optional[Tuple[str, str]] = None):
    """The session to work in, or None after printing why there is none."""
    try:
        client = _client(url, fleet)
    except Exception as error:  # FleetError or redis's errors: say why, no traceback
        sys.stderr.write("pyarthas console: %s\n" % error)
        return None
    try:
        if session_id:
            return client.join_session(session_id, keepalive=None)
        return client.init_session(keepalive=None)
    except AgentUnavailable as error:
        sys.stderr.write("pyarthas console: %s; is the agent running? (pyarthas attach PID, or "
                         "pyarthas.start() in the program)\n" % error)
    except ApiError as error:
        sys.stderr.write("pyarthas console: %s\n" % error)
    return None


def run_batch(url: str, commands: List[str], session_id: Optional[str] = None, json_mode: bool = False,
              fleet: Optional[Tuple[str, str]] = None) -> int:
    from .runner import Runner
    session = _connect(url, session_id, fleet)
    if session is None:
        return 1
    runner = Runner(session, json_mode=json_mode)
    failed = False
    try:
        runner.startup(show=False)
        runner.start_pump()
        for line in commands:
            if line in ("quit", "exit", "logout"):
                break
            runner.stopping = line.split()[0] == "stop"
            failed = runner.run_to_end(line) != 0 or failed
    except KeyboardInterrupt:
        failed = True
    except ApiError as error:
        sys.stderr.write("pyarthas console: %s\n" % error)
        failed = True
    finally:
        runner.close()
    return 1 if failed else 0


def open_console(url: str = DEFAULT_URL, session_id: Optional[str] = None,
                 fleet: Optional[Tuple[str, str]] = None) -> int:
    """The interactive console on the agent at ``url`` (joining ``session_id`` when given), or with ``fleet``
    (Redis URL, agent id) on that agent of the fleet."""
    from .interactive import interact
    from .runner import Runner
    session = _connect(normalize_url(url), session_id, fleet)
    if session is None:
        return 1
    runner = Runner(session)
    try:
        runner.startup(show=True)
        runner.start_pump()
        return interact(runner)
    except KeyboardInterrupt:
        return 130
    except ApiError as error:
        sys.stderr.write("pyarthas console: %s\n" % error)
        return 1
    finally:
        runner.close()
