"""Serializing a target's objects has a time budget: a ``__repr__`` that loops or sleeps (an ORM model whose
repr queries a database does this) cannot hold a pull, and field expansion runs none of the target's code."""
import json
import socket
import time

from harness import of_type, only, post_json

TARGET = """
import time

class Spinning:
    def __repr__(self):
        while True:
            pass
    __str__ = __repr__

class Sleeping:
    def __repr__(self):
        time.sleep(30)
        return "slept"
    __str__ = __repr__

class Lazy:
    '''A proxy whose every attribute read is slow: expanding its fields must not read through it.'''
    def __init__(self):
        self.id = 7
    def __getattribute__(self, name):
        time.sleep(30)
        return object.__getattribute__(self, name)

def handle(value):
    return value

print("ready", flush=True)
while True:
    handle(Spinning())
    handle(Sleeping())
    handle(Lazy())
    time.sleep(0.05)
"""

PULL_BOUND_S = 10.0     # the budget is 1 s per result; a loaded machine gets generous room
SLOW_MARKERS = ("did not finish within the serialization time budget", "not called")


def _timed_pull(session):
    started = time.monotonic()
    try:
        reply = post_json(session.target.url, {"action": "pull_results", "sessionId": session.id,
                                               "consumerId": session.consumer}, timeout=PULL_BOUND_S * 3)
    except socket.timeout:
        raise AssertionError("a pull stayed unanswered for %.0f s" % (time.monotonic() - started)) from None
    elapsed = time.monotonic() - started
    assert reply["state"] == "SUCCEEDED", reply
    return reply["body"]["results"], elapsed


def test_slow_repr_is_cut_and_the_pull_answers(spawn):
    target = spawn(TARGET)
    target.wait_stdout("ready")
    session = target.session()
    session.async_exec("watch __main__ handle 'params[0]' -n 9")
    watched = []
    deadline = time.monotonic() + 90
    while len(watched) < 9 and time.monotonic() < deadline:
        results, elapsed = _timed_pull(session)
        assert elapsed < PULL_BOUND_S, "pull took %.1f s: %s" % (elapsed, json.dumps(results)[:2000])
        watched.extend(of_type(results, "watch"))
    assert len(watched) == 9, watched

    by_type = {}
    for result in watched:
        by_type.setdefault(result["value"]["@type"], []).append(result["value"])
    for name in ("__main__.Spinning", "__main__.Sleeping"):
        for value in by_type[name]:
            assert "object at 0x" in value["@value"] and any(m in value["@value"] for m in SLOW_MARKERS), value
    for value in by_type["__main__.Lazy"]:
        assert value == {"@type": "__main__.Lazy", "id": 7}

    # the looping __repr__ was stopped: no agent thread keeps a core busy
    def busy_agent_threads():
        stats = only(target.results("thread --all -i 500"), "thread")["threadStats"]
        return [vo for vo in stats if vo["agentThread"] and vo["cpu"] > 50]

    for _ in range(10):
        if not busy_agent_threads():
            break
    assert not busy_agent_threads()
    assert target.results("version")[0]["version"]
    session.close()


def test_str_is_called_for_summaries_within_budget(spawn):
    target = spawn("""
        import time

        class Named:
            def __init__(self, name):
                self.name = name
            def __str__(self):
                return "Named(%s)" % self.name

        class Box:
            def __init__(self):
                self.inner = Named("x")

        box = Box()
        print("ready", flush=True)
        while True:
            time.sleep(1)
    """)
    target.wait_stdout("ready")
    assert target.ognl("box") == {"@type": "__main__.Box", "inner": {"@type": "__main__.Named",
                                                                     "@value": "Named(x)"}}
