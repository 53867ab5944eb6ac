"""The profiler's conversions, without a target: py-spy's raw stacks to the profiler's, frame names, the
Markdown report, output formats and file names; the in-process sampler on frames handed to it."""
import os
import re
import sys
import threading
import time

import pytest

from pyarthas.agent.profiler import pyspy
from pyarthas.agent.profiler.controller import ProfilerError, expand_file_name, parse_format
from pyarthas.agent.profiler.frames import Frame, modules_by_file
from pyarthas.agent.profiler.markdown import render_markdown
from pyarthas.agent.profiler.profile import Profile, collapsed
from pyarthas.agent.profiler.sampler import Sampler
from pyarthas.agent.util import threads

RAW = """\
thread (101): MainThread;<module> (/app/main.py:1);serve (/app/main.py:10);burn (/app/hot.py:3) 80
thread (101): MainThread;<module> (/app/main.py:1);serve (/app/main.py:10) 15
thread (0x7F00AA): worker;run (/app/main.py:20);burn (/app/hot.py:3) 5
thread (102): pyarthas-http;_serve (/x/pyarthas/agent/http/server.py:177) 40
thread (103): Thread-9 (stale name);_bootstrap (/usr/lib/threading.py:1);_work (AGENT/http/server.py:5) 7
not a stack line
thread (104): idle-one;wait (/app/main.py:30) 0x
"""


def test_raw_stacks_are_merged_by_thread_and_agent_threads_dropped():
    counts = {}
    raw = RAW.replace("AGENT/", pyspy.AGENT_DIR)
    pyspy.merge_raw(raw, counts, skip_native_ids={999})
    pyspy.merge_raw(raw, counts)   # a second segment adds up
    assert counts == {
        ("[MainThread tid=101]", "<module> (/app/main.py:1)", "serve (/app/main.py:10)", "burn (/app/hot.py:3)"): 160,
        ("[MainThread tid=101]", "<module> (/app/main.py:1)", "serve (/app/main.py:10)"): 30,
        ("[worker tid=%d]" % 0x7F00AA, "run (/app/main.py:20)", "burn (/app/hot.py:3)"): 10,
    }
    counts = {}
    pyspy.merge_raw("thread (101): MainThread;f (/a.py:1) 3\n", counts, skip_native_ids={101})
    assert counts == {}


def test_the_sampler_leaves_out_an_agent_thread_that_ended_after_its_frames_were_taken(monkeypatch):
    # sys._current_frames() is read before the threads are told apart: an agent thread can end (and leave
    # the agent's idents) in between; its frames still tell it apart.
    taken = []
    threads.spawn("ending", lambda: taken.append(sys._getframe())).join(5)
    (ended,) = taken
    main = threading.get_ident()
    frames = {main: sys._getframe(), max(threads.AGENT_THREAD_IDS | {main}) + 1: ended}
    monkeypatch.setattr(sys, "_current_frames", lambda: frames)
    sampler = Sampler(mode="wall")
    sampler._sample(1.0)
    stacks = [[sampler.frames.frame(i).name for i in stack] for stack in sampler.counts]
    assert len(stacks) == 1 and stacks[0][0].endswith(".test_the_sampler_leaves_out_an_agent_thread_that_ended"
                                                      "_after_its_frames_were_taken"), stacks


def test_raw_stacks_beyond_the_limit_count_as_other_stacks(monkeypatch):
    monkeypatch.setattr(pyspy, "MAX_STACKS", 1)
    counts = {}
    pyspy.merge_raw("thread (1): T;a (/a.py:1) 2\nthread (1): T;b (/a.py:2) 3\n", counts)
    assert counts == {("[T tid=1]", "a (/a.py:1)"): 2, ("[T tid=1]", "[other stacks]"): 3}


class Outer:
    def method(self):
        def inner():
            return 1
        return inner


def test_frames_are_named_module_qualname_as_the_in_process_sampler_names_them():
    namer = pyspy.FrameNamer()
    here = os.path.abspath(__file__)
    line = Outer.method.__code__.co_firstlineno
    inner_line = Outer().method().__code__.co_firstlineno
    module = modules_by_file()[here]
    assert namer.frame("Outer.method (%s:%d)" % (here, line)) == Frame(module + ".Outer.method", here, line)
    # py-spy names a nested function by its own name; the module's code objects give its qualname
    assert namer.frame("inner (%s:%d)" % (here, inner_line)).name == module + ".Outer.method.<locals>.inner"
    assert namer.frame("<module> (%s:1)" % here).name == module + ".<module>"
    # a file no module was loaded from keeps py-spy's name; text that is not a frame stays as it is
    assert namer.frame("f (/nowhere/x.py:3)") == Frame("f", "/nowhere/x.py", 3)
    assert namer.frame("[other stacks]") == Frame("[other stacks]", "", 0)


def _profile(per_thread=False):
    main = Frame("app.main", "", 0)
    serve = Frame("app.serve", "", 0)
    burn = Frame("hot.burn", "", 0)
    pipe = Frame("a|b", "", 0)
    stacks = [((main, serve, burn), 80), ((main, serve), 15), ((main, pipe), 5)]
    if per_thread:
        stacks = [((Frame("[MainThread tid=1]", "", 0),) + stack, count) for stack, count in stacks]
    return Profile(stacks, "cpu", 0.01, per_thread, time.time(), time.time())


def test_markdown_report_has_arthas_sections_and_top_n():
    text = render_markdown(_profile(), top=2)
    assert text.startswith("# pyarthas profiler report (Markdown)\n")
    assert "- event: cpu\n- threads: false\n- total samples: 100\n" in text
    table = text.split("## Top 2 hotspots (self)\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert table == ["| rank | function | self_samples | self_percent |", "| ---: | --- | ---: | ---: |",
                     "| 1 | hot.burn | 80 | 80.00% |", "| 2 | app.serve | 15 | 15.00% |"]
    stacks = text.split("## Top 2 stacks\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert stacks[2] == "| 1 | 80 | 80.00% | app.main;app.serve;hot.burn |"
    assert len(stacks) == 4
    tree = text.split("```text\n", 1)[1].split("```", 1)[0].splitlines()
    assert tree[:3] == ["(100.00%) 100 app.main", "  (95.00%) 95 app.serve", "    (80.00%) 80 hot.burn"]
    assert "### hot.burn\n\n- self: 80 (80.00%)\n- top stacks:\n  - 80 (80.00%) app.main;app.serve;hot.burn" in text
    assert "a\\|b" in render_markdown(_profile(), top=10)   # pipes escaped in tables


def test_markdown_with_threads_reports_code_frames_only():
    text = render_markdown(_profile(per_thread=True), top=3)
    assert "- threads: true" in text and "| 1 | hot.burn | 80 | 80.00% |" in text
    assert "[MainThread" not in text.split("## Top 3 stacks", 1)[1]


def test_collapsed_text():
    assert collapsed(_profile()).splitlines()[0] == "app.main;app.serve;hot.burn 80"


def test_formats_and_file_names():
    assert parse_format(None) == (None, 10)
    assert parse_format("flamegraph") == ("html", 10)
    assert parse_format("md") == ("md", 10)
    assert parse_format("md=3") == ("md", 3)
    for bad in ("pdf", "md=0", "md=x", "html=3"):
        with pytest.raises(ProfilerError):
            parse_format(bad)
    expanded = expand_file_name("/tmp/result-%t-%p-%%.html")
    assert re.match(r"^/tmp/result-\d{8}-\d{6}-%d-%%\.html$" % os.getpid(), expanded), expanded


def test_py_spy_is_found_by_option_environment_or_path(tmp_path, monkeypatch):
    fake = tmp_path / "py-spy"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    assert pyspy.find_py_spy(str(fake)) == str(fake)
    monkeypatch.setenv("PYARTHAS_PY_SPY", str(fake))
    assert pyspy.find_py_spy() == str(fake)
    monkeypatch.setenv("PYARTHAS_PY_SPY", str(tmp_path / "missing"))
    with pytest.raises(pyspy.PySpyUnavailable, match="py-spy not found at"):
        pyspy.find_py_spy()
    monkeypatch.delenv("PYARTHAS_PY_SPY")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setattr(pyspy.sysconfig, "get_path", lambda name: str(tmp_path))
    assert pyspy.find_py_spy() == str(fake)
