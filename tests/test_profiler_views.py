"""Console views of profiler and redefine results (Arthas's ProfilerView text, redefine's table)."""
import os
import subprocess
import sys

from harness import ROOT, post_raw, start_script
from pyarthas.agent.view import Context, render
from pyarthas.agent.view.text import strip_ansi

PLAIN = Context(color=False, width=100)


def test_profiler_start_with_duration_and_stop():
    start = {"type": "profiler", "jobId": 1, "action": "start", "format": "html", "duration": 30,
             "outputFile": "/srv/arthas-output/20261129-190000.html",
             "executeResult": "Started [cpu] profiling\nprofiler output url: /arthas-output/20261129-190000.html\n"}
    assert render(start, PLAIN).split("\n") == [
        "Started [cpu] profiling",
        "profiler output url: /arthas-output/20261129-190000.html",
        "profiler will silent stop after 30 seconds.",
        "profiler output file will be: /srv/arthas-output/20261129-190000.html"]
    stop = {"type": "profiler", "jobId": 2, "action": "stop", "format": "html",
            "outputFile": "/srv/arthas-output/a b.html",
            "executeResult": "OK\nprofiler output url: /arthas-output/a%20b.html\n"}
    assert render(stop, PLAIN).split("\n") == [
        "OK", "profiler output url: /arthas-output/a%20b.html", "profiler output file: /srv/arthas-output/a b.html"]


def test_profiler_url_is_absolute_when_the_console_knows_the_server():
    ctx = Context(color=True, width=100)
    ctx.base_url = "http://127.0.0.1:8563"
    stop = {"type": "profiler", "jobId": 2, "action": "stop", "outputFile": "/x/1.html",
            "executeResult": "OK\nprofiler output url: /arthas-output/1.html\n"}
    text = render(stop, ctx)
    assert "\x1b[" in text
    assert strip_ansi(text).split("\n")[1] == "profiler output url: http://127.0.0.1:8563/arthas-output/1.html"


def test_profiler_status_actions_and_samples():
    assert render({"type": "profiler", "action": "status", "executeResult": "Profiler is not active\n"},
                  PLAIN) == "Profiler is not active"
    assert render({"type": "profiler", "action": "actions", "supportedActions": ["start", "stop"]},
                  PLAIN) == "Supported Actions: [start, stop]"
    assert render({"type": "profiler", "action": "getSamples", "executeResult": "23\n"}, PLAIN) == "23"


def test_redefine_views():
    redefined = {"type": "redefine", "redefinitionCount": 2, "redefinedClasses": ["demo", "demo.MathGame"],
                 "redefinedMethods": [
                     {"id": 1, "className": "demo.MathGame", "methodName": "primeFactors", "file": "/tmp/demo.py",
                      "lineNumber": 35, "redefinitionCount": 1, "time": "2026-11-29 19:00:00.000"},
                     {"id": 2, "className": "demo", "methodName": "main", "file": "/tmp/demo.py", "lineNumber": 50,
                      "redefinitionCount": 1, "time": "2026-11-29 19:00:00.000"}]}
    lines = render(redefined, PLAIN).split("\n")
    assert lines[:3] == ["redefine success, size: 2, classes:", "demo", "demo.MathGame"]
    assert lines[3].split() == ["ID", "CLASS", "METHOD", "SOURCE"]
    assert lines[4].split() == ["1", "demo.MathGame", "primeFactors", "/tmp/demo.py:35"]
    listed = {"type": "redefine", "redefineEntries": [
        {"id": 1, "className": "demo.MathGame", "methodName": "primeFactors", "file": "/tmp/demo.py",
         "redefinitionCount": 2, "time": "2026-11-29 19:00:00.000"}]}
    lines = render(listed, PLAIN).split("\n")
    assert lines[0].split() == ["ID", "CLASS", "METHOD", "COUNT", "LAST", "REDEFINED", "FILE"]
    assert lines[1].split() == ["1", "demo.MathGame", "primeFactors", "2", "2026-11-29", "19:00:00.000", "/tmp/demo.py"]
    assert lines[-1] == "Affect(row-cnt:1)"
    assert render({"type": "redefine", "redefineEntries": []}, PLAIN).endswith("Affect(row-cnt:0)")
    restored = {"type": "redefine", "restoredCount": 0, "restoredMethods": []}
    assert render(restored, PLAIN) == "restore success, size: 0"


def test_console_prints_the_full_url_of_the_flame_graph(tmp_path):
    """``pyarthas console URL -c 'profiler ...'`` against a real target: the file's URL is clickable."""
    target = start_script(sys.executable, "import time\nwhile True:\n    time.sleep(0.01)\n", tmp_path)
    try:
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"))
        done = subprocess.run([sys.executable, "-m", "pyarthas", "console", target.url, "-c",
                               "profiler start -e wall; profiler stop -f console.html"],
                              capture_output=True, text=True, timeout=60, env=env)
        assert done.returncode == 0, done.stderr
        url = target.url + "/arthas-output/console.html"
        assert done.stdout.splitlines() == [
            "Started [wall] profiling", "OK", "profiler output url: " + url,
            "profiler output file: " + str(tmp_path / "arthas-output" / "console.html")]
        status, _, body = post_raw(target.url, b"", method="GET", path="/arthas-output/console.html")
        assert status == 200 and b'id="flamegraph"' in body
    finally:
        target.kill()
