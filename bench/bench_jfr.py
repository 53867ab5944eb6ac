"""Target throughput while ``jfr`` records, and the memory a recording holds (issue: Arthas's user docs).

    .venv/bin/python bench/bench_jfr.py [--rounds N] [--units N] [--memory-seconds S]

Inside one target process per interpreter (the agent started in it): a workload that computes, allocates
(200 dicts a unit, freed with it: the gc seldom runs), logs a warning and starts a short thread every 50
units, timed in windows of three kinds interleaved round by round with the order rotating: no recording
(the baseline), ``jfr start`` (a stack sample every 20 ms) and ``jfr start -s profile`` (every 10 ms).
Each recording starts before its window and stops after it (its ``jfr stop`` writes the file outside the
timed window).
Reported: each kind's throughput over the baseline's in the same round, median over rounds (goal: >= 0.98
for the default recording) with the middle half of the rounds' ratios beside it (the machine may be shared:
its spread), by the wall clock and by the process's CPU time (the target's threads and the recorder's
together: under the GIL the recorder's CPU is time the target could not run, while the time another
process took from ours, which the wall clock counts, is no cost of ours); and the recorder thread's own
share of that CPU time (a direct reading, not a difference of two noisy windows). Then the memory: a ``--maxsize
1M`` recording of the same workload running for ``--memory-seconds``: the bytes its ring holds (its
budget's estimate), the events it dropped, and the process's RSS growth over that time.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

from harness import SRC, python_id, target_env, target_pythons  # noqa: E402

KINDS = ("none", "jfr default", "jfr profile")

WORKLOAD = r"""
import gc, json, logging, os, sys, tempfile, threading, time, urllib.request
sys.path.insert(0, %(src)r)
os.chdir(tempfile.mkdtemp())
from pyarthas.agent import start as start_agent
from pyarthas.agent.inspect.threads import cpu_time_ns
log = logging.getLogger("bench")

def unit(i):
    rows = [{"n": j, "s": str(j)} for j in range(200)]
    total = sum(r["n"] for r in rows)
    if i %% 50 == 0:
        log.warning("unit %%d", i)
        threading.Thread(target=len, args=(rows,)).start()
    return total

def recorder_cpu():
    # CPU seconds the recorder's own thread has used (0 while none runs)
    found = [t for t in threading.enumerate() if t.name == "pyarthas-jfr"]
    return (cpu_time_ns(found[0].native_id) or 0) / 1e9 if found else 0.0

def timed(units):
    wall, cpu, recorder = time.perf_counter(), time.process_time(), recorder_cpu()
    for i in range(units):
        unit(i)
    return time.perf_counter() - wall, time.process_time() - cpu, recorder_cpu() - recorder

agent = start_agent(port=0, quiet=True, telnet_port=-1)
logging.basicConfig(stream=open(os.devnull, "w"))

def request(command):
    body = json.dumps({"action": "exec", "command": command}).encode()
    req = urllib.request.Request(agent.url + "/api", data=body, headers={"Content-Type": "application/json"})
    reply = json.load(urllib.request.urlopen(req, timeout=60))
    assert reply["body"]["results"][-1]["statusCode"] == 0, reply
    return reply["body"]["results"]

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

COMMANDS = {"jfr default": "jfr start -n bench", "jfr profile": "jfr start -n bench -s profile"}
timed(%(units)d // 4)
ratios = {kind: [] for kind in COMMANDS}
cpu_ratios = {kind: [] for kind in COMMANDS}
recorder_shares = {kind: [] for kind in COMMANDS}
recording = 0
for round_index in range(%(rounds)d):
    order = list(%(kinds)r)
    order = order[round_index %% 3:] + order[:round_index %% 3]
    seconds = {}
    for kind in order:
        if kind in COMMANDS:
            request(COMMANDS[kind])
            recording += 1
            timed(%(units)d // 10)
        seconds[kind] = timed(%(units)d)
        if kind in COMMANDS:
            request("jfr stop -r %%d -f rec.jsonl" %% recording)
    for kind in COMMANDS:
        ratios[kind].append(seconds["none"][0] / seconds[kind][0])
        cpu_ratios[kind].append(seconds["none"][1] / seconds[kind][1])
        recorder_shares[kind].append(seconds[kind][2] / seconds[kind][1])

request("jfr start -n memory --maxsize 1M")
recording += 1
before = rss()
deadline = time.monotonic() + %(memory_seconds)f
while time.monotonic() < deadline:
    timed(200)
status = [r for r in request("jfr status -r %%d" %% recording) if r["type"] == "jfr"][0]["recordings"][0]
print(json.dumps({"all": ratios, "cpu": cpu_ratios, "recorder": recorder_shares,
                  "ringBytes": status["bytes"], "events": status["events"], "dropped": status["dropped"],
                  "rssGrowth": rss() - before}))
"""


def run(python: str, rounds: int, units: int, memory_seconds: float) -> dict:
    code = WORKLOAD % {"src": SRC, "rounds": rounds, "units": units, "kinds": KINDS, "memory_seconds": memory_seconds}
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, env=target_env(), timeout=1800)
    if done.returncode != 0:
        raise SystemExit("%s failed:\n%s" % (python, done.stderr[-3000:]))
    return json.loads(done.stdout.strip().splitlines()[-1])


def summary(ratios: list) -> str:
    """The median and the middle half of the rounds' ratios: ``0.985 (0.979-0.991)``."""
    ordered = sorted(ratios)
    quartile = (len(ordered) - 1) / 4
    return "%.3f (%.3f-%.3f)" % (statistics.median(ordered), ordered[int(quartile)],
                                 ordered[-1 - int(quartile)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--units", type=int, default=4000)
    parser.add_argument("--memory-seconds", type=float, default=20.0)
    args = parser.parse_args()
    print("%-7s %-21s %-21s %-21s %-21s %-11s %7s %7s %7s %8s" % (
        "python", "jfr default", "jfr profile", "(cpu) jfr default", "(cpu) jfr profile", "recorder %",
        "ring", "events", "dropped", "rss +"))
    for python in target_pythons():
        found = run(python, args.rounds, args.units, args.memory_seconds)
        shares = "/".join("%.2f" % (100 * statistics.median(found["recorder"][kind])) for kind in KINDS[1:])
        print("%-7s %-21s %-21s %-21s %-21s %-11s %6.0fK %7d %7d %7.1fM" % (
            python_id(python), summary(found["all"]["jfr default"]), summary(found["all"]["jfr profile"]),
            summary(found["cpu"]["jfr default"]), summary(found["cpu"]["jfr profile"]), shares,
            found["ringBytes"] / 1024, found["events"], found["dropped"], found["rssGrowth"] / 2 ** 20))


if __name__ == "__main__":
    main()
