"""What a session, a job, a result or an expression leaves behind: nothing outlives its session, no string
or value kills an answer, no expression ends the target, no exec answers FAILED after starting a job."""
import json
import os
import signal
import time

from harness import post_raw, quote, status_of

TARGET = """
import time

def hot(x):
    return x + 1

def warm(x):
    return x * 2

def odd(x):
    return "caf\\u00e9 \\ud800" * x

ORIGINAL = (hot.__code__, warm.__code__)
print("ready", flush=True)
while True:
    hot(1)
    warm(1)
    odd(1)
    time.sleep(0.005)
"""

AGENT = 'sys.modules["pyarthas.agent"].current()'
RESTORED = "(__main__.hot.__code__, __main__.warm.__code__) == __main__.ORIGINAL"


def started(spawn, env=None):
    target = spawn(TARGET, env=env)
    target.wait_stdout("ready", timeout=30)
    return target


def eventually(check, timeout=20.0, interval=0.1):
    """Wait until ``check()`` is true (each try is a request to the target, not a sleep-as-sync)."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


def live_job_lines(target):
    return [line for line in target.ognl("[j.line for j in %s.jobs.live_jobs()]" % AGENT) if "ognl" not in line]


def live_job_count(target) -> int:
    """Counted in the target: a value of more than 100 items is shown cut to 100 (the serializer's budget)."""
    return target.ognl("len([j for j in %s.jobs.live_jobs() if 'ognl' not in j.line])" % AGENT)


def strict_json(raw: bytes):
    """Parse ``raw`` as any strict JSON parser would: UTF-8 and no lone surrogate in any string."""
    value = json.loads(raw.decode("utf-8"))

    def check(item):
        if isinstance(item, str):
            assert not any(0xD800 <= ord(ch) <= 0xDFFF for ch in item), item
        elif isinstance(item, dict):
            for key, inner in item.items():
                check(key)
                check(inner)
        elif isinstance(item, list):
            for inner in item:
                check(inner)

    check(value)
    return value


def api(target, **body):
    """One request whose answer must be strict JSON (ensure_ascii: the body may carry lone surrogates)."""
    status, _, raw = post_raw(target.url, json.dumps(body).encode("ascii"))
    assert status == 200, (status, raw)
    return strict_json(raw)


# ---- the command history is bounded in bytes, not only in lines ----

def test_history_is_bounded_in_bytes_and_cuts_overlong_lines(spawn):
    target = started(spawn)
    for _ in range(3):
        assert target.exec("echo " + "x" * 60000)["state"] == "SUCCEEDED"   # under the 64 KiB line limit
    for number in range(300):
        assert target.exec("echo %d-%s" % (number, "y" * 4000))["state"] == "SUCCEEDED"
    lines = target.results("history")[0]["history"]
    assert all(len(line) <= 4200 for line in lines), max(len(line) for line in lines)
    assert sum(len(line) for line in lines) <= 1 << 20
    assert lines[-2].startswith("echo 299-")        # the newest are kept, the oldest go
    assert target.ognl("%s.history.size_in_bytes <= 1 << 20" % AGENT) is True


# ---- closing, expiring or resetting ends the jobs; background jobs hold no thread ----

def test_closing_a_session_ends_its_foreground_and_background_jobs(spawn):
    target = started(spawn)
    session = target.session()
    background = session.async_exec("watch __main__ hot -n 100000000 &")["body"]["jobId"]
    session.pull_until(lambda r: r.get("type") == "watch" and r.get("jobId") == background)
    foreground = session.async_exec("watch __main__ warm -n 100000000")["body"]["jobId"]
    session.pull_until(lambda r: r.get("type") == "watch" and r.get("jobId") == foreground)
    assert len(live_job_lines(target)) == 2
    assert target.ognl(RESTORED) is False
    session.close()
    assert eventually(lambda: target.ognl(RESTORED) is True)
    assert live_job_lines(target) == []


def test_an_expired_session_ends_its_background_jobs(spawn):
    target = started(spawn, env={"PYARTHAS_SESSION_TIMEOUT": "2", "PYARTHAS_REAPER_INTERVAL": "0.5"})
    session = target.session()
    job = session.async_exec("watch __main__ hot -n 100000000 &")["body"]["jobId"]
    session.pull_until(lambda r: r.get("type") == "watch" and r.get("jobId") == job)
    assert eventually(lambda: target.ognl(RESTORED) is True, timeout=30)
    assert live_job_lines(target) == []
    assert target.api("session_info", sessionId=session.id)["state"] == "FAILED"


def test_reset_ends_the_jobs_whose_functions_it_restored(spawn):
    target = started(spawn)
    session = target.session()
    hot = session.async_exec("watch __main__ hot -n 100000000 &")["body"]["jobId"]
    warm = session.async_exec("watch __main__ warm -n 100000000 &")["body"]["jobId"]
    session.pull_until(lambda r: r.get("type") == "watch" and r.get("jobId") == warm)
    assert target.results("reset __main__")[0]["affect"]["methodCount"] == 2
    ended = set()
    deadline = time.monotonic() + 20
    while ended != {hot, warm} and time.monotonic() < deadline:
        ended.update(r["jobId"] for r in session.pull() if r["type"] == "status")
    assert ended == {hot, warm}
    assert live_job_lines(target) == []


def test_background_watches_and_monitors_hold_no_thread_each(spawn):
    target = started(spawn)
    threads_before = target.ognl("threading.active_count()")
    session = target.session()
    for _ in range(300):     # enhanced, but their condition is false: no flood of results
        session.async_exec("watch __main__ hot params 'params[0] < 0' -n 100000000 &")
    for _ in range(20):
        session.async_exec("monitor -c 1 __main__ warm &")
    assert eventually(lambda: live_job_count(target) == 320, timeout=60)
    session.pull_until(lambda r: r.get("type") == "monitor")
    assert eventually(lambda: target.ognl("threading.active_count()") <= threads_before + 5, timeout=30), \
        target.ognl("[t.name for t in threading.enumerate()]")
    session.close()
    assert eventually(lambda: target.ognl(RESTORED) is True, timeout=30)
    assert live_job_lines(target) == []


# ---- a lone surrogate or an unserializable result never kills an answer ----

def test_lone_surrogates_and_unserializable_results_never_kill_an_answer(spawn):
    target = started(spawn)
    reply = api(target, action="init_session")
    session, consumer = reply["sessionId"], reply["consumerId"]
    assert api(target, action="async_exec", sessionId=session, command="echo \ud800")["state"] == "SCHEDULED"
    assert api(target, action="async_exec", sessionId=session, command="watch __main__ odd -n 1")["state"] == \
        "SCHEDULED"
    inject = ("%s.sessions.get(%r).append(0, sys.modules['pyarthas.agent.model'].MessageModel(message={1, 2}))"
              % (AGENT, session))
    target.ognl(inject)
    pulled = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any(r["type"] == "watch" for r in pulled):
        pulled += api(target, action="pull_results", sessionId=session, consumerId=consumer)["body"]["results"]
    echoed = [r for r in pulled if r["type"] == "echo"]
    assert echoed and echoed[0]["content"] == "\\ud800"
    assert any(r["type"] == "watch" for r in pulled)
    assert any(r["type"] == "message" and "could not be serialized" in r["message"] for r in pulled), pulled
    joined = api(target, action="join_session", sessionId=session)
    replay = api(target, action="pull_results", sessionId=session, consumerId=joined["consumerId"])
    assert any(r["type"] == "echo" for r in replay["body"]["results"])
    history = api(target, action="exec", command="history")
    assert "echo \\ud800" in history["body"]["results"][0]["history"]
    once = api(target, action="exec", command="echo \udc80 ok")
    assert once["state"] == "SUCCEEDED" and once["body"]["results"][0]["content"] == "\\udc80 ok"


# ---- expressions cannot end the target or their job's thread ----

def test_exits_raised_by_expressions_are_contained(spawn):
    target = started(spawn)
    results = target.results("ognl 'sys.exit(3)'", execTimeout=20000)
    assert status_of(results)["statusCode"] == -1 and "SystemExit: 3" in status_of(results)["message"]
    for raiser in ("sys.exit(3)", "(_ for _ in ()).throw(KeyboardInterrupt)", "(_ for _ in ()).throw(GeneratorExit)"):
        watched = target.results("watch __main__ hot %s -n 2" % quote(raiser), execTimeout=20000)
        messages = [r["message"] for r in watched if r["type"] == "message"]
        assert messages and "the expression raised" in messages[0], watched
        stacked = target.results("stack __main__ hot %s -n 1" % quote(raiser), execTimeout=20000)
        assert status_of(stacked)["statusCode"] == -1 and "the expression raised" in status_of(stacked)["message"]
    assert target.alive() and target.ognl("1 + 1") == 2
    assert not any("Traceback" in line for line in target.stderr_lines), "".join(target.stderr_lines)


CTRL_C_TARGET = """
import time

calls = 0

def slow():
    global calls
    calls += 1
    print("call %d" % calls, flush=True)
    time.sleep(3)

print("ready", flush=True)
while True:
    try:
        slow()
    except KeyboardInterrupt:
        print("the target caught its ctrl-c", flush=True)
"""


def test_a_real_ctrl_c_still_reaches_the_target_through_a_watch(spawn):
    target = spawn(CTRL_C_TARGET)
    target.wait_stdout("ready", timeout=30)
    session = target.session()
    job = session.async_exec("watch __main__ slow '{params, throwExp}' -e -n 5 &")["body"]["jobId"]
    session.pull_until(lambda r: r.get("type") == "enhancer" and r.get("jobId") == job)
    watched_call = target.ognl("__main__.calls") + 1        # the first call that starts enhanced
    target.wait_stdout("call %d$" % watched_call, timeout=20)
    os.kill(target.proc.pid, signal.SIGINT)
    target.wait_stdout("the target caught its ctrl-c", timeout=20)
    watched = session.pull_until(lambda r: r.get("type") == "watch" and r.get("jobId") == job)
    assert "KeyboardInterrupt" in json.dumps([r for r in watched if r["type"] == "watch"])


# ---- absurd execTimeout values are decided before any job starts ----

def test_absurd_exec_timeouts_clamp_or_are_refused_before_a_job_starts(spawn):
    target = started(spawn)
    session = target.session()
    for timeout in (1e300, "1e300", -5, 0):
        reply = session.api("exec", command="watch __main__ hot -n 2", execTimeout=timeout)
        assert reply["state"] == "SUCCEEDED", (timeout, reply)
        assert status_of(reply["body"]["results"])["statusCode"] == 0
    for timeout in ("soon", [5], {"ms": 5}):
        reply = session.api("exec", command="watch __main__ hot -n 100000000", execTimeout=timeout)
        assert reply["state"] == "FAILED" and "execTimeout" in reply["message"], reply
    status, _, raw = post_raw(target.url, b'{"action":"exec","command":"watch __main__ hot","execTimeout":NaN}')
    assert status == 200 and json.loads(raw)["state"] == "FAILED"
    assert live_job_lines(target) == []
    assert session.api("async_exec", command="echo next")["state"] == "SCHEDULED"


# ---- closed sessions and finished jobs are freed at once (reference counting alone, gc disabled) ----

def test_closed_sessions_and_finished_jobs_are_freed_without_the_cycle_collector(spawn):
    target = started(spawn)
    target.ognl("gc.disable() or setattr(__main__, 'probes', {})")
    session = target.session()
    finishing = session.async_exec("watch __main__ hot -n 400 &")["body"]["jobId"]
    running = session.async_exec("watch __main__ warm -n 100000000 &")["body"]["jobId"]
    probe = "__main__.probes.update(%s=weakref.ref([j for j in %s.jobs.live_jobs() if j.job_id == %d][0]))"
    target.ognl(probe % ("finishing", AGENT, finishing))
    target.ognl(probe % ("running", AGENT, running))
    session.pull_until(lambda r: r.get("type") == "status" and r.get("jobId") == finishing)
    assert eventually(lambda: target.ognl("__main__.probes['finishing']() is None"), timeout=20)
    target.ognl("__main__.probes.update(session=weakref.ref(%s.sessions.get(%r)))" % (AGENT, session.id))
    assert target.ognl("__main__.probes['session']() is not None and __main__.probes['running']() is not None")
    for _ in range(5):
        assert target.exec("version")["state"] == "SUCCEEDED"
    session.close()
    assert eventually(lambda: target.ognl("[name for name, probe in __main__.probes.items() if probe() is not None]")
                      == [], timeout=20), target.ognl("gc.get_referrers(__main__.probes['session']())")
    assert target.ognl("gc.isenabled()") is False


# ---- Job.on_end registration and ending are atomic ----

RACE_PROBE = """
import threading
from pyarthas.agent.job.job import Job

def registered_while_ending():
    # The registration is held at the worst moment (after the job was seen running, before the callback
    # is stored) until the job has ended or half a second passed: a lost callback never runs.
    job = Job(1, "probe", object, [], False, None, None, lambda job_id, model: None)
    ended = threading.Event()
    ender = threading.Thread(target=lambda: (job.end(0), ended.set()))

    class HeldList(list):
        def append(self, item):
            ender.start()
            ended.wait(0.5)
            super().append(item)

    job._end_callbacks = HeldList()
    ran = []
    job.on_end(lambda: ran.append("ran"))
    ender.join(10)
    late = []
    job.on_end(lambda: late.append("ran"))
    return ran + late
"""


def test_a_callback_registered_while_the_job_ends_always_runs(spawn):
    target = started(spawn)
    target.ognl("exec(%r, __main__.__dict__)" % RACE_PROBE)
    assert target.ognl("__main__.registered_while_ending()") == ["ran", "ran"]


def test_a_watch_ended_by_its_limit_while_interrupted_leaves_nothing_enhanced(spawn):
    target = started(spawn)
    for _ in range(20):
        session = target.session()
        job = session.async_exec("watch __main__ hot -n 1")["body"]["jobId"]
        session.api("interrupt_job")
        session.pull_until(lambda r, job=job: r.get("type") == "status" and r.get("jobId") == job)
        session.close()
    assert eventually(lambda: target.ognl(RESTORED) is True)
    assert live_job_lines(target) == []
