"""Text views: Arthas's text for each result type, the object view, tables, colours, the fallback."""
import io
import time

from pyarthas.agent.view import Context, registered, render
from pyarthas.agent.view.objects import object_view
from pyarthas.agent.view.text import Style, colour_wanted, strip_ansi, table

PLAIN = Context(color=False, width=80)
EXCEPTION = {"@type": "builtins.ValueError", "message": "number is: -5, need >= 2",
             "localizedMessage": "number is: -5, need >= 2",
             "stackTrace": [{"className": "demo.MathGame", "methodName": "primeFactors", "fileName": "demo.py",
                             "lineNumber": 37, "nativeMethod": False},
                            {"className": "demo.MathGame", "methodName": "run", "fileName": "demo.py",
                             "lineNumber": 22, "nativeMethod": False}]}


def test_object_view_scalars_and_containers():
    assert object_view(None) == "None"
    assert object_view(1) == "@int[1]"
    assert object_view(2.5) == "@float[2.5]"
    assert object_view(True) == "@bool[True]"
    assert object_view("hello\nworld!") == "@str[hello\\nworld!]"
    assert object_view(["aaa", "bbb"]) == "@list[\n    @str[aaa],\n    @str[bbb],\n]"
    assert object_view({"key1": "value1", "key2": 2}) == \
        "@dict[\n    @str[key1]:@str[value1],\n    @str[key2]:@int[2],\n]"
    assert object_view([]) == "@list[isEmpty=true;size=0]"
    # how deep values go is the agent's decision: what it sent is drawn
    assert object_view([[1]], expand=1) == "@list[\n    @list[\n        @int[1],\n    ],\n]"


def test_object_view_objects_and_exceptions():
    game = {"@type": "demo.MathGame", "illegalArgumentCount": 3,
            "random": {"@type": "random.Random", "@value": "<random.Random object at 0x55>"}}
    assert object_view(game) == ("@MathGame[\n    illegalArgumentCount=@int[3],\n"
                                 "    random=@Random[<random.Random object at 0x55>],\n]")
    assert object_view({"@type": "builtins.object"}) == "@object[builtins.object]"
    assert object_view([EXCEPTION], expand=1) == "@list[\n    @ValueError[number is: -5, need >= 2],\n]"
    expanded = object_view(dict(EXCEPTION, cause=dict(EXCEPTION, message="inner")), expand=1)
    assert expanded.split("\n") == [
        "ValueError: number is: -5, need >= 2",
        "    at demo.MathGame.primeFactors(demo.py:37)",
        "    at demo.MathGame.run(demo.py:22)",
        "Caused by: ValueError: inner",
        "    at demo.MathGame.primeFactors(demo.py:37)",
        "    at demo.MathGame.run(demo.py:22)"]
    assert object_view([EXCEPTION], expand=2).split("\n")[1:3] == [
        "    ValueError: number is: -5, need >= 2", "        at demo.MathGame.primeFactors(demo.py:37)"]


def test_object_view_limits_never_break():
    cut = object_view(["x" * 50] * 10, size_limit=100)
    assert cut.endswith("Object size exceeds size limit: 100, try to use `options object-size-limit <bytes>` "
                        "to increase the limit.")
    marker = "... Object size exceeds size limit: 5, try to use `options object-size-limit <bytes>` to increase"
    assert object_view([1, marker]) == "@list[\n    @int[1],\n    %s,\n]" % marker
    assert object_view({"a": 1, "...": marker}) == "@dict[\n    @str[a]:@int[1],\n    %s,\n]" % marker
    assert object_view(object()).startswith("@object[")


def test_watch_view_is_arthas_two_lines():
    ts = 1596703453237
    result = {"type": "watch", "jobId": 3, "ts": ts, "cost": 0.071499, "className": "demo.MathGame",
              "methodName": "primeFactors", "accessPoint": "AtExceptionExit", "expand": 1,
              "sizeLimit": 10485760, "value": [[-5], None, EXCEPTION]}
    assert "[cost=0.058106ms]" in render(dict(result, cost=0.05810599998312682), PLAIN)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts / 1000)) + ".237"
    assert render(result, PLAIN) == (
        "method=demo.MathGame.primeFactors location=AtExceptionExit\n"
        "ts=%s; [cost=0.071499ms] result=@list[\n"
        "    @list[\n"
        "        @int[-5],\n"
        "    ],\n"
        "    None,\n"
        "    @ValueError[number is: -5, need >= 2],\n"
        "]" % stamp)
    result.update(expand=2)
    assert "\n    ValueError: number is: -5, need >= 2\n        at demo.MathGame.primeFactors(demo.py:37)\n" \
        in render(result, PLAIN)


def test_protocol_results():
    effect = {"cost": 24, "classCount": 1, "methodCount": 1, "listenerId": 3}
    assert render({"type": "enhancer", "success": True, "effect": effect}, PLAIN) == \
        "Press Q or Ctrl+C to abort.\nAffect(class count: 1 , method count: 1) cost in 24 ms, listenerId: 3"
    traced = dict(effect, traceModes={"demo.MathGame#run": "bytecode"})
    assert render({"type": "enhancer", "success": True, "effect": traced}, PLAIN).splitlines()[2] == \
        "[Trace method: demo.MathGame#run timed by bytecode]"
    assert render({"type": "enhancer", "success": False, "message": "No class or method is affected",
                   "effect": effect}, PLAIN) == "No class or method is affected"
    assert render({"type": "reset", "affect": effect}, PLAIN).startswith("Affect(class count: 1 , method count: 1)")
    assert render({"type": "status", "statusCode": 0}, PLAIN) == ""
    assert render({"type": "status", "statusCode": -1, "message": "bad"}, PLAIN) == "bad"
    assert render({"type": "input_status", "inputStatus": "ALLOW_INPUT"}, PLAIN) == ""
    assert render({"type": "command", "command": "x", "state": "SCHEDULED"}, PLAIN) == ""
    assert render({"type": "message", "message": "Welcome to arthas!"}, PLAIN) == "Welcome to arthas!"
    assert render({"type": "row_affect", "rowCount": 3}, PLAIN) == "Affect(row-cnt:3)"
    assert render({"type": "version", "version": "0.1.0"}, PLAIN) == "0.1.0"
    assert render({"type": "echo", "content": "hi"}, PLAIN) == "hi"
    assert render({"type": "pwd", "workingDir": "/srv"}, PLAIN) == "/srv"
    assert render({"type": "shutdown", "graceful": True, "message": "going down"}, PLAIN) == "going down"
    assert render({"type": "history", "history": ["a", "b"]}, PLAIN) == "1  a\n2  b"


def test_welcome_banner():
    text = render({"type": "welcome", "pid": "42", "time": "2026-01-01 10:00:00.000", "version": "0.1.0",
                   "wiki": "https://arthas.aliyun.com/doc", "tutorials": "https://t", "mainClass": "demo.MathGame"},
                  PLAIN)
    lines = text.split("\n")
    assert lines[0].startswith("  ,---.  ,------. ,--------.")
    rows = [line.split() for line in lines[6:] if line]
    assert rows == [["wiki", "https://arthas.aliyun.com/doc"], ["tutorials", "https://t"], ["version", "0.1.0"],
                    ["main_class", "demo.MathGame"], ["pid", "42"], ["current_time", "2026-01-01", "10:00:00.000"]]
    assert "\x1b[31m" in render({"type": "welcome", "pid": "1"}, Context(color=True))


def test_tables_fit_80_columns():
    threads = [{"id": 140268837682048 + i, "name": "pyarthas-worker-with-a-very-long-thread-name-%d" % i,
                "group": "main", "priority": 5, "state": "TIMED_WAITING", "cpu": 12.5, "deltaTime": 3,
                "time": 123456, "interrupted": False, "daemon": True} for i in range(3)]
    dashboard = {"type": "dashboard", "threads": threads,
                 "memoryInfo": {"heap": [{"name": "heap", "used": 15519744, "total": 58679296, "max": -1}]},
                 "gcInfos": [{"name": "gen0", "collectionCount": 44, "collectionTime": -1}],
                 "runtimeInfo": {"pythonVersion": "3.12.1", "javaHome": "/x" * 60, "timestamp": 1596703453237}}
    text = render(dashboard, PLAIN)
    assert all(len(line) <= 80 for line in text.split("\n")), text
    assert text.split("\n")[0].split() == ["ID", "NAME", "STATE", "%CPU", "DELTA_TIME", "TIME", "DAEMON"]
    assert "2:3.456" in text and "14.8M" in text and "26.45%" in text
    options = {"type": "options", "options": [{"level": 1, "type": "boolean", "name": "unsafe", "value": "false",
                                               "summary": "Option to support system-level class " * 3}]}
    assert all(len(line) <= 80 for line in render(options, PLAIN).split("\n"))
    change = {"type": "options", "changeResult": {"name": "unsafe", "beforeValue": "false", "afterValue": "true"}}
    assert render(change, PLAIN) == "NAME    BEFORE-VALUE  AFTER-VALUE\nunsafe  false         true"
    props = render({"type": "sysprop", "props": {"b": "2", "a": "x" * 200}}, PLAIN).split("\n")
    assert props[0].split() == ["KEY", "VALUE"] and props[1].startswith("a    xxx") and props[-1] == "b    2"
    assert all(len(line) <= 80 for line in props)


def test_help_views():
    listing = {"type": "help", "commands": [{"name": "watch", "summary": "Display the input/output"},
                                            {"name": "version", "summary": "Display version"}]}
    assert render(listing, PLAIN).split("\n")[1].split() == ["watch", "Display", "the", "input/output"]
    detail = {"type": "help", "detailCommand": {
        "name": "watch", "summary": "Watch a method", "usage": "watch [-b] class-pattern method-pattern",
        "options": [{"shortName": "b", "longName": "before", "acceptValue": False, "description": "before"},
                    {"shortName": "n", "longName": "limits", "acceptValue": True, "description": "times"}],
        "arguments": [{"argName": "class-pattern", "required": True, "multiValued": False, "description": "cls"}]}}
    text = render(detail, PLAIN)
    assert "USAGE:\n  watch [-b] class-pattern method-pattern" in text
    assert "  -n, --limits <value>  times" in text and "  <class-pattern>       cls" in text


def test_generic_fallback_and_broken_views():
    text = render({"type": "mystery", "jobId": 1, "count": 2, "rows": [{"a": 1, "b": "x"}, {"a": 2}],
                   "nested": {"k": "v"}, "obj": {"@type": "pkg.Thing", "size": 1}}, PLAIN)
    assert text.split("\n") == ["count  2", "rows", "  A  B", "  1  x", "  2", "nested", "  k  v", "obj",
                                "  @Thing[", "      size=@int[1],", "  ]"]
    assert render({"type": "mystery", "value": "only"}, PLAIN) == "only"
    # a view meeting a shape it does not expect falls back instead of raising
    assert render({"type": "history", "history": 5}, PLAIN) == "5"
    assert {"watch", "dashboard", "help", "welcome", "status", "sysenv"} <= set(registered())


def test_colours_follow_the_stream_and_no_color(monkeypatch):
    assert Style(False).red("x") == "x" and Style(True).red("x") == "\x1b[31mx\x1b[0m"
    assert strip_ansi(Style(True).bold("x")) == "x"

    class Tty(io.StringIO):
        def isatty(self):
            return True
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert colour_wanted(Tty()) and not colour_wanted(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not colour_wanted(Tty())
    assert not Context.for_stream(Tty()).color


def test_table_alignment():
    assert table([(1, "a"), (100, "bb")], ["N", "S"], align=">>") == "  N   S\n  1   a\n100  bb"
    assert table([("abcdefghij", "x")], width=8) == "abcd…  x"


# ---- one view per result type ----

def _declared_result_types():
    """Every ``type`` a ResultModel subclass of the agent declares (private helpers excepted)."""
    import importlib
    import pkgutil

    import pyarthas.agent as agent_package
    from pyarthas.agent.model import ResultModel

    for module in pkgutil.walk_packages(agent_package.__path__, agent_package.__name__ + "."):
        importlib.import_module(module.name)
    found, stack = {}, [ResultModel]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        declared = cls.__dict__.get("type")
        if (isinstance(declared, str) and declared and not cls.__name__.startswith("_")
                and cls.__module__.startswith("pyarthas.")):  # not the models tests define for themselves
            found[declared] = "%s.%s" % (cls.__module__, cls.__name__)
    return found


def test_every_result_type_has_a_view():
    declared = _declared_result_types()
    assert {"watch", "ognl", "getstatic", "dashboard", "memory", "status"} <= set(declared)
    missing = {kind: where for kind, where in declared.items() if kind not in registered()}
    assert not missing, "result types without a view: %s" % missing


def test_view_modules_all_import():
    from pyarthas.agent.view import import_errors
    assert import_errors() == {}


def test_two_views_for_one_type_is_an_error():
    import pytest

    from pyarthas.agent.view import ViewConflict, view

    with pytest.raises(ViewConflict, match="'memory'"):
        @view("memory")
        def another_memory(result, ctx):
            return ""
    assert registered()["memory"].__module__ == "pyarthas.agent.view.memory"


def test_ognl_and_getstatic_draw_the_value():
    assert render({"type": "ognl", "jobId": 1, "value": 42, "expand": 1}, PLAIN) == "@int[42]"
    assert render({"type": "ognl", "value": ["a", None]}, PLAIN) == "@list[\n    @str[a],\n    None,\n]"
    assert render({"type": "ognl", "value": None}, PLAIN) == "None"
    assert render({"type": "getstatic", "fieldName": "count", "field": 3}, PLAIN) == "field: count\n@int[3]"
    assert render({"type": "getstatic", "matchedClasses": ["a.B", "a.C"]}, PLAIN) == " a.B\n a.C"


def test_dashboard_redraws_in_place_on_a_terminal():
    dashboard = {"type": "dashboard", "threads": [{"id": 1, "name": "MainThread", "state": "RUNNABLE"}]}
    on_terminal = render(dashboard, Context(color=False, width=80, terminal=True))
    assert on_terminal.startswith("\x1b[H\x1b[2J") and on_terminal[7:] == render(dashboard, PLAIN)
    assert "\x1b" not in render(dashboard, PLAIN)
    narrow = render({"type": "dashboard", "threads": [
        {"id": 139737972202368, "name": "MainThread", "state": "TIMED_WAITING", "cpu": 0.1, "deltaTime": 1,
         "time": 5, "daemon": False}]}, Context(width=60))
    assert max(len(line) for line in narrow.split("\n")) <= 60
