"""thread: CPU ranking, states, stacks, locals and -b, against real target processes."""
import time

from harness import only, run

THREADS_TARGET = """
import threading, time

def spin_forever():
    count = 0
    while True:
        count += 1

def nap_forever():
    marker = "napping"
    while True:
        time.sleep(10)

threading.Thread(target=spin_forever, name="spinner", daemon=True).start()
threading.Thread(target=nap_forever, name="napper", daemon=True).start()
print("ready", flush=True)
while True:
    time.sleep(10)
"""

LOCKS_TARGET = """
import threading, time

class Account:
    def __init__(self):
        self.lock = threading.{lock_class}()

account = Account()
plain = threading.Lock()
held = threading.Event()
plain_held = threading.Event()

def hold_rlock():
    with account.lock:
        held.set()
        time.sleep(3600)

def want_rlock():
    account.lock.acquire()

def want_rlock_with():
    with account.lock:
        pass

def hold_plain():
    plain.acquire()
    plain_held.set()
    time.sleep(3600)

def want_plain():
    with plain:
        pass

threading.Thread(target=hold_rlock, name="holder", daemon=True).start()
held.wait()
threading.Thread(target=want_rlock, name="waiter-1", daemon=True).start()
threading.Thread(target=want_rlock_with, name="waiter-2", daemon=True).start()
if {with_plain}:
    threading.Thread(target=hold_plain, name="plain-holder", daemon=True).start()
    plain_held.wait()
    threading.Thread(target=want_plain, name="plain-waiter", daemon=True).start()
print("ready", flush=True)
while True:
    time.sleep(10)
"""


def thread_named(stats, name):
    found = [vo for vo in stats if vo["name"] == name]
    assert found, [vo["name"] for vo in stats]
    return found[0]


def wait_for(predicate, timeout=10.0):
    """Poll ``predicate`` (which returns a value or None) until it returns something, with a deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not reached in %.0f s" % timeout
        time.sleep(0.05)


def test_spinning_thread_is_the_busiest_and_its_stack_names_the_function(spawn):
    target = spawn(THREADS_TARGET)
    target.wait_stdout("ready")
    results, status = run(target, "thread -n 1")
    assert status["statusCode"] == 0
    busy = only(results, "thread")["busyThreads"]
    assert len(busy) == 1
    assert busy[0]["name"] == "spinner"
    assert busy[0]["cpu"] > 0  # how much depends on the load of the machine
    assert busy[0]["state"] == "RUNNABLE"
    assert busy[0]["stackTrace"][0]["methodName"] == "spin_forever"
    assert busy[0]["stackTrace"][0]["className"] == "__main__"
    assert busy[0]["stackTrace"][0]["fileName"].endswith("target_main.py")


def test_thread_list_states_and_agent_threads(spawn):
    target = spawn(THREADS_TARGET)
    target.wait_stdout("ready")
    model = only(run(target, "thread -i 100")[0], "thread")
    stats = model["threadStats"]
    assert stats[0]["name"] == "spinner"
    assert stats[0]["cpu"] >= max(vo["cpu"] for vo in stats)
    napper = thread_named(stats, "napper")
    assert (napper["state"], napper["waitReason"]) == ("TIMED_WAITING", "sleep")
    assert napper["nativeId"] > 0 and napper["daemon"] is True
    main = thread_named(stats, "MainThread")
    assert main["daemon"] is False
    assert not any(vo["agentThread"] or vo["name"].startswith("pyarthas-") for vo in stats)
    assert sum(model["threadStateCount"].values()) == len(stats)
    assert model["threadStateCount"]["TIMED_WAITING"] >= 2

    everything = only(run(target, "thread --all")[0], "thread")["threadStats"]
    assert any(vo["agentThread"] and vo["name"].startswith("pyarthas-") for vo in everything)

    waiting = only(run(target, "thread --state timed_waiting")[0], "thread")["threadStats"]
    assert waiting and all(vo["state"] == "TIMED_WAITING" for vo in waiting)


def test_one_thread_with_stack_and_locals(spawn):
    target = spawn(THREADS_TARGET)
    target.wait_stdout("ready")
    stats = only(run(target, "thread -i 50")[0], "thread")["threadStats"]
    napper = thread_named(stats, "napper")

    info = only(run(target, "thread %d" % napper["id"])[0], "thread")["threadInfo"]
    assert info["threadName"] == "napper"
    assert info["threadState"] == "TIMED_WAITING"
    assert [f["methodName"] for f in info["stackTrace"][:2]] == ["nap_forever", "run"]
    assert "locals" not in info["stackTrace"][0]

    by_native = only(run(target, "thread %d" % napper["nativeId"])[0], "thread")["threadInfo"]
    assert by_native["threadId"] == napper["id"]

    with_locals = only(run(target, "thread --locals %d" % napper["id"])[0], "thread")["threadInfo"]
    assert with_locals["stackTrace"][0]["locals"]["marker"] == "napping"


def test_thread_errors(spawn):
    target = spawn(THREADS_TARGET)
    target.wait_stdout("ready")
    _, status = run(target, "thread 12345678")
    assert status["statusCode"] == 1
    assert status["message"] == "thread do not exist! id: 12345678"
    _, status = run(target, "thread --state SLEEPY")
    assert status["statusCode"] == 1
    assert status["message"].startswith("Illegal argument, state should be one of [NEW, RUNNABLE")
    _, status = run(target, "thread -i 0")
    assert status["statusCode"] == -1


def _locks_target(spawn, lock_class, with_plain, blocked):
    """The locks target once ``blocked`` of its threads are blocked, and the result of ``thread -b``."""
    target = spawn(LOCKS_TARGET.format(lock_class=lock_class, with_plain=with_plain))
    target.wait_stdout("ready")

    def enough_blocked():
        stats = only(run(target, "thread --state BLOCKED -i 10")[0], "thread")["threadStats"]
        return len(stats) >= blocked

    wait_for(enough_blocked)
    return target, run(target, "thread -b")


def test_blocking_thread_holding_an_rlock_is_found(spawn):
    target, (results, status) = _locks_target(spawn, "RLock", with_plain=True, blocked=3)
    assert status["statusCode"] == 0
    model = only(results, "thread")
    blocking = model["blockingLockInfo"]
    assert blocking["threadInfo"]["threadName"] == "holder"
    assert blocking["blockingThreadCount"] == 2
    assert blocking["lockName"].startswith("_thread.RLock@") or blocking["lockName"].startswith("threading._RLock@")
    assert blocking["threadInfo"]["stackTrace"][0]["methodName"] == "hold_rlock"
    # the plain Lock's waiter is reported honestly: Python cannot tell who holds a Lock
    assert [u["threadName"] for u in model["unknownLockOwners"]] == ["plain-waiter"]

    stats = only(run(target, "thread -i 10")[0], "thread")["threadStats"]
    assert thread_named(stats, "waiter-1")["state"] == "BLOCKED"
    assert thread_named(stats, "waiter-2")["waitReason"] == "lock"


def test_blocking_on_a_plain_lock_says_it_cannot_tell(spawn):
    _, (_, status) = _locks_target(spawn, "Lock", with_plain=False, blocked=2)
    assert status["statusCode"] == 1
    assert status["message"].startswith("No most blocking thread found!")
    assert "cannot tell" in status["message"]
    assert "waiter-1" in status["message"]


def test_thread_views_print_the_table_and_stacks_as_arthas():
    from pyarthas.agent.view import Context, render
    frame = {"className": "__main__", "methodName": "spin_forever", "fileName": "/app/main.py", "lineNumber": 6,
             "nativeMethod": False, "locals": {"count": 42}}
    busy = {"type": "thread", "jobId": 1, "busyThreads": [
        {"id": 140, "nativeId": 7, "name": "spinner", "state": "RUNNABLE", "cpu": 99.5, "deltaTime": 199,
         "time": 1234, "stackTrace": [frame]}]}
    assert render(busy, Context(width=120)).splitlines() == [
        '"spinner" Id=140 nativeId=7 cpuUsage=99.50% deltaTime=199ms time=1234ms RUNNABLE',
        "    at __main__.spin_forever(/app/main.py:6)",
        "        count = @int[42]"]
    listing = {"type": "thread", "jobId": 2, "all": False,
               "threadStateCount": {"NEW": 0, "RUNNABLE": 1, "BLOCKED": 0, "WAITING": 0, "TIMED_WAITING": 1,
                                    "TERMINATED": 0},
               "threadStats": [{"id": 140, "name": "spinner", "group": "main", "priority": 5, "state": "RUNNABLE",
                                "cpu": 99.5, "deltaTime": 199, "time": 1234, "interrupted": False,
                                "daemon": True}]}
    lines = render(listing, Context(width=120)).splitlines()
    assert lines[0] == ("Threads Total: 2, NEW: 0, RUNNABLE: 1, BLOCKED: 0, WAITING: 0, TIMED_WAITING: 1, "
                        "TERMINATED: 0")
    assert lines[1].split() == ["ID", "NAME", "GROUP", "PRIORITY", "STATE", "%CPU", "DELTA_TIME", "TIME",
                                "INTERRUPTED", "DAEMON"]
    assert lines[2].split() == ["140", "spinner", "main", "5", "RUNNABLE", "99.50", "0.199", "0:1.234", "false",
                                "true"]
    blocking = {"type": "thread", "jobId": 3, "blockingLockInfo": {
        "threadInfo": {"threadId": 9, "threadName": "holder", "threadState": "TIMED_WAITING",
                       "waitReason": "sleep", "stackTrace": [frame]},
        "lockName": "_thread.RLock@7f01", "blockingThreadCount": 2}}
    assert render(blocking, Context()).splitlines()[-1] == \
        "    -  locked _thread.RLock@7f01 <---- but blocks 2 other threads!"
