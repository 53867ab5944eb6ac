"""Memory the agent keeps after many requests: the target's RSS after N mixed API requests (30k by default)
against its RSS once warmed up, and right after the agent started.

    .venv/bin/python bench/bench_rss.py [--requests 30000] [--python PATH] [--src DIR]

One real target per interpreter; one client sends, round after round: init_session, async_exec in the
background of an echo (1 KiB), a one-shot watch and an endless watch; sixteen exec/session_info requests
(version, ognl, session); pulls until the first two ended; close_session (which ends the endless watch).
Every session is closed, so what remains is what the agent failed to free (reference cycles waiting for
the oldest gc generation, unbounded buffers). Goal: < +15 MB after the
warm-up round of 1,000 requests. ``--src`` measures another checkout's agent (side by side, same run).

``--stop`` measures what the agent keeps after ``stop`` instead: a program without the agent (``before``), the
agent started in it and driven by the same rounds plus watch/trace/tt/profiler jobs (``during``), then
``stop`` and its threads gone (``after stop``); beside it, a second copy of the program that only imports
the modules the first one had gained (``modules``): Python cannot unload modules, so what ``stop`` can free
is ``after stop - modules``. Goal: within 1 MB.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

from harness import SRC, Target, post_json, python_id, target_env, target_pythons  # noqa: E402

TARGET = """
import time

def hot(x):
    return [x] * 64

print("ready", flush=True)
while True:
    hot(1)
    time.sleep(0.002)
"""
WARM_UP = 1000
MIB = 1024 * 1024


def rss_bytes(pid: int) -> int:
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS for %d" % pid)


class Client:
    def __init__(self, url: str):
        self.url = url
        self.sent = 0

    def api(self, action: str, **fields):
        self.sent += 1
        return post_json(self.url, dict(fields, action=action))

    def pull_until_ended(self, session: str, consumer: str, jobs: set) -> None:
        deadline = time.monotonic() + 30
        while jobs and time.monotonic() < deadline:
            reply = self.api("pull_results", sessionId=session, consumerId=consumer)
            jobs -= {r.get("jobId") for r in reply["body"]["results"] if r.get("type") == "status"}
        if jobs:
            raise RuntimeError("jobs %s did not end" % jobs)

    def round(self, number: int) -> None:
        reply = self.api("init_session")
        session, consumer = reply["sessionId"], reply["consumerId"]
        echo = self.api("async_exec", sessionId=session, command="echo %d %s &" % (number, "x" * 1024))
        watch = self.api("async_exec", sessionId=session, command="watch __main__ hot -n 1 -x 2 &")
        # enhances, emits nothing (a flood would push the statuses out of the consumer's bounded queue)
        self.api("async_exec", sessionId=session, command="watch __main__ hot params 'params[0] < 0' -n 100000000 &")
        for _ in range(4):
            self.api("exec", command="version")
            self.api("exec", command="ognl 'len(sys.modules)'")
            self.api("exec", sessionId=session, command="session")
            self.api("session_info", sessionId=session)
        self.pull_until_ended(session, consumer, {echo["body"]["jobId"], watch["body"]["jobId"]})
        self.api("close_session", sessionId=session)

    def run(self, requests: int) -> None:
        number = 0
        while self.sent < requests:
            self.round(number)
            number += 1


def measure(python: str, src: str, requests: int) -> dict:
    folder = tempfile.mkdtemp(prefix="bench_rss_")
    script = os.path.join(folder, "target_main.py")
    with open(script, "w") as handle:
        handle.write(TARGET)
    env = target_env()
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    target = Target([python, "-m", "pyarthas", "run", "--port", "0", script], env, cwd=folder)
    try:
        target.wait_stdout("ready", timeout=30)
        started = rss_bytes(target.proc.pid)
        client = Client(target.url)
        client.run(WARM_UP)
        warmed = rss_bytes(target.proc.pid)
        began = time.monotonic()
        client.run(WARM_UP + requests)
        elapsed = time.monotonic() - began
        after = rss_bytes(target.proc.pid)
        return {"started": started, "warmed": warmed, "after": after, "requests": client.sent - WARM_UP,
                "seconds": elapsed}
    finally:
        target.kill()
        shutil.rmtree(folder, ignore_errors=True)


# A program that runs its own loop and obeys lines on stdin: start the agent, list its modules, count its
# threads, import modules by name; it answers on stdout.
STOP_TARGET = """
import json, sys, threading, time

def hot(x):
    return [x] * 64

def loop():
    while True:
        hot(1)
        time.sleep(0.002)

threading.Thread(target=loop, daemon=True).start()
before = set(sys.modules)
print("ready", flush=True)
for line in sys.stdin:
    command, _, rest = line.strip().partition(" ")
    if command == "start":
        import pyarthas
        agent = pyarthas.start(port=0, telnet_port=-1)
        print("url", agent.url, flush=True)
    elif command == "threads":
        print("threads", threading.active_count(), flush=True)
    elif command == "modules":
        print("modules", json.dumps(sorted(set(sys.modules) - before)), flush=True)
    elif command == "import":
        for name in json.loads(rest):
            try:
                __import__(name)
            except Exception:
                pass
        print("imported", flush=True)
"""
STOP_JOBS = ["trace __main__ hot -n 50", "tt -t __main__ hot -n 50", "monitor -c 1 -n 2 __main__ hot",
             "profiler start", "thread -n 3", "dashboard -n 1", "memory", "sc -d __main__*", "jad __main__",
             "profiler stop --format html"]


class Program:
    """The stop benchmark's target: a real process driven through its stdin."""

    def __init__(self, python: str, src: str, folder: str):
        script = os.path.join(folder, "program.py")
        with open(script, "w") as handle:
            handle.write(STOP_TARGET)
        env = target_env()
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
        self.proc = subprocess.Popen([python, script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env=env, cwd=folder)
        self.ask("", "ready")

    def ask(self, line: str, answer: str) -> str:
        if line:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        while True:
            got = self.proc.stdout.readline()
            if not got:
                raise RuntimeError("the program exited")
            if got.startswith(answer):
                return got[len(answer):].strip()

    def rss(self) -> int:
        return rss_bytes(self.proc.pid)

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)


def measure_stop(python: str, src: str, requests: int) -> dict:
    folder = tempfile.mkdtemp(prefix="bench_rss_stop_")
    program = twin = None
    try:
        program = Program(python, src, folder)
        threads_before = int(program.ask("threads", "threads "))
        before = program.rss()
        url = program.ask("start", "url ")
        client = Client(url)
        for command in STOP_JOBS:
            client.api("exec", command=command, execTimeout=60000)
        client.run(requests)
        during = program.rss()
        client.api("exec", command="stop")
        deadline = time.monotonic() + 30
        while int(program.ask("threads", "threads ")) > threads_before and time.monotonic() < deadline:
            time.sleep(0.1)    # the agent's threads end on their own: a bounded wait for them
        after = program.rss()
        modules = json.loads(program.ask("modules", "modules "))
        twin = Program(python, src, folder)
        twin_before = twin.rss()
        twin.ask("import " + json.dumps(modules), "imported")
        return {"before": before, "during": during, "after": after,
                "modules": before + (twin.rss() - twin_before), "module_count": len(modules)}
    finally:
        for each in (program, twin):
            if each is not None:
                each.close()
        shutil.rmtree(folder, ignore_errors=True)


def main_stop(args) -> None:
    print("agent from %s; %d requests while it runs" % (args.src, args.requests))
    print("%-8s %10s %10s %12s %12s %14s" % ("python", "before MB", "during MB", "after stop", "modules MB",
                                              "kept-modules"))
    for python in args.python or target_pythons():
        m = measure_stop(python, os.path.abspath(args.src), args.requests)
        kept = (m["after"] - m["modules"]) / MIB
        print("%-8s %10.1f %10.1f %12.1f %12.1f %+13.1f  %s (%d modules stay)" % (
            python_id(python), m["before"] / MIB, m["during"] / MIB, m["after"] / MIB, m["modules"] / MIB, kept,
            "ok" if kept <= 1 else "OVER the 1 MB goal", m["module_count"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=30000)
    parser.add_argument("--stop", action="store_true", help="measure what the agent keeps after stop")
    parser.add_argument("--python", action="append", help="interpreter(s) to run the target under")
    parser.add_argument("--src", default=SRC, help="the agent's source folder (default: this checkout)")
    args = parser.parse_args()
    if args.stop:
        main_stop(args)
        return
    print("agent from %s" % args.src)
    print("%-8s %10s %10s %10s %12s %8s" % ("python", "start MB", "warm MB", "after MB", "after-warm", "req/s"))
    for python in args.python or target_pythons():
        m = measure(python, os.path.abspath(args.src), args.requests)
        growth = (m["after"] - m["warmed"]) / MIB
        print("%-8s %10.1f %10.1f %10.1f %+11.1f %8.0f  %s" % (
            python_id(python), m["started"] / MIB, m["warmed"] / MIB, m["after"] / MIB, growth,
            m["requests"] / m["seconds"], "ok" if growth < 15 else "OVER the +15 MB goal"))


if __name__ == "__main__":
    main()
