"""Pre-fork and reloading servers for real (Flask under gunicorn, Django's autoreloader): ``thread`` in a worker
names its busy thread with the worker's own tid, ``attach`` on a master says what it is, ``attach --workers``
reaches every worker, ``pyarthas ps`` shows the links and agents, and ``console --workers`` redefines the app
in all of them."""
import os
import re
import subprocess
import sys
import time

import pytest

from frameworks import APPS, FRAMEWORK_PYTHON, Load, Server, free_port, get, start_gunicorn
from harness import only, post_json, run, target_env


@pytest.fixture
def runtime_env(tmp_path):
    """Agents' records in a folder of this test's own, for the server and the CLI alike."""
    return {"PYARTHAS_RUNTIME_DIR": str(tmp_path / "runtime")}


def pyarthas(*args, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "pyarthas", *args], capture_output=True, text=True,
                          timeout=timeout, env=target_env(env), stdin=subprocess.DEVNULL)


def worker_pids(master: int, count: int, timeout: float = 60.0):
    """The master's children (gunicorn forks them after it binds)."""
    deadline = time.monotonic() + timeout
    while True:
        with open("/proc/%d/task/%d/children" % (master, master)) as handle:
            pids = sorted(int(pid) for pid in handle.read().split())
        if len(pids) >= count:
            return pids
        assert time.monotonic() < deadline, "only %d workers" % len(pids)
        time.sleep(0.1)


def test_thread_in_a_gunicorn_worker_names_the_busy_thread_with_its_tid(runtime_env):
    server = start_gunicorn(workers=1, env=runtime_env)
    try:
        (worker,) = worker_pids(server.proc.pid, 1)
        with Load(server.http_port, "/hot", clients=2) as load:
            busy = only(run(server, "thread -n 1 -i 1000")[0], "thread")["busyThreads"][0]
        assert load.count > 0
        # the sync worker handles requests on its main thread: the one that forked, whose
        # Thread.native_id still holds the arbiter's tid
        assert (busy["id"], busy["name"], busy["nativeId"]) == (1, "MainThread", worker), busy
        assert busy["cpu"] > 0 and busy["time"] > 0, busy
    finally:
        server.kill()


def test_attach_workers_then_redefine_reaches_every_worker(runtime_env, tmp_path):
    server = start_gunicorn(workers=3, worker_agents=False, env=runtime_env)
    try:
        master = server.proc.pid
        workers = worker_pids(master, 3)
        on_master = pyarthas("attach", str(master), "--port", "0", "--telnet-port", "-1", env=runtime_env)
        assert on_master.returncode == 0, on_master.stderr
        assert "is a gunicorn master (arbiter), 3 workers" in on_master.stderr, on_master.stderr
        assert "pyarthas attach --workers %d" % master in on_master.stderr

        done = pyarthas("attach", "--workers", str(master), "--telnet-port", "-1", env=runtime_env)
        assert done.returncode == 0, done.stderr
        table = {int(line.split()[0]): line.split()[1:] for line in done.stdout.splitlines()[1:]}
        assert sorted(table) == workers, done.stdout
        assert all(re.match(r"http://127\.0\.0\.1:\d+$", row[0]) and row[1:] == ["worker", "of", str(master)]
                   for row in table.values()), done.stdout
        assert len({row[0] for row in table.values()}) == 3

        listing = pyarthas("ps", env=runtime_env)
        rows = {int(line.split()[0]): line for line in listing.stdout.splitlines()[1:]}
        assert "gunicorn master (arbiter), 3 workers" in rows[master], listing.stdout
        for pid in workers:
            assert table[pid][0] in rows[pid] and "worker of %d" % master in rows[pid], listing.stdout

        changed = tmp_path / "hot_work.py"
        changed.write_text('def answer() -> str:\n    return "v2"\n')
        redefined = pyarthas("console", "--workers", str(master), "-c", "redefine -c hot_work %s" % changed,
                             env=runtime_env)
        assert redefined.returncode == 0, redefined.stdout + redefined.stderr
        assert redefined.stdout.count("== worker") == 3, redefined.stdout
        for pid in workers:  # each worker's own answer, asked through its own agent
            reply = post_json(table[pid][0], {"action": "exec", "command": "ognl \"__import__('hot_work').answer()\""})
            assert only(reply["body"]["results"], "ognl")["value"] == "v2", reply
        assert {get(server.http_port, "/answer")[1] for _ in range(12)} == {"v2\n"}
    finally:
        server.kill()


def test_attach_on_djangos_autoreloader_offers_the_server_process(runtime_env):
    """Django's runserver with its autoreloader: the parent only watches files, the server runs in a child
    (watches on the parent never fire)."""
    port = free_port()
    server = Server([FRAMEWORK_PYTHON, os.path.join(APPS, "django_app.py"), "runserver", "127.0.0.1:%d" % port],
                    port, runtime_env)
    try:
        server.wait_ready()
        parent = server.proc.pid
        (child,) = worker_pids(parent, 1)
        on_parent = pyarthas("attach", str(parent), "--port", "0", "--telnet-port", "-1", env=runtime_env)
        assert "is a Django autoreloader (the server runs in the child), 1 worker" in on_parent.stderr, \
            on_parent.stderr
        assert "worker processes %d;" % child in on_parent.stderr
        done = pyarthas("attach", "--workers", str(parent), "--telnet-port", "-1", env=runtime_env)
        assert done.returncode == 0, done.stderr
        (row,) = done.stdout.splitlines()[1:]
        assert row.split()[0] == str(child) and "worker of %d" % parent in row, done.stdout
        reply = post_json(row.split()[1], {"action": "exec", "command": "sc django_app"})
        assert only(reply["body"]["results"], "status")["statusCode"] == 0, reply
    finally:
        server.kill()
        try:
            os.kill(child, 9)  # the autoreloader's child outlives a killed parent
        except (OSError, UnboundLocalError):
            pass
