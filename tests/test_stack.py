"""stack against the demo and the purpose-built target (coroutines), under every interpreter."""
from harness import is_enhanced, of_type, run_ok, start_target, status_of


def test_stack_of_prime_factors_starts_with_it_and_contains_run(fast_demo):
    demo = fast_demo
    results = run_ok(demo, "stack demo.MathGame primeFactors -n 3")
    stacks = of_type(results, "stack")
    assert len(stacks) == 3
    for stack in stacks:
        assert stack["threadName"] == "MainThread" and isinstance(stack["threadId"], str)
        assert stack["daemon"] is False and stack["cost"] == 0.0 and stack["ts"] > 0
        frames = stack["stackTrace"]
        assert (frames[0]["className"], frames[0]["methodName"]) == ("demo.MathGame", "primeFactors")
        assert (frames[1]["className"], frames[1]["methodName"]) == ("demo.MathGame", "run")
        assert frames[1]["fileName"] == "demo.py" and frames[1]["lineNumber"] > 0
        assert any(f["methodName"] == "main" for f in frames)
        assert not any(f["methodName"] in ("enter", "returned", "thrown") for f in frames)
    assert not is_enhanced(demo, "demo.MathGame.primeFactors")


def test_stack_condition_and_coroutine_tasks(spawn):
    target = start_target(spawn)
    results = run_ok(target, "stack __main__.Worker risky 'params[0] % 4 == 0' -n 2")
    for stack in of_type(results, "stack"):
        assert stack["threadName"].startswith("worker-")
        names = [f["methodName"] for f in stack["stackTrace"]]
        assert names[:2] == ["risky", "worker_loop"]
    results = run_ok(target, "stack __main__ child -n 1")
    (stack,) = of_type(results, "stack")
    names = [f["methodName"] for f in stack["stackTrace"]]
    assert names[:2] == ["child", "handle"]
    tasks = stack["awaitingTasks"]                      # handle's task, then serve's (through gather)
    assert len(tasks) == 2 and all(task["taskName"] for task in tasks)
    assert "serve" in [f["methodName"] for f in tasks[1]["stackTrace"]]


def test_stack_bad_condition_ends_the_job(spawn):
    target = start_target(spawn)
    results = target.results("stack __main__.Worker risky 'nope_name + 1' -n 1")
    status = status_of(results)
    assert status["statusCode"] != 0 and "nope_name" in status["message"]
    assert not is_enhanced(target, "__main__.Worker.risky")
