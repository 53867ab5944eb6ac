"""Inspection commands against a loaded process: latency and the pause the target's busiest thread sees.

    .venv/bin/python bench/bench_inspect.py [--rounds N] [--python EXE]

The target has 200 threads (188 waiting on events, queues, an RLock and sleeps, a holder of that
RLock, an event loop running 100 tasks, 9 doing light work), 1,000,000
objects of one class, and one "busiest" thread spinning in a loop that logs every gap between two of its
iterations longer than 0.5 ms, with wall-clock times. For each command, rounds interleave an idle window
and a window running the command (``exec`` over HTTP); after the run the target hands over its gap log
(on SIGUSR1) and each window's longest gap is the pause the busiest thread saw. Reported: median latency
per command, median longest pause during the command and during the idle windows of the same length, and
their ratio. Goals: every command under 1 s; ``thread`` pauses the busiest thread under 20 ms (on a
loaded machine the idle windows already show such pauses: the goal then counts as missed only when the
command's pause also exceeds the idle one by 20%).
"""
import argparse
import json
import os
import signal
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

from harness import python_id, start_script  # noqa: E402

TARGET = r"""
import asyncio, collections, json, queue, signal, sys, threading, time

class Payload:
    __slots__ = ("number",)
    def __init__(self, number):
        self.number = number

payloads = [Payload(i) for i in range(1000000)]
gaps = collections.deque(maxlen=500000)
stop_everything = threading.Event()

def busiest():
    last = time.perf_counter()
    while True:
        now = time.perf_counter()
        if now - last > 0.0005:
            gaps.append((time.time(), now - last))
        last = now
        sum(range(20))

shared = threading.RLock()
holding = threading.Event()

def holder():
    with shared:
        holding.set()
        stop_everything.wait()

def waiter(index):
    kind = index % 4
    if kind == 0:
        stop_everything.wait()
    elif kind == 1:
        queue.Queue().get()
    elif kind == 2 and index < 40:
        with shared:
            pass
    else:
        while True:
            time.sleep(5)

async def sleeper():
    await asyncio.sleep(3600)

async def event_loop_main():
    tasks = [asyncio.ensure_future(sleeper()) for _ in range(100)]
    await asyncio.gather(*tasks)

def light_worker():
    while True:
        sum(range(1000))
        time.sleep(0.01)

threading.Thread(target=holder, name="holder", daemon=True).start()
holding.wait()
threading.Thread(target=lambda: asyncio.run(event_loop_main()), name="event-loop", daemon=True).start()
for index in range(188):
    threading.Thread(target=waiter, args=(index,), name="waiter-%d" % index, daemon=True).start()
for index in range(9):
    threading.Thread(target=light_worker, name="worker-%d" % index, daemon=True).start()
threading.Thread(target=busiest, name="busiest", daemon=True).start()

def dump_gaps(signum, frame):
    print("GAPS " + json.dumps(list(gaps)), flush=True)

signal.signal(signal.SIGUSR1, dump_gaps)
print("ready", flush=True)
while True:
    time.sleep(3600)
"""

COMMANDS = [
    "thread",
    "thread -n 3",
    "thread -b",
    "tasks",
    "sc -d __main__.*",
    "sm threading.Thread",
    "jad threading.Thread",
    "logger",
    "vmoption",
    "jvm",
    "memory",
    "memory --top 10",
    "heapdump",
    "vmtool --action getInstances --className __main__.Payload --limit 10",
    "vmtool --action getInstances --className __main__.Payload --limit -1 --express len(instances)",
]


def longest_gap(gap_log, start, end):
    """The longest pause of the busiest thread overlapping the wall-clock window [start, end]."""
    longest = 0.0
    for finished, gap in gap_log:
        if finished >= start and finished - gap <= end:
            longest = max(longest, gap)
    return longest


def measure(target, rounds):
    windows = []  # (command, kind, start, end)
    latencies = {c: [] for c in COMMANDS}
    for _ in range(rounds):
        for command in COMMANDS:
            start = time.time()
            reply = target.exec(command, execTimeout=30000)
            end = time.time()
            assert reply["state"] == "SUCCEEDED", reply
            status = next(r for r in reply["body"]["results"] if r["type"] == "status")
            assert status["statusCode"] == 0, (command, status)
            latencies[command].append(end - start)
            windows.append((command, "command", start, end))
            idle_start = time.time()
            time.sleep(end - start)
            windows.append((command, "idle", idle_start, time.time()))
    return latencies, windows


def gap_log_of(target):
    os.kill(target.proc.pid, signal.SIGUSR1)
    line = target.wait_stdout("^GAPS ", timeout=60)
    return json.loads(line[len("GAPS "):])


def report(python, latencies, windows, gap_log):
    print("\n%s: %d threads, 1,000,000 objects" % (python_id(python), 200))
    print("%-88s %10s %12s %12s %7s" % ("command", "latency", "pause", "idle pause", "ratio"))
    failures = []
    for command in COMMANDS:
        pauses = [longest_gap(gap_log, s, e) for c, k, s, e in windows if c == command and k == "command"]
        idle = [longest_gap(gap_log, s, e) for c, k, s, e in windows if c == command and k == "idle"]
        latency = statistics.median(latencies[command])
        pause, idle_pause = statistics.median(pauses), statistics.median(idle)
        ratio = pause / idle_pause if idle_pause else float("inf")
        print("%-88s %8.0fms %10.1fms %10.1fms %7.2f" % (command, latency * 1000, pause * 1000, idle_pause * 1000,
                                                         ratio))
        if latency >= 1.0:
            failures.append("%s: latency %.0f ms >= 1 s" % (command, latency * 1000))
        if command == "thread" and pause >= 0.020 and pause > 1.2 * idle_pause:
            failures.append("thread: pause %.1f ms >= 20 ms" % (pause * 1000))
    for failure in failures:
        print("GOAL MISSED: " + failure)
    return not failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--python", action="append", help="interpreter(s) to run the target under")
    args = parser.parse_args()
    import pathlib
    import tempfile
    ok = True
    for python in args.python or [sys.executable]:
        with tempfile.TemporaryDirectory() as tmp:
            target = start_script(python, TARGET, pathlib.Path(tmp))
            try:
                target.wait_stdout("ready", timeout=120)
                latencies, windows = measure(target, args.rounds)
                ok = report(python, latencies, windows, gap_log_of(target)) and ok
            finally:
                target.kill()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
