"""The Arthas HTTP API over real HTTP against a real agent process: actions, states, error texts."""
import json
import re
import time

import pytest

from harness import post_json, post_raw

SLEEPER = """
import time
while True:
    time.sleep(3600)
"""

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture
def target(spawn):
    return spawn(SLEEPER)


def test_seed_session_flow(demo):
    """The seed's requests, in its order, against the demo (the watch itself is covered by the watch tests)."""
    reply = demo.api("init_session")
    assert reply["state"] == "SUCCEEDED"
    assert UUID.match(reply["sessionId"])
    assert re.match(r"^[0-9a-f]{32}_1$", reply["consumerId"])
    session_id = reply["sessionId"]

    joined = demo.api("join_session", sessionId=session_id)
    assert joined["state"] == "SUCCEEDED" and joined["sessionId"] == session_id
    assert re.match(r"^[0-9a-f]{32}_2$", joined["consumerId"])

    pulled = demo.api("pull_results", sessionId=session_id, consumerId=joined["consumerId"])
    assert pulled["state"] == "SUCCEEDED"
    assert pulled["sessionId"] == session_id and pulled["consumerId"] == joined["consumerId"]
    results = pulled["body"]["results"]
    assert [r["type"] for r in results] == ["input_status", "message", "welcome", "input_status"]
    assert results[0] == {"type": "input_status", "inputStatus": "DISABLED", "jobId": 0}
    assert results[1]["message"] == "Welcome to arthas!"
    welcome = results[2]
    assert welcome["pid"] == str(demo.proc.pid) and welcome["jobId"] == 0
    assert welcome["wiki"] == "https://arthas.aliyun.com/doc"
    assert welcome["tutorials"] == "https://arthas.aliyun.com/doc/arthas-tutorials.html"
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$", welcome["time"])
    assert results[3]["inputStatus"] == "ALLOW_INPUT"

    scheduled = demo.api("async_exec", sessionId=session_id, command="version")
    assert scheduled["state"] == "SCHEDULED" and scheduled["sessionId"] == session_id
    assert scheduled["body"]["jobStatus"] == "READY" and scheduled["body"]["command"] == "version"
    job_id = scheduled["body"]["jobId"]
    assert isinstance(job_id, int) and job_id >= 1

    interrupted = demo.api("interrupt_job", sessionId=session_id)
    assert interrupted["state"] in ("SUCCEEDED", "FAILED")  # the job may already be over
    assert demo.api("close_session", sessionId=session_id) == {"state": "SUCCEEDED"}
    gone = demo.api("session_info", sessionId=session_id)
    assert gone == {"state": "FAILED", "message": "session not found: %s" % session_id}


def test_async_exec_stream_order(target):
    session = target.session()
    session.pull()
    scheduled = session.async_exec("echo hello world")
    job_id = scheduled["body"]["jobId"]
    results = session.pull_until(lambda r: r["type"] == "input_status" and r["inputStatus"] == "ALLOW_INPUT")
    assert [r["type"] for r in results] == ["command", "input_status", "echo", "status", "input_status"]
    assert results[0] == {"type": "command", "jobId": job_id, "command": "echo hello world", "state": "SCHEDULED"}
    assert results[1] == {"type": "input_status", "jobId": 0, "inputStatus": "ALLOW_INTERRUPT"}
    assert results[2] == {"type": "echo", "jobId": job_id, "content": "hello world"}
    assert results[3] == {"type": "status", "jobId": job_id, "statusCode": 0}


def test_exec_one_time_session(target):
    reply = target.exec("version", requestId="req-7")
    assert reply["state"] == "SUCCEEDED" and reply["requestId"] == "req-7"
    body = reply["body"]
    assert body["jobStatus"] == "TERMINATED" and body["timeExpired"] is False and "timeout" not in body
    assert [r["type"] for r in body["results"]] == ["version", "status"]
    assert body["results"][1] == {"type": "status", "jobId": body["jobId"], "statusCode": 0}
    # The throw-away session is gone once the request is answered.
    again = target.api("session_info", sessionId=reply["sessionId"])
    assert again["message"] == "session not found: %s" % reply["sessionId"]


def test_exec_on_session_only_sends_input_status_to_consumers(target):
    session = target.session()
    session.pull()
    reply = session.api("exec", command="pwd")
    assert reply["state"] == "SUCCEEDED" and reply["sessionId"] == session.id
    assert [r["type"] for r in reply["body"]["results"]] == ["pwd", "status"]
    pulled = session.pull_until(lambda r: r.get("inputStatus") == "ALLOW_INPUT")
    assert [r.get("inputStatus") for r in pulled] == ["ALLOW_INTERRUPT", "ALLOW_INPUT"]


def test_exec_timeout_interrupts(target):
    started = time.monotonic()
    reply = target.exec("dashboard -i 60000", execTimeout="700")
    elapsed = time.monotonic() - started
    assert reply["state"] == "INTERRUPTED"
    assert reply["message"] == "The job is exceeded time limit, force interrupt"
    assert reply["body"]["timeExpired"] is True and reply["body"]["timeout"] == 700
    assert reply["body"]["jobStatus"] == "TERMINATED"
    assert reply["body"]["results"][-1]["type"] == "status"
    assert elapsed < 10


@pytest.mark.parametrize("body, state, message", [
    (b"", "FAILED", "Process request error: parse request failed: request body is empty"),
    (b"   ", "FAILED", "Process request error: parse request failed: request body is empty"),
    (b"{not json", "FAILED", "Process request error: parse request failed: "),
    (b"[1, 2]", "FAILED", "Process request error: parse request failed: "),
    (b'{"action": 5}', "FAILED", "unknown action: 5"),  # Arthas converts a number to its text
    (b'{"command": "version"}', "FAILED", "'action' is required"),
    (b'{"action": "  "}', "FAILED", "'action' is required"),
    (b'{"action": "foo"}', "FAILED", "unknown action: foo"),
    (b'{"action": "pull_results"}', "FAILED", "'sessionId' is required"),
    (b'{"action": "async_exec", "command": "version", "sessionId": ""}', "FAILED", "'sessionId' is required"),
    (b'{"action": "join_session", "sessionId": "nope"}', "FAILED", "session not found: nope"),
    (b'{"action": "exec", "command": "nosuchcmd"}', "FAILED",
     "Exec command failed:ValueError: nosuchcmd: command not found"),
    (b'{"action": "exec", "command": "version", "execTimeout": {"a": 1}}', "FAILED",
     "Process request error: parse request failed: 'execTimeout' must be a number of milliseconds"),
    (b"[" * 100000 + b"]" * 100000, "FAILED", "Process request error: parse request failed: "),
])
def test_error_table(target, body, state, message):
    status, headers, raw = post_raw(target.url, body)
    assert status == 200
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    reply = json.loads(raw)
    assert reply["state"] == state
    assert reply["message"].startswith(message)
    assert target.exec("version")["state"] == "SUCCEEDED"  # the agent carries on


def test_session_bound_errors(target):
    session = target.session()
    assert session.api("pull_results") == {"state": "FAILED", "message": "'consumerId' is required"}
    reply = session.api("pull_results", consumerId="abc_9", requestId="r1")
    assert reply == {"state": "FAILED", "message": "consumer not found: abc_9", "requestId": "r1"}
    assert session.api("interrupt_job") == {"state": "FAILED", "message": "no foreground job is running"}
    reply = session.api("async_exec", command="nosuchcmd")
    assert reply["state"] == "FAILED"
    assert reply["message"] == "Async exec command failed:ValueError: nosuchcmd: command not found"
    failed = session.pull_until(lambda r: r["type"] == "command")
    command = next(r for r in failed if r["type"] == "command")
    assert command["state"] == "FAILED" and command["jobId"] == 0 and "command not found" in command["message"]


def test_busy_session_refuses_and_interrupt_is_prompt(target):
    session = target.session()
    job_id = session.async_exec("dashboard -i 60000")["body"]["jobId"]
    refused = session.api("async_exec", command="version")
    assert refused["state"] == "REFUSED" and refused["message"] == "Another job is running."
    assert refused["body"] == {"command": "version"}
    refused = session.api("exec", command="version")
    assert refused["state"] == "REFUSED" and refused["message"] == "Another job is running."
    session.pull_until(lambda r: r["type"] == "dashboard")
    interrupted = session.api("interrupt_job")
    assert interrupted == {"state": "SUCCEEDED", "body": {"jobId": job_id, "jobStatus": "TERMINATED"}}
    results = session.pull_until(lambda r: r.get("inputStatus") == "ALLOW_INPUT", timeout=5)
    statuses = [r for r in results if r["type"] == "status"]
    assert statuses == [{"type": "status", "jobId": job_id, "statusCode": 0}]
    assert session.api("interrupt_job")["message"] == "no foreground job is running"


def test_parse_errors_and_help_give_minus_ten(target):
    results = target.results("dashboard --nope")
    assert results[-1]["statusCode"] == -10 and "nope" in results[-1]["message"]
    results = target.results("dashboard -h")
    assert results[0]["type"] == "help"
    detail = results[0]["detailCommand"]
    assert detail["name"] == "dashboard" and detail["usage"].startswith("dashboard")
    assert {o.get("shortName") for o in detail["options"]} >= {"i", "n"}
    assert results[-1] == {"type": "status", "jobId": results[-1]["jobId"], "statusCode": -10}
    results = target.results("sysenv A B C")
    assert results[-1]["statusCode"] == -10


def test_background_job_frees_the_session(target):
    session = target.session()
    session.pull()
    job_id = session.async_exec("dashboard -i 200 &")["body"]["jobId"]
    second = session.async_exec("version")
    assert second["state"] == "SCHEDULED"
    seen = set()
    session.pull_until(lambda r: seen.add((r["type"], r["jobId"])) or
                       {("dashboard", job_id), ("version", second["body"]["jobId"])} <= seen)
    assert session.api("interrupt_job")["message"] == "no foreground job is running"
    session.close()  # closing the session ends its background job too


def test_history_replayed_to_joining_consumer(target):
    session = target.session()
    session.run_to_status("echo one")
    joined = session.api("join_session")["consumerId"]
    replay = session.pull(joined)
    types = [r["type"] for r in replay]
    assert types[0] == "input_status" and replay[0]["inputStatus"] == "DISABLED"
    assert types[1:3] == ["message", "welcome"]
    assert ["command", "echo", "status"] == [t for t in types[3:] if t != "input_status"]
    assert replay[-1] == {"type": "input_status", "jobId": 0, "inputStatus": "ALLOW_INPUT"}
    assert sum(1 for r in replay if r["type"] == "input_status") == 2  # DISABLED and the last one only


def _run_jobs_unread(session, count):
    """Run ``count`` echo jobs while the session's first consumer reads nothing (a second one watches)."""
    watcher = session.api("join_session")["consumerId"]
    session.pull(watcher)
    for i in range(count):
        session.async_exec("echo n%d" % i)
        session.pull_until(lambda r: r.get("inputStatus") == "ALLOW_INPUT", consumer=watcher)


def test_more_than_twenty_results_split_across_pulls(target):
    session = target.session()
    session.pull()
    _run_jobs_unread(session, 5)  # 25 results
    first = session.pull()
    second = session.pull()
    assert len(first) == 20 and len(second) == 5
    echoes = [r["content"] for r in first + second if r["type"] == "echo"]
    assert echoes == ["n0", "n1", "n2", "n3", "n4"]


def test_unread_results_past_fifty_drop_the_oldest(target):
    session = target.session()
    session.pull()
    _run_jobs_unread(session, 12)  # 60 results
    got = []
    while True:
        batch = session.pull()
        if not batch:
            break
        got.extend(batch)
    assert len(got) == 50
    echoes = [r["content"] for r in got if r["type"] == "echo"]
    assert echoes == ["n%d" % i for i in range(2, 12)]  # the first 10 results (two jobs) were dropped


def test_long_poll_timing(target):
    session = target.session()
    session.pull()
    started = time.monotonic()
    assert session.pull() == []
    idle = time.monotonic() - started
    assert 1.5 <= idle <= 4.0
    session.async_exec("version")
    started = time.monotonic()
    batch = session.pull()
    assert batch and batch[0]["type"] == "command"
    assert time.monotonic() - started < 1.5  # flushed soon after the first result, not after the idle wait


def test_two_consumers_each_get_every_result(target):
    session = target.session()
    other = session.api("join_session")["consumerId"]
    session.pull()
    session.pull(other)
    job_id = session.async_exec("echo shared")["body"]["jobId"]
    done = lambda r: r["type"] == "status" and r["jobId"] == job_id  # noqa: E731
    mine = [r for r in session.pull_until(done) if r["jobId"] == job_id]
    theirs = [r for r in session.pull_until(done, consumer=other) if r["jobId"] == job_id]
    assert mine == theirs and [r["type"] for r in mine] == ["command", "echo", "status"]


def _eventually_fails(check, idle_seconds, timeout=15.0):
    """Eviction is about idle time, and every check touches what it checks: leave it idle for longer than
    its timeout between checks, until the check fails or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(idle_seconds)
        reply = check()
        if reply["state"] == "FAILED":
            return reply
    raise AssertionError("still there after %s s" % timeout)


def test_idle_consumer_is_evicted(spawn):
    target = spawn(SLEEPER, env={"PYARTHAS_CONSUMER_TIMEOUT": "0.5", "PYARTHAS_REAPER_INTERVAL": "0.1",
                                 "PYARTHAS_POLL_WAIT": "0.2"})
    session = target.session()
    session.pull()
    reply = _eventually_fails(lambda: session.api("pull_results", consumerId=session.consumer), 1.0)
    assert reply["message"] == "consumer not found: %s" % session.consumer
    assert session.api("join_session")["state"] == "SUCCEEDED"  # the session itself lives on


def test_idle_session_is_evicted_but_not_while_a_job_runs(spawn):
    target = spawn(SLEEPER, env={"PYARTHAS_SESSION_TIMEOUT": "0.5", "PYARTHAS_REAPER_INTERVAL": "0.1"})
    busy = target.session()
    busy.async_exec("dashboard -i 60000")
    idle = target.session()
    reply = _eventually_fails(lambda: target.api("join_session", sessionId=idle.id), 1.0)
    assert reply["message"] == "session not found: %s" % idle.id
    assert target.api("join_session", sessionId=busy.id)["state"] == "SUCCEEDED"


def test_cross_origin_and_foreign_host_are_refused(target):
    body = json.dumps({"action": "exec", "command": "version"}).encode()
    status, _, _ = post_raw(target.url, body, {"Origin": "http://evil.example"})
    assert status == 403
    status, _, _ = post_raw(target.url, body, {"Host": "evil.example:%d" % target.port})
    assert status == 403
    status, _, raw = post_raw(target.url, body, {"Origin": "http://127.0.0.1:%d" % target.port})
    assert status == 200 and json.loads(raw)["state"] == "SUCCEEDED"
    status, _, raw = post_raw(target.url, body, {"Host": "localhost:%d" % target.port})
    assert status == 200


def test_methods_bodies_and_paths(target):
    status, _, raw = post_raw(target.url, b"", method="GET")
    assert status == 200 and json.loads(raw) == {"state": "REFUSED", "message": "Unsupported http method: GET"}
    status, _, raw = post_raw(target.url, b"", method="PUT")
    assert json.loads(raw)["message"] == "Unsupported http method: PUT"
    assert post_raw(target.url, b"x" * (10 * 1024 * 1024 + 1))[0] == 413
    status, _, raw = post_raw(target.url, b"", method="GET", path="/nope")
    assert status == 404 and raw == b"Not found"
    status, _, raw = post_raw(target.url, b"", method="GET", path="/arthas-output/../../etc/passwd")
    assert status == 404
    assert target.exec("version")["state"] == "SUCCEEDED"


def test_many_concurrent_sessions_lose_nothing(target):
    import concurrent.futures

    def one_session(i):
        session = target.session()
        session.pull()
        results = session.run_to_status("echo client-%d" % i, timeout=30)
        session.close()
        return [r["content"] for r in results if r["type"] == "echo"]

    with concurrent.futures.ThreadPoolExecutor(max_workers=24) as pool:
        echoes = list(pool.map(one_session, range(24)))
    assert echoes == [["client-%d" % i] for i in range(24)]


def test_job_timeout_option_terminates_jobs(target):
    session = target.session()
    assert session.api("exec", command="options job-timeout 1")["body"]["results"][0]["changeResult"] == {
        "name": "job-timeout", "beforeValue": "1d", "afterValue": "1"}
    results = session.run_to_status("dashboard -i 60000", timeout=10)
    assert results[-1]["type"] == "status" and results[-1]["statusCode"] == -10


def test_stop_stops_the_agent_not_the_target(spawn):
    target = spawn("""
        import sys, time
        while True:
            sys.stdout.write("tick\\n"); sys.stdout.flush()
            time.sleep(0.05)
    """)
    results = target.results("stop")
    assert [r["type"] for r in results] == ["message", "reset", "shutdown", "status"]
    assert results[2]["graceful"] is True and results[-1]["statusCode"] == 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            post_json(target.url, {"action": "exec", "command": "version"}, timeout=2)
        except OSError:
            break
    else:
        pytest.fail("the agent still answers after stop")
    target.wait_stdout("tick")
    target.wait_stdout("tick")
    assert target.alive()


def test_idle_agent_sleeps(spawn):
    """With a session open and nothing happening, the agent's threads barely wake up."""
    target = spawn(SLEEPER)
    target.session()
    switches_before = _context_switches(target.proc.pid)
    time.sleep(2.0)  # the measurement window itself, not a synchronisation
    switches = _context_switches(target.proc.pid) - switches_before
    assert switches <= 12, switches


def _context_switches(pid):
    import glob
    total = 0
    for status in glob.glob("/proc/%d/task/*/status" % pid):
        try:
            with open(status) as handle:
                for line in handle:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def test_all_consumers_unhealthy_interrupts_the_job(target):
    """A consumer whose queue is full and that has not pulled for a second is unhealthy; when no consumer
    is healthy, the foreground job is interrupted (Arthas's back-pressure)."""
    session = target.session()
    session.pull()
    session.async_exec("dashboard -i 100")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        # Refused while the dashboard runs; accepted once the agent has interrupted it. Pulling would
        # make the consumer healthy again, so the probe is another command.
        if session.api("async_exec", command="echo probe")["state"] == "SCHEDULED":
            break
        time.sleep(0.5)  # pacing the probe; the deadline bounds the wait
    else:
        pytest.fail("the job was never interrupted")
    drained = []
    while True:
        batch = session.pull()
        if not batch:
            break
        drained.extend(batch)
    messages = [r.get("message") for r in drained if r["type"] == "message"]
    assert "all consumers are unhealthy, current job was interrupted." in messages
