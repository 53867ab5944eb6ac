"""Text views of trace, stack, monitor and tt (the console side; no target process needed)."""
from pyarthas.agent.view import Context, render

THREAD = {"threadName": "MainThread", "threadId": 7, "daemon": False, "priority": 5,
          "classloader": "_frozen_importlib_external.SourceFileLoader@7f00"}


def method(name, line, cost, times=1, **extra):
    node = {"type": "method", "className": "demo.MathGame", "methodName": name, "lineNumber": line,
            "invoking": line != -1, "cost": cost, "minCost": cost, "maxCost": cost, "totalCost": cost * times,
            "times": times}
    node.update(extra)
    return node


def test_trace_tree_layout():
    run = method("run", -1, 1_000_000, children=[
        method("primeFactors", 22, 100_000, throw=True, mark="throws Exception"),
        dict(method("len", 23, 1000, times=2), className="builtins", minCost=400, maxCost=600),
        {"type": "suspend", "awaiting": "_asyncio.Future", "lineNumber": 24, "times": 1, "cost": 500_000,
         "minCost": 500_000, "maxCost": 500_000, "totalCost": 500_000},
        {"type": "throw", "exception": "ValueError", "message": "number is: -5, need >= 2", "lineNumber": 22}])
    result = {"type": "trace", "jobId": 1, "nodeCount": 6,
              "root": dict(THREAD, type="thread", timestamp=0, children=[run])}
    lines = render(result, Context()).splitlines()
    assert lines[0].startswith("`---ts=")
    assert ";thread_name=MainThread;id=7;is_daemon=false;priority=5;TCCL=_frozen" in lines[0]
    assert lines[1] == "    `---[1.0ms] demo.MathGame:run()"
    assert lines[2] == "        +---[10.00% 0.1ms ] demo.MathGame:primeFactors() #22 [throws Exception]"
    assert lines[3] == "        +---[0.20% min=0.0004ms,max=0.0006ms,total=0.002ms,count=2] builtins:len() #23"
    assert lines[4] == "        +---[50.00% 0.5ms ] suspended, awaiting _asyncio.Future #24"
    assert lines[5] == "        `---throw:ValueError #22 [number is: -5, need >= 2]"


def test_stack_monitor_and_tt_layouts():
    stack = dict(THREAD, type="stack", ts=0, cost=0.0, threadId="7", stackTrace=[
        {"className": "demo.MathGame", "methodName": "primeFactors", "fileName": "demo.py", "lineNumber": 34},
        {"className": "demo.MathGame", "methodName": "run", "fileName": "demo.py", "lineNumber": 22}])
    lines = render(stack, Context()).splitlines()
    assert lines[1:] == ["    @demo.MathGame.primeFactors()", "        at demo.MathGame.run(demo.py:22)"]

    monitor = {"type": "monitor", "monitorDataList": [{"className": "demo.MathGame", "methodName": "primeFactors",
                                                       "total": 4, "success": 3, "failed": 1, "cost": 2.0,
                                                       "timestamp": 0}]}
    header, row = render(monitor, Context(width=200)).splitlines()
    assert header.split() == ["timestamp", "class", "method", "total", "success", "fail", "avg-rt(ms)", "fail-rate"]
    assert row.split()[-7:] == ["demo.MathGame", "primeFactors", "4", "3", "1", "0.50", "25.00%"]

    fragment = {"index": 1000, "timestamp": 0, "cost": 0.5, "return": True, "throw": False, "object": "0x1f",
                "className": "demo.MathGame", "methodName": "primeFactors",
                "params": [{"expand": 1, "object": 12}], "returnObj": [2, 2, 3]}
    listing = render({"type": "tt", "timeFragmentList": [fragment], "first": True}, Context(width=200)).splitlines()
    assert listing[0].split() == ["INDEX", "TIMESTAMP", "COST(ms)", "IS-RET", "IS-EXP", "OBJECT", "CLASS", "METHOD"]
    assert listing[1].split()[0] == "1000" and listing[1].split()[-2:] == ["demo.MathGame", "primeFactors"]
    detail = render({"type": "tt", "timeFragment": fragment, "expand": 1}, Context(width=200)).splitlines()
    assert detail[0].split() == ["INDEX", "1000"]
    assert ["PARAMETERS[0]", "@int[12]"] in [line.split() for line in detail]
    replay = render({"type": "tt", "replayResult": fragment, "replayNo": 2, "expand": 1}, Context(width=200))
    assert replay.split()[:2] == ["RE-INDEX", "1000"]
    assert replay.endswith("Time fragment[1000] successfully replayed 2 times.")
    assert render({"type": "tt", "watchValue": 12, "expand": 1}, Context()) == "@int[12]"
    assert render({"type": "tt", "watchResults": {"1000": 12}, "expand": 1}, Context()) == "1000: @int[12]"


def test_tt_recording_prints_the_header_once():
    fragment = {"index": 1001, "timestamp": 0, "cost": 0.5, "return": True, "throw": False, "object": "0x1f",
                "className": "demo.MathGame", "methodName": "primeFactors", "params": [], "returnObj": None}
    first = render({"type": "tt", "timeFragmentList": [dict(fragment, index=1000)], "first": True},
                   Context(width=200)).splitlines()
    later = render({"type": "tt", "timeFragmentList": [fragment], "first": False}, Context(width=200)).splitlines()
    assert len(first) == 2 and first[0].startswith("INDEX")
    assert len(later) == 1 and later[0].split()[0] == "1001"
    assert later[0].index("0x1f") == first[1].index("0x1f")         # same columns as the header's table
