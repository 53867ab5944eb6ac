"""A well-behaved client beside slow-header attackers (issue: hardening).

    .venv/bin/python bench/bench_http_hardening.py [--attackers 140] [--requests 300] [--all-pythons]

Against a real agent process: ``--attackers`` connections each send a request head one byte per second
(reconnecting whenever the agent closes them), while one client sends ``exec version`` on a new connection
each time. Reported, side by side in the same run: the success ratio and the p50/p99 latency under attack,
and the p99 with no attacker (the same client, just before). Goals: success ratio 1.0, p99 < 100 ms.
"""
import argparse
import json
import os
import socket
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

from harness import Target, post_raw, python_id, target_env, target_pythons  # noqa: E402

SLEEPER = "import time\nwhile True:\n    time.sleep(3600)\n"
BODY = json.dumps({"action": "exec", "command": "version"}).encode()
SLOW_HEAD = b"POST /api HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100000


def slow_attacker(port: int, stop: threading.Event, connected: threading.Semaphore) -> None:
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                connected.release()
                for byte in SLOW_HEAD:
                    sock.send(bytes([byte]))
                    if stop.wait(1.0):
                        return
        except OSError:
            stop.wait(0.1)


def measure(url: str, requests: int):
    latencies, failures = [], 0
    for _ in range(requests):
        started = time.perf_counter()
        try:
            status, _, raw = post_raw(url, BODY, timeout=10)
            ok = status == 200 and json.loads(raw)["state"] == "SUCCEEDED"
        except (OSError, ValueError):
            ok = False
        if ok:
            latencies.append(time.perf_counter() - started)
        else:
            failures += 1
    return latencies, failures


def percentile(values, fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] if ordered else float("nan")


def run_one(python: str, attackers: int, requests: int, workdir: str) -> None:
    script = os.path.join(workdir, "bench_sleeper.py")
    with open(script, "w") as handle:
        handle.write(SLEEPER)
    target = Target([python, "-m", "pyarthas", "run", "--port", "0", script], target_env(), cwd=workdir)
    try:
        measure(target.url, 20)  # warm up
        quiet, quiet_failures = measure(target.url, requests)
        stop, connected = threading.Event(), threading.Semaphore(0)
        threads = [threading.Thread(target=slow_attacker, args=(target.port, stop, connected), daemon=True)
                   for _ in range(attackers)]
        for thread in threads:
            thread.start()
        for _ in range(attackers):
            connected.acquire(timeout=30)
        time.sleep(2.0)  # let every attacker send a few bytes before measuring
        attacked, attacked_failures = measure(target.url, requests)
        stop.set()
        for thread in threads:
            thread.join(5)
    finally:
        target.kill()
    total = len(attacked) + attacked_failures
    print("%s: %d slow-header connections, %d exec version" % (python_id(python), attackers, requests))
    print("  no attack:    success %d/%d  p50 %.1f ms  p99 %.1f ms" % (
        len(quiet), len(quiet) + quiet_failures, statistics.median(quiet) * 1000, percentile(quiet, 0.99) * 1000))
    print("  under attack: success ratio %.3f  p50 %.1f ms  p99 %.1f ms  (goal: 1.0, p99 < 100 ms)" % (
        len(attacked) / total, statistics.median(attacked) * 1000 if attacked else float("nan"),
        percentile(attacked, 0.99) * 1000))
    print("  p99 under attack / p99 without: %.2f" % (percentile(attacked, 0.99) / percentile(quiet, 0.99)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attackers", type=int, default=140)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--all-pythons", action="store_true", help="every interpreter, not only the newest")
    args = parser.parse_args()
    import tempfile
    pythons = target_pythons() if args.all_pythons else target_pythons()[-1:]
    with tempfile.TemporaryDirectory() as workdir:
        for python in pythons:
            run_one(python, args.attackers, args.requests, workdir)


if __name__ == "__main__":
    main()
