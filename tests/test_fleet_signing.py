"""Whoever can write to Redis must not run code in the agents: requests that are unsigned, signed with another
key, replayed, stale, or addressed to another agent are refused with a clear answer and nothing runs."""
import json
import time

import pytest

from fleet_helpers import KEY, agent_id_of, fleet_script, fleet_tool
from pyarthas.agent.fleet import protocol
from redis_fixtures import needs_redis

pytestmark = needs_redis

SLEEPER = """
import time
print("ready", flush=True)
while True:
    time.sleep(0.05)
"""


def _send(fleet, app, agent_id, fields):
    fleet.redis.xadd(protocol.inbox_key(app, agent_id), fields)
    answer = fleet.wait([fields["reply"].decode()], time.monotonic() + 30)
    assert answer is not None, "no answer to %r" % fields
    return answer


def test_unsigned_wrong_replayed_stale_and_misaddressed_requests_run_nothing(target_python, tmp_path,
                                                                              redis_server):
    marker = tmp_path / "ran.txt"
    target = fleet_script(target_python, tmp_path, SLEEPER, redis_server.url, "signed")
    try:
        fleet = fleet_tool(redis_server.url)
        agent_id = agent_id_of(fleet, "signed", target.proc.pid)
        body = json.dumps({"action": "exec", "command": "ognl 'open(\"%s\", \"a\").write(\"x\")'" % marker}).encode()

        def signed(key=KEY, to=agent_id, **options):
            return protocol.signed_request(key.encode(), "signed", to, body, **options)[0]

        unsigned = signed()
        del unsigned["sig"]
        refusals = {
            "unsigned": unsigned,
            "bad signature": signed(key="another fleet key"),
            "stale": signed(now=time.time() - 10 * 60),
            "addressed to other@host:1": signed(to="other@host:1"),
        }
        tampered = signed()
        tampered["body"] = json.dumps({"action": "exec", "command": "version"}).encode()
        refusals["bad signature (tampered body)"] = tampered
        for reason, fields in refusals.items():
            answer = _send(fleet, "signed", agent_id, fields)
            assert answer["state"] == "REFUSED", (reason, answer)
            assert answer["message"].startswith("fleet request refused: " + reason.split(" (")[0]), answer
            assert answer["agentId"] == agent_id
        assert not marker.exists()

        genuine = signed()
        first = _send(fleet, "signed", agent_id, dict(genuine))
        assert first["state"] == "SUCCEEDED" and marker.read_text() == "x", first
        replayed = _send(fleet, "signed", agent_id, dict(genuine))
        assert replayed["state"] == "REFUSED" and "replayed" in replayed["message"]
        assert marker.read_text() == "x"

        # a reply key outside the app's replies: nothing is run and nothing written there
        foreign = signed()
        foreign["reply"] = b"somebody:else:key"
        fleet.redis.xadd(protocol.inbox_key("signed", agent_id), foreign)
        after = _send(fleet, "signed", agent_id, signed())   # answered after the foreign one was taken
        assert after["state"] == "SUCCEEDED"
        assert marker.read_text() == "xx" and not fleet.redis.exists("somebody:else:key")
    finally:
        target.kill()


def test_verifier_keeps_a_bounded_memory_of_nonces():
    key = b"k"
    verifier = protocol.Verifier(key, "a@h:1", max_age=60, capacity=3)
    now = time.time()
    sent = [protocol.signed_request(key, "app", "a@h:1", b"{}", now=now + i * 0.01)[0] for i in range(5)]
    for fields in sent:
        assert verifier.verify(fields, now=now + 1) == b"{}"
    assert len(verifier._seen) == 3 and verifier.floor_ms > 0
    for fields in sent:  # forgotten ones too: no newer than the floor, so refused as stale
        with pytest.raises(protocol.Refused, match=r"replayed|stale"):
            verifier.verify(fields, now=now + 1)
    later = protocol.signed_request(key, "app", "a@h:1", b"{}", now=now + 2)[0]
    assert verifier.verify(later, now=now + 2) == b"{}"
    with pytest.raises(protocol.Refused, match="stale"):   # a minute later it is too old anyway
        verifier.verify(protocol.signed_request(key, "app", "a@h:1", b"{}", now=now)[0], now=now + 120)
