"""The two wire dialects (agent/api/wire.py) on serialized results; the golden harness checks them against
real Arthas and the seed's documentation."""
import time

from golden import DATE_TIME
from pyarthas.agent.api.wire import ARTHAS4, SEED, for_wire

WATCH = {"type": "watch", "jobId": 3, "ts": 1596703453237, "cost": 0.07, "expand": 1, "sizeLimit": 100,
         "value": [[-5], None, {"@type": "builtins.ValueError", "message": "no", "localizedMessage": "no",
                                "stackTrace": []}]}


def test_seed_leaves_out_null_fields_but_not_the_nulls_of_values():
    thread = {"type": "thread", "jobId": 1, "all": False,
              "threadInfo": {"threadId": 1, "lockName": None, "stackTrace": [{"fileName": None, "lineNumber": 3}]}}
    assert for_wire(thread, SEED, 100) == {"type": "thread", "jobId": 1, "all": False,
                                           "threadInfo": {"threadId": 1, "stackTrace": [{"lineNumber": 3}]}}
    assert for_wire(WATCH, SEED, 100) == WATCH
    ognl = {"type": "ognl", "jobId": 1, "value": None, "expand": 1}
    assert for_wire(ognl, SEED, 100) == ognl
    tt = {"type": "tt", "jobId": 1, "watchResults": {"1000": {"a": None}}, "timeFragment": {"returnObj": None}}
    assert for_wire(tt, SEED, 100) == tt


def test_arthas4_draws_values_writes_times_and_drops_expand():
    result = for_wire(WATCH, ARTHAS4, 10485760)
    assert DATE_TIME.fullmatch(result["ts"])
    assert result["ts"] == time.strftime("%Y-%m-%d %H:%M:%S.237", time.localtime(1596703453))
    assert result["value"].startswith("@list[\n    @list[")
    assert result["value"].endswith("\n    None,\n    @ValueError[no],\n]")
    assert "expand" not in result and result["sizeLimit"] == 100 and WATCH["ts"] == 1596703453237


def test_arthas4_tt_keeps_params_as_objects_and_expand_only_by_index():
    fragment = {"index": 1000, "timestamp": 1596703453237, "params": [{"expand": 1, "object": 7}],
                "returnObj": [2, 3], "throwExp": None, "object": "NULL"}
    listed = for_wire({"type": "tt", "jobId": 1, "expand": 1, "timeFragmentList": [fragment]}, ARTHAS4, 1000)
    assert "expand" not in listed
    drawn = listed["timeFragmentList"][0]
    assert drawn["params"] == [{"expand": 1, "object": 7}]
    assert drawn["returnObj"].startswith("@list[") and drawn["throwExp"] == "None"
    shown = for_wire({"type": "tt", "jobId": 1, "expand": 1, "timeFragment": fragment}, ARTHAS4, 1000)
    assert shown["expand"] == 1 and DATE_TIME.fullmatch(shown["timeFragment"]["timestamp"])
    replayed = for_wire({"type": "tt", "jobId": 1, "expand": 1, "replayResult": fragment}, ARTHAS4, 1000)
    assert "throwExp" not in replayed["replayResult"]     # a replay's missing result stays out


def test_results_of_unexpected_shapes_pass_unchanged():
    broken = {"type": "tt", "jobId": 1, "timeFragmentList": "not a list", "expand": 1}
    assert for_wire(broken, ARTHAS4, 100) == {"type": "tt", "jobId": 1, "timeFragmentList": "not a list"}
    assert for_wire({"type": "message", "jobId": 0, "message": "x"}, ARTHAS4, 100)["message"] == "x"
