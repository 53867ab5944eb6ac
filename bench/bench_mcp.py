"""MCP latency and an idle MCP session's cost to the target.

    .venv/bin/python bench/bench_mcp.py [--count N] [--rounds N]

1. Latency, with the official MCP SDK's streamable-HTTP client against a real demo process (its
   ``run()`` every 10 ms): median and p99 of ``tools/call`` for ``thread`` with ``topN: 3`` (which samples
   CPU for its 200 ms interval, as Arthas's ``thread -n`` does) and for a one-shot ``watch``
   (``numberOfExecutions: 1``: enhance, wait for the next call, restore).
2. Idle cost, inside one target process per interpreter: throughput of a CPU-bound loop with the agent
   started and an MCP session initialized but idle, over the same loop with no agent, the two interleaved
   round by round in ABBA order (as bench_api.py). Goal: ratio >= 0.99. And, as a figure that the
   machine's other load cannot blur, the CPU the whole target spends per second while its main thread
   sleeps and the agent holds an idle MCP session.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

from bench_api import IDLE_OVERHEAD, percentile  # the same loop and ABBA rounds, another idle client
from harness import SRC, python_id, start_demo, target_env, target_pythons

INITIALIZE_MCP = r'''
def init_session(url):
    def post(message, session=None):
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        if session:
            headers["Mcp-Session-Id"] = session
        request = urllib.request.Request(url + "/mcp", data=json.dumps(message).encode(), headers=headers)
        return urllib.request.urlopen(request, timeout=10)
    reply = post({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}})
    session = reply.headers["Mcp-Session-Id"]
    post({"jsonrpc": "2.0", "method": "notifications/initialized"}, session)
    return session
'''


def latency(python, count, tmp):
    import anyio
    from mcp import Client

    target = start_demo(python, tmp, env={"PYARTHAS_DEMO_INTERVAL": "0.01"})

    async def measure():
        async with Client(target.url + "/mcp", mode="legacy") as client:
            figures = {"thread": [], "watch": []}
            calls = {"thread": {"topN": 3},
                     "watch": {"classPattern": "demo.MathGame", "methodPattern": "primeFactors",
                               "numberOfExecutions": 1}}
            for _ in range(count):
                for name, arguments in calls.items():
                    started = time.perf_counter()
                    result = await client.call_tool(name, arguments)
                    figures[name].append((time.perf_counter() - started) * 1000)
                    assert not result.is_error, result
            return figures

    try:
        return anyio.run(measure)
    finally:
        target.kill()


IDLE_CPU = r"""
import json, sys, time, urllib.request
sys.path.insert(0, %(src)r)
from pyarthas.agent import start as start_agent
%(init)s
agent = start_agent(port=0, quiet=True)
init_session(agent.url)
time.sleep(0.5)
cpu, wall = time.process_time(), time.monotonic()
time.sleep(%(seconds)f)
print(json.dumps({"cpu_ms_per_s": (time.process_time() - cpu) * 1000 / (time.monotonic() - wall)}))
"""


def idle_cpu(python, seconds=10.0):
    """CPU the whole process spends while its only activity is the agent with an idle MCP session (the
    main thread sleeps): a figure the machine's other load cannot blur."""
    code = IDLE_CPU % {"src": SRC, "init": INITIALIZE_MCP, "seconds": seconds}
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=120, env=target_env())
    return json.loads(out.stdout.strip().splitlines()[-1])["cpu_ms_per_s"]


def idle_overhead(python, rounds):
    # bench_api's measurement, its idle client swapped: the session it opens is an MCP one.
    code = IDLE_OVERHEAD.replace("def init_session(url):", INITIALIZE_MCP + "\ndef _api_init_session(url):")
    code = code % {"src": SRC, "rounds": rounds}
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=900, env=target_env())
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return statistics.median(data["without"]) / statistics.median(data["with"])


def main():
    import pathlib
    import tempfile
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=50, help="calls per latency figure")
    parser.add_argument("--rounds", type=int, default=25, help="interleaved rounds for the idle cost")
    args = parser.parse_args()
    print("| python | thread topN=3 median / p99 (ms) | watch -n 1 median / p99 (ms) | idle ratio "
          "| idle process CPU (ms/s) |")
    print("|---|---|---|---|---|")
    for python in target_pythons():
        with tempfile.TemporaryDirectory() as tmp:
            figures = latency(python, args.count, pathlib.Path(tmp))
        ratio = idle_overhead(python, args.rounds)
        cpu = idle_cpu(python)
        print("| %s | %.1f / %.1f | %.1f / %.1f | %.3f | %.3f |" % (
            python_id(python), statistics.median(figures["thread"]), percentile(figures["thread"], 99),
            statistics.median(figures["watch"]), percentile(figures["watch"], 99), ratio, cpu))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
