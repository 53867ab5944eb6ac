"""Target throughput while the profiler samples (issue: profiler and redefine).

    .venv/bin/python bench/bench_profiler.py [--rounds N] [--threads N]

Inside one target process per interpreter (the agent started in it): a CPU-bound workload (a loop at
the bottom of a 20-deep call chain, plus idle threads so that the sampler has more than one stack to
read) timed in windows of five kinds, interleaved round by round with the order rotating:
- no profiler (the baseline);
- ``profiler start -i 10ms`` and ``profiler start -i 1ms`` (cpu mode);
- two controls: a thread that only wakes up at the same intervals (sleep, test a flag, sleep) and
  does nothing else. Any in-process sampler must wake up and take the GIL that often, so a control
  shows the floor that waking costs on this machine and interpreter; the profiler's own work is the
  difference between it and its control.
Reported: each kind's throughput over the baseline's in the same round, median over rounds. Goals:
>= 0.98 at 10 ms, >= 0.90 at 1 ms.
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

KINDS = ("none", "profiler 10ms", "waker 10ms", "profiler 1ms", "waker 1ms")

WORKLOAD = r"""
import json, os, sys, tempfile, threading, time, urllib.request
sys.path.insert(0, %(src)r)
os.chdir(tempfile.mkdtemp())
from pyarthas.agent import start as start_agent

def leaf(n):
    total = 0
    for i in range(n):
        total += i * i %% 7
    return total

def chain(depth, n):
    return leaf(n) if depth == 0 else chain(depth - 1, n)

def timed():
    started = time.perf_counter()
    for _ in range(120):
        chain(20, 5000)
    return time.perf_counter() - started

def idle():
    while True:
        time.sleep(0.2)

for _ in range(%(threads)d):
    threading.Thread(target=idle, daemon=True).start()

agent = start_agent(port=0, quiet=True)

def request(command):
    body = json.dumps({"action": "exec", "command": command}).encode()
    request = urllib.request.Request(agent.url + "/api", data=body, headers={"Content-Type": "application/json"})
    reply = json.load(urllib.request.urlopen(request, timeout=30))
    assert reply["body"]["results"][-1]["statusCode"] == 0, reply

def waker(interval, stop):
    while not stop:            # wakes, takes the GIL for this test, sleeps again
        time.sleep(interval)

def measure(kind):
    # every window gets the same requests around it and a pause, so that the agent finishing a request
    # never lands in one kind of window only
    what, _, interval = kind.partition(" ")
    stop = []
    request("profiler start -i " + interval if what == "profiler" else "profiler status")
    if what == "waker":
        thread = threading.Thread(target=waker, args=(float(interval[:-2]) / 1000, stop), daemon=True)
        thread.start()
    time.sleep(0.02)
    try:
        return timed()
    finally:
        stop.append(True)
        request("profiler stop -o collapsed -f bench.txt" if what == "profiler" else "profiler status")

timed()  # warm up
kinds = %(kinds)r
times = {kind: [] for kind in kinds}
for round_ in range(%(rounds)d):
    shift = round_ %% len(kinds)
    for kind in kinds[shift:] + kinds[:shift]:
        times[kind].append(measure(kind))
print(json.dumps(times))
"""


def run(python, rounds, threads):
    code = WORKLOAD % {"src": SRC, "rounds": rounds, "threads": threads, "kinds": list(KINDS)}
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=1800, env=target_env())
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    times = json.loads(out.stdout.strip().splitlines()[-1])
    # each round's own ratio (its windows ran back to back), then the median over rounds: a burst of
    # load from elsewhere on the machine spoils one round, not the figure
    ratios = {kind: statistics.median(base / other for base, other in zip(times["none"], times[kind]))
              for kind in KINDS[1:]}
    return ratios, statistics.median(times["none"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=100, help="interleaved rounds")
    parser.add_argument("--threads", type=int, default=4, help="idle threads besides the busy one")
    args = parser.parse_args()
    print("| python | work unit (ms) | profiler 10 ms (goal >= 0.98) | waker 10 ms | profiler 1 ms (goal >= 0.90) "
          "| waker 1 ms |")
    print("|---|---|---|---|---|---|")
    for python in target_pythons():
        ratios, baseline = run(python, args.rounds, args.threads)
        print("| %s | %.0f | %s |" % (python_id(python), baseline * 1000,
                                       " | ".join("%.3f" % ratios[kind] for kind in KINDS[1:])))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
