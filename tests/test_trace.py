"""trace against the demo and a purpose-built target (``harness.WORKER_TARGET``), in real processes under every
interpreter."""
from harness import WORKER_TARGET as TARGET
from harness import is_enhanced, of_type, run_ok, start_target, status_of


def method_children(trace):
    root = trace["root"]
    assert root["type"] == "thread"
    (method,) = root["children"]
    assert method["type"] == "method" and method["lineNumber"] == -1 and method["invoking"] is False
    return method, method.get("children", [])


def count_nodes(node):
    return 1 + sum(count_nodes(child) for child in node.get("children", ()))


def test_trace_demo_run_shows_children_within_parent(fast_demo):
    demo = fast_demo
    results = run_ok(demo, "trace demo.MathGame run -n 12")
    traces = of_type(results, "trace")
    assert len(traces) == 12
    seen = set()
    for trace in traces:
        assert trace["nodeCount"] == count_nodes(trace["root"])
        assert trace["root"]["threadName"] == "MainThread"
        method, children = method_children(trace)
        assert (method["className"], method["methodName"]) == ("demo.MathGame", "run")
        assert sum(child.get("totalCost", 0) for child in children) <= method["cost"]
        for child in children:
            assert child["invoking"] is True and child["lineNumber"] > 0
            assert 0 < child["minCost"] <= child["maxCost"] <= child["totalCost"] <= method["cost"]
            seen.add((child["className"], child["methodName"]))
            if child["methodName"] == "primeFactors" and child.get("throw"):
                assert child["mark"] == "throws Exception"
    assert ("demo.MathGame", "primeFactors") in seen
    assert ("demo.MathGame", "print") in seen
    assert not is_enhanced(demo, "demo.MathGame.run")


def test_trace_merges_repeats_and_marks_exceptions(spawn):
    target = start_target(spawn)
    results = run_ok(target, "trace -E '__main__\\.Work.r' 'st.p' -n 3 --skipJDKMethod false")
    for trace in of_type(results, "trace"):
        method, children = method_children(trace)
        by_name = {child["methodName"]: child for child in children}
        assert by_name["helper"]["times"] == 5                        # one call site, merged
        assert by_name["helper"]["minCost"] <= by_name["helper"]["maxCost"]
        assert by_name["fail"]["throw"] is True and by_name["fail"]["mark"] == "throws Exception"
        assert by_name["len"]["className"] == "builtins" and by_name["len"]["times"] == 1
        assert "throw" not in method
        # --skip-builtins true (the default) hides builtins
    results = run_ok(target, "trace __main__.Work* step -n 1 --exclude-class-pattern *Nothing")
    method, children = method_children(of_type(results, "trace")[0])
    assert {child["methodName"] for child in children} == {"helper", "fail"}


def test_trace_throw_node_when_traced_function_raises(spawn):
    target = start_target(spawn)
    results = run_ok(target, "trace __main__.Worker risky 'params[0] % 4 == 0' -n 2")
    traces = of_type(results, "trace")
    assert len(traces) == 2
    for trace in traces:
        method, children = method_children(trace)
        assert method["throw"] is True and method["mark"] == "throws Exception"
        throw = children[-1]
        assert throw["type"] == "throw" and throw["exception"] == "ValueError"
        assert throw["message"].startswith("bad ") and throw["lineNumber"] > 0
        assert children[0]["methodName"] == "helper"


def test_trace_coroutine_cost_spans_awaits(spawn):
    target = start_target(spawn)
    results = run_ok(target, "trace __main__ handle -n 2")
    for trace in of_type(results, "trace"):
        assert trace["root"]["threadName"] == "async-loop"
        method, children = method_children(trace)
        assert method["cost"] >= 40e6                                  # two awaits of 20 ms each
        by_name = {child.get("methodName") or child["type"]: child for child in children}
        assert by_name["child"]["cost"] >= 20e6 and by_name["child"]["suspensions"] >= 1
        suspend = by_name["suspend"]
        assert suspend["lineNumber"] > by_name["child"]["lineNumber"] and suspend["totalCost"] >= 15e6
        assert sum(c["totalCost"] for c in children if c["type"] == "method") <= method["cost"]


def test_trace_condition_cost_and_many_threads(spawn):
    target = start_target(spawn)
    results = run_ok(target, "trace __main__.Worker step '#cost > 0' -n 40")
    traces = of_type(results, "trace")
    assert len(traces) == 40
    threads = {trace["root"]["threadName"] for trace in traces}
    assert len(threads) >= 2 and all(name.startswith("worker-") for name in threads)
    for trace in traces:
        _, children = method_children(trace)
        assert next(c for c in children if c["methodName"] == "helper")["times"] == 5
    results = run_ok(target, "trace __main__.Worker step '#cost < 0' -n 1 --timeout 1")
    assert not of_type(results, "trace")
    assert not is_enhanced(target, "__main__.Worker.step")


RECURSIVE = """
import threading, time

def walk(n):
    if n:
        return walk(n - 1) + len("ab")
    return 0

def loop():
    while True:
        walk(3)
        time.sleep(0.001)

threading.Thread(target=loop, name="walker", daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
"""


def test_trace_of_a_recursive_function_reports_outermost_calls_alone_or_next_to_a_watch(spawn):
    # Only the outermost call is recorded (the trace's starter turns the recursive ones away); a watch on
    # the same function sends every call the usual way, through ``before``: the same trees.
    target = spawn(RECURSIVE)
    target.wait_stdout("ready", timeout=20)
    trees = []
    for companion in (None, "watch __main__ walk '{params}' -n 100000"):
        watcher = target.session() if companion else None
        if watcher is not None:
            watcher.async_exec(companion)
            watcher.pull_until(lambda r: r.get("type") == "watch", timeout=30)
        results = run_ok(target, "trace __main__ walk -n 3 --skipJDKMethod false")
        for trace in of_type(results, "trace"):
            method, children = method_children(trace)
            assert method["methodName"] == "walk"
            trees.append(sorted((c["methodName"], c["times"], c.get("children", [])) for c in children))
        if watcher is not None:
            watcher.api("interrupt_job")
            watcher.close()
    assert len(trees) == 6
    assert all(tree == [("len", 1, []), ("walk", 1, [])] for tree in trees), trees


def test_trace_path_nests_named_functions(spawn):
    target = start_target(spawn)
    results = run_ok(target, "trace __main__.Worker outer -p __main__.Worker.inner -n 2")
    for trace in of_type(results, "trace"):
        _method, children = method_children(trace)
        inner = next(c for c in children if c["methodName"] == "inner")
        (nested,) = inner["children"]
        assert nested["methodName"] == "inner" and nested["lineNumber"] == -1
        (helper,) = nested["children"]                                 # two calls on one line: merged
        assert helper["methodName"] == "helper" and helper["times"] == 2
        assert nested["cost"] <= inner["cost"]
    assert not is_enhanced(target, "__main__.Worker.inner")


def test_trace_errors(spawn):
    target = start_target(spawn)
    results = target.results("trace __main__.Worker nothing_like_this")
    assert status_of(results)["statusCode"] == -1
    assert of_type(results, "enhancer")[0]["success"] is False
    results = target.results("trace __main__.Worker step 'params[0] +'")
    assert status_of(results)["statusCode"] == -1 and "params[0] +" in status_of(results)["message"]
    results = target.results("trace __main__.Worker step 'params[99] > 0' -n 1")
    status = status_of(results)
    assert status["statusCode"] == 1 and "params[99]" in status["message"]
    assert not is_enhanced(target, "__main__.Worker.step")
    assert target.alive()


# Other tools in the same process: a Python profile function on one thread, cProfile on another (3.9-3.11:
# the traced code is rewritten, so neither is displaced and both threads are traced), and on 3.12+ three
# sys.monitoring tool ids taken by "another tool" counting CALL events in the same function. (The profile
# function fallback never displaces cProfile either: test_calltree_unit.)
COEXIST = TARGET.replace('print("ready", flush=True)', '''
import cProfile
EVENTS = {"profile": 0, "monitoring": 0}
PROFILE_KEPT = [True]

def counting_profile(frame, event, arg):
    EVENTS["profile"] += 1

def profiled_loop():
    sys.setprofile(counting_profile)
    worker = Worker()
    while True:
        worker.step(3)
        PROFILE_KEPT[0] = sys.getprofile() is counting_profile
        time.sleep(0.003)

def cprofiled_loop():
    profiler = cProfile.Profile()
    profiler.enable()
    worker = Worker()
    while True:
        worker.step(2)
        time.sleep(0.003)

if sys.version_info >= (3, 12):
    def count_call(code, offset, callee, arg0):
        EVENTS["monitoring"] += 1
    for tool in (4, 3, 1):
        sys.monitoring.use_tool_id(tool, "other-tool-%d" % tool)
        sys.monitoring.register_callback(tool, sys.monitoring.events.CALL, count_call)
        sys.monitoring.set_local_events(tool, Worker.step.__code__, sys.monitoring.events.CALL)
    threading.Thread(target=worker_loop, args=(Worker(),), name="plain", daemon=True).start()
else:
    threading.Thread(target=profiled_loop, name="profiled", daemon=True).start()
    threading.Thread(target=cprofiled_loop, name="cprofiled", daemon=True).start()
print("ready", flush=True)''')




def test_trace_coexists_with_other_profilers_and_monitoring_tools(spawn, target_python):
    target = spawn(COEXIST)
    target.wait_stdout("ready", timeout=20)
    modern = target.ognl("sys.version_info >= (3, 12)")
    counter = "monitoring" if modern else "profile"
    before = target.ognl('__main__.EVENTS["%s"]' % counter)
    results = run_ok(target, "trace __main__.Worker step -n 60")
    traces = of_type(results, "trace")
    threads = {trace["root"]["threadName"] for trace in traces}
    for trace in traces:
        _, children = method_children(trace)
        assert next(c["times"] for c in children if c["methodName"] == "helper") in (2, 3, 5)
    if modern:
        assert target.ognl("[sys.monitoring.get_tool(i) for i in (4, 3, 1)]") == [
            "other-tool-4", "other-tool-3", "other-tool-1"]
        # its events would not fire in a rewritten copy: the code keeps its own, and ours
        assert of_type(results, "enhancer")[0]["effect"]["traceModes"] == {
            "__main__.Worker#step": "sys.monitoring (another sys.monitoring tool watches this code)"}
    else:
        assert {"profiled", "cprofiled"} <= threads
        assert of_type(results, "enhancer")[0]["effect"]["traceModes"] == {"__main__.Worker#step": "bytecode"}
        assert target.ognl("__main__.PROFILE_KEPT[0]") is True
    after = target.ognl('__main__.EVENTS["%s"]' % counter)
    assert after > before                                     # the other tool kept getting its events
    assert not is_enhanced(target, "__main__.Worker.step")
    assert target.alive()


def test_two_traces_at_once_and_listener_id(spawn):
    target = spawn(TARGET)
    target.wait_stdout("ready", timeout=20)
    first, second = target.session(), target.session()
    job = first.async_exec("trace __main__.Worker step -n 40")["body"]["jobId"]
    pulled = first.pull_until(lambda r: r.get("type") == "enhancer")
    results = second.run_to_status("trace __main__.Worker step -n 5")
    assert len(of_type(results, "trace")) == 5
    if not any(r.get("type") == "status" for r in pulled):
        pulled += first.pull_until(lambda r: r.get("type") == "status" and r.get("jobId") == job, timeout=30)
    assert len(of_type(pulled, "trace")) == 40

    # --listenerId: a running trace on outer gets inner added; inner's calls then nest in outer's tree
    job = first.async_exec("trace __main__.Worker outer -n 1000")["body"]["jobId"]
    pulled = first.pull_until(lambda r: r.get("type") == "enhancer")
    listener_id = next(r for r in pulled if r.get("type") == "enhancer")["effect"]["listenerId"]
    added = second.run_to_status("trace __main__.Worker inner --listenerId %d" % listener_id)
    assert of_type(added, "enhancer")[0]["success"] and status_of(added)["statusCode"] == 0
    nested = []

    def has_nested(result):
        if result.get("type") != "trace":
            return False
        _, children = method_children(result)
        inner = [c for c in children if c["methodName"] == "inner"]
        if inner and inner[0].get("children"):
            nested.append(inner[0]["children"][0])
            return True
        return False

    first.pull_until(has_nested, timeout=30)
    assert nested[0]["methodName"] == "inner" and nested[0]["lineNumber"] == -1
    first.api("interrupt_job")
    first.pull_until(lambda r: r.get("type") == "status" and r.get("jobId") == job)
    assert not is_enhanced(target, "__main__.Worker.outer")
    assert not is_enhanced(target, "__main__.Worker.inner")


SUSPENDED = """
import asyncio, sys, threading, time
SEEN = []

async def slow():
    await asyncio.sleep(0.2)
    return 1

async def observer():
    while True:
        SEEN.append(sys.getprofile() is None)
        del SEEN[:-100]
        await asyncio.sleep(0.005)

async def main():
    asyncio.ensure_future(observer())
    while True:
        await slow()

threading.Thread(target=lambda: asyncio.run(main()), name="loop", daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
"""


def test_other_tasks_pay_nothing_while_a_traced_coroutine_waits(spawn):
    """3.9-3.11: the profile function is off while the traced coroutine is suspended, so the other tasks
    of its loop run untouched (3.12+ uses no profile function at all)."""
    target = spawn(SUSPENDED)
    target.wait_stdout("ready", timeout=20)
    results = run_ok(target, "trace __main__ slow -n 2")
    assert len(of_type(results, "trace")) == 2
    seen = target.ognl("__main__.SEEN[-60:]")      # the last ~0.3 s, mostly while traced
    assert len(seen) == 60 and all(seen), seen


def test_a_condition_that_calls_the_traced_function_is_not_traced_again(spawn):
    # the condition runs on the target's thread inside the re-entry guard: its own call of the traced
    # function is neither recorded nor reported (else each report would make another, without end)
    target = start_target(spawn)
    results = run_ok(target, "trace __main__.Worker inner '__main__.Worker().inner(0) >= 0' -n 3")
    traces = of_type(results, "trace")
    assert len(traces) == 3
    for trace in traces:
        method, children = method_children(trace)
        assert method["methodName"] == "inner"
        assert [(c["methodName"], c["times"]) for c in children] == [("helper", 2)]   # one line: merged
    assert status_of(results)["statusCode"] == 0
    assert not is_enhanced(target, "__main__.Worker.inner")
