"""Attach speed and the pause it causes (issue: attach to a running Python process).

    .venv/bin/python bench/bench_attach.py [--rounds N]

For each CPython here (3.9 up), ``--rounds`` times (default 10), interleaved round by round:
- ``pyarthas attach PID --port 0`` run as a command against a fresh target that never imported pyarthas,
  timed from starting the command to its exit (it exits once the agent answered ``init_session``), for a
  target busy in Python code, one asleep in ``time.sleep`` and one started with PYARTHAS_ARM=1 (the
  signal path, no ptrace; busy as well).
- the longest pause the busy target's own loop saw while the attach ran (from its own clock), next to the
  longest pause the same loop sees over as long a window without any attach (the noise floor).
Goals: under 1 s to the first response; pause under 50 ms.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

from harness import Target, python_id, target_env, target_pythons  # noqa: E402

# Reports, every 50 ms, the longest gap between two iterations of its loop (clock shared with us:
# perf_counter is CLOCK_MONOTONIC on Linux).
BUSY = """
    import time
    print("ready", flush=True)
    worst, last = 0.0, time.perf_counter()
    report = last
    while True:
        now = time.perf_counter()
        if now - last > worst:
            worst = now - last
        last = now
        if now - report > 0.05:
            print("gap %.6f %.6f" % (now, worst), flush=True)
            worst, report = 0.0, now
"""
SLEEP = """
    import time
    print("ready", flush=True)
    while True:
        time.sleep(3600)
"""


def start(python, code, workdir, env=None):
    script = os.path.join(workdir, "bench_target.py")
    with open(script, "w") as handle:
        handle.write(textwrap.dedent(code))
    target = Target([python, script], target_env(env), cwd=workdir, wait_for_agent=False)
    target.wait_stdout("^ready")
    return target


def timed_attach(target):
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pyarthas", "attach", str(target.proc.pid), "--port", "0",
                           "-v"], capture_output=True, text=True, timeout=60, env=target_env())
    ended = time.perf_counter()
    if done.returncode != 0:
        raise SystemExit("attach failed: " + done.stderr)
    return started, ended, done.stderr


def longest_gap(target, start, end):
    """The largest loop gap the target reported for windows overlapping [start, end]."""
    worst = 0.0
    while True:
        line = target.wait_stdout("^gap", timeout=10)
        stamp, gap = (float(x) for x in line.split()[1:3])
        if stamp >= start:
            worst = max(worst, gap)
        if stamp > end + 0.05:
            return worst


def one_round(python, workdir, armed_env):
    row = {}
    busy = start(python, BUSY, workdir)
    try:
        quiet_start = time.perf_counter()
        row["noise"] = longest_gap(busy, quiet_start, quiet_start + 0.5)
        began, ended, _ = timed_attach(busy)
        row["busy"] = ended - began
        row["pause"] = longest_gap(busy, began, ended)
    finally:
        busy.kill()
    sleeper = start(python, SLEEP, workdir)
    try:
        began, ended, _ = timed_attach(sleeper)
        row["sleep"] = ended - began
    finally:
        sleeper.kill()
    armed = start(python, BUSY, workdir, env=armed_env(python))
    try:
        began, ended, how = timed_attach(armed)
        assert "armed signal handler" in how, how
        row["armed"] = ended - began
    finally:
        armed.kill()
    return row


def armed_environment(workdir):
    """PYARTHAS_ARM=1 plus a user site holding pyarthas-arm.pth (what `python -m pyarthas.agent.arm
    install` puts in site-packages)."""
    from pyarthas.agent.arm import install

    def for_python(python):
        version = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                 capture_output=True, text=True, timeout=30).stdout.strip()
        base = os.path.join(workdir, "userbase")
        site_dir = os.path.join(base, "lib", "python" + version, "site-packages")
        os.makedirs(site_dir, exist_ok=True)
        install(site_dir)
        return {"PYARTHAS_ARM": "1", "PYTHONUSERBASE": base}

    return for_python


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    pythons = target_pythons()
    rows = {python: [] for python in pythons}
    with tempfile.TemporaryDirectory() as workdir:
        armed_env = armed_environment(workdir)
        for _ in range(args.rounds):
            for python in pythons:  # interleaved: every interpreter once per round
                rows[python].append(one_round(python, workdir, armed_env))
    print("| python | attach busy (median) | attach asleep (median) | attach armed (median) "
          "| longest pause, busy (median / max) | loop noise without attach (median / max) |")
    print("|---|---|---|---|---|---|")
    for python in pythons:
        data = rows[python]

        def median_ms(key, data=data):
            return statistics.median(r[key] for r in data) * 1000

        def max_ms(key, data=data):
            return max(r[key] for r in data) * 1000

        print("| %s | %.0f ms | %.0f ms | %.0f ms | %.1f / %.1f ms | %.1f / %.1f ms |" % (
            python_id(python), median_ms("busy"), median_ms("sleep"), median_ms("armed"),
            median_ms("pause"), max_ms("pause"), median_ms("noise"), max_ms("noise")))


if __name__ == "__main__":
    main()
