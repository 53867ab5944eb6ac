"""trace times the traced function's direct children in a rewritten copy of its own code
(engine/calltree/rewrite.py), on every CPython here: no profile function, no events, nothing below the
children, tracebacks and the restored function unchanged; generators keep the events (a profile function
before 3.12, sys.monitoring after). The rewriter is also run over the standard library's functions."""
import json
import subprocess
import time

from harness import is_enhanced, of_type, run_ok, target_env

PROBE = r"""
import json, sys, traceback
from pyarthas.agent.engine import trace_tree, weaver
from pyarthas.agent.engine.calltree import TIMER


def leaf(x):
    return x


def deep(n):
    total = 0
    for i in range(n):
        total += leaf(i)
    return total


def shallow(n):
    return n


def traced(child, n):
    profile = sys.getprofile()
    total = child(n)
    total += child(0)
    return total, profile


class Base:
    def value(self, x, scale=1):
        return x * scale


class Derived(Base):
    def value(self, x, scale=1):
        offset = 1
        def add(y):
            return y + offset
        return add(super().value(x, scale=scale))


def fail():
    raise ValueError("caught")


def raising(n):
    leaf(n)
    try:
        fail()
    except ValueError:
        pass
    if n:
        [leaf(i) for i in range(n)][0] / 0
    return n


def call(function, *args):
    try:
        return function(*args), None
    except ZeroDivisionError as error:
        return None, "".join(traceback.format_exception(type(error), error, error.__traceback__))


def run(function, *args):
    code = function.__code__
    clone = weaver.clone_function(function, code)
    plain = call(clone, *args)
    mode = TIMER.watch(code, clone)
    rewritten = clone.__code__ is not code
    rec = TIMER.begin(code, "owner")
    value, error = call(clone, *args)
    TIMER.finish(rec, error is not None)
    events = len(rec.buffer) if rec.buffer is not None else None
    node = trace_tree.build_method_node(rec, "probe", function.__name__, False, None, [1])
    TIMER.unwatch(code, clone)
    return {"mode": mode, "rewritten": rewritten, "value": value, "error": error, "plain": plain,
            "events": events, "restored": clone.__code__ is code,
            "children": [(c["methodName"], c["times"], c["lineNumber"], c.get("throw", False))
                         for c in node.get("children", ())]}


deep_run = run(traced, deep, 1000)
shallow_run = run(traced, shallow, 1000)
print(json.dumps({"deep": deep_run, "shallow": shallow_run,
                  "super": run(Derived.value, Derived(), 20), "raising": run(raising, 3),
                  "lines": [traced.__code__.co_firstlineno, raising.__code__.co_firstlineno]}))
"""


def test_rewritten_trace_times_only_direct_children_without_a_profile_function(target_python):
    out = subprocess.run([target_python, "-c", PROBE], capture_output=True, text=True, env=target_env(),
                         timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    deep, shallow = report["deep"], report["shallow"]
    traced_line, raising_line = report["lines"]
    for run in (deep, shallow, report["super"], report["raising"]):
        assert run["mode"] == "bytecode" and run["rewritten"] and run["restored"]
    assert deep["value"][1] is None                  # no profile function during the traced call
    # a child making 1,000 nested calls leaves exactly what a child making none leaves
    assert deep["events"] == shallow["events"] == 6  # (site, callee, start), end: per child, 2 + 2 + getprofile
    for run, child in ((deep, "deep"), (shallow, "shallow")):
        assert run["value"] == run["plain"][0]
        assert [c[:3] for c in run["children"]] == [
            ["getprofile", 1, traced_line + 1], [child, 1, traced_line + 2], [child, 1, traced_line + 3]]
    sup = report["super"]
    assert sup["value"] == sup["plain"][0] == 21
    assert [c[0] for c in sup["children"]] == ["__init__", "value", "add"]   # super(), its method, a closure
    raised = report["raising"]
    assert raised["error"] == raised["plain"][1] and "ZeroDivisionError" in raised["error"]  # same traceback
    assert raised["children"][:2] == [["leaf", 1, raising_line + 1, False], ["fail", 1, raising_line + 3, True]]


# Every function of these standard modules swapped for its rewritten copy, each call timed, then the same
# work run with the copies and with the originals: the copies must behave exactly like them.
CORPUS = r"""
import collections, importlib, json, types
from pyarthas.agent.engine.calltree import rewrite

MODULES = ["json.encoder", "json.decoder", "json.scanner", "textwrap", "difflib", "string", "ast", "inspect",
           "re._parser", "re._compiler", "sre_parse", "sre_compile", "email.feedparser", "email.message",
           "email._header_value_parser", "email.utils", "tokenize", "shlex", "fractions", "decimal", "_pydecimal",
           "csv", "configparser", "pprint", "reprlib", "argparse", "dataclasses", "enum", "functools",
           "collections", "calendar", "ipaddress", "urllib.parse", "html.parser", "posixpath", "fnmatch",
           "base64", "quopri", "gettext", "locale", "typing", "copy", "heapq", "bisect", "statistics", "random"]

class Stamping(dict):
    '''Every call of a rewritten function is timed (as if a trace had begun its recording).'''
    def pop(self, key, default=None):
        return STAMPS.append

STAMPS = collections.deque(maxlen=100000)
waiting = Stamping()
swapped, refused = [], collections.Counter()

def functions_of(module):
    for value in list(vars(module).values()):
        if isinstance(value, types.FunctionType) and value.__module__ == module.__name__:
            yield value
        elif isinstance(value, type) and value.__module__ == module.__name__:
            for attr in list(vars(value).values()):
                attr = getattr(attr, "__func__", attr)
                if isinstance(attr, types.FunctionType):
                    yield attr

for name in MODULES:
    try:
        module = importlib.import_module(name)
    except ImportError:
        continue
    for function in functions_of(module):
        code = function.__code__
        try:
            copy = rewrite.instrument(code, waiting)
        except rewrite.Unsupported as why:
            refused[str(why).split(" (")[0]] += 1
            continue
        swapped.append((function, code))
        function.__code__ = copy

def workload():
    import json, textwrap, difflib, ast, inspect, re, email, shlex, fractions, decimal, csv, io, pprint
    import argparse, dataclasses, enum, calendar, ipaddress, urllib.parse, html.parser, statistics, random
    out = []
    data = {"a": [1, 2.5, None, True, "x\u00e9"], "b": {"c": list(range(20))}}
    out.append(json.loads(json.dumps(data, indent=2, sort_keys=True)))
    out.append(textwrap.fill("lorem ipsum dolor sit amet " * 20, width=37))
    out.append(list(difflib.unified_diff(["a\n", "b\n", "c\n"], ["a\n", "c\n", "d\n"])))
    src = "def f(x, *a, k=1, **kw):\n    return [y async for y in x] if x else {k: v for k, v in kw.items()}\n"
    out.append(ast.dump(ast.parse(src)))
    out.append(ast.unparse(ast.parse(src)) if hasattr(ast, "unparse") else "")
    out.append(str(inspect.signature(textwrap.fill)))
    out.append(re.compile(r"(?P<x>a+)(b|c)*?\d{2,5}[^xyz]\1").pattern)
    msg = email.message_from_string("From: A <a@b.c>\nSubject: =?utf-8?q?h=C3=A9?=\n\nbody\n")
    out.append((msg["From"], str(msg["Subject"]), msg.get_payload()))
    out.append(shlex.split("a 'b c' \"d e\" f\\ g"))
    out.append(str(sum(fractions.Fraction(1, n) for n in range(1, 30))))
    out.append(str(decimal.Decimal("1.1") ** 20))
    buffer = io.StringIO(); csv.writer(buffer).writerows([[1, "a,b", None]] * 3)
    out.append(list(csv.reader(io.StringIO(buffer.getvalue()))))
    out.append(pprint.pformat(data, width=20))
    parser = argparse.ArgumentParser(prog="p"); parser.add_argument("--n", type=int, default=3)
    parser.add_argument("rest", nargs="*")
    out.append(vars(parser.parse_args(["--n", "5", "x", "y"])))
    try:
        parser.parse_args(["--n", "nope"])
    except SystemExit as exit:
        out.append(("exit", exit.code))
    @dataclasses.dataclass(order=True)
    class Point:
        x: int
        y: int = 0
    out.append(repr(sorted([Point(2, 1), Point(1, 5)])))
    class Color(enum.Enum):
        RED = 1
        BLUE = 2
    out.append([c.name for c in Color])
    out.append(calendar.month(2024, 2))
    out.append(str(list(ipaddress.ip_network("10.0.0.0/29").hosts())))
    out.append(urllib.parse.urlsplit("http://u:p@h:1/p?q=1#f")._asdict())
    out.append(urllib.parse.parse_qs("a=1&b=2&a=3"))
    class P(html.parser.HTMLParser):
        tags = []
        def handle_starttag(self, tag, attrs):
            self.tags.append((tag, attrs))
    p = P(); p.feed("<a href='x'><b>t</b></a><img src=y>"); out.append(P.tags)
    out.append(statistics.median([5, 1, 4, 2]))
    r = random.Random(5); out.append([r.randint(0, 100) for _ in range(5)])
    for bad in ("{", "[1,]", '{"a" 1}'):
        try:
            json.loads(bad)
        except json.JSONDecodeError as error:
            out.append((error.msg, error.pos))
    for bad in ("1.2.3.4.5", "10.0.0.0/33", "::g"):
        try:
            ipaddress.ip_network(bad)
        except ValueError as error:
            out.append(str(error))
    import configparser, tokenize, copy, typing, fnmatch, posixpath, heapq, base64, quopri
    config = configparser.ConfigParser()
    config.read_string("[DEFAULT]\nbase = 1\n[a]\nx = %(base)s2\n[b]\nz: 3\n")
    out.append({s: dict(config[s]) for s in config.sections()})
    try:
        config.read_string("[a]\n[a]\n")
    except configparser.Error as error:
        out.append(type(error).__name__)
    out.append([t.string for t in tokenize.generate_tokens(io.StringIO(src).readline)])
    out.append(copy.deepcopy(data))
    out.append(str(typing.get_type_hints(Point)))
    out.append((fnmatch.translate("a*[bc]?.py"), posixpath.normpath("/a/./b/../c//d")))
    out.append(heapq.nlargest(3, [5, 1, 8, 3, 9, 2]))
    out.append((base64.b64encode(b"pyarthas").decode(), quopri.encodestring(b"caf\xc3\xa9 =").decode()))
    with decimal.localcontext() as context:
        context.prec = 5
        out.append(str(decimal.Decimal(1) / decimal.Decimal(7)))
    try:
        decimal.Decimal("not a number") + 1
    except decimal.InvalidOperation as error:
        out.append(type(error).__name__)
    return json.loads(json.dumps(out, default=repr))

with_copies = workload()
stamps = len(STAMPS)
for function, code in swapped:
    function.__code__ = code
originals = workload()
print(json.dumps({"same": with_copies == originals, "rewritten": len(swapped), "refused": refused,
                  "stamps": stamps, "diff": [(a, b) for a, b in zip(with_copies, originals) if a != b][:3]}))
"""


def test_rewritten_copies_of_the_standard_library_behave_as_the_originals(target_python):
    out = subprocess.run([target_python, "-X", "faulthandler", "-c", CORPUS], capture_output=True, text=True,
                         env=target_env(), timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["same"], report["diff"]
    assert report["rewritten"] > 1500 and report["stamps"] > 20000, report
    assert set(report["refused"]) <= {"already rewritten",   # reached twice (an alias)
                                      "generators and coroutines suspend, which only events show"}, report


TARGET = r"""
import sys, threading, time

PROFILES = []


def leaf(x):
    return x


def child(n):
    PROFILES.append(sys.getprofile())
    del PROFILES[:-50]
    total = 0
    for i in range(n):
        total += leaf(i)
    return total


def handler(n):
    return child(n) + child(0) + len(str(n))


def stream(n):
    for i in range(n):
        yield leaf(i)


ORIGINAL = handler.__code__
ORIGINAL_BYTES = (ORIGINAL.co_code, ORIGINAL.co_consts, ORIGINAL.co_varnames, ORIGINAL.co_stacksize)


def loop():
    while True:
        handler(200)
        sum(stream(3))
        time.sleep(0.002)


threading.Thread(target=loop, name="requests", daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
"""


def test_trace_says_how_each_function_is_timed_and_restores_the_original(spawn):
    target = spawn(TARGET)
    target.wait_stdout("ready", timeout=20)
    events = "sys.monitoring" if target.ognl("sys.version_info >= (3, 12)") else "sys.setprofile"
    results = run_ok(target, "trace -E __main__ 'handler|stream' -n 6")
    modes = of_type(results, "enhancer")[0]["effect"]["traceModes"]
    assert modes["__main__#handler"] == "bytecode"
    assert modes["__main__#stream"].startswith(events + " (generators")
    assert target.ognl("all(p is None for p in __main__.PROFILES[-20:])") is True
    traces = of_type(results, "trace")
    by_method = {}
    for trace in traces:
        (method,) = trace["root"]["children"]
        by_method.setdefault(method["methodName"], []).append(method)
    for method in by_method["handler"]:
        children = {c["methodName"]: c for c in method["children"]}
        assert children["child"]["times"] == 2 and "leaf" not in children   # grandchildren never appear
        assert "str" not in children and "len" not in children                # builtins skipped by default
    for method in by_method.get("stream", []):
        assert {c["methodName"] for c in method["children"] if c["type"] == "method"} <= {"leaf"}
    assert not is_enhanced(target, "__main__.handler")
    restored = ("__main__.handler.__code__ is __main__.ORIGINAL and (__main__.ORIGINAL.co_code, "
                "__main__.ORIGINAL.co_consts, __main__.ORIGINAL.co_varnames, __main__.ORIGINAL.co_stacksize) "
                "== __main__.ORIGINAL_BYTES")
    assert target.ognl(restored) is True
    # and by ``reset`` while a trace runs
    session = target.session()
    session.async_exec("trace __main__ handler -n 100000")
    session.pull_until(lambda r: r.get("type") == "trace")
    assert target.ognl("__main__.handler.__code__ is not __main__.ORIGINAL") is True
    assert of_type(target.results("reset __main__"), "reset")[0]["affect"]["methodCount"] == 1
    assert target.ognl(restored) is True
    session.pull_until(lambda r: r.get("type") == "status")


SCRIPT_CHILDREN = r"""
import threading, time


class Store:
    def __init__(self):
        self.items = {}

    def __call__(self, key):
        return self.items.get(key)


def lookup(key):
    return key


def handle(key):
    store = Store()
    return lookup(key), store(key)


def loop():
    while True:
        handle(1)
        time.sleep(0.002)


threading.Thread(target=loop, name="requests", daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
"""


def agent_thread_names(target):
    (model,) = of_type(target.results("thread --all"), "thread")
    return {vo["name"] for vo in model["threadStats"] if vo["agentThread"]}


def test_a_trace_reports_through_a_thread_that_ends_with_the_job(spawn):
    # Without a condition to evaluate on the traced thread, calls to report are handed to a drain whose
    # thread makes the results (3.9-3.11: the wrapper of a function a trace observes alone times it itself
    # and hands the call over with one append); the trees are the same, and the drain's thread goes with
    # the job
    target = spawn(TARGET)
    target.wait_stdout("ready", timeout=20)
    session = target.session()
    session.async_exec("trace __main__ handler -n 100000")
    traces = of_type(session.pull_until(lambda r: r.get("type") == "trace", timeout=30), "trace")
    assert "pyarthas-trace-reports" in agent_thread_names(target)
    assert is_enhanced(target, "__main__.handler")   # its wrapper is told as the engine's (stacks hide it)
    for trace in traces:
        (method,) = trace["root"]["children"]
        children = {c["methodName"]: c for c in method["children"]}
        assert set(children) == {"child"} and children["child"]["times"] == 2
        assert trace["root"]["threadName"] == "requests"
    session.api("interrupt_job")
    deadline = time.monotonic() + 20
    while "pyarthas-trace-reports" in agent_thread_names(target):
        assert time.monotonic() < deadline, "the drain's thread outlived its job"
    assert target.ognl("__main__.handler.__code__ is __main__.ORIGINAL") is True


def test_skip_builtins_never_hides_the_users_own_children(spawn):
    """A ``__main__`` script's functions, classes and callable objects are the user's, not the standard
    library's: ``--skip-builtins`` (on by default) shows them."""
    target = spawn(SCRIPT_CHILDREN)
    target.wait_stdout("ready", timeout=20)
    results = run_ok(target, "trace __main__ handle -n 2")
    for trace in of_type(results, "trace"):
        (method,) = trace["root"]["children"]
        shown = {(c["className"], c["methodName"]) for c in method["children"]}
        assert ("__main__", "lookup") in shown
        assert ("__main__.Store", "__init__") in shown and ("__main__.Store", "__call__") in shown


AWAITING = r"""
import asyncio, threading


async def handler():
    await asyncio.sleep(0.02)
    return len("x")


async def serve():
    while True:
        await handler()


threading.Thread(target=lambda: asyncio.run(serve()), name="loop", daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
"""


def test_an_awaited_standard_library_call_is_its_own_node(spawn):
    """The time a coroutine spends awaiting is explained by the awaited call, even one of the standard
    library that ``--skip-builtins`` (the default) would otherwise hide."""
    target = spawn(AWAITING)
    target.wait_stdout("ready", timeout=20)
    results = run_ok(target, "trace __main__ handler -n 2")
    for trace in of_type(results, "trace"):
        (method,) = trace["root"]["children"]
        children = {c.get("methodName"): c for c in method["children"]}
        sleep = children["sleep"]
        assert sleep["className"] == "asyncio.tasks" and sleep["suspensions"] >= 1
        assert sleep["totalCost"] >= 15e6 and sleep["totalCost"] >= 0.8 * method["cost"]
        assert "len" not in children


MIXED = r"""
import threading, time


def leaf(x):
    return x


def plain(n):
    return leaf(n) + sum(numbers(n))


def numbers(n):
    for i in range(n):
        yield leaf(i) + plain_inner(i)


def plain_inner(i):
    return leaf(i)


def loop():
    while True:
        plain(3)
        time.sleep(0.002)


threading.Thread(target=loop, name="requests", daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
"""


def test_rewritten_and_profiled_functions_nest_in_one_trace(spawn):
    """``-p``: a rewritten function running a generator (profile function) that calls a rewritten function;
    each sub-tree hangs under the call it runs in."""
    target = spawn(MIXED)
    target.wait_stdout("ready", timeout=20)
    results = run_ok(target, "trace __main__ plain -p __main__.numbers -p __main__.plain_inner -n 3")
    for trace in of_type(results, "trace"):
        (method,) = trace["root"]["children"]
        children = {c["methodName"]: c for c in method["children"]}
        assert children["leaf"]["times"] == 1
        assert "children" not in children["numbers"]               # the call only makes the generator
        (generator,) = children["sum"]["children"]                 # which runs inside sum()
        assert generator["methodName"] == "numbers" and generator["lineNumber"] == -1
        inner = {c.get("methodName"): c for c in generator["children"]}
        assert inner["leaf"]["times"] == 3 and inner["plain_inner"]["times"] == 3
        (nested,) = inner["plain_inner"]["children"]
        assert nested["methodName"] == "plain_inner" and nested["times"] == 3
        assert nested["children"][0]["methodName"] == "leaf" and nested["children"][0]["times"] == 3
