"""API latency and idle-agent overhead (issue: agent core).

    .venv/bin/python bench/bench_api.py [--rounds N]

1. Latency, against a real agent process: median and p99 of ``exec version`` round trips, and of the
   delivery delay: from ``async_exec`` of ``echo`` being accepted to a ``pull_results`` that was already
   waiting returning the echoed result (this includes Arthas's ~100 ms flush window).
2. Idle overhead, inside one target process per interpreter: throughput of a CPU-bound loop with the
   agent started and a session open but idle, over the same loop with no agent, the two interleaved
   round by round. Goal: ratio >= 0.99.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

from harness import SRC, Target, post_json, python_id, target_env, target_pythons  # noqa: E402

SLEEPER = "import time\nwhile True:\n    time.sleep(3600)\n"

IDLE_OVERHEAD = r"""
import json, sys, time, urllib.request
sys.path.insert(0, %(src)r)
import pyarthas
from pyarthas.agent import start as start_agent

def loop(n=1000000):
    total = 0
    for i in range(n):
        total += i * i %% 7
    return total

def timed():
    start = time.perf_counter()
    loop()
    return time.perf_counter() - start

def init_session(url):
    request = urllib.request.Request(url + "/api", data=json.dumps({"action": "init_session"}).encode(),
                                     headers={"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(request, timeout=10))

def with_idle_agent():
    agent = start_agent(port=0, quiet=True)
    init_session(agent.url)
    time.sleep(0.1)  # let the init_session connection's thread finish: we measure the idle agent
    elapsed = timed()
    pyarthas.stop()
    return elapsed

without, with_agent = [], []
for round_number in range(%(rounds)d):
    # ABBA order, so that whatever favours the first or second measurement of a round cancels out.
    if round_number %% 2 == 0:
        without.append(timed())
        with_agent.append(with_idle_agent())
    else:
        with_agent.append(with_idle_agent())
        without.append(timed())
print(json.dumps({"without": without, "with": with_agent}))
"""


def percentile(values, pct):
    ordered = sorted(values)
    index = min(len(ordered) - 1, round(pct / 100.0 * (len(ordered) - 1)))
    return ordered[index]


def latency(python, count):
    target = Target([python, "-c", "import sys; sys.path.insert(0, %r); import pyarthas.agent as a; "
                                   "a.start(port=0); import time\nwhile True: time.sleep(3600)" % SRC],
                    target_env())
    try:
        exec_times = []
        for _ in range(count):
            started = time.perf_counter()
            post_json(target.url, {"action": "exec", "command": "version"})
            exec_times.append((time.perf_counter() - started) * 1000)
        session = target.session()
        session.pull()
        delays = []
        for i in range(count):
            delays.append(_delivery_delay(target, session, i))
        return exec_times, delays
    finally:
        target.kill()


def _delivery_delay(target, session, i):
    box = {}

    def pull():
        # Until the job is over (ALLOW_INPUT), so that the next round starts on a free session.
        while not box.get("done"):
            results = session.pull()
            if "at" not in box and any(r.get("type") == "echo" for r in results):
                box["at"] = time.perf_counter()
            box["done"] = any(r.get("inputStatus") == "ALLOW_INPUT" for r in results)

    puller = threading.Thread(target=pull)
    puller.start()
    time.sleep(0.05)  # let the pull start waiting before the result is produced (the case we measure)
    reply = session.api("async_exec", command="echo n%d" % i)
    produced = time.perf_counter()
    assert reply["state"] == "SCHEDULED", reply
    puller.join(10)
    return (box["at"] - produced) * 1000


def idle_overhead(python, rounds):
    code = IDLE_OVERHEAD % {"src": SRC, "rounds": rounds}
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=600, env=target_env())
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return statistics.median(data["without"]) / statistics.median(data["with"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=100, help="requests per latency figure")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds for the idle overhead")
    args = parser.parse_args()
    print("| python | exec version median / p99 (ms) | delivery median / p99 (ms) | idle ratio |")
    print("|---|---|---|---|")
    for python in target_pythons():
        exec_times, delays = latency(python, args.count)
        ratio = idle_overhead(python, args.rounds)
        print("| %s | %.2f / %.2f | %.1f / %.1f | %.3f |" % (
            python_id(python), statistics.median(exec_times), percentile(exec_times, 99),
            statistics.median(delays), percentile(delays, 99), ratio))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
