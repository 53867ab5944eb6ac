"""The call tree recording behind ``trace`` (engine/calltree), without the agent: the per-child helpers
in this process, and each interpreter's timer (setprofile on 3.9-3.11, sys.monitoring on 3.12+) driven
directly by ``TIMER.begin``/``finish`` in a small script run under every CPython here."""
import json
import subprocess

from harness import target_env
from pyarthas.agent.engine.calltree import Core
from pyarthas.agent.engine.calltree.recording import (
    C_KIND,
    MAX,
    MIN,
    NESTED,
    PY_KIND,
    SUSPENSIONS,
    THROWS,
    TIMES,
    TOTAL,
    Recording,
    Suspension,
    attach_to_parent,
    close_child,
    node_for_new_callee,
    resume,
    suspend,
)


def sample():
    return 1


def other():
    return 2


def test_close_child_merges_repeated_calls_of_one_site():
    rec = Recording(sample.__code__, "owner")
    for start, end, raised in ((0, 30, False), (100, 110, True), (200, 250, False)):
        rec.open_node = node_for_new_callee(rec, 8, len, C_KIND)
        rec.open_start = start
        close_child(rec, end, raised)
    [node] = rec.children.values()
    assert (node[TIMES], node[TOTAL], node[MIN], node[MAX], node[THROWS]) == (3, 90, 10, 50, 1)
    assert rec.open_node is None


def test_one_site_calling_another_function_gets_its_own_node():
    rec = Recording(sample.__code__, "owner")
    first = node_for_new_callee(rec, 4, sample, PY_KIND)
    assert node_for_new_callee(rec, 4, sample.__code__, PY_KIND) is first     # same code, same node
    second = node_for_new_callee(rec, 4, other, PY_KIND)
    assert second is not first
    assert node_for_new_callee(rec, 4, other, PY_KIND) is second
    assert len(rec.children) == 2


def test_a_suspension_counts_on_the_open_child_or_as_its_own_point():
    rec = Recording(sample.__code__, "owner")
    suspend(rec, 12, None, 1000)
    resume(rec, 1500)
    [point] = rec.children.values()
    assert isinstance(point, Suspension)
    assert (point.site, point.awaiting, point.times, point.total) == (12, "yield", 1, 500)
    rec.open_node = node = node_for_new_callee(rec, 14, sample, PY_KIND)
    suspend(rec, 14, None, 2000)
    resume(rec, 2600)
    assert node[SUSPENSIONS] == 1 and point.times == 1 and rec.suspend_start == 0


def test_a_sub_recording_hangs_under_the_open_child_else_under_the_root():
    parent = Recording(sample.__code__, "owner")
    parent.open_node = node = node_for_new_callee(parent, 6, other, PY_KIND)
    under_node = Recording(other.__code__, "owner")
    under_node.parent, under_node.parent_node = parent, node
    attach_to_parent(under_node)
    under_root = Recording(other.__code__, "owner")
    under_root.parent = parent
    attach_to_parent(under_root)
    assert node[NESTED] == [under_node]
    assert parent.children[("nested", id(under_root))] is under_root


def test_the_chooser_says_which_timer_runs_and_why():
    old, new = Core((3, 11, 7)), Core((3, 12, 1))
    assert (old.name, type(old.timer).__name__) == ("sys.setprofile", "ProfileTimer")
    assert (new.name, type(new.timer).__name__) == ("sys.monitoring", "MonitoringTimer")
    assert "3.11" in old.reason and "3.12" in new.reason


PROBE = r"""
import cProfile, json, sys
from pyarthas.agent.engine import trace_tree
from pyarthas.agent.engine.calltree import CORE, TIMER


def helper(x):
    return x + 1


def failing():
    raise ValueError("no")


def traced(items):
    total = 0
    for item in items:
        total += helper(item)
    total += len(items)
    try:
        failing()
    except ValueError:
        pass
    return total


seen = []
def previous_profile(frame, event, arg):
    seen.append(event)

sys.setprofile(previous_profile)
owner, other = object(), object()
code = traced.__code__
TIMER.watch(code)
rec = TIMER.begin(code, owner)
shared = TIMER.begin(code, other)
again = TIMER.begin(code, owner)
traced([1, 2, 3])
TIMER.finish(rec, False)
restored = sys.getprofile() is previous_profile
sys.setprofile(None)
blocked = None
if CORE.name == "sys.setprofile":
    profiler = cProfile.Profile()
    profiler.enable()
    refused = TIMER.begin(code, owner)
    blocked = refused is None and TIMER.blocked_by_other_profiler()
    profiler.disable()
TIMER.unwatch(code)
node = trace_tree.build_method_node(rec, "probe", "traced", False, None, [1])
print(json.dumps({"core": CORE.name, "version": list(sys.version_info[:2]), "shared": shared is rec,
                  "again": again, "restored": restored, "chained": len(seen), "failed": rec.failed,
                  "blocked": blocked, "node": node}))
"""


def test_each_interpreter_records_the_direct_children_of_a_call(target_python):
    out = subprocess.run([target_python, "-c", PROBE], capture_output=True, text=True, env=target_env(),
                         timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["core"] == ("sys.monitoring" if report["version"] >= [3, 12] else "sys.setprofile")
    assert report["shared"] and report["again"] is None and not report["failed"]
    assert report["restored"] and report["chained"] > 0      # a Python profile function before ours stays
    if report["core"] == "sys.setprofile":
        assert report["blocked"] is True                     # cProfile is never displaced
    children = [(c["methodName"], c["times"], c.get("throw", False)) for c in report["node"]["children"]]
    assert children == [("helper", 3, False), ("len", 1, False), ("failing", 1, True)]
    assert report["node"]["children"][1]["className"] == "builtins"
    helper = report["node"]["children"][0]
    assert helper["minCost"] <= helper["maxCost"] <= helper["totalCost"]
    assert [c["lineNumber"] for c in report["node"]["children"]] == [18, 19, 21]
