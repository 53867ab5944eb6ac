"""watch over the real HTTP API, against real targets on every interpreter: the seed's watch verbatim, the
map form, every flag, the kinds of functions, threads, restoring, and the failure paths."""
import json
import time

import pytest

from harness import of_type, run_in_session, start_demo, status_of

SEED_WATCH = 'watch demo.MathGame primeFactors "{params, returnObj, throwExp}" '

# A target whose __main__ calls one function of each kind, about every 5 ms.
APP = """
import asyncio, json, threading

class Calc:
    def add(self, a, b):
        return a + b

    def fail(self, x):
        raise ValueError("bad %d" % x)

    @staticmethod
    def smul(a, b):
        return a * b

    @classmethod
    def cname(cls, x):
        return "%s-%d" % (cls.__name__, x)

    @property
    def answer(self):
        return 42

def numbers(n):
    for i in range(n):
        yield i
    return n

async def double(x):
    await asyncio.sleep(0)
    return x * 2

async def countdown(n):
    while n > 0:
        got = yield n
        n -= 1 if got is None else got

def free_add(a, b=1, *rest, scale=1, **extra):
    return (a + b + sum(rest)) * scale

async def main():
    calc = Calc()
    i = 0
    while True:
        i += 1
        calc.add(i, 1)
        try:
            calc.fail(i)
        except ValueError:
            pass
        Calc.smul(i, 2)
        Calc.cname(i)
        calc.answer
        list(numbers(3))
        await double(i)
        agen = countdown(3)
        seen = [await agen.__anext__(), await agen.asend(2)]
        async for value in agen:
            seen.append(value)
        assert seen == [3, 1], seen
        free_add(i, 2, 3, scale=2, tag="t")
        json.dumps({"i": i})
        if i == 1:
            print("ready", flush=True)
        await asyncio.sleep(0.005)

asyncio.run(main())
"""


@pytest.fixture
def fast_demo(target_python, tmp_path):
    """The demo, running primeFactors every 20 ms instead of every second."""
    target = start_demo(target_python, tmp_path, env={"PYARTHAS_DEMO_INTERVAL": "0.02"})
    target.wait_stdout(r"illegalArgumentCount|=")   # demo.MathGame is loaded and running
    yield target
    target.kill()


@pytest.fixture
def app(spawn):
    target = spawn(APP)
    target.wait_stdout("ready")
    return target








def test_seed_watch_verbatim_over_a_session(fast_demo):
    code_before = fast_demo.ognl("id(demo.MathGame.primeFactors.__code__)")
    function_before = fast_demo.ognl("id(demo.MathGame.primeFactors)")
    session = fast_demo.session()
    session.pull()  # the welcome
    scheduled = session.async_exec(SEED_WATCH)
    assert scheduled["body"]["jobStatus"] == "READY" and scheduled["body"]["command"] == SEED_WATCH
    job_id = scheduled["body"]["jobId"]

    def have_both(_):
        kinds = {r["value"][2] is None for r in of_type(pulled, "watch")}
        return kinds == {True, False}

    pulled = []
    deadline = time.monotonic() + 20
    while not have_both(None) and time.monotonic() < deadline:
        pulled.extend(session.pull())
    assert have_both(None), json.dumps(pulled)[:3000]

    assert pulled[0] == {"type": "command", "jobId": job_id, "state": "SCHEDULED", "command": SEED_WATCH}
    assert pulled[1] == {"type": "input_status", "jobId": 0, "inputStatus": "ALLOW_INTERRUPT"}
    enhancer = pulled[2]
    assert enhancer["type"] == "enhancer" and enhancer["jobId"] == job_id and enhancer["success"] is True
    effect = enhancer["effect"]
    assert effect["classCount"] == 1 and effect["methodCount"] == 1
    assert isinstance(effect["cost"], int) and isinstance(effect["listenerId"], int) and effect["listenerId"] > 0

    results = of_type(pulled, "watch")
    for result in results:
        assert result["jobId"] == job_id
        assert isinstance(result["ts"], int) and abs(result["ts"] / 1000 - time.time()) < 120
        assert isinstance(result["cost"], float) and result["cost"] >= 0
        assert result["expand"] == 1 and result["sizeLimit"] == 10485760
        assert result["className"] == "demo.MathGame" and result["methodName"] == "primeFactors"
        assert len(result["value"]) == 3
        params, returned, thrown = result["value"]
        assert isinstance(params, list) and len(params) == 1 and isinstance(params[0], int)
        if thrown is None:
            assert result["accessPoint"] == "AtExit"
            assert returned and all(isinstance(f, int) for f in returned)
            product = 1
            for factor in returned:
                product *= factor
            assert product == params[0]
        else:
            assert result["accessPoint"] == "AtExceptionExit"
            assert returned is None
            assert thrown["@type"] == "builtins.ValueError"
            assert "need >= 2" in thrown["message"] and thrown["localizedMessage"] == thrown["message"]
            assert thrown["message"] == "number is: %d, need >= 2" % params[0]
            frame = thrown["stackTrace"][0]
            assert frame["methodName"] == "primeFactors" and frame["className"] == "demo.MathGame"
            assert frame["fileName"] == "demo.py" and frame["nativeMethod"] is False
            assert isinstance(frame["lineNumber"], int) and frame["lineNumber"] > 0
            assert [f["methodName"] for f in thrown["stackTrace"][:2]] == ["primeFactors", "run"]

    interrupted = session.api("interrupt_job")
    assert interrupted["state"] == "SUCCEEDED" and interrupted["body"]["jobStatus"] == "TERMINATED"
    rest = session.pull_until(lambda r: r.get("type") == "input_status")
    assert status_of([r for r in rest if r.get("jobId") == job_id])["statusCode"] == 0
    assert fast_demo.ognl("id(demo.MathGame.primeFactors.__code__)") == code_before
    assert fast_demo.ognl("id(demo.MathGame.primeFactors)") == function_before
    assert fast_demo.ognl("demo.MathGame().primeFactors(360)") == [2, 2, 2, 3, 3, 5]


def test_map_form_with_exec_and_limit(fast_demo):
    reply = fast_demo.exec('watch demo.MathGame primeFactors '
                           '\'#{ "params" : params, "returnObj" : returnObj, "throwExp": throwExp}\' -n 3')
    assert reply["state"] == "SUCCEEDED" and reply["body"]["jobStatus"] == "TERMINATED", reply
    results = reply["body"]["results"]
    assert results[0]["type"] == "enhancer" and results[0]["success"] is True
    watched = of_type(results, "watch")
    assert len(watched) == 3
    for result in watched:
        assert set(result["value"]) == {"params", "returnObj", "throwExp"}
        assert isinstance(result["value"]["params"], list)
    # Arthas writes "Command execution times exceed limit" to the terminal only: exec's results leave it out
    assert not of_type(results, "message")
    assert status_of(results)["statusCode"] == 0
    assert results[-1]["type"] == "status"


def test_access_point_flags(app):
    both = app.results("watch __main__.Calc fail '{isBefore, isThrow, returnObj}' -b -e -n 4")
    points = [(r["accessPoint"], r["value"][0], r["value"][1]) for r in of_type(both, "watch")]
    assert points, both
    assert points == [("AtEnter", True, False), ("AtExceptionExit", False, True)] * 2

    success_only = app.results("watch __main__.Calc fail -s -n 1 --timeout 1")
    assert of_type(success_only, "watch") == [] and status_of(success_only)["statusCode"] == 0
    assert not of_type(success_only, "message")     # Arthas writes the timeout to the terminal only
    asked = app.results("watch __main__.Calc fail -s -n 1 --timeout 1", terminalMessages=True)
    assert any("timeout after 1 seconds" in r.get("message", "") for r in asked)

    default_finish = of_type(app.results("watch __main__.Calc add -n 2"), "watch")
    assert [r["accessPoint"] for r in default_finish] == ["AtExit", "AtExit"]
    params, target, returned = default_finish[0]["value"]
    assert returned == params[0] + params[1] and params[1] == 1
    assert target["@type"] == "__main__.Calc"

    finish_both = of_type(
        app.results("watch __main__.Calc fail -f -n 1 '{throwExp.message if False else str(throwExp)}'"), "watch")
    assert finish_both[0]["accessPoint"] == "AtExceptionExit" and finish_both[0]["value"][0].startswith("bad ")


def test_condition_cost_expand_and_size_limit(app):
    conditioned = of_type(
        app.results("watch __main__.Calc add 'params[0]' 'params[0] % 2 == 0 && #cost >= 0' -n 3"), "watch")
    assert len(conditioned) == 3 and all(r["value"] % 2 == 0 for r in conditioned)

    never = app.exec("watch __main__.Calc add params 'params[0] < 0' -n 1", execTimeout=1000)
    assert never["state"] == "INTERRUPTED" and never["body"]["timeExpired"] is True
    assert of_type(never["body"]["results"], "watch") == []

    shallow = of_type(app.results("watch __main__.Calc add target -n 1 -x 0"), "watch")[0]
    assert shallow["expand"] == 0 and set(shallow["value"]) == {"@type", "@value"}
    deep = of_type(app.results("watch __main__.Calc add '{target}' -n 1 -x 2"), "watch")[0]
    assert deep["expand"] == 2 and deep["value"][0]["@type"] == "__main__.Calc"

    limited = of_type(app.results("watch __main__.Calc add '\"x\" * 1000' -n 1 -M 100"), "watch")[0]
    assert limited["sizeLimit"] == 100 and "exceeds size limit: 100" in limited["value"]
    assert len(limited["value"]) < 300

    # as real Arthas 4.1.5 (tests/test_golden.py): not positive means the global object-size-limit
    zero = app.results("watch __main__.Calc add '\"x\" * 1000' -n 1 -M 0")
    assert status_of(zero)["statusCode"] == 0
    assert of_type(zero, "watch")[0]["value"] == "x" * 1000


def test_verbose_regex_max_match_and_exclude(app):
    # -v's condition results are terminal text in Arthas (process.write): only a client that asks gets them
    verbose = "watch __main__.Calc add params 'params[0] > 0' -v -n 1"
    asked = run_in_session(app, verbose, terminalMessages=True)
    assert any(r.get("message") == "Condition express: params[0] > 0 , result: True" for r in asked)
    assert not of_type(run_in_session(app, verbose), "message")
    assert not of_type(app.results(verbose), "message")

    regex = app.results("watch -E '__main__\\.Calc' 'add|smul' -n 4")
    assert regex[0]["effect"]["methodCount"] == 2
    assert {r["methodName"] for r in of_type(regex, "watch")} == {"add", "smul"}

    over = app.results("watch '*' '*' -m 1")
    assert over[0]["type"] == "enhancer" and over[0]["success"] is False
    assert "greater than the limit value 1" in over[0]["effect"]["overLimitMsg"]
    assert status_of(over)["statusCode"] == -1

    excluded = app.results("watch '__main__*' add --exclude-class-pattern '*Calc'")
    assert excluded[0]["success"] is False and status_of(excluded)["statusCode"] == -1


def test_function_kinds(app):
    def one(command):
        results = app.results(command + " -n 1")
        assert results[0]["type"] == "enhancer" and results[0]["success"], results
        return of_type(results, "watch")[0]

    static = one("watch __main__.Calc smul '{params, target, returnObj}'")
    assert static["value"][1] is None and static["value"][2] == static["value"][0][0] * 2
    klass = one("watch __main__.Calc cname '{params, target, returnObj, clazz.__name__}'")
    assert klass["value"][2] == "Calc-%d" % klass["value"][0][0] and klass["value"][3] == "Calc"
    assert klass["value"][1]["@type"] == "builtins.type"
    prop = one("watch __main__.Calc answer returnObj")
    assert prop["value"] == 42
    generator = one("watch __main__ numbers '{params, returnObj}'")
    assert generator["value"] == [[3], 3]
    coroutine = one("watch __main__ double '{params, returnObj}'")
    assert coroutine["value"][1] == coroutine["value"][0][0] * 2
    agen = one("watch __main__ countdown '{params, returnObj, throwExp}'")
    assert agen["value"] == [[3], None, None] and agen["accessPoint"] == "AtExit"
    keywords = one("watch __main__ free_add '{params, args, kwargs, returnObj}'")
    params, args, kwargs, returned = keywords["value"]
    assert params[1:] == [2, [3], 2, {"tag": "t"}] and args == [params[0], 2, 3]
    assert kwargs == {"scale": 2, "tag": "t"} and returned == (params[0] + 5) * 2
    # The target asserts its async generator saw asend() forwarded; it is still running.
    assert app.alive()


def test_many_threads(spawn):
    target = spawn("""
import threading, time
def square(x):
    return x * x
def worker(n):
    while True:
        for i in range(20):
            assert square(i) == i * i
        time.sleep(0.02)
for n in range(8):
    threading.Thread(target=worker, args=(n,), daemon=True).start()
print("ready", flush=True)
while True:
    time.sleep(1)
""")
    target.wait_stdout("ready")
    code_before = target.ognl("id(__main__.square.__code__)")
    first, second = target.session(), target.session()
    first.pull(), second.pull()
    first.async_exec("watch __main__ square '{params[0], returnObj}' -n 500")["body"]["jobId"]
    second_job = second.async_exec("watch __main__ square '{params[0], returnObj}' -n 100000")["body"]["jobId"]
    first_results, second_results = [], []
    deadline = time.monotonic() + 30
    while not any(r["type"] == "status" for r in first_results) and time.monotonic() < deadline:
        first_results.extend(first.pull(terminalMessages=True))
        second_results.extend(second.pull())
    watched = of_type(first_results, "watch")
    # The job emits exactly 500; a consumer keeps the newest ones when it falls behind (drop-oldest).
    assert 0 < len(watched) <= 500 and status_of(first_results)["statusCode"] == 0
    assert any("exceed limit: 500" in r.get("message", "") for r in first_results)
    assert all(r["value"][1] == r["value"][0] ** 2 for r in watched)
    assert of_type(second_results, "watch")
    # The other session keeps receiving after the first job ended and removed its listener.
    assert target.ognl("id(__main__.square.__code__)") != code_before
    later = second.pull_until(lambda r: r.get("type") == "watch", timeout=10)
    assert not any(r["type"] == "status" for r in later)
    assert second.api("interrupt_job")["state"] == "SUCCEEDED"
    second.pull_until(lambda r: r.get("type") == "status" and r.get("jobId") == second_job)
    assert target.alive()
    assert target.ognl("id(__main__.square.__code__)") == code_before


def test_two_sessions_each_get_every_result(app):
    sessions = [app.session(), app.session()]
    jobs = []
    for session in sessions:
        session.pull()
        jobs.append(session.async_exec("watch __main__.Calc add params[0] -n 30")["body"]["jobId"])
    for session, job_id in zip(sessions, jobs):
        results = session.pull_until(lambda r, job_id=job_id: r.get("type") == "status" and r.get("jobId") == job_id)
        values = [r["value"] for r in of_type(results, "watch")]
        assert len(values) == 30 and values == list(range(values[0], values[0] + 30))
        assert status_of(results)["statusCode"] == 0


def test_interrupt_and_reset_restore_identity_and_behaviour(app):
    identity = "[id(__main__.Calc.__dict__[\"add\"]), id(__main__.Calc.add.__code__), id(__main__.free_add.__code__)]"
    before = app.ognl(identity)
    session = app.session()
    session.pull()
    job_id = session.async_exec("watch __main__.Calc add")["body"]["jobId"]
    session.pull_until(lambda r: r.get("type") == "watch")
    assert app.ognl(identity) != before
    session.api("interrupt_job")
    session.pull_until(lambda r: r.get("type") == "status" and r.get("jobId") == job_id)
    assert app.ognl(identity) == before

    background = app.session()
    background.pull()
    background.async_exec("watch __main__.Calc add -n 1000000")
    background.pull_until(lambda r: r.get("type") == "watch")
    reset = app.results("reset __main__.Calc")
    assert reset[0]["type"] == "reset"
    assert reset[0]["affect"]["classCount"] == 1 and reset[0]["affect"]["methodCount"] == 1
    assert app.ognl(identity) == before
    assert app.ognl("__main__.Calc().add(2, 3)") == 5
    assert app.ognl("inspect.signature(__main__.free_add).__str__()") == "(a, b=1, *rest, scale=1, **extra)"
    nothing = app.results("reset")
    assert nothing[0]["affect"]["methodCount"] == 0


def test_watching_what_the_agent_uses_does_not_loop(app):
    session = app.session()
    session.pull()
    job_id = session.async_exec("watch json dumps '{params[0]}' -n 100000")["body"]["jobId"]
    started = time.monotonic()
    collected = []
    while time.monotonic() - started < 2:
        collected.extend(session.pull())
    watched = [r for r in of_type(collected, "watch") if r["jobId"] == job_id]
    # Only the target's own calls (about 200 a second at most); pulls serialize with json too.
    assert watched and all(set(r["value"][0]) == {"i"} for r in watched)
    assert len(watched) < 1000
    assert app.results("version")[0]["type"] == "version"
    session.api("interrupt_job")


def test_failing_expressions(app):
    syntax = app.results("watch __main__.Calc add '{params,'")
    status = status_of(syntax)
    assert status["statusCode"] == -1 and "express is: {params," in status["message"]
    assert not any(r["type"] == "enhancer" for r in syntax)

    raising = app.results("watch __main__.Calc add 'params[5]' -n 2")
    messages = [r["message"] for r in raising if r["type"] == "message"]
    assert any("express is: params[5], IndexError" in m for m in messages), raising
    assert status_of(raising)["statusCode"] == 0
    assert app.ognl("__main__.Calc().add(1, 1)") == 2


def test_nothing_matched(app):
    results = app.results("watch no.such.Class method")
    assert results[0] == {"type": "enhancer", "jobId": results[0]["jobId"], "success": False,
                          "message": "No class or method is affected",
                          "effect": results[0]["effect"]}
    assert results[0]["effect"]["classCount"] == 0 and results[0]["effect"]["methodCount"] == 0
    status = status_of(results)
    assert status["statusCode"] == -1 and status["message"].startswith("No class or method is affected, try:")
    builtin = app.results("watch builtins len")
    assert status_of(builtin)["statusCode"] == -1
    assert "cannot be enhanced: builtins.len" in status_of(builtin)["message"]
