"""``pyarthas attach PID``, ``pyarthas ps`` and plain ``pyarthas`` (choose a process, attach, open the
console), as arthas-boot does for JVMs. The mechanics live in ``inject/``."""
import os
import sys
import time

from .agent_options import access_options, add_access_arguments
from .inject import REPLY_TIMEOUT, Attached, AttachError, attach
from .inject.process import python_processes

DEFAULT_IP = "127.0.0.1"


def configure(name, parser) -> None:
    if name == "ps":
        return
    parser.add_argument("pid", type=int, nargs="?", help="the process to attach to")
    parser.add_argument("--workers", type=int, metavar="MASTER_PID",
                        help="attach every worker process of this master (gunicorn's arbiter, uvicorn's or "
                             "Celery's parent, Django's autoreloader), each on a free port, and print the table")
    parser.add_argument("--ip", default=DEFAULT_IP, help="address the agent binds (default %s)" % DEFAULT_IP)
    parser.add_argument("--port", type=int, default=None,
                        help="HTTP port of the agent (default 8563, or a free one when that is taken; 0 picks "
                             "a free one)")
    parser.add_argument("--username", help="HTTP Basic user (default arthas)")
    parser.add_argument("--password", help="HTTP Basic password (default $PYARTHAS_PASSWORD; bound beyond "
                                           "loopback without one, the agent makes one up and it is shown)")
    add_access_arguments(parser)
    parser.add_argument("--timeout", type=float, default=REPLY_TIMEOUT,
                        help="seconds to wait for the agent to answer (default %.0f)" % REPLY_TIMEOUT)
    parser.add_argument("-v", "--verbose", action="store_true", help="say how the agent was loaded")


def run(args) -> int:
    if args.subcommand == "ps":
        return print_processes()
    password = args.password or os.environ.get("PYARTHAS_PASSWORD") or None
    if args.workers is not None:
        return _attach_workers(args, password)
    if args.pid is None:
        sys.stderr.write("pyarthas attach: give a PID, or --workers MASTER_PID\n")
        return 2
    _warn_if_master(args.pid)
    attached = attach_and_report(args.pid, args.ip, args.port, args.timeout, args.verbose,
                                 username=args.username, password=password, access=access_options(args))
    if attached is None:
        return 1
    print(attached.url)
    return 0


def _warn_if_master(pid: int) -> None:
    from .workers import Fleet, describe_master
    note = describe_master(Fleet.now(), pid)
    if note:
        sys.stderr.write("pyarthas: %s\n" % note)


def _attach_workers(args, password) -> int:
    """``attach --workers MASTER``: the table of the workers' agents (pid, url, role); 1 when any failed."""
    from ..agent.view.text import table
    from .workers import attach_workers
    rows = attach_workers(args.workers, args.ip, args.timeout, username=args.username, password=password,
                          access=access_options(args))
    if not rows:
        sys.stderr.write("pyarthas attach: process %d has no Python worker processes\n" % args.workers)
        return 1
    for row in rows:
        if row.error:
            sys.stderr.write("pyarthas attach: worker %d: %s\n" % (row.pid, row.error))
    print(table([[row.pid, row.url or "-", row.role] for row in rows], ["PID", "URL", "ROLE"]))
    return 1 if any(row.error for row in rows) else 0


def attach_and_report(pid: int, ip: str, port: int, timeout: float = REPLY_TIMEOUT, verbose: bool = False,
                      username=None, password=None, access=None):
    """Attach, tell the user what happened on stderr; the Attached, or None after an error."""
    started = time.monotonic()
    try:
        attached = attach(pid, ip=ip, port=port, timeout=timeout, username=username, password=password,
                          access=access)
    except AttachError as error:
        sys.stderr.write("pyarthas attach: %s\n" % error)
        return None
    _report(attached, time.monotonic() - started, verbose)
    return attached


def _report(attached: Attached, elapsed: float, verbose: bool) -> None:
    for note in attached.notes:
        sys.stderr.write("pyarthas: %s\n" % note)
    if attached.status == "running":
        sys.stderr.write("pyarthas: an agent is already running in process %d at %s\n"
                         % (attached.pid, attached.url))
    else:
        sys.stderr.write("pyarthas: agent started in process %d at %s\n" % (attached.pid, attached.url))
    if attached.generated_password:
        sys.stderr.write("pyarthas: bound beyond loopback; using generated password for user %s: %s\n"
                         % attached.generated_password)
    if attached.token_path:
        sys.stderr.write("pyarthas: token required (Authorization: Bearer TOKEN or ?token=TOKEN); it is in %s\n"
                         % attached.token_path)
    if verbose:
        sys.stderr.write("pyarthas: %s, %.0f ms\n" % (attached.how, elapsed * 1000))


def print_processes() -> int:
    """``pyarthas ps``: every Python process, its agent's URL (``-`` without one), master/worker links, the
    agent's identity (keys an agent adds to its record, a fleet id say) and the command line."""
    from ..agent.view.text import table
    from .workers import Fleet
    fleet = Fleet.now()
    if not fleet.processes:
        sys.stderr.write("pyarthas: no Python process found\n")
        return 1
    rows = []
    for pid, process in sorted(fleet.processes.items()):
        agent = fleet.agents.get(pid) or {}
        rows.append([pid, process.ppid, process.version_text, agent.get("url") or "-", fleet.role(pid),
                     fleet.identity(pid), process.cmdline])
    print(table(rows, ["PID", "PPID", "PYTHON", "AGENT", "ROLE", "IDENTITY", "COMMAND"], align=">><<<<<"))
    return 0


def choose_and_attach(args) -> int:
    """Plain ``pyarthas``: list the Python processes, let the user pick one, attach, open the console."""
    processes = python_processes()
    if not processes:
        sys.stderr.write("pyarthas: no Python process found\n")
        return 1
    print("Found existing Python processes, choose one by its number, then hit ENTER.")
    for number, process in enumerate(processes, 1):
        print("%s [%d]: %d python%s %s" % ("*" if number == 1 else " ", number, process.pid,
                                           process.version_text, process.cmdline))
    chosen = _read_choice(len(processes))
    if chosen is None:
        return 1
    _warn_if_master(processes[chosen - 1].pid)
    attached = attach_and_report(processes[chosen - 1].pid, DEFAULT_IP, None)
    if attached is None:
        return 1
    return _open_console(attached.url)


def _read_choice(count: int):
    try:
        answer = input().strip()
    except (EOFError, KeyboardInterrupt):
        return None
    if not answer:
        return 1
    if answer.isdigit() and 1 <= int(answer) <= count:
        return int(answer)
    sys.stderr.write("pyarthas: please enter a number from 1 to %d\n" % count)
    return None


def _open_console(url: str) -> int:
    try:
        from .console import open_console
    except ImportError:
        print(url)
        return 0
    return open_console(url)
