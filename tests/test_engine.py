"""The enhancement engine inside real targets: what enhanced functions keep (signature, identity, kind,
pickling, super(), closures, source), calls running while hooks go away, and redefine support.
Checks run in the target with ``eval`` while a watch holds the functions enhanced."""
import pytest

TARGET = """
import asyncio, functools, inspect, pickle, threading, time

class Base:
    def greet(self):
        return "base"

class Child(Base):
    def greet(self):
        return "child+" + super().greet()

def kw(a, b=2, /, c=3, *rest, d, e=5, **extra) -> int:
    "documented"
    return a + b + c + d + e + sum(rest) + sum(extra.values())

def make_counter():
    count = 0
    def counter(step=1):
        nonlocal count
        count += step
        return count
    return counter

counter = make_counter()

def original(x):
    return x * 3

@functools.wraps(original)
def decorated(x):
    return original(x) + 1

def numbers(n):
    total = yield "start"
    for i in range(n):
        total = (yield i) or total
    return total

async def coro(x):
    return x

async def agen():
    yield 1

release = threading.Event()
entered = threading.Event()
go = threading.Event()
done = []

def slow(x):
    entered.set()
    release.wait(60)
    return x + 1

def caller():
    go.wait(60)
    done.append(slow(41))

threading.Thread(target=caller, daemon=True).start()

def redefinable(x):
    return x + 1

def loop():
    while True:
        Child().greet(); kw(1, d=4); counter(); decorated(1); list(numbers(2)); redefinable(1)
        asyncio.run(coro(1))
        time.sleep(0.005)

print("ready", flush=True)
loop()
"""

CHECKS = [
    'inspect.signature(__main__.kw).__str__() == "(a, b=2, /, c=3, *rest, d, e=5, **extra) -> int"',
    '__main__.kw.__doc__ == "documented" and __main__.kw.__name__ == "kw"',
    "__main__.kw(1, d=4, f=1) == 16",
    "pickle.loads(pickle.dumps(__main__.kw)) is __main__.kw",
    '__main__.Child().greet() == "child+base"',
    "inspect.iscoroutinefunction(__main__.coro) and inspect.isasyncgenfunction(__main__.agen)",
    "inspect.isgeneratorfunction(__main__.numbers) and not inspect.isgeneratorfunction(__main__.kw)",
    '__main__.decorated.__wrapped__ is __main__.original and str(inspect.signature(__main__.decorated)) == "(x)"',
    'inspect.getsource(__main__.kw).startswith("def kw(")',
    '__main__.kw.__code__.co_freevars == () and __main__.counter.__code__.co_freevars == ("count",)',
    "__main__.counter(0) == __main__.counter(0)",
    "[g := __main__.numbers(3), next(g), g.send(None), g.send(10)][-1] == 1",
]
IDENTITY = "[id(__main__.kw), id(__main__.kw.__code__), id(__main__.Child.greet.__code__)]"




@pytest.fixture
def target(spawn):
    started = spawn(TARGET)
    started.wait_stdout("ready")
    return started


def test_enhanced_functions_keep_what_callers_rely_on(target):
    before = [target.ognl(check) for check in CHECKS]
    assert before == [True] * len(CHECKS)
    identity = target.ognl(IDENTITY)
    wrong_call = target.results("eval '__main__.kw()'")[-1]["message"]
    session = target.session()
    session.pull()
    session.async_exec("watch '__main__*' * '{params, returnObj}' -n 1000000 &")
    enhancer = session.pull_until(lambda r: r.get("type") == "enhancer")
    assert next(r for r in enhancer if r["type"] == "enhancer")["effect"]["methodCount"] >= 10
    session.pull_until(lambda r: r.get("type") == "watch" and r.get("methodName") == "greet")
    enhanced = target.ognl(IDENTITY)
    assert enhanced[0] == identity[0] and enhanced[1:] != identity[1:]
    assert dict(zip(CHECKS, (target.ognl(check) for check in CHECKS))) == dict(zip(CHECKS, before))
    assert target.results("eval '__main__.kw()'")[-1]["message"] == wrong_call
    reset = target.results("reset")
    assert reset[0]["affect"]["methodCount"] >= 10
    assert target.ognl(IDENTITY) == identity
    assert [target.ognl(check) for check in CHECKS] == before


def test_a_running_call_finishes_normally_when_hooks_are_removed(target):
    session = target.session()
    session.pull()
    job_id = session.async_exec("watch __main__ slow '{params, returnObj}'")["body"]["jobId"]
    session.pull_until(lambda r: r.get("type") == "enhancer")
    target.ognl("__main__.go.set()")
    assert _poll(target, "__main__.entered.is_set()")
    session.api("interrupt_job")
    session.pull_until(lambda r: r.get("type") == "status" and r.get("jobId") == job_id)
    target.ognl("__main__.release.set()")
    assert _poll(target, "__main__.done == [42]")
    assert target.ognl("__main__.slow(1)") == 2


def test_redefine_keeps_a_watched_function_watched(target):
    """The contract ``redefine`` relies on: replace_original_code on an enhanced function."""
    session = target.session()
    session.pull()
    session.async_exec("watch __main__ redefinable returnObj -n 1000000")
    session.pull_until(lambda r: r.get("type") == "watch")
    agent = "sys.modules[\"pyarthas.agent\"].current()"
    new_code = "compile(\"def redefinable(x):\\n    return x + 100\\n\", \"n\", \"exec\").co_consts[0]"
    assert target.ognl("%s.engine.replace_original_code(__main__.redefinable, %s)" % (agent, new_code)) is None
    assert target.ognl("__main__.redefinable(1)") == 101
    session.pull_until(lambda r: r.get("type") == "watch" and r.get("value") == 101)
    target.results("reset")
    assert target.ognl("__main__.redefinable(1)") == 101
    assert target.ognl("%s.engine.original_code(__main__.redefinable) is __main__.redefinable.__code__" % agent)


def _poll(target, expression, timeout=10.0):
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if target.ognl(expression) is True:
            return True
        time.sleep(0.05)
    return False
