"""Profiler accuracy and the target's throughput while profiling, per engine (py-spy, the in-process sampler)
and interval, plus allocation profiling (``-e alloc``).

    .venv/bin/python bench/bench_profiler.py [--rounds N] [--units N] [--threads N]

Inside one target process per interpreter (the agent started in it), the main thread serves "requests"
in a loop: ``hot`` computes (about 90% of the thread's CPU), ``cold`` computes and allocates, then the
thread waits for a helper thread's answer on a pipe (a short blocking call, like a server's socket I/O,
where it hands the GIL over). Idle threads sit beside it. The workload is timed in windows of these kinds,
interleaved round by round with the order rotating:
- ``none``: no profiler (the baseline);
- ``py-spy 10ms``, ``sampler 10ms``, ``py-spy 1ms``, ``sampler 1ms``: ``profiler start -e cpu --engine E -i I``;
  ``py-spy--gil 10ms`` adds ``--gil`` (the GIL holder only; what cpu mode does before 3.11 anyway);
- ``alloc``: ``profiler start -e alloc`` at its default sampling.
Reported per kind: throughput over the baseline's in the same round, median over rounds (goals: >= 0.98 for
cpu profiling at 10 ms, >= 0.95 for alloc); and for the cpu kinds the accuracy: the share of the main
thread's samples whose innermost frame is ``hot`` against ``hot``'s true share of that thread's CPU,
measured in the same window with per-thread CPU clocks (goal: within 5 points for py-spy). The machine's
load is printed too: on an overcommitted machine a sampler that reads the kernel's "runnable" state counts
a thread waiting for a CPU as running.
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

KINDS = ("none", "py-spy 10ms", "py-spy--gil 10ms", "sampler 10ms", "py-spy 1ms", "sampler 1ms", "alloc")
CPU_KINDS = KINDS[1:6]

WORKLOAD = r"""
import json, os, sys, tempfile, threading, time, urllib.request
sys.path.insert(0, %(src)r)
os.chdir(tempfile.mkdtemp())
from pyarthas.agent import start as start_agent

cpu_in = {"hot": 0.0, "all": 0.0}

def hot():
    total = 0
    for i in range(%(hot_loops)d):
        total += i * i %% 7
    return total

def cold():
    parts = [str(i) for i in range(%(cold_loops)d)]
    return len("".join(parts))

requests_r, requests_w = os.pipe()
answers_r, answers_w = os.pipe()

def helper():
    while True:
        os.read(requests_r, 1)
        os.write(answers_w, b"x")

def serve_one():
    started = time.thread_time()
    hot()
    middle = time.thread_time()
    cold()
    os.write(requests_w, b"x")
    os.read(answers_r, 1)
    cpu_in["hot"] += middle - started
    cpu_in["all"] += time.thread_time() - started

def timed(units):
    started = time.perf_counter()
    for _ in range(units):
        serve_one()
    return time.perf_counter() - started

def idle():
    while True:
        time.sleep(0.2)

threading.Thread(target=helper, daemon=True).start()
for _ in range(%(threads)d):
    threading.Thread(target=idle, daemon=True).start()

agent = start_agent(port=0, quiet=True)

def request(command):
    body = json.dumps({"action": "exec", "command": command}).encode()
    request = urllib.request.Request(agent.url + "/api", data=body, headers={"Content-Type": "application/json"})
    reply = json.load(urllib.request.urlopen(request, timeout=60))
    results = reply["body"]["results"]
    assert results[-1]["statusCode"] == 0, reply
    return [r for r in results if r["type"] == "profiler"]

def hot_share(path):
    hot_samples = total = 0
    with open(path) as lines:
        for line in lines:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if "serve_one" not in stack:
                continue   # the main thread's samples only
            total += int(count)
            leaf = stack.rsplit(";", 1)[-1]
            if leaf == "hot" or leaf.endswith(".hot"):
                hot_samples += int(count)
    return hot_samples / total if total else 0.0

def start_command(kind):
    if kind == "alloc":
        return "profiler start -e alloc"
    engine, interval = kind.split(" ")
    engine, _, gil = engine.partition("--")
    return "profiler start -e cpu --engine %%s -i %%s%%s" %% (engine, interval, " --gil" if gil else "")

def measure(kind):
    if kind != "none":
        request(start_command(kind))
    timed(%(settle)d)   # the engine's start is not steady state
    cpu_in["hot"] = cpu_in["all"] = 0.0
    try:
        return timed(%(units)d)
    finally:
        if kind != "none":
            (model,) = request("profiler stop -o collapsed -f bench.txt")
            if kind in %(cpu_kinds)r and cpu_in["all"] > 0:
                accuracy[kind].append((hot_share(model["outputFile"]), cpu_in["hot"] / cpu_in["all"]))

timed(%(units)d)  # warm up
kinds = %(kinds)r
times = {kind: [] for kind in kinds}
accuracy = {kind: [] for kind in kinds}
for round_ in range(%(rounds)d):
    shift = round_ %% len(kinds)
    for kind in kinds[shift:] + kinds[:shift]:
        times[kind].append(measure(kind))
print(json.dumps({"times": times, "accuracy": accuracy}))
"""


def run(python, rounds, threads, units):
    code = WORKLOAD % {"src": SRC, "rounds": rounds, "threads": threads, "kinds": list(KINDS),
                       "cpu_kinds": list(CPU_KINDS), "units": units, "settle": max(1, units // 10),
                       "hot_loops": 8000, "cold_loops": 400}
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=3600, env=target_env())
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    times = report["times"]
    # each round's own ratio (its windows ran back to back), then the median over rounds: a burst of
    # load from elsewhere on the machine spoils one round, not the figure
    ratios = {kind: statistics.median(base / other for base, other in zip(times["none"], times[kind]))
              for kind in KINDS[1:]}
    accuracy = {kind: (statistics.median(m for m, _ in pairs), statistics.median(t for _, t in pairs))
                for kind, pairs in report["accuracy"].items() if pairs}
    return ratios, accuracy, statistics.median(times["none"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=12, help="interleaved rounds")
    parser.add_argument("--threads", type=int, default=4, help="idle threads besides the busy ones")
    parser.add_argument("--units", type=int, default=1500, help="requests timed per window")
    args = parser.parse_args()
    with open("/proc/loadavg") as loadavg:
        print("load average at start: %s, cores: %d" % (loadavg.read().split()[0], os.cpu_count() or 0))
    print("| python | window (ms) | throughput: %s | hot share measured / true: %s |"
          % (" / ".join(KINDS[1:]), " / ".join(CPU_KINDS)))
    print("|---|---|---|---|")
    for python in target_pythons():
        ratios, accuracy, baseline = run(python, args.rounds, args.threads, args.units)
        print("| %s | %.0f | %s | %s |" % (
            python_id(python), baseline * 1000, " / ".join("%.3f" % ratios[kind] for kind in KINDS[1:]),
            " / ".join("%.1f%% vs %.1f%%" % (100 * accuracy[k][0], 100 * accuracy[k][1]) if k in accuracy else "-"
                       for k in CPU_KINDS)))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
