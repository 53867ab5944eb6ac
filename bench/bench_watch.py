"""What ``watch`` costs the target.

    .venv/bin/python bench/bench_watch.py [--rounds 5] [--phase 0.8] [--memory-seconds 60] [--python EXE]

For each CPython here, one target process per function (``add(a, b)``, about 60 ns; ``primeFactors(199)``
from the demo, about 10 us) calls it in a tight loop and prints, every 100 ms, how many calls it made and
the process's CPU time. The driver switches a watch on and off over HTTP, phase by phase (off, on, off...),
and compares the call rate of each "on" phase with the "off" phases around it. Rates are calls per second
of the target process's CPU time (``time.process_time()``, every thread of the process): the figures
include everything the agent's own threads take (HTTP, distribution, serialization), and other load on
the machine skews them much less than wall-clock rates. Reported per case, median over rounds (twice
as many for ``unwatched``): ns added per call = 1e9/rate_on - 1e9/rate_off.
- ``cond-false``: ``watch ... '{params, target, returnObj}' 'params[0] < 0'`` (never true);
- ``every-call``: ``watch ... -n 100000000 &`` with a client pulling results all along (a background job:
  a foreground one would be interrupted by Arthas's "result queue is full" rule at this rate);
- ``unwatched``: the loop's function is not watched while another one, called 20 times a second by a
  second thread, is watched (with a condition never true): ratio rate_on / rate_off (goal >= 0.99);
  ``unwatched, other reporting``: the same with the other function reporting its 20 calls a second to the
  pulling client (the cost of delivering results, not of the enhancement).
Memory: a function called 100,000 times a second watched on every call (background job, client pulling)
for ``--memory-seconds``; RSS after 5 s and at the end (goal: within 10 MB).
Goals: cond-false <= 1000 ns on 3.11; every-call <= 15000 ns; unwatched >= 0.99.
"""
import argparse
import os
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

from harness import SRC, Target, python_id, target_env, target_pythons  # noqa: E402

TARGET = r"""
import sys, threading, time

def add(a, b):
    return a + b

def other(a, b):
    return a + b

sys.path.insert(0, sys.argv[2])   # the demo's folder: demo.MathGame, as the seed watches it
from demo import MathGame

def side_caller():
    while True:
        other(1, 2)
        time.sleep(0.05)

def report_every_100ms(batch, call_batch):
    count = 0
    deadline = time.monotonic() + 0.1
    while True:
        call_batch()
        count += batch
        now = time.monotonic()
        if now >= deadline:
            sys.stdout.write("slot %.6f %.6f %d\n" % (time.time(), time.process_time(), count))
            sys.stdout.flush()
            count = 0
            deadline = now + 0.1

def paced(rate):
    start = time.monotonic()
    done = 0
    while True:
        for i in range(1000):
            add(i, 1)
        done += 1000
        elapsed = time.monotonic() - start
        if done % rate == 0:
            sys.stdout.write("paced %.1f\n" % (done / elapsed))
            sys.stdout.flush()
        ahead = done / rate - elapsed
        if ahead > 0:
            time.sleep(ahead)

mode = sys.argv[1]
threading.Thread(target=side_caller, daemon=True).start()
print("ready", flush=True)
if mode == "add":
    def batch():
        for i in range(2000):
            add(i + 2, 1)
    report_every_100ms(2000, batch)
elif mode == "prime":
    game = MathGame()
    def batch():
        for i in range(20):
            game.primeFactors(199)
    report_every_100ms(20, batch)
else:
    paced(100000)
"""

CASES = {
    "add": ("__main__", "add", "__main__ other"),
    "prime": ("demo.MathGame", "primeFactors", "__main__ other"),
}


class Slots:
    """Reads the target's "slot <epoch> <count>" lines on a thread."""

    def __init__(self, target: Target):
        self.slots = []
        self.target = target
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while self.target.alive():
            try:
                line = self.target.stdout_lines.get(timeout=1)
            except Exception:
                continue
            if line.startswith("slot "):
                _, at, cpu, count = line.split()
                self.slots.append((float(at), float(cpu), int(count)))

    def rate(self, start: float, end: float) -> float:
        """Calls per second of the target process's CPU time (all its threads, the agent's included),
        over the slots that ended between ``start`` + 0.3 s and ``end``: unlike a wall-clock rate, it does
        not move when other processes load the machine."""
        inside = [(cpu, c) for t, cpu, c in self.slots if start + 0.3 <= t <= end]
        if len(inside) < 2:
            return float("nan")
        return sum(c for _, c in inside[1:]) / (inside[-1][0] - inside[0][0])


class Puller:
    """A client pulling results all along, as a console would."""

    def __init__(self, session):
        self.session = session
        self.pulled = 0
        self.running = True
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while self.running:
            try:
                self.pulled += len(self.session.pull())
            except Exception:
                time.sleep(0.1)


def start_target(python: str, mode: str, tmp: str) -> Target:
    script = os.path.join(tmp, "bench_watch_target.py")
    with open(script, "w") as handle:
        handle.write(TARGET)
    demo_dir = os.path.join(SRC, "pyarthas", "demo_app")
    target = Target([python, "-m", "pyarthas", "run", "--port", "0", script, mode, demo_dir], target_env(), cwd=tmp)
    target.wait_stdout("ready", timeout=20)
    return target


def measure(python: str, mode: str, rounds: int, phase: float, tmp: str):
    class_pattern, method, other = CASES[mode]
    target = start_target(python, mode, tmp)
    try:
        slots = Slots(target)
        session = target.session()
        puller = Puller(session)
        commands = {
            "cond-false": "watch %s %s '{params, target, returnObj}' 'params[0] < 0' -n 100000000 &"
                          % (class_pattern, method),
            "every-call": "watch %s %s '{params, target, returnObj}' -n 100000000 &" % (class_pattern, method),
            "unwatched": "watch %s '{params, returnObj}' 'params[0] < 0' -n 100000000 &" % other,
            "unwatched-reporting": "watch %s '{params, returnObj}' -n 100000000 &" % other,
        }
        time.sleep(1.0)  # warm up
        figures = {}
        for case, command in commands.items():
            added = []
            ratios = []
            # The unwatched ratios are small differences in a noisy rate: twice the rounds.
            for _ in range(rounds * 2 if case.startswith("unwatched") else rounds):
                off_start = time.time()
                time.sleep(phase)
                off_end = time.time()
                reply = session.api("async_exec", command=command)
                assert reply["state"] == "SCHEDULED", reply
                on_start = time.time()
                time.sleep(phase)
                on_end = time.time()
                target.results("reset")
                after_start = time.time()
                time.sleep(phase)
                after_end = time.time()
                rate_off = (slots.rate(off_start, off_end) + slots.rate(after_start, after_end)) / 2
                rate_on = slots.rate(on_start, on_end)
                if rate_on == rate_on and rate_off == rate_off:   # a round without slots is left out
                    added.append(1e9 / rate_on - 1e9 / rate_off)
                    ratios.append(rate_on / rate_off)
            figures[case] = (statistics.median(added or [float("nan")]), statistics.median(ratios or [float("nan")]))
        base_ns = 1e9 / slots.rate(time.time() - phase - 0.3, time.time())
        puller.running = False
        return base_ns, figures
    finally:
        target.kill()


def rss_kb(pid: int) -> int:
    with open("/proc/%d/status" % pid) as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def memory(python: str, seconds: float, tmp: str):
    target = start_target(python, "paced", tmp)
    try:
        session = target.session()
        puller = Puller(session)
        reply = session.api("async_exec", command="watch __main__ add '{params, target, returnObj}' -n 1000000000 &")
        assert reply["state"] == "SCHEDULED", reply
        time.sleep(5)
        early = rss_kb(target.proc.pid)
        peak = early
        deadline = time.time() + max(seconds - 5, 1)
        while time.time() < deadline:
            time.sleep(1)
            peak = max(peak, rss_kb(target.proc.pid))
        late = rss_kb(target.proc.pid)
        pulled = puller.pulled
        puller.running = False
        achieved = 0.0
        while not target.stdout_lines.empty():
            line = target.stdout_lines.get()
            if line.startswith("paced "):
                achieved = float(line.split()[1])
        return early, late, peak, pulled, achieved
    finally:
        target.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--phase", type=float, default=0.8, help="seconds per on/off phase")
    parser.add_argument("--memory-seconds", type=float, default=60)
    parser.add_argument("--python", action="append", help="interpreter(s) to run (default: every CPython here)")
    args = parser.parse_args()
    import tempfile
    tmp = tempfile.mkdtemp(prefix="bench-watch-")
    pythons = args.python or target_pythons()
    print("| Python | function | base ns/call | cond-false ns added | every-call ns added | unwatched ratio "
          "| unwatched ratio, other reporting |")
    print("|---|---|---|---|---|---|---|")
    for python in pythons:
        for mode in ("add", "prime"):
            base, figures = measure(python, mode, args.rounds, args.phase, tmp)
            print("| %s | %s | %.0f | %.0f | %.0f | %.3f | %.3f |" % (
                python_id(python), "add(a, b)" if mode == "add" else "primeFactors(199)", base,
                figures["cond-false"][0], figures["every-call"][0], figures["unwatched"][1],
                figures["unwatched-reporting"][1]), flush=True)
    if args.memory_seconds > 0:
        print()
        print("| Python | calls/s | RSS after 5 s (MB) | RSS at %d s (MB) | peak (MB) | results pulled |"
              % args.memory_seconds)
        print("|---|---|---|---|---|---|")
        for python in pythons:
            early, late, peak, pulled, achieved = memory(python, args.memory_seconds, tmp)
            print("| %s | %.0f | %.1f | %.1f | %.1f | %d |" % (python_id(python), achieved, early / 1024,
                                                             late / 1024, peak / 1024, pulled), flush=True)


if __name__ == "__main__":
    main()
