"""redefine: hot code replacement in a real target, checked through the target's own output."""
import textwrap

TARGET = """
import sys, time

class Calculator:
    __slots__ = ("base",)

    def __init__(self):
        self.base = 10

    def compute(self, x):
        return self.base + x

    @staticmethod
    def label():
        return "old"

def answer():
    return 1

def make_counter():
    count = 0
    def bump():
        nonlocal count
        count += 1
        return count
    return bump

calc = Calculator()
callback = answer            # a reference taken before any redefine
bound = calc.compute
while True:
    print("values %s %s %s %s" % (answer(), callback(), bound(1), Calculator.label()), flush=True)
    time.sleep(0.02)
"""

FIXED = """
import json   # not run: redefine only takes the code of functions

class Calculator:
    __slots__ = ("base",)

    def compute(self, x):
        return self.base * 2 + x

    @staticmethod
    def label():
        return "new"

def answer():
    return 2
"""


def start_target(spawn):
    target = spawn(TARGET)
    target.wait_stdout(r"^values 1 1 11 old$")
    return target


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)




def test_redefine_changes_results_and_keeps_identity_then_restore(spawn, tmp_path):
    target = start_target(spawn)
    identity = target.ognl("id(answer), id(Calculator.compute)")
    fixed = write(tmp_path, "fixed.py", FIXED)
    results = target.results("redefine -c __main__ " + fixed)
    assert results[-1]["statusCode"] == 0, results
    (model,) = [r for r in results if r["type"] == "redefine"]
    assert model["redefinitionCount"] == 3
    assert model["redefinedClasses"] == ["__main__", "__main__.Calculator"]
    assert sorted((m["className"], m["methodName"]) for m in model["redefinedMethods"]) == [
        ("__main__", "answer"), ("__main__.Calculator", "compute"), ("__main__.Calculator", "label")]
    # every reference, even one taken before, runs the new code from its next call
    target.wait_stdout(r"^values 2 2 21 new$")
    assert target.ognl("id(answer), id(Calculator.compute)") == identity

    listed = next(r for r in target.results("redefine -l") if r["type"] == "redefine")["redefineEntries"]
    assert sorted(e["methodName"] for e in listed) == ["answer", "compute", "label"]
    assert all(e["file"] == fixed and e["redefinitionCount"] == 1 for e in listed)

    restored = next(r for r in target.results("redefine --restore") if r["type"] == "redefine")
    assert restored["restoredCount"] == 3
    target.wait_stdout(r"^values 1 1 11 old$")
    assert next(r for r in target.results("redefine -l") if r["type"] == "redefine")["redefineEntries"] == []


def test_module_from_the_file_name_class_from_c_and_redefining_twice(spawn, tmp_path):
    target = start_target(spawn)
    (tmp_path / "fix").mkdir()
    fixed = write(tmp_path, "fix/target_main.py", "def answer():\n    return 3\n")
    assert target.results("redefine " + fixed)[-1]["statusCode"] == 0     # __main__ runs target_main.py
    target.wait_stdout(r"^values 3 3 11 old$")
    method = write(tmp_path, "method.py", "def compute(self, x):\n    return x * 100\n")
    assert target.results("redefine -c __main__.Calculator " + method)[-1]["statusCode"] == 0
    target.wait_stdout(r"^values 3 3 100 old$")
    again = write(tmp_path, "again.py", "def answer():\n    return 6\n")
    assert target.results("redefine -c __main__ " + again)[-1]["statusCode"] == 0
    target.wait_stdout(r"^values 6 6 100 old$")
    entries = next(r for r in target.results("redefine -l") if r["type"] == "redefine")["redefineEntries"]
    assert [(e["id"], e["className"], e["methodName"], e["redefinitionCount"], e["file"]) for e in entries] == [
        (1, "__main__", "answer", 2, again), (2, "__main__.Calculator", "compute", 1, method)]
    restored = [r for r in target.results("redefine --restore -c __main__.Calculator") if r["type"] == "redefine"]
    assert restored[0]["restoredCount"] == 1
    target.wait_stdout(r"^values 6 6 11 old$")
    assert target.results("redefine --restore")[-1]["statusCode"] == 0
    target.wait_stdout(r"^values 1 1 11 old$")


def refused(target, command):
    status = target.results(command)[-1]
    assert status["type"] == "status" and status["statusCode"] == -1, status
    return status["message"]


def test_incompatible_changes_are_refused_and_nothing_changes(spawn, tmp_path):
    target = start_target(spawn)
    # each file has good changes (answer, make_counter: a new closure for new calls is fine) and a bad
    # one: none is applied
    cases = {
        "closure.py": ("""
            def answer():
                return 5
            def make_counter():
                step = 2
                def bump():
                    return step
                return bump
            class Calculator:
                __slots__ = ("base",)
                def compute(self, x):
                    return super().compute(x)
            """, ["__main__.Calculator.compute changes its closure: free variables () -> (__class__)",
                  "super() without arguments"]),
        "signature.py": ("""
            def answer(extra=0):
                return 5
            """, ["__main__.answer changes its signature () -> (extra)"]),
        "layout.py": ("""
            def answer():
                return 5
            class Calculator:
                __slots__ = ("base", "more")
                def compute(self, x):
                    return x
                def helper(self):
                    return 0
            """, ["class __main__.Calculator changes its __slots__ (('base',) -> ('base', 'more'))",
                  "__main__.Calculator.helper does not exist in the running process"]),
        "added.py": ("""
            def answer():
                return 5
            def brand_new():
                return 0
            """, ["__main__.brand_new does not exist in the running process"]),
        "inherited.py": ("""
            def answer():
                return 5
            class Calculator:
                __slots__ = ("base",)
                limit = 3
                def __repr__(self):
                    return "x"
            """, ["class __main__.Calculator would gain limit",
                  "__main__.Calculator.__repr__ does not exist in the running process"]),
        "globals.py": ("""
            import json
            def answer():
                return json.dumps(5)
            """, ["__main__.answer uses json, not defined in module __main__"]),
        "generator.py": ("""
            def answer():
                yield 5
            """, ["__main__.answer changes kind (function -> generator)"]),
    }
    for name, (source, expected) in cases.items():
        message = refused(target, "redefine -c __main__ " + write(tmp_path, name, source))
        assert message.startswith("redefine error! nothing was changed:"), message
        for text in expected:
            assert text in message, (name, message)
    message = refused(target, "redefine -c time " + write(tmp_path, "builtin.py", "def sleep(seconds):\n    pass\n"))
    assert "time.sleep is a builtin or C function" in message
    assert refused(target, "redefine -c __main__ " + str(tmp_path / "missing.py")).startswith(
        "file does not exist, path:" + str(tmp_path))
    source = write(tmp_path, "agent.py", "def now_ms():\n    return 0\n")
    message = refused(target, "redefine -c pyarthas.agent.model " + source)
    assert message.startswith("redefine error! pyarthas.agent.model is part of pyarthas")
    assert "SyntaxError" in refused(target, "redefine -c __main__ " + write(tmp_path, "bad.py", "def answer(:\n"))
    assert refused(target, "redefine -c no.such.module " + write(tmp_path, "x.py", "def f():\n    pass\n")) == (
        "redefine error! no loaded module or class named no.such.module")
    # still the original code everywhere, and nothing recorded
    assert target.ognl("answer(), callback(), bound(1), Calculator.label(), make_counter()()") == [1, 1, 11, "old", 1]
    assert next(r for r in target.results("redefine -l") if r["type"] == "redefine")["redefineEntries"] == []


def test_a_watched_function_stays_watched_after_redefine(spawn, tmp_path):
    target = start_target(spawn)
    session = target.session()
    job_id = session.async_exec("watch __main__ answer returnObj")["body"]["jobId"]
    session.pull_until(lambda r: r.get("type") == "watch" and r.get("value") == 1)
    fixed = write(tmp_path, "fixed.py", "def answer():\n    return 7\n")
    assert target.results("redefine -c __main__ " + fixed)[-1]["statusCode"] == 0
    session.pull_until(lambda r: r.get("type") == "watch" and r.get("value") == 7)
    target.wait_stdout(r"^values 7 7 11 old$")
    # ending the watch restores the function to the redefined code, not to the stale original
    session.api("interrupt_job")
    session.pull_until(lambda r: r.get("type") == "status" and r.get("jobId") == job_id)
    assert target.ognl("answer(), callback()") == [7, 7]
    restored = next(r for r in target.results("redefine --restore") if r["type"] == "redefine")
    assert restored["restoredCount"] == 1
    target.wait_stdout(r"^values 1 1 11 old$")


def test_restore_keeps_a_watch_on(spawn, tmp_path):
    target = start_target(spawn)
    fixed = write(tmp_path, "fixed.py", "def answer():\n    return 4\n")
    assert target.results("redefine -c __main__ " + fixed)[-1]["statusCode"] == 0
    session = target.session()
    session.async_exec("watch __main__ answer returnObj")
    session.pull_until(lambda r: r.get("type") == "watch" and r.get("value") == 4)
    assert target.results("redefine --restore -c __main__")[-1]["statusCode"] == 0
    session.pull_until(lambda r: r.get("type") == "watch" and r.get("value") == 1)
