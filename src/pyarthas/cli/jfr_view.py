"""``pyarthas jfr FILE``: read a flight record the agent's ``jfr dump``/``jfr stop`` wrote (JSON lines, see
``pyarthas.agent.jfr.dump``): a summary (events, hot functions, gc pauses, threads, log records, monitor
cycles), or with ``--events TYPE`` the events of one type, one JSON object a line."""
import collections
import json
import sys
import time
from typing import Any, Dict, Iterator, List

FORMAT = "pyarthas-jfr/1"


def configure(name: str, parser) -> None:
    parser.add_argument("file", help="a recording written by 'jfr dump' or 'jfr stop' (.jfr.jsonl)")
    parser.add_argument("--events", metavar="TYPE",
                        help="print the events of this type (ExecutionSample, GarbageCollection, LogRecord...)")
    parser.add_argument("--top", type=int, default=10, help="hot functions shown (default 10)")


def run(args) -> int:
    try:
        header, events = read(args.file)
    except (OSError, ValueError) as error:
        sys.stderr.write("pyarthas jfr: %s\n" % error)
        return 1
    if args.events:
        wanted = args.events if "." in args.events else "pyarthas." + args.events
        for event in events:
            if event.get("type") == wanted:
                sys.stdout.write(json.dumps(event) + "\n")
        return 0
    sys.stdout.write(summary(header, events, args.top))
    return 0


def read(path: str):
    """(the recording's header, its events); ValueError when the file is not a flight record."""
    with open(path, encoding="utf-8") as source:
        lines = iter(source)
        try:
            header = json.loads(next(lines))
        except (StopIteration, ValueError):
            raise ValueError("%s is not a flight record (empty or not JSON lines)" % path) from None
        if header.get("format") != FORMAT:
            raise ValueError("%s is not a flight record of format %s" % (path, FORMAT))
        return header, [json.loads(line) for line in lines if line.strip()]


def summary(header: Dict[str, Any], events: List[Dict[str, Any]], top: int) -> str:
    by_type = collections.Counter(e.get("type", "?").split(".", 1)[-1] for e in events)
    seconds = (header["endTime"] - header["startTime"]) / 1000
    out = ["Recording %s \"%s\": pid %s, Python %s, %s for %.1f s, settings %s (a sample every %g ms)"
           % (header["id"], header["name"], header["pid"], header["python"], _time(header["startTime"]), seconds,
              header["settings"], header["interval"]),
           "events: " + (", ".join("%d %s" % (n, kind) for kind, n in by_type.most_common()) or "none")
           + "; %d dropped by the ring's limits" % header.get("dropped", 0), ""]
    out += _hot_functions(events, top)
    out += _collections(events)
    out += _threads(events)
    out += _logs(events)
    out += _monitor(events)
    return "\n".join(out).rstrip("\n") + "\n"


def _of(events: List[Dict[str, Any]], kind: str) -> Iterator[Dict[str, Any]]:
    return (e for e in events if e.get("type") == "pyarthas." + kind)


def _hot_functions(events, top: int) -> List[str]:
    own = collections.Counter()
    total = 0
    for sample in _of(events, "ExecutionSample"):
        trace = sample.get("stackTrace") or []
        if trace:
            total += 1
            own["%s (%s:%s)" % (trace[0]["method"], trace[0]["file"], trace[0]["line"])] += 1
    if not total:
        return ["no stack samples", ""]
    lines = ["hot functions (own samples of %d):" % total]
    lines += ["  %5.1f%%  %6d  %s" % (100.0 * n / total, n, name) for name, n in own.most_common(top)]
    return lines + [""]


def _collections(events) -> List[str]:
    pauses = [e["duration"] for e in _of(events, "GarbageCollection")]
    young = list(_of(events, "YoungCollections"))
    if not pauses and not young:
        return []
    lines = ["gc: %d collections timed one by one, longest %.3f ms, total %.3f ms"
             % (len(pauses), max(pauses, default=0.0), sum(pauses))]
    if young:
        lines.append("    %d short young collections, total %.3f ms, longest %.3f ms"
                     % (sum(e["count"] for e in young), sum(e["totalDuration"] for e in young),
                        max(e["longestDuration"] for e in young)))
    return lines + [""]


def _threads(events) -> List[str]:
    started = [e["thread"] for e in _of(events, "ThreadStart")]
    ended = [e["thread"] for e in _of(events, "ThreadEnd")]
    if not started and not ended:
        return []
    return ["threads: %d started (%s), %d ended (%s)" % (len(started), _names(started), len(ended), _names(ended)),
            ""]


def _names(names: List[str]) -> str:
    shown = ", ".join(names[:5])
    return shown + (", ..." if len(names) > 5 else "")


def _logs(events) -> List[str]:
    records = list(_of(events, "LogRecord"))
    if not records:
        return []
    lines = ["log records at WARNING and above: %d (the last ones)" % len(records)]
    lines += ["  %s %-8s %s: %s" % (_time(r["startTime"]), r["level"], r["logger"], r["message"].splitlines()[0]
                                   if r["message"] else "") for r in records[-10:]]
    return lines + [""]


def _monitor(events) -> List[str]:
    cycles: Dict[str, List[int]] = {}
    for cycle in _of(events, "MonitorCycle"):
        totals = cycles.setdefault("%s.%s" % (cycle["className"], cycle["methodName"]), [0, 0, 0])
        totals[0] += cycle["total"]
        totals[1] += cycle["failed"]
        totals[2] += cycle["avgRt"] * cycle["total"]
    if not cycles:
        return []
    lines = ["monitor cycles:"]
    lines += ["  %s: %d calls, %d failed, avg rt %.3f ms" % (name, total, failed, cost / total if total else 0)
              for name, (total, failed, cost) in cycles.items()]
    return lines + [""]


def _time(epoch_ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch_ms / 1000))
