"""Can the console keep up with a flood of results? (issue: console and client)

    .venv/bin/python bench/bench_console.py [--rounds N]

The agent keeps at most 50 unread results per consumer and drops the oldest beyond that, so the console
must turn results into text faster than a busy ``watch`` produces them. This measures, in this process:
- render: the text view of a seed-shaped ``watch`` result (``{params, returnObj, throwExp}``, with an
  exception and its stack) and of a ``dashboard`` result, in microseconds per result;
- the same results through ``json.dumps`` (what ``--json`` prints), interleaved round by round;
and reports results/second and the ratio render / json.dumps. Goal: > 20000 watch results/s (a watch
emits at most a few thousand a second before the agent's own limits bite).
"""
import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "src"))

from pyarthas.agent.view import Context, render  # noqa: E402

FRAME = {"className": "demo.MathGame", "methodName": "primeFactors", "fileName": "demo.py", "lineNumber": 37,
         "nativeMethod": False}
WATCH = {"type": "watch", "jobId": 3, "ts": 1596703453237, "cost": 0.071499, "className": "demo.MathGame",
         "methodName": "primeFactors", "accessPoint": "AtExceptionExit", "expand": 1, "sizeLimit": 10485760,
         "value": [[-170365], None, {"@type": "builtins.ValueError", "message": "number is: -170365, need >= 2",
                                     "localizedMessage": "number is: -170365, need >= 2",
                                     "stackTrace": [FRAME] * 8}]}
DASHBOARD = {"type": "dashboard", "jobId": 4,
             "threads": [{"id": 140000 + i, "name": "worker-%d" % i, "group": "main", "priority": 5,
                          "state": "RUNNABLE", "cpu": 1.5, "deltaTime": 3, "time": 1234, "interrupted": False,
                          "daemon": True} for i in range(20)],
             "memoryInfo": {"heap": [{"name": "heap", "used": 1 << 24, "total": 1 << 26, "max": -1}]},
             "gcInfos": [{"name": "gen%d" % i, "collectionCount": 10, "collectionTime": -1} for i in range(3)],
             "runtimeInfo": {"pythonVersion": "3.12.1", "processors": 2, "uptime": 12}}


def per_result(fn, result, count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        fn(result)
    return (time.perf_counter() - start) / count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    ctx = Context(color=True, width=80)
    render(WATCH, ctx)  # discover the views before timing
    print("| result | text view (us) | json.dumps (us) | ratio | text results/s |")
    print("|---|---|---|---|---|")
    for name, result in (("watch", WATCH), ("dashboard (20 threads)", DASHBOARD)):
        text_times, json_times = [], []
        for _ in range(args.rounds):  # interleaved, so both see the same machine state
            text_times.append(per_result(lambda r: render(r, ctx), result, args.count))
            json_times.append(per_result(json.dumps, result, args.count))
        text, dumped = statistics.median(text_times), statistics.median(json_times)
        print("| %s | %.1f | %.1f | %.1f | %d |" % (name, text * 1e6, dumped * 1e6, text / dumped, 1 / text))


if __name__ == "__main__":
    main()
