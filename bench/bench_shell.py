"""How the agent's shell feels: keystroke echo latency, and what drawing a result costs inside the agent.

    .venv/bin/python bench/bench_shell.py [--keys 1000] [--python PYTHON]

- echo latency: a telnet client (plain TCP) types one key at a time into the shell of a demo target and
  waits for its echo; p50/p99 over ``--keys`` keys, on an idle target (the demo every second), on the
  demo's loop without pause (busy, but printing: it lets the GIL go at each write), and on a pure CPU loop
  that holds the GIL (the agent's threads get it at each switch interval, 5 ms). Goals: p99 < 5 ms idle,
  < 20 ms busy.
- drawing: a seed-shaped ``watch`` result (the one ``bench_console.py`` uses) turned into the bytes the
  shell sends (view, line endings, UTF-8) against ``json.dumps`` of the same result (what the HTTP API
  sends), interleaved round by round in this process. Goal: within 1.5x.
"""
import argparse
import json
import os
import re
import socket
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
sys.path.insert(0, os.path.join(HERE, "..", "src"))
sys.path.insert(0, HERE)

from bench_console import WATCH  # noqa: E402
from harness import python_id, target_pythons  # noqa: E402
from pyarthas.agent.view import Context, render  # noqa: E402
from shell_client import prompt_of, start_shell_demo, start_shell_target  # noqa: E402

CPU_LOOP = "while True:\n    sum(i * i for i in range(1000))\n"


def start_cpu_loop(python: str, folder: str):
    script = os.path.join(folder, "spin.py")
    with open(script, "w") as handle:
        handle.write(CPU_LOOP)
    return start_shell_target(python, folder, ["run", script])


def echo_latencies(port: int, prompt: str, keys: int):
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    received = b""
    while prompt.encode() not in received:
        received += sock.recv(65536)
    latencies = []
    for index in range(keys):
        if index % 60 == 59:
            sock.sendall(b"\x15")  # Ctrl-U: keep the line short (not timed)
            _read_until(sock, re.compile(rb"\x1b\[J"))
        started = time.perf_counter()
        sock.sendall(b"a")
        _read_until(sock, re.compile(rb"a"))
        latencies.append((time.perf_counter() - started) * 1000)
    sock.close()
    latencies.sort()
    return latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99) - 1]


def _read_until(sock, pattern) -> None:
    data = b""
    while not pattern.search(data):
        chunk = sock.recv(4096)
        if not chunk:
            raise RuntimeError("the shell closed the connection")
        data += chunk


def drawing_ratio(rounds: int, count: int):
    ctx = Context(color=True, width=80, terminal=True)

    def shell_bytes(result):
        return render(result, ctx).replace("\n", "\r\n").encode("utf-8")

    def api_bytes(result):
        return json.dumps(result, ensure_ascii=False).encode("utf-8")

    shell_bytes(WATCH)
    shell_times, json_times = [], []
    for _ in range(rounds):
        for fn, times in ((shell_bytes, shell_times), (api_bytes, json_times)):
            started = time.perf_counter()
            for _ in range(count):
                fn(WATCH)
            times.append((time.perf_counter() - started) / count * 1e6)
    shell_us, json_us = min(shell_times), min(json_times)
    return shell_us, json_us, shell_us / json_us


# the demo idling (a call a second), then flat out
DEMO_BUSY_ENV = ({"PYARTHAS_DEMO_INTERVAL": "1"}, {"PYARTHAS_DEMO_INTERVAL": "0"})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--python", action="append", help="target interpreter(s) (default: every one)")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    print("| target | idle p50 (ms) | idle p99 | demo flat out p50 | p99 | CPU loop p50 | p99 |")
    print("|---|---|---|---|---|---|---|")
    for python in args.python or target_pythons():
        figures = []
        for start in (lambda folder, python=python: start_shell_demo(python, folder, env=DEMO_BUSY_ENV[0]),
                      lambda folder, python=python: start_shell_demo(python, folder, env=DEMO_BUSY_ENV[1]),
                      lambda folder, python=python: start_cpu_loop(python, folder)):
            with tempfile.TemporaryDirectory() as folder:
                target = start(folder)
                try:
                    figures.extend(echo_latencies(target.telnet_port, prompt_of(target), args.keys))
                finally:
                    target.kill()
        print("| %s | %s |" % (python_id(python), " | ".join("%.2f" % f for f in figures)))
    shell_us, json_us, ratio = drawing_ratio(args.rounds, 2000)
    print()
    print("| watch result | shell bytes (us) | json.dumps (us) | ratio |")
    print("|---|---|---|---|")
    print("| seed-shaped, with a stack trace (py%d.%d) | %.1f | %.1f | %.2fx |"
          % (sys.version_info[0], sys.version_info[1], shell_us, json_us, ratio))


if __name__ == "__main__":
    main()
