"""pyarthas.client against real agents: sessions, jobs, typed errors, consumer expiry, agent restart."""
import time

import pytest

from harness import Target, start_demo, target_env
from pyarthas.client import AgentUnavailable, ApiError, Client, ConsumerNotFound, Refused, Session, SessionNotFound

FAST = {"PYARTHAS_POLL_WAIT": "0.3"}
SHORT_CONSUMERS = dict(FAST, PYARTHAS_CONSUMER_TIMEOUT="1", PYARTHAS_REAPER_INTERVAL="0.5")


@pytest.fixture
def fast_demo(target_python, tmp_path):
    target = start_demo(target_python, tmp_path, env=FAST)
    yield target
    target.kill()


def test_session_lifecycle_and_jobs(fast_demo):
    client = Client(fast_demo.url)
    reply = client.exec("version")
    assert reply.ok and reply.state == "SUCCEEDED" and reply.job_id
    assert reply.results[0] == {"type": "version", "jobId": reply.job_id, "version": reply.results[0]["version"]}

    with Session.init(fast_demo.url, keepalive=None) as session:
        first = session.pull()
        assert [r["type"] for r in first] == ["message", "welcome", "input_status"]
        assert first[1]["pid"] == str(fast_demo.proc.pid)
        session.async_exec("echo iterated")
        assert next(r for r in session if r["type"] == "echo")["content"] == "iterated"
        assert session.info()["pid"] == fast_demo.proc.pid

        results = session.run("echo hello world", timeout=10)
        assert [r["type"] for r in results] == ["command", "echo", "status"]
        assert results[1]["content"] == "hello world" and results[-1]["statusCode"] == 0

        job = session.async_exec("dashboard -i 200")
        assert job.status == "READY" and job.command == "dashboard -i 200"
        with pytest.raises(Refused) as refused:
            session.async_exec("version")
        assert refused.value.state == "REFUSED" and refused.value.message == "Another job is running."
        seen = []
        for result in session.job_results(job.id, timeout=15):
            seen.append(result["type"])
            if result["type"] == "dashboard" and seen.count("dashboard") == 2:
                assert session.interrupt()["jobId"] == job.id
        assert seen[-1] == "status" and seen.count("dashboard") >= 2
        assert session.interrupt() is None  # nothing runs any more

        in_session = session.exec("echo sync")
        assert in_session.ok and in_session.session_id == session.id
        with pytest.raises(ApiError) as bad:
            session.async_exec("nosuchcommand")
        assert bad.value.state == "FAILED" and "nosuchcommand" in bad.value.message

    with pytest.raises(SessionNotFound) as gone:
        session.info()
    assert gone.value.state == "FAILED" and gone.value.message == "session not found: %s" % session.id


def test_join_shares_the_session_and_replays_history(fast_demo):
    owner = Session.init(fast_demo.url, keepalive=None)
    owner.run("echo shared", timeout=10)
    guest = Session.join(fast_demo.url, owner.id, keepalive=None)
    assert guest.id == owner.id and guest.consumer_id != owner.consumer_id and not guest.owned
    replay = guest.pull()
    assert replay[0] == {"type": "input_status", "jobId": 0, "inputStatus": "DISABLED"}
    assert any(r["type"] == "echo" and r["content"] == "shared" for r in replay)
    job = owner.async_exec("echo live")
    assert any(r["type"] == "echo" for r in guest.job_results(job.id, timeout=10))
    owner.close()


def test_typed_errors_without_an_agent(fast_demo):
    url = fast_demo.url
    fast_demo.kill()
    with pytest.raises(AgentUnavailable) as down:
        Session.init(url)
    assert down.value.state == "UNAVAILABLE" and url in down.value.message
    with pytest.raises(AgentUnavailable):
        Client(url).exec("version")


def _wait_for_rejoin(session, idle: float, deadline: float):
    """Stay idle past the consumer timeout, then pull; repeat until the client had to rejoin."""
    pulled = []
    while session.rejoins == 0:
        assert time.monotonic() < deadline, "the consumer never expired"
        time.sleep(idle)  # idleness is what is under test
        pulled.extend(session.pull())
    return pulled


def test_consumer_expiry_rejoins_without_repeating_results(target_python, tmp_path):
    target = start_demo(target_python, tmp_path, env=SHORT_CONSUMERS)
    try:
        session = Session.init(target.url, keepalive=None)
        delivered = session.pull()
        delivered += session.run("echo before", timeout=10)
        first_consumer = session.consumer_id
        job = session.async_exec("echo during")  # lands while the consumer idles (in the history)
        pulled = _wait_for_rejoin(session, idle=1.7, deadline=time.monotonic() + 30)
        pulled += list(session.job_results(job.id, timeout=10)) if not _has_status(pulled, job.id) else []
        assert session.consumer_id != first_consumer
        assert session.consumer_id.endswith("_2")  # the session's second consumer
        echoes = [r["content"] for r in pulled if r["type"] == "echo"]
        assert echoes == ["during"], pulled
        assert not any(r["type"] in ("welcome", "message") for r in pulled), pulled
        assert session.run("echo after", timeout=10)[1]["content"] == "after"
        # a raw pull with the expired consumer gets the API's own error
        with pytest.raises(ConsumerNotFound) as expired:
            session.client.request("pull_results", sessionId=session.id, consumerId=first_consumer)
        assert expired.value.message == "consumer not found: %s" % first_consumer
    finally:
        target.kill()


def _has_status(results, job_id):
    return any(r["type"] == "status" and r["jobId"] == job_id for r in results)


def test_keepalive_keeps_the_consumer(target_python, tmp_path):
    target = start_demo(target_python, tmp_path, env=SHORT_CONSUMERS)
    try:
        session = Session.init(target.url, keepalive=0.3)
        consumer = session.consumer_id
        job = session.async_exec("echo kept")
        time.sleep(2.2)  # twice the consumer timeout without a pull of ours: the keepalive pulls meanwhile
        results = list(session.job_results(job.id, timeout=10))
        assert [r["type"] for r in results] == ["command", "echo", "status"]
        assert session.consumer_id == consumer and session.rejoins == 0
        session.close()
    finally:
        target.kill()


def test_agent_restart(target_python, tmp_path):
    first = start_demo(target_python, tmp_path, env=FAST)
    second = None
    try:
        session = Session.init(first.url, keepalive=None)
        session.pull()
        port = first.port
        first.kill()
        with pytest.raises(AgentUnavailable):
            session.pull()
        second = Target([target_python, "-m", "pyarthas", "demo", "--port", str(port)], target_env(FAST),
                        cwd=str(tmp_path))
        with pytest.raises(SessionNotFound):
            session.pull()
        old_id = session.id
        session.renew()
        assert session.id != old_id
        assert session.info()["pid"] == second.proc.pid
        assert session.run("version", timeout=10)[-1]["statusCode"] == 0
        session.close()
    finally:
        first.kill()
        if second:
            second.kill()
