"""tt: record, list, show, watch, search, replay, delete; against the demo and the purpose-built target."""
from harness import is_enhanced, of_type, run_ok, start_target, status_of


def test_tt_records_then_lists_shows_replays_deletes(fast_demo):
    demo = fast_demo
    results = run_ok(demo, "tt -t demo.MathGame primeFactors 'params[0] >= 2' -n 3")
    recorded = of_type(results, "tt")
    assert len(recorded) == 3 and recorded[0]["first"] is True and recorded[1]["first"] is False
    fragments = [r["timeFragmentList"][0] for r in recorded]
    indexes = [f["index"] for f in fragments]
    assert indexes == sorted(indexes) and indexes[0] >= 1000
    first = fragments[0]
    assert first["return"] is True and first["throw"] is False and first["object"].startswith("0x")
    assert (first["className"], first["methodName"]) == ("demo.MathGame", "primeFactors")
    number = first["params"][0]["object"]
    assert number >= 2 and first["returnObj"] and first["cost"] >= 0
    assert not is_enhanced(demo, "demo.MathGame.primeFactors")

    listed = demo.results("tt -l")
    assert [f["index"] for f in of_type(listed, "tt")[0]["timeFragmentList"]][-3:] == indexes
    assert of_type(listed, "row_affect")[0]["rowCount"] >= 3

    shown = of_type(demo.results("tt -i %d" % indexes[0]), "tt")[0]["timeFragment"]
    assert shown["index"] == indexes[0] and shown["params"][0]["object"] == number

    watched = of_type(demo.results("tt -i %d -w 'params[0]'" % indexes[0]), "tt")[0]
    assert watched["watchValue"] == number

    replays = demo.results("tt -i %d -p --replay-times 2 --replay-interval 10" % indexes[0])
    played = of_type(replays, "tt")
    assert [p["replayNo"] for p in played] == [1, 2]
    assert played[0]["replayResult"]["returnObj"] == first["returnObj"]
    assert status_of(replays)["statusCode"] == 0

    found = demo.results("tt -s 'params[0] == %d'" % number)
    assert indexes[0] in [f["index"] for f in of_type(found, "tt")[0]["timeFragmentList"]]
    found = demo.results("tt -s 'params[0] == %d' -w 'returnObj'" % number)
    assert of_type(found, "tt")[0]["watchResults"][str(indexes[0])] == first["returnObj"]

    deleted = demo.results("tt -i %d -d" % indexes[0])
    assert of_type(deleted, "message")[0]["message"] == "Time fragment[%d] successfully deleted." % indexes[0]
    missing = status_of(demo.results("tt -i %d" % indexes[0]))
    assert missing == {"type": "status", "jobId": missing["jobId"], "statusCode": 1,
                       "message": "Time fragment[%d] does not exist." % indexes[0]}
    cleaned = demo.results("tt --delete-all")
    assert of_type(cleaned, "message")[0]["message"] == "Time fragments are cleaned."
    assert of_type(demo.results("tt -l"), "tt")[0]["timeFragmentList"] == []


def test_tt_exceptions_threads_and_usage_errors(spawn):
    target = start_target(spawn)
    results = run_ok(target, "tt -t __main__.Worker risky 'params[0] % 4 in (0, 1)' -n 12")
    fragments = [r["timeFragmentList"][0] for r in of_type(results, "tt")]
    thrown = [f for f in fragments if f["throw"]]
    assert thrown and len(thrown) < len(fragments)
    assert all(f["throwExp"]["@type"] == "builtins.ValueError" and f["returnObj"] is None for f in thrown)
    assert all((f["params"][0]["object"] % 4 == 0) == f["throw"] for f in fragments)
    assert len({f["object"] for f in fragments}) >= 2                   # several threads' Workers
    replay = of_type(target.results("tt -i %d -p" % thrown[0]["index"]), "tt")[0]["replayResult"]
    assert replay["throw"] is True and replay["throwExp"]["message"].startswith("bad ")
    for command, text in (("tt", "Argument(s) is/are expected"), ("tt -p", "Time fragment index is expected"),
                          ("tt -t", "Class-pattern is expected"), ("tt -t __main__", "Method-pattern is expected")):
        status = status_of(target.results(command))
        assert status["statusCode"] == 1 and text in status["message"], (command, status)
    assert status_of(target.results("tt -i 1000 -w 'params[0' "))["statusCode"] == 1
    detail = of_type(target.results("help tt"), "help")[0]["detailCommand"]
    assert "at most the last 1000 records" in detail["description"]          # the bound is documented
    assert target.alive()


def test_the_store_keeps_only_the_newest_records():
    from types import SimpleNamespace

    from pyarthas.agent.commands.tt import FIRST_INDEX, TimeTunnelStore
    store = TimeTunnelStore(capacity=3)
    records = [store.add(SimpleNamespace(cost=0.1), i, None) for i in range(5)]
    assert [r.index for r in records] == list(range(FIRST_INDEX, FIRST_INDEX + 5))
    assert [r.value for r in store.all()] == [2, 3, 4]
    assert store.get(FIRST_INDEX) is None and store.get(FIRST_INDEX + 4).value == 4
    assert store.delete(FIRST_INDEX + 3) and not store.delete(FIRST_INDEX + 3)
    assert store.clear() == 2 and store.all() == []
    assert store.add(SimpleNamespace(cost=0.1), None, ValueError()).index == FIRST_INDEX + 5   # never reset
