"""Threads and processes as a user of pre-fork servers meets them: Arthas-style thread ids, threads named with
their real OS ids after a fork, a failed start that leaves nothing behind, default ports that step aside for
the next agent, and ``pyarthas ps`` telling which processes run an agent."""
import contextlib
import fcntl
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

from fleet_helpers import fleet_env
from harness import Target, only, run, target_env
from redis_fixtures import needs_redis

IDS_TARGET = """
import threading, time

stop_second = threading.Event()

def nap(event=None):
    while not (event and event.is_set()):
        time.sleep(0.05)

threading.Thread(target=nap, name="first", daemon=True).start()
second = threading.Thread(target=nap, args=(stop_second,), name="second", daemon=True)
second.start()
threading.Thread(target=nap, name="third", daemon=True).start()

def end_second():
    stop_second.set()
    second.join()
    return True

def start_fourth():
    threading.Thread(target=nap, name="fourth", daemon=True).start()
    return True

print("ready", flush=True)
while True:
    time.sleep(1)
"""


def by_name(stats):
    return {vo["name"]: vo for vo in stats}


def thread_list(target, *options):
    return only(run(target, " ".join(("thread", "-i", "50") + options))[0], "thread")["threadStats"]


def test_thread_ids_are_small_stable_and_never_reused(spawn):
    target = spawn(IDS_TARGET)
    target.wait_stdout("ready")
    first = by_name(thread_list(target))
    assert first["MainThread"]["id"] == 1
    # in start order (the agent's threads, started before the script by `pyarthas run`, come first)
    numbers = [first[name]["id"] for name in ("first", "second", "third")]
    assert numbers[0] > 1 and numbers == list(range(numbers[0], numbers[0] + 3)), numbers
    main = first["MainThread"]
    assert main["nativeId"] == target.proc.pid and main["pythonId"] > 0 and main["pythonId"] != 1
    assert {n: vo["id"] for n, vo in by_name(thread_list(target)).items()} == {n: vo["id"] for n, vo in first.items()}

    info = only(run(target, "thread 1")[0], "thread")["threadInfo"]
    assert (info["threadId"], info["threadName"], info["nativeId"]) == (1, "MainThread", target.proc.pid)
    assert info["pythonId"] == main["pythonId"]
    for number in (main["pythonId"], main["nativeId"]):  # the other ids still find the thread
        assert only(run(target, "thread %d" % number)[0], "thread")["threadInfo"]["threadId"] == 1

    agents = [vo for vo in thread_list(target, "--all") if vo["agentThread"]]
    assert agents and all(1 < vo["id"] and vo["nativeId"] > 0 for vo in agents)

    dashboard = only(run(target, "dashboard -n 1 -i 100")[0], "dashboard")["threads"]
    assert by_name(dashboard)["first"]["id"] == numbers[0] and "nativeId" in dashboard[0] and "pythonId" in dashboard[0]


def test_a_thread_started_later_takes_the_next_id_and_an_ended_one_is_not_reused(spawn):
    target = spawn(IDS_TARGET)
    target.wait_stdout("ready")
    seen = by_name(thread_list(target, "--all"))
    highest = max(vo["id"] for vo in seen.values())
    assert target.ognl("__import__('__main__').end_second()") is True
    assert target.ognl("__import__('__main__').start_fourth()") is True
    now = by_name(thread_list(target, "--all"))
    assert "second" not in now
    assert now["fourth"]["id"] > highest  # never the id "second" had
    assert now["first"]["id"] == seen["first"]["id"]


FORK_TARGET = """
import os, sys, threading, time
sys.path.insert(0, {src!r})
import pyarthas

pid = os.fork()
if pid == 0:
    pyarthas.start(port=0, telnet_port=-1)  # after the fork, as gunicorn's post_fork hook does
    print("child", os.getpid(), flush=True)
    n = 0
    while True:  # the child's main thread is the busy one
        n += 1
else:
    while True:
        time.sleep(1)
"""


def test_thread_in_a_forked_child_has_the_childs_tid_and_cpu(target_python, tmp_path):
    """The parent's agent ran before the fork: the child's start() makes a new one (the inherited one serves
    nothing), numbers its threads afresh, and names its busy main thread with the child's own tid."""
    from harness import SRC
    script = tmp_path / "target_main.py"
    script.write_text(FORK_TARGET.format(src=SRC))
    target = Target([target_python, "-m", "pyarthas", "run", "--port", "0", "--telnet-port", "-1", str(script)],
                    target_env(), cwd=str(tmp_path))
    try:
        parent_url = target.url
        child_url = target.wait_for_url(60)
        assert child_url != parent_url
        child_pid = int(target.wait_stdout(r"^child").split()[1])
        target.url = child_url
        busy = only(run(target, "thread -n 1 -i 500")[0], "thread")["busyThreads"][0]
        assert (busy["id"], busy["name"], busy["nativeId"]) == (1, "MainThread", child_pid), busy
        assert busy["cpu"] > 0 and busy["time"] > 0, busy
        # no row is left with the parent's tid
        assert all(vo["nativeId"] != target.proc.pid for vo in thread_list(target, "--all"))
    finally:
        if target.url:
            try:
                os.kill(child_pid, 9)
            except (OSError, UnboundLocalError):
                pass
        target.kill()


def os_threads(pid):
    return len(os.listdir("/proc/%d/task" % pid))


def wait_for_count(pid, expected, timeout=30.0):
    deadline = time.monotonic() + timeout
    while os_threads(pid) != expected:
        assert time.monotonic() < deadline, "process %d has %d threads, expected %d" % (
            pid, os_threads(pid), expected)
        time.sleep(0.05)


def test_a_failed_attach_leaves_no_thread_and_stop_leaves_none(target_python, tmp_path):
    script = tmp_path / "target_sleep.py"
    script.write_text("import time\nprint('ready', flush=True)\nwhile True:\n    time.sleep(0.2)\n")
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    # the token file cannot be written there: a failure after the HTTP server and the scheduler began
    env = {"PYARTHAS_RUNTIME_DIR": str(not_a_folder / "runtime")}
    target = Target([target_python, str(script)], target_env(env), cwd=str(tmp_path), wait_for_agent=False)
    taken = socket.socket()
    try:
        target.wait_stdout("ready")
        before = os_threads(target.proc.pid)
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        for _ in range(2):
            done = pyarthas("attach", str(target.proc.pid), "--port", str(taken.getsockname()[1]),
                            "--telnet-port", "-1")
            assert done.returncode != 0 and "port in use" in done.stderr, done.stderr
            wait_for_count(target.proc.pid, before)  # the bootstrap's own thread ends, nothing stays
        done = pyarthas("attach", str(target.proc.pid), "--port", "0", "--token")
        assert done.returncode != 0 and "NotADirectoryError" in done.stderr, done.stderr
        wait_for_count(target.proc.pid, before)
        done = pyarthas("attach", str(target.proc.pid), "--port", "0", "--telnet-port", "-1")
        assert done.returncode == 0, done.stderr
        target.url = done.stdout.strip().splitlines()[-1]
        names = [vo["name"] for vo in thread_list(target, "--all")]
        assert names.count("pyarthas-scheduler") == 1, names
        assert target.results("stop")[-1]["statusCode"] == 0
        wait_for_count(target.proc.pid, before)
    finally:
        taken.close()
        target.kill()


def pyarthas(*args, env=None, timeout=60):
    return subprocess.run([sys.executable, "-m", "pyarthas", *args], capture_output=True, text=True,
                          timeout=timeout, env=target_env(env), stdin=subprocess.DEVNULL)


def _hold(port, patience=30.0):
    """A listening socket on ``port``. Other targets of the suite take the default ports for a few seconds: wait
    for them to let go; a port someone holds for longer (a demo left running) is taken either way (None)."""
    deadline = time.monotonic() + patience
    while True:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the agent binds: TIME_WAIT never stops it
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen(1)
            return sock
        except OSError:
            sock.close()
        if time.monotonic() > deadline:
            return None
        time.sleep(0.1)


@contextlib.contextmanager
def default_ports_taken():
    """Take 8563 and 3658 for the block, one test at a time across the test workers (a file lock); yields the
    ports this test holds. A port another process held all along is taken too, but may be freed meanwhile:
    ``check_fallback`` asks less of such a port."""
    with open(os.path.join(tempfile.gettempdir(), "pyarthas-tests-default-ports.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        held = {port: _hold(port) for port in (8563, 3658)}
        try:
            yield {port for port, sock in held.items() if sock is not None}
        finally:
            for sock in held.values():
                if sock is not None:
                    sock.close()


def check_fallback(stderr, door, default, held):
    """The agent said it took another port than the taken ``default``; returns the port it took."""
    found = re.search(r"%s port %d is taken \(another agent\?\); using (\d+) instead" % (door, default), stderr)
    if default in held:
        assert found and int(found.group(1)) != default, stderr
    elif not found:  # held by someone else, who let it go before the agent started: it took the default
        return default
    return int(found.group(1))


def test_default_ports_step_aside_and_ps_shows_the_agent(target_python, tmp_path):
    runtime = {"PYARTHAS_RUNTIME_DIR": str(tmp_path / "runtime")}
    script = tmp_path / "target_main.py"
    script.write_text("import time\nwhile True:\n    time.sleep(0.2)\n")
    with default_ports_taken() as held:
        target = Target([target_python, "-m", "pyarthas", "run", str(script)], target_env(runtime),
                        cwd=str(tmp_path))
    try:
        stderr = "".join(target.stderr_lines)
        assert check_fallback(stderr, "HTTP", 8563, held) == target.port
        check_fallback(stderr, "telnet", 3658, held)

        record_path = tmp_path / "runtime" / ("agent-%d.json" % target.proc.pid)
        assert record_path.exists() and oct(record_path.stat().st_mode & 0o777) == "0o600"
        target.ognl("__import__('pyarthas.agent', fromlist=['current']).current()"
                    ".publish_identity(fleet='shop@host:%d' % __import__('os').getpid())")
        row = _ps_row(target.proc.pid, runtime)
        assert target.url in row and "fleet=shop@host:%d" % target.proc.pid in row, row

        assert target.results("stop")[-1]["statusCode"] == 0
        deadline = time.monotonic() + 10
        while record_path.exists():
            assert time.monotonic() < deadline, "the record outlived stop"
            time.sleep(0.05)
        row = _ps_row(target.proc.pid, runtime)
        assert target.url not in row and " - " in row, row
    finally:
        target.kill()


def _ps_row(pid, env):
    done = pyarthas("ps", env=env)
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.split()[:1] == [str(pid)]]
    assert rows, done.stdout
    return rows[0]


def test_attach_without_port_takes_a_free_one_and_says_so(target_python, tmp_path):
    script = tmp_path / "target_sleep.py"
    script.write_text("import time\nprint('ready', flush=True)\nwhile True:\n    time.sleep(0.2)\n")
    target = Target([target_python, str(script)], target_env(), cwd=str(tmp_path), wait_for_agent=False)
    try:
        target.wait_stdout("ready")
        with default_ports_taken() as held:
            done = pyarthas("attach", str(target.proc.pid))
        assert done.returncode == 0, done.stderr
        port = int(done.stdout.strip().rsplit(":", 1)[1])
        assert check_fallback(done.stderr, "HTTP", 8563, held) == port
        check_fallback(done.stderr, "telnet", 3658, held)
    finally:
        target.kill()


@needs_redis
def test_ps_shows_the_fleet_id_of_an_agent_that_joined_one(target_python, tmp_path, redis_server):
    runtime = {"PYARTHAS_RUNTIME_DIR": str(tmp_path / "runtime")}
    script = tmp_path / "target_main.py"
    script.write_text("import time\nwhile True:\n    time.sleep(0.2)\n")
    env = dict(fleet_env(redis_server.url, "shop"), **runtime)
    target = Target([target_python, "-m", "pyarthas", "run", "--port", "0", "--telnet-port", "-1", str(script)],
                    target_env(env), cwd=str(tmp_path))
    try:
        row = _ps_row(target.proc.pid, runtime)
        assert target.url in row, row
        assert re.search(r"\bapp=shop\b", row) and re.search(r"\bfleet=shop@\S+:%d\b" % target.proc.pid, row), row
    finally:
        target.kill()
