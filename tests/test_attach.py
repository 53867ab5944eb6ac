"""``pyarthas attach PID`` against real processes that never imported pyarthas, under every CPython here."""
import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from harness import ROOT, Target, python_version, target_env

INJECT_DIR = os.path.join(ROOT, "src", "pyarthas", "cli", "inject")

# Each target prints "ready" once it is in the state to attach to, then proves it is alive its own way.
TARGETS = {
    # busy in Python code, never releasing the GIL on its own
    "busy": """
        import sys, time
        print("ready", flush=True)
        n, last = 0, time.perf_counter()
        while True:
            n += 1
            if time.perf_counter() - last > 0.1:
                last = time.perf_counter()
                print("tick", "pyarthas" in sys.modules, flush=True)
    """,
    # asleep in time.sleep; says how long each sleep really took
    "sleep": """
        import time
        print("ready", flush=True)
        while True:
            started = time.perf_counter()
            time.sleep(0.8)
            print("slept %.3f" % (time.perf_counter() - started), flush=True)
    """,
    # blocked in accept() on the main thread
    "accept": """
        import socket
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        print("ready", server.getsockname()[1], flush=True)
        while True:
            connection, _ = server.accept()
            connection.sendall(b"pong")
            connection.close()
    """,
    # an asyncio server: the event loop waits in epoll_wait
    "asyncio": """
        import asyncio
        async def pong(reader, writer):
            writer.write(b"pong")
            await writer.drain()
            writer.close()
        async def main():
            server = await asyncio.start_server(pong, "127.0.0.1", 0)
            print("ready", server.sockets[0].getsockname()[1], flush=True)
            await server.serve_forever()
        asyncio.run(main())
    """,
    # the main thread waits in join() (a lock) while another thread does the work
    "join": """
        import sys, threading, time
        def work():
            while True:
                time.sleep(0.1)
                print("tick", "pyarthas" in sys.modules, flush=True)
        worker = threading.Thread(target=work)
        worker.start()
        print("ready", flush=True)
        worker.join()
    """,
}


def start_target(python, tmp_path, kind, env=None):
    script = tmp_path / ("target_%s.py" % kind)
    script.write_text(textwrap.dedent(TARGETS[kind]))
    target = Target([python, str(script)], target_env(env), cwd=str(tmp_path), wait_for_agent=False)
    target.ready_line = target.wait_stdout(r"^ready")
    return target


def pyarthas(*args, env=None, timeout=60):
    return subprocess.run([sys.executable, "-m", "pyarthas", *args], capture_output=True, text=True,
                          timeout=timeout, env=target_env(env), stdin=subprocess.DEVNULL)


def attach(target, *args, env=None):
    done = pyarthas("attach", str(target.proc.pid), "--port", "0", "-v", *args, env=env)
    assert done.returncode == 0, done.stderr
    target.url = done.stdout.strip().splitlines()[-1]
    return done


def assert_alive(target, kind):
    """The target goes on doing what it did, as fast as before."""
    if kind in ("accept", "asyncio"):
        port = int(target.ready_line.split()[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
            connection.settimeout(10)
            assert connection.recv(4) == b"pong"
    elif kind == "sleep":
        # the interrupted sleep resumes (restarted, not cut short nor repeated from scratch)
        slept = float(target.wait_stdout(r"^slept", timeout=10).split()[1])
        assert 0.79 <= slept < 5, slept  # never cut short (EINTR is retried with the time left)
    else:
        assert target.wait_stdout(r"^tick False", timeout=10)
    assert target.alive()






# what `attach -v` says for each target: the ptrace injector on every version, 3.14 included
HOW = {
    "busy": r"scheduled a pending call on the running main thread|ran on the main thread blocked in write",
    "sleep": r"ran on the main thread blocked in (p?select6?|clock_nanosleep)",
    "accept": r"ran on the main thread blocked in accept4?",
    "asyncio": r"ran on the main thread blocked in epoll_p?wait",
    "join": r"scheduled a pending call on the main thread blocked in futex",
}


@pytest.mark.parametrize("kind", sorted(TARGETS))
def test_attach_answers_from_inside_the_target(target_python, tmp_path, kind):
    target = start_target(target_python, tmp_path, kind)
    try:
        done = attach(target)
        assert "agent started in process %d" % target.proc.pid in done.stderr
        assert re.search(r"pyarthas: ptrace injector: (%s), \d+ ms" % HOW[kind], done.stderr), done.stderr
        session = target.session()
        info = session.api("session_info")
        assert info["body"]["pid"] == target.proc.pid
        welcome = [r for r in session.pull() if r.get("type") == "welcome"]
        assert welcome and welcome[0]["pid"] == str(target.proc.pid)
        version = target.results("version")
        assert version[0]["type"] == "version" and version[-1]["statusCode"] == 0
        python_version = subprocess.run([target_python, "-c", "import sys; print(list(sys.version_info[:2]))"],
                                        capture_output=True, text=True, timeout=30).stdout.strip()
        assert str(target.ognl("sys.version_info[:2]")).replace(" ", "") == python_version.replace(" ", "")
        # loaded under a private name only: nothing called pyarthas in the target's modules
        assert target.ognl("[m for m in sys.modules if m.split('.')[0] == 'pyarthas']") == []
        assert_alive(target, kind)
    finally:
        target.kill()


def test_watch_on_a_function_of_main(target_python, tmp_path):
    script = tmp_path / "target_watch.py"
    script.write_text(textwrap.dedent("""
        import time
        def add(a, b):
            return a + b
        print("ready", flush=True)
        while True:
            add(1, 2)
            time.sleep(0.05)
    """))
    target = Target([target_python, str(script)], target_env(), cwd=str(tmp_path), wait_for_agent=False)
    try:
        target.wait_stdout("^ready")
        attach(target)
        session = target.session()
        results = session.run_to_status("watch __main__ add '{params, returnObj}' -n 1", timeout=20)
        watched = [r for r in results if r.get("type") == "watch"]
        assert watched, results
        assert [r for r in results if r.get("type") == "status"][-1]["statusCode"] == 0
    finally:
        target.kill()


def test_attach_twice_then_stop_then_attach_again(target_python, tmp_path):
    target = start_target(target_python, tmp_path, "busy")
    try:
        assert "agent started" in attach(target).stderr
        first_url = target.url
        second = attach(target)
        assert target.url == first_url
        assert "already running in process %d at %s" % (target.proc.pid, first_url) in second.stderr
        assert target.results("stop")[-1]["statusCode"] == 0
        wait_until_refused(first_url)
        assert "agent started" in attach(target).stderr
        assert target.results("version")[-1]["statusCode"] == 0
        assert_alive(target, "busy")
    finally:
        target.kill()


def test_compiled_agent_is_cached_for_the_next_attach(target_python, tmp_path):
    """What the target had to compile lands in pyarthas's own cache (not the install's __pycache__), tagged
    with the target's version, and the next attach loads it instead of compiling again."""
    cache = tmp_path / "cache"
    env = {"XDG_CACHE_HOME": str(cache)}
    tag = subprocess.run([target_python, "-c", "import sys; print('cpython-%d%d' % sys.version_info[:2])"],
                         capture_output=True, text=True, timeout=30).stdout.strip()
    bytecode = cache / "pyarthas" / "bytecode"
    first = start_target(target_python, tmp_path, "sleep")
    try:
        attach(first, env=env)
        deadline = time.monotonic() + 10
        while not list(bytecode.glob("agent-*." + tag)) and time.monotonic() < deadline:
            time.sleep(0.05)
        [cached] = bytecode.glob("agent-*." + tag)
        written = cached.stat().st_mtime_ns
    finally:
        first.kill()
    second = start_target(target_python, tmp_path, "sleep")
    try:
        attach(second, env=env)
        assert second.results("version")[-1]["statusCode"] == 0
        assert list(bytecode.glob("agent-*." + tag)) == [cached]
        assert cached.stat().st_mtime_ns == written  # everything came from the cache: nothing to rewrite
    finally:
        second.kill()


def wait_until_refused(url, timeout=10.0):
    host, port = url.split("//", 1)[1].rsplit(":", 1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
        except OSError:
            return
        time.sleep(0.05)
    raise AssertionError("the agent at %s still listens after stop" % url)


def paused_injector(target, stage, seconds):
    """``pyarthas attach`` holding the target's thread stopped at ``stage`` for ``seconds`` (it said so)."""
    injector = subprocess.Popen(
        [sys.executable, "-m", "pyarthas", "attach", str(target.proc.pid), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
        env=target_env({"PYARTHAS_INJECT_PAUSE": "%s:%s" % (stage, seconds)}))
    line = injector.stderr.readline()
    if "paused at %s" % stage not in line:
        injector.kill()
        raise AssertionError(line + injector.stderr.read())
    return injector


@pytest.mark.parametrize("kind, stage", [("sleep", "seized"), ("sleep", "redirected"), ("busy", "redirected")])
def test_killing_the_injector_midway_leaves_the_target_healthy(target_python, tmp_path, kind, stage):
    """Killed while the target's thread is stopped (before or after its registers point at our code): the
    target goes on, its GIL is free (the loop runs), and attach works afterwards."""
    target = start_target(target_python, tmp_path, kind)
    try:
        injector = paused_injector(target, stage, 30)
        try:
            injector.kill()
        finally:
            injector.kill()
            injector.wait(10)
        assert_alive(target, kind)
        attach(target)
        assert target.results("version")[-1]["statusCode"] == 0
        assert_alive(target, kind)
    finally:
        target.kill()


def test_a_signal_arriving_during_attach_is_delivered_at_once(target_python, tmp_path):
    """SIGUSR1 sent while the injector holds the thread stopped: the program's handler runs right after,
    not once its hour-long sleep ends."""
    script = tmp_path / "target_signal.py"
    script.write_text(textwrap.dedent("""
        import signal, time
        signal.signal(signal.SIGUSR1, lambda *_: print("got usr1", flush=True))
        print("ready", flush=True)
        while True:
            time.sleep(3600)
    """))
    target = Target([target_python, str(script)], target_env(), cwd=str(tmp_path), wait_for_agent=False)
    try:
        target.wait_stdout("^ready")
        injector = paused_injector(target, "seized", 1)
        try:
            os.kill(target.proc.pid, signal.SIGUSR1)
            assert injector.wait(30) == 0, injector.stderr.read()
        finally:
            injector.kill()
            injector.wait(10)
        assert target.wait_stdout("^got usr1", timeout=10)
        target.url = injector.stdout.read().strip()
        assert target.results("version")[-1]["statusCode"] == 0
    finally:
        target.kill()


HOLD_TRACED = """
import ctypes, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
if libc.ptrace(0x4206, int(sys.argv[1]), None, None) != 0:   # PTRACE_SEIZE: traced, never stopped
    sys.exit("seize failed: errno %d" % ctypes.get_errno())
print("seized", flush=True)
time.sleep(3600)
"""


@pytest.mark.parametrize("kind", ["busy", "sleep"])
def test_a_target_traced_by_another_tool(target_python, tmp_path, kind):
    """A debugger already traces the target, so ptrace is closed: on 3.14 sys.remote_exec gets in while the
    main thread runs Python (attach -v says so); where it cannot (older versions, a sleeping main thread)
    the error says why."""
    target = start_target(target_python, tmp_path, kind)
    tracer = subprocess.Popen([sys.executable, "-c", HOLD_TRACED, str(target.proc.pid)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        assert tracer.stdout.readline().strip() == "seized", tracer.stderr.read()
        done = pyarthas("attach", str(target.proc.pid), "--port", "0", "-v")
        traced = "already traced by process %d" % tracer.pid
        if python_version(target_python) >= (3, 14) and kind == "busy":
            assert done.returncode == 0, done.stderr
            assert re.search(r"pyarthas: sys\.remote_exec.*\(ptrace: .*%s" % traced, done.stderr), done.stderr
            target.url = done.stdout.strip().splitlines()[-1]
            assert target.results("version")[-1]["statusCode"] == 0
        else:
            assert done.returncode != 0 and traced in done.stderr, done.stderr
            if python_version(target_python) >= (3, 14):
                assert re.search(r"sys.remote_exec cannot help: the main thread waits in (p?select6?|clock_nanosleep)",
                                 done.stderr), done.stderr
        assert_alive(target, kind)
    finally:
        tracer.kill()
        tracer.wait(10)
        target.kill()


def test_bad_pids(tmp_path):
    done = pyarthas("attach", str(unused_pid()))
    assert done.returncode != 0 and "no such process" in done.stderr
    not_python = subprocess.Popen(["sleep", "60"])
    try:
        done = pyarthas("attach", str(not_python.pid))
        assert done.returncode != 0 and "not a CPython process" in done.stderr, done.stderr
    finally:
        not_python.kill()
        not_python.wait(10)
    done = pyarthas("attach", "0")
    assert done.returncode != 0 and "no such process" in done.stderr


def older_python():
    pyenv = shutil.which("pyenv")
    if not pyenv:
        return None
    root = subprocess.run([pyenv, "root"], capture_output=True, text=True, timeout=20).stdout.strip()
    found = sorted(glob.glob(os.path.join(root, "versions", "3.[5-8].*", "bin", "python3")))
    return found[-1] if found else None


@pytest.mark.skipif(older_python() is None, reason="no CPython older than 3.9 here")
def test_python_older_than_3_9_is_refused(tmp_path):
    target = start_target(older_python(), tmp_path, "sleep")
    try:
        done = pyarthas("attach", str(target.proc.pid))
        assert done.returncode != 0 and "pyarthas needs 3.9 or later" in done.stderr, done.stderr
        assert target.alive()
    finally:
        target.kill()


def unused_pid():
    with open("/proc/sys/kernel/pid_max") as handle:
        pid_max = int(handle.read())
    for pid in range(pid_max - 1, 1, -1):
        if not os.path.exists("/proc/%d" % pid):
            return pid
    raise AssertionError("no free pid")


def test_port_in_use(target_python, tmp_path):
    target = start_target(target_python, tmp_path, "sleep")
    taken = socket.socket()
    try:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        done = pyarthas("attach", str(target.proc.pid), "--port", str(taken.getsockname()[1]))
        assert done.returncode != 0
        assert "port in use" in done.stderr, done.stderr
        attach(target)  # a free port works right after
        assert_alive(target, "sleep")
    finally:
        taken.close()
        target.kill()


def test_beyond_loopback_the_generated_password_is_shown(target_python, tmp_path):
    target = start_target(target_python, tmp_path, "sleep")
    try:
        done = pyarthas("attach", str(target.proc.pid), "--port", "0", "--ip", "0.0.0.0")
        assert done.returncode == 0, done.stderr
        password = re.search(r"generated password for user arthas: (\S+)", done.stderr).group(1)
        port = int(done.stdout.strip().rsplit(":", 1)[1])
        target.url = "http://127.0.0.1:%d" % port
        assert target.results("version")[-1]["statusCode"] == 0  # local connections need no password
        assert len(password) >= 16
    finally:
        target.kill()


def test_armed_process_is_reached_without_ptrace(target_python, tmp_path):
    """PYARTHAS_ARM=1 with pyarthas-arm.pth in a site directory: armed at startup without importing
    pyarthas; attach then takes the signal path."""
    version = subprocess.run([target_python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=30).stdout.strip()
    site_dir = tmp_path / "userbase" / "lib" / ("python" + version) / "site-packages"
    site_dir.mkdir(parents=True)
    from pyarthas.agent.arm import install
    install(str(site_dir))
    env = {"PYARTHAS_ARM": "1", "PYTHONUSERBASE": str(tmp_path / "userbase")}
    target = start_target(target_python, tmp_path, "busy", env=env)
    try:
        assert target.wait_stdout(r"^tick False")  # armed, yet pyarthas not imported
        done = attach(target, "--timeout", "5")
        assert "armed signal handler" in done.stderr, done.stderr
        assert target.results("version")[-1]["statusCode"] == 0
        assert_alive(target, "busy")
    finally:
        target.kill()


def test_ps_lists_the_target(target_python, tmp_path):
    target = start_target(target_python, tmp_path, "sleep")
    try:
        done = pyarthas("ps")
        assert done.returncode == 0
        line = [row for row in done.stdout.splitlines() if row.split()[:1] == [str(target.proc.pid)]]
        assert line, done.stdout
        assert re.search(r"\b3\.\d+\b", line[0]) and "target_sleep.py" in line[0]
        # plain `pyarthas` shows the same list and attaches to nothing without an answer
        done = pyarthas()
        assert done.returncode == 1 and str(target.proc.pid) in done.stdout
    finally:
        target.kill()


@pytest.mark.skipif(not (shutil.which("as") and shutil.which("objcopy")), reason="needs binutils")
def test_trampoline_bytes_match_their_source(tmp_path):
    from pyarthas.cli.inject.ptrace_inject import TRAMPOLINE
    subprocess.run(["as", "--64", "-o", str(tmp_path / "t.o"), os.path.join(INJECT_DIR, "trampoline.S")],
                   check=True, timeout=60)
    subprocess.run(["objcopy", "-O", "binary", "-j", ".text", str(tmp_path / "t.o"), str(tmp_path / "t.bin")],
                   check=True, timeout=60)
    assert (tmp_path / "t.bin").read_bytes() == TRAMPOLINE


def test_import_pyarthas_has_no_side_effect():
    code = "import signal, pyarthas; print(signal.getsignal(39) in (signal.SIG_DFL, None))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30,
                          env=target_env())
    assert done.stdout.strip() == "True", done.stderr

