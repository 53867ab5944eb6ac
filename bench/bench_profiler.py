"""Target throughput while the profiler samples (issue: profiler and redefine).

    .venv/bin/python bench/bench_profiler.py [--rounds N] [--units N] [--threads N]

Inside one target process per interpreter (the agent started in it): a CPU-bound workload (a loop at
the bottom of a 20-deep call chain, plus idle threads so that the sampler has more than one stack to
read) timed in windows of five kinds, interleaved round by round with the order rotating:
- no profiler (the baseline);
- ``profiler start -i 10ms`` and ``profiler start -i 1ms`` (cpu mode);
- two controls: a thread that only wakes up at the same intervals (sleep, test a flag, sleep) and
  does nothing else. Any in-process sampler must wake up and take the GIL that often, so a control
  shows the floor that waking costs on this machine and interpreter, and how far the machine's noise
  moves a ratio that should be 1.
Each window measures steady state: the profiler (or control) starts, the workload runs a tenth of a
window untimed (the sampler's thread starting and its first sight of each stack are a one-time cost of
``profiler start``), then the window is timed.
Reported: each kind's throughput over the baseline's in the same round, median over rounds (goals:
>= 0.98 at 10 ms, >= 0.90 at 1 ms). Because those ratios move by a few percent with the machine's noise,
two direct figures per profiler window come with them: the share of the window that samples held the
GIL (the target cannot run meanwhile: this is the sampler's work as the target pays for it), and the
sampler thread's whole CPU time, an upper bound that adds its sleeps, wake-ups and GIL waits (kernel
time spent on the other core).
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

def timed(units):
    started = time.perf_counter()
    for _ in range(units):
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

# how long each sample holds the GIL (wall time inside Sampler._sample, which never releases it): the
# target cannot run meanwhile, so this share of a window is the sampler's work as the target pays for it
from pyarthas.agent.profiler import sampler as sampler_module
gil_held = [0.0]
_sample = sampler_module.Sampler._sample

def timed_sample(self, elapsed_ticks):
    started = time.perf_counter()
    try:
        return _sample(self, elapsed_ticks)
    finally:
        gil_held[0] += time.perf_counter() - started

sampler_module.Sampler._sample = timed_sample

def sampler_clock():
    # the CPU clock of the agent sampling thread (Linux: from its kernel thread id)
    for thread in threading.enumerate():
        if thread.name.endswith("profiler") and thread.native_id:
            return (~thread.native_id << 3) | 6
    return None

def measure(kind):
    # every window gets the same requests around it and a pause, so that the agent finishing a request
    # never lands in one kind of window only
    what, _, interval = kind.partition(" ")
    stop = []
    request("profiler start -i " + interval if what == "profiler" else "profiler status")
    if what == "waker":
        thread = threading.Thread(target=waker, args=(float(interval[:-2]) / 1000, stop), daemon=True)
        thread.start()
    timed(%(settle)d)   # the sampler's start (its thread, first sight of each stack) is not steady state
    clock = sampler_clock() if what == "profiler" else None
    try:
        cpu, held = time.clock_gettime(clock) if clock is not None else 0.0, gil_held[0]
        elapsed = timed(%(units)d)
        if clock is not None:
            sampler_cpu[kind].append((time.clock_gettime(clock) - cpu) / elapsed)
            sampler_held[kind].append((gil_held[0] - held) / elapsed)
        return elapsed
    finally:
        stop.append(True)
        request("profiler stop -o collapsed -f bench.txt" if what == "profiler" else "profiler status")

timed(%(units)d)  # warm up
kinds = %(kinds)r
times = {kind: [] for kind in kinds}
sampler_cpu = {kind: [] for kind in kinds}
sampler_held = {kind: [] for kind in kinds}
for round_ in range(%(rounds)d):
    shift = round_ %% len(kinds)
    for kind in kinds[shift:] + kinds[:shift]:
        times[kind].append(measure(kind))
print(json.dumps({"times": times, "sampler_cpu": sampler_cpu, "sampler_held": sampler_held}))
"""


def run(python, rounds, threads, units):
    code = WORKLOAD % {"src": SRC, "rounds": rounds, "threads": threads, "kinds": list(KINDS),
                       "units": units, "settle": max(1, units // 10)}
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=3600, env=target_env())
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    times = report["times"]
    # each round's own ratio (its windows ran back to back), then the median over rounds: a burst of
    # load from elsewhere on the machine spoils one round, not the figure
    ratios = {kind: statistics.median(base / other for base, other in zip(times["none"], times[kind]))
              for kind in KINDS[1:]}
    shares = {(what, kind): statistics.median(values)
              for what in ("sampler_held", "sampler_cpu") for kind, values in report[what].items() if values}
    return ratios, shares, statistics.median(times["none"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=30, help="interleaved rounds")
    parser.add_argument("--threads", type=int, default=4, help="idle threads besides the busy one")
    parser.add_argument("--units", type=int, default=800, help="work units timed per window")
    args = parser.parse_args()
    print("| python | window (ms) | profiler 10 ms (goal >= 0.98) | waker 10 ms | profiler 1 ms (goal >= 0.90) "
          "| waker 1 ms | GIL held by samples, 10 ms / 1 ms | sampler thread CPU, 10 ms / 1 ms |")
    print("|---|---|---|---|---|---|---|---|")
    for python in target_pythons():
        ratios, shares, baseline = run(python, args.rounds, args.threads, args.units)
        print("| %s | %.0f | %s | %s |" % (
            python_id(python), baseline * 1000, " | ".join("%.3f" % ratios[kind] for kind in KINDS[1:]),
            " | ".join(" / ".join("%.2f%%" % (100 * shares[what, kind]) for kind in ("profiler 10ms", "profiler 1ms"))
                       for what in ("sampler_held", "sampler_cpu"))))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
