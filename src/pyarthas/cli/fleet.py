"""``pyarthas fleet``: the agents that joined a fleet (a Redis the service already runs), and one command on
all of them.

    pyarthas fleet --fleet redis://HOST:6379/0 [--app NAME]             the live agents (table)
    pyarthas fleet --fleet ... --app NAME -c 'CMD' [--agent ID|GLOB]    CMD on each agent, results by agent
    pyarthas fleet gateway --fleet ... [--port 8080]                     the tunnel server's URL shape over HTTP

Requests are signed with ``$PYARTHAS_FLEET_KEY`` (the agents' key). ``-c`` waits ``--timeout`` seconds for each
agent, prints what came (grouped by agent, or ``--merge``d with the agent id on each line, or ``--json``), names
the agents that did not answer and exits 1 when one did not answer or a command failed.
"""
import fnmatch
import json
import os
import sys
import time
from typing import Any, Dict, List

from ..agent.util.net import is_loopback

DEFAULT_TIMEOUT = 30.0


def configure(name, parser) -> None:
    parser.add_argument("action", nargs="?", choices=("list", "gateway"), default="list",
                        help="list (default): the agents, or run -c on them; gateway: serve the tunnel "
                             "server's HTTP paths for the fleet")
    parser.add_argument("--fleet", default=os.environ.get("PYARTHAS_FLEET"),
                        metavar="redis://[USER:PASS@]HOST:PORT/DB",
                        help="the fleet's Redis (default $PYARTHAS_FLEET); rediss:// for TLS")
    parser.add_argument("--app", default=os.environ.get("PYARTHAS_APP_NAME"),
                        help="the app (default $PYARTHAS_APP_NAME; without one, every app)")
    parser.add_argument("-c", "--command", metavar="'CMD'", help="run this command on every agent (or those chosen)")
    parser.add_argument("--agent", action="append", default=[], metavar="ID|GLOB",
                        help="only these agents (an id or a glob such as 'shop@web-*'; repeatable)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help="seconds to wait for each agent's answer (default %.0f)" % DEFAULT_TIMEOUT)
    parser.add_argument("--merge", action="store_true",
                        help="print every result line prefixed with its agent id, instead of grouped by agent")
    parser.add_argument("--json", action="store_true", help="print one JSON document (agents, answers, missing)")
    parser.add_argument("--ip", default="127.0.0.1", help="gateway: address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="gateway: port (default 8080, 0 picks one)")
    parser.add_argument("--username", default="arthas", help="gateway: HTTP Basic user (default arthas)")
    parser.add_argument("--password", default=os.environ.get("PYARTHAS_GATEWAY_PASSWORD"),
                        help="gateway: require HTTP Basic with this password (default $PYARTHAS_GATEWAY_PASSWORD); "
                             "needed to bind beyond loopback")


def run(args) -> int:
    if not args.fleet:
        sys.stderr.write("pyarthas fleet: give --fleet redis://HOST:PORT/DB (or set $PYARTHAS_FLEET)\n")
        return 2
    import redis

    from .fleet_client import Fleet, FleetError
    try:
        fleet = Fleet(args.fleet)
        if args.action == "gateway":
            return _gateway(fleet, args)
        if args.command:
            return _run_everywhere(fleet, args)
        return _list(fleet, args)
    except (FleetError, redis.RedisError) as error:
        sys.stderr.write("pyarthas fleet: %s\n" % error)
        return 1


def _gateway(fleet, args) -> int:
    from .fleet_gateway import serve
    if not is_loopback(args.ip) and not args.password:
        sys.stderr.write("pyarthas fleet gateway: binding %s (beyond loopback) needs --password\n" % args.ip)
        return 2
    return serve(fleet, args.ip, args.port, args.username, args.password)


def _agents(fleet, args) -> List[Dict[str, Any]]:
    apps = [args.app] if args.app else fleet.apps()
    agents = [info for app in apps for info in fleet.agents(app)]
    if args.agent:
        agents = [info for info in agents if any(fnmatch.fnmatchcase(info["id"], pattern) for pattern in args.agent)]
    return agents


def _list(fleet, args) -> int:
    agents = _agents(fleet, args)
    if args.json:
        print(json.dumps(agents, indent=2))
        return 0
    if not agents:
        sys.stderr.write("pyarthas fleet: no live agent%s\n" % (" in app %s" % args.app if args.app else ""))
        return 1
    rows = [(info["id"], info.get("app", ""), info.get("host", ""), str(info.get("pid", "")),
             info.get("python", ""), _uptime(info.get("startTime"))) for info in agents]
    headers = ("ID", "APP", "HOST", "PID", "PYTHON", "UPTIME")
    widths = [max(len(str(row[i])) for row in rows + [headers]) for i in range(len(headers))]
    for row in [headers] + rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0


def _uptime(start_ms) -> str:
    if not isinstance(start_ms, (int, float)):
        return "?"
    seconds = max(0, int(time.time() - start_ms / 1000.0))
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    return ("%dd " % days if days else "") + "%02d:%02d:%02d" % (hours, minutes, seconds)


def _run_everywhere(fleet, args) -> int:
    agents = _agents(fleet, args)
    if not agents:
        sys.stderr.write("pyarthas fleet: no live agent to run on\n")
        return 1
    body = json.dumps({"action": "exec", "command": args.command,
                       "execTimeout": int(args.timeout * 1000)}).encode("utf-8")
    progress = _progress_line if sys.stderr.isatty() else None
    answers: Dict[str, Dict[str, Any]] = {}
    for app in sorted({info["app"] for info in agents}):
        ids = [info["id"] for info in agents if info["app"] == app]
        answers.update(fleet.fan_out(app, ids, body, args.timeout + 5.0, progress))
    if progress is not None:
        sys.stderr.write("\r\033[K")
    missing = [info["id"] for info in agents if info["id"] not in answers]
    failed = [agent_id for agent_id, answer in answers.items() if not _succeeded(answer)]
    if args.json:
        print(json.dumps({"agents": [info["id"] for info in agents], "answers": answers, "missing": missing},
                         ensure_ascii=False, indent=2))
    else:
        _print_answers(agents, answers, args.merge)
    if missing:
        sys.stderr.write("pyarthas fleet: no answer within %.0f s from %d of %d agents: %s\n"
                         % (args.timeout, len(missing), len(agents), ", ".join(missing)))
    return 1 if missing or failed else 0


def _progress_line(answered: int, total: int) -> None:
    sys.stderr.write("\r\033[Kwaiting for answers: %d/%d" % (answered, total))
    sys.stderr.flush()


def _succeeded(answer: Dict[str, Any]) -> bool:
    if answer.get("state") != "SUCCEEDED":
        return False
    statuses = [r for r in (answer.get("body") or {}).get("results") or () if r.get("type") == "status"]
    return all(status.get("statusCode") == 0 for status in statuses)


def _answer_text(answer: Dict[str, Any]) -> str:
    from ..agent.view import Context, render
    if answer.get("state") not in ("SUCCEEDED", "INTERRUPTED"):
        return "%s: %s" % (answer.get("state"), answer.get("message"))
    ctx = Context.for_stream(sys.stdout)
    texts = []
    for result in (answer.get("body") or {}).get("results") or ():
        if result.get("type") in ("command", "input_status"):
            continue
        text = render(result, ctx)
        if text:
            texts.append(text)
    if answer.get("state") == "INTERRUPTED":
        texts.append("(interrupted: the timeout passed)")
    return "\n".join(texts)


def _print_answers(agents: List[Dict[str, Any]], answers: Dict[str, Dict[str, Any]], merge: bool) -> None:
    for info in agents:
        answer = answers.get(info["id"])
        if answer is None:
            continue
        text = _answer_text(answer)
        if merge:
            for line in text.splitlines() or [""]:
                print("%s  %s" % (info["id"], line))
        else:
            print("== %s (%s, pid %s) ==" % (info["id"], info.get("host"), info.get("pid")))
            if text:
                print(text)
