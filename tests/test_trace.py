"""trace against the demo and a purpose-built target, in real processes under every interpreter.

Also holds what the tests of stack, monitor and tt share: the purpose-built target and small helpers.
"""
import pytest

from harness import start_demo

# A target with known shapes: Worker.step makes 5 helper calls from one line (merged), one len/str, one
# call that raises and is caught; Worker.risky raises on every 4th call; handle() awaits a child coroutine
# and a bare future; ticker() calls tick() on a fixed 10 ms grid (100 calls/s, every 4th fails).
TARGET = """
import asyncio, sys, threading, time

class Worker:
    def step(self, n):
        total = 0
        for i in range(n):
            total += helper(i)
        total += len(str(total))
        try:
            fail(n)
        except ValueError:
            total -= 1
        return total

    def risky(self, n):
        helper(n)
        if n % 4 == 0:
            raise ValueError("bad %d" % n)
        return n

    def outer(self):
        return self.inner(3) + helper(1)

    def inner(self, n):
        return helper(n) + helper(n + 1)

def helper(x):
    return x * 2

def fail(n):
    raise ValueError("no %d" % n)

TICKS = 0

def tick(n):
    global TICKS
    TICKS += 1
    if n % 4 == 0:
        raise KeyError(n)
    return n

def ticker():
    start = time.monotonic()
    n = 0
    while True:
        n += 1
        try:
            tick(n)
        except KeyError:
            pass
        delay = start + n * 0.01 - time.monotonic()
        if delay > 0:
            time.sleep(delay)

async def child(delay):
    await asyncio.sleep(delay)
    return delay

async def handle(delay):
    helper(1)
    await child(delay)
    future = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_later(delay, future.set_result, 1)
    await future
    return helper(2)

async def serve():
    while True:
        await asyncio.gather(handle(0.02), asyncio.sleep(0.005))

def worker_loop(worker):
    n = 0
    while True:
        worker.step(5)
        try:
            worker.risky(n)
        except ValueError:
            pass
        worker.outer()
        n += 1
        time.sleep(0.003)

threading.Thread(target=lambda: asyncio.run(serve()), name="async-loop", daemon=True).start()
threading.Thread(target=ticker, name="ticker", daemon=True).start()
for index in range(4):
    threading.Thread(target=worker_loop, args=(Worker(),), name="worker-%d" % index, daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
"""


def start_target(spawn):
    target = spawn(TARGET)
    target.wait_stdout("ready", timeout=20)
    return target


def fast_demo(target_python, tmp_path):
    """The demo running every 20 ms, once its module is loaded."""
    target = start_demo(target_python, tmp_path, env={"PYARTHAS_DEMO_INTERVAL": "0.02"})
    target.wait_stdout(r"=|illegalArgumentCount", timeout=20)
    return target


def of_type(results, kind):
    return [r for r in results if r.get("type") == kind]


def status_of(results):
    statuses = of_type(results, "status")
    assert len(statuses) == 1, results
    return statuses[0]


def run_ok(target, command, timeout_ms=20000):
    """exec ``command``; assert it enhanced and ended with status 0; return its results."""
    results = target.results(command, execTimeout=timeout_ms)
    enhancer = of_type(results, "enhancer")
    assert enhancer and enhancer[0]["success"], results
    assert status_of(results)["statusCode"] == 0, results
    return results


def is_enhanced(target, dotted):
    """Whether the function's code is an engine wrapper (false once every job on it ended)."""
    results = target.results("ognl 'any(type(c).__name__ == \"Enhancement\" for c in %s.__code__.co_consts)'"
                             % dotted)
    values = of_type(results, "ognl")
    assert values, results
    return values[0]["value"]


def method_children(trace):
    root = trace["root"]
    assert root["type"] == "thread"
    (method,) = root["children"]
    assert method["type"] == "method" and method["lineNumber"] == -1 and method["invoking"] is False
    return method, method.get("children", [])


def count_nodes(node):
    return 1 + sum(count_nodes(child) for child in node.get("children", ()))


def test_trace_demo_run_shows_children_within_parent(target_python, tmp_path):
    demo = fast_demo(target_python, tmp_path)
    try:
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
    finally:
        demo.kill()


def test_trace_merges_repeats_and_marks_exceptions(spawn):
    target = start_target(spawn)
    results = run_ok(target, "trace __main__.Worker step -n 3 --skip-builtins false")
    for trace in of_type(results, "trace"):
        method, children = method_children(trace)
        by_name = {child["methodName"]: child for child in children}
        assert by_name["helper"]["times"] == 5                        # one call site, merged
        assert by_name["helper"]["minCost"] <= by_name["helper"]["maxCost"]
        assert by_name["fail"]["throw"] is True and by_name["fail"]["mark"] == "throws Exception"
        assert by_name["len"]["className"] == "builtins" and by_name["len"]["times"] == 1
        assert "throw" not in method
        # --skip-builtins true (the default) hides builtins
    results = run_ok(target, "trace __main__.Worker step -n 1")
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
        assert [c for c in children if c["methodName"] == "helper"][0]["times"] == 5
    results = run_ok(target, "trace __main__.Worker step '#cost < 0' -n 1 --timeout 1")
    assert not of_type(results, "trace")
    assert not is_enhanced(target, "__main__.Worker.step")


def test_trace_path_nests_named_functions(spawn):
    target = start_target(spawn)
    results = run_ok(target, "trace __main__.Worker outer -p __main__.Worker.inner -n 2")
    for trace in of_type(results, "trace"):
        method, children = method_children(trace)
        inner = [c for c in children if c["methodName"] == "inner"][0]
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
