"""profiler: a real target with one hot function (90% of its CPU), one cold one and a sleeping thread."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ElementTree

import pytest

from harness import post_raw

TARGET = """
import threading, time

def hot_function():
    total = 0
    for i in range(3000):
        total += i
    return total

def cold_function():
    total = 0
    for i in range(3000):
        total += i
    return total

class Worker:
    def step(self):
        for _ in range(9):
            hot_function()
        cold_function()

def compute():
    worker = Worker()
    while True:
        worker.step()

def sleeping_thread():
    while True:
        time.sleep(0.05)

threading.Thread(target=sleeping_thread, name="sleeper", daemon=True).start()
print("ready", flush=True)
compute()
"""


def start_target(spawn):
    target = spawn(TARGET)
    target.wait_stdout("ready")
    return target


def profiler_result(target, command):
    results = target.results(command)
    assert results[-1] == {"type": "status", "jobId": results[-1]["jobId"], "statusCode": 0}, results
    (model,) = [r for r in results if r["type"] == "profiler"]
    return model


def wait_for_samples(target, at_least, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        samples = int(profiler_result(target, "profiler getSamples")["executeResult"])
        if samples >= at_least:
            return samples
        time.sleep(0.1)
    raise AssertionError("fewer than %d samples after %ss" % (at_least, timeout))


def read_collapsed(path):
    stacks = {}
    with open(path) as lines:
        for line in lines:
            stack, count = line.rstrip("\n").rsplit(" ", 1)
            stacks[stack] = int(count)
    return stacks


def share(stacks, leaf_pattern, among=None):
    """Share of samples whose innermost frame matches, among stacks containing ``among``."""
    pool = {s: c for s, c in stacks.items() if among is None or among in s}
    total = sum(pool.values())
    matching = sum(c for s, c in pool.items() if re.search(leaf_pattern, s.rsplit(";", 1)[-1]))
    return matching / total if total else 0.0


def assert_no_agent_frames(stacks):
    for stack in stacks:
        assert "pyarthas.agent" not in stack and "[pyarthas-" not in stack, stack


# py-spy (3.11+) counts a thread that woke up and waits for the GIL as active: the sleeping thread waits up to
# a switch interval (5 ms, longer on a loaded machine) after each 50 ms sleep
SLEEPER_CPU_SHARE = {"sampler": 0.02, "py-spy": 0.35}


@pytest.mark.parametrize("engine", ["sampler", "py-spy"])
def test_cpu_attributes_about_90_percent_to_the_hot_stack(spawn, tmp_path, engine):
    target = start_target(spawn)
    results = target.results("profiler start -i 2 --engine " + engine)
    if results[-1]["statusCode"] != 0:
        pytest.skip("py-spy cannot sample here: %s" % results[-1].get("message"))
    (model,) = [r for r in results if r["type"] == "profiler"]
    assert model["action"] == "start" and model["executeResult"] == "Started [cpu] profiling\n"
    # counts are 2 ms ticks: of CPU time in-process, samples with py-spy
    wait_for_samples(target, 700)
    model = profiler_result(target, "profiler stop -o collapsed -f cpu.txt")
    assert model["format"] == "collapsed"
    assert model["outputFile"] == os.path.join(str(tmp_path), "arthas-output", "cpu.txt")
    stacks = read_collapsed(model["outputFile"])
    hot = share(stacks, r"\.hot_function$", among="__main__.compute")
    assert 0.80 <= hot < 1 and share(stacks, r"\.cold_function$") > 0, (hot, stacks)
    # frames are named module.qualname on every version (before 3.11, found from the module's classes)
    assert any(s.endswith("__main__.compute;__main__.Worker.step;__main__.hot_function") for s in stacks), stacks
    # cpu mode: the sleeping thread uses (almost) no CPU
    assert share(stacks, r"sleeping_thread$") < SLEEPER_CPU_SHARE[engine], stacks
    assert_no_agent_frames(stacks)
    assert profiler_result(target, "profiler status")["executeResult"] == "Profiler is not active\n"


def test_wall_sees_the_sleeping_thread(spawn):
    target = start_target(spawn)
    profiler_result(target, "profiler start -e wall --threads -i 5")
    wait_for_samples(target, 200)
    model = profiler_result(target, "profiler stop -f wall.txt")
    assert model["format"] == "collapsed"
    stacks = read_collapsed(model["outputFile"])
    sleeping = sum(c for s, c in stacks.items() if s.startswith("[sleeper tid=") and "sleeping_thread" in s)
    main = sum(c for s, c in stacks.items() if s.startswith("[MainThread tid=") and "__main__.compute" in s)
    # both threads are sampled all the time: about as many samples each
    assert sleeping > 0.3 * main > 0, stacks
    assert_no_agent_frames(stacks)


def test_duration_stops_by_itself_and_writes_the_planned_file(spawn):
    target = start_target(spawn)
    model = profiler_result(target, "profiler start -d 1 -i 5 -o collapsed")
    assert model["duration"] == 1 and model["format"] == "collapsed"
    path = model["outputFile"]
    assert path.endswith(".txt") and model["executeResult"] == (
        "Started [cpu] profiling\nprofiler output url: /arthas-output/%s\n" % os.path.basename(path))
    deadline = time.monotonic() + 15
    while not os.path.exists(path):
        assert time.monotonic() < deadline, "the -d run wrote no file"
        time.sleep(0.05)
    assert profiler_result(target, "profiler status")["executeResult"] == "Profiler is not active\n"
    assert any("hot_function" in s for s in read_collapsed(path))
    errors = target.results("profiler stop")
    assert errors[-1]["statusCode"] == 1 and errors[-1]["message"] == "AsyncProfiler error: Profiler is not active"


def test_dump_keeps_running_and_every_format_parses(spawn, tmp_path):
    target = start_target(spawn)
    profiler_result(target, "profiler start -i 2")
    wait_for_samples(target, 100)
    svg = profiler_result(target, "profiler dump -o svg")
    assert svg["outputFile"].endswith(".svg")
    root = ElementTree.parse(svg["outputFile"]).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    titles = [t.text for t in root.iter("{http://www.w3.org/2000/svg}title")]
    assert any(t.startswith("__main__.hot_function (") for t in titles), titles
    speedscope = profiler_result(target, "profiler dump -f profile.json")
    assert speedscope["format"] == "speedscope"
    with open(speedscope["outputFile"]) as stream:
        document = json.load(stream)
    names = [f["name"] for f in document["shared"]["frames"]]
    (profile,) = document["profiles"]
    assert profile["type"] == "sampled" and len(profile["samples"]) == len(profile["weights"])
    assert "__main__.hot_function" in names
    assert all(0 <= i < len(names) for sample in profile["samples"] for i in sample)
    assert "running" in profiler_result(target, "profiler status")["executeResult"]
    only_cold = profiler_result(target, "profiler stop -f cold.txt --include *cold_function")
    stacks = read_collapsed(only_cold["outputFile"])
    assert stacks and all(s.endswith("__main__.cold_function") for s in stacks), stacks


def test_errors_are_arthas_style(spawn):
    target = start_target(spawn)
    for command, message in [
        ("profiler stop", "AsyncProfiler error: Profiler is not active"),
        ("profiler dump", "AsyncProfiler error: Profiler has not started"),
        ("profiler start -e lock", "AsyncProfiler error: unsupported event 'lock', expected one of: cpu, alloc, wall"),
        ("profiler nonsense", "AsyncProfiler error: unknown action 'nonsense'"),
        ("profiler start -i fast", "AsyncProfiler error: invalid interval 'fast'"),
        ("profiler stop -o pdf", "AsyncProfiler error: unknown output format 'pdf'"),
    ]:
        status = target.results(command)[-1]
        assert status["statusCode"] == 1 and status["message"].startswith(message), (command, status)
    profiler_result(target, "profiler start")
    status = target.results("profiler start")[-1]
    assert status["message"] == "AsyncProfiler error: Profiler already started"
    actions = profiler_result(target, "profiler actions")["supportedActions"]
    assert {"start", "stop", "dump", "status", "list", "resume", "getSamples"} <= set(actions)
    listing = profiler_result(target, "profiler list")["executeResult"]
    assert "  wall\n" in listing and "  speedscope\n" in listing


def test_resume_keeps_collected_samples(spawn):
    target = start_target(spawn)
    profiler_result(target, "profiler start -i 2")
    before = wait_for_samples(target, 50)
    profiler_result(target, "profiler stop -f first.txt")
    assert profiler_result(target, "profiler resume")["executeResult"] == "Started [cpu] profiling\n"
    wait_for_samples(target, before + 50)
    model = profiler_result(target, "profiler stop -f second.txt")
    assert sum(read_collapsed(model["outputFile"]).values()) >= before + 50


# ---- the HTML flame graph, in a real browser ----

def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("headless Chromium is not installed (apt-get install chromium)")


# Loaded from /arthas-output/ next to the flame graph: drives the real page in an iframe (hover, click,
# search) and writes what it saw into #result for --dump-dom.
CHECK_PAGE = """<!DOCTYPE html><html><body><pre id="result">pending</pre>
<iframe id="graph" src="%s" width="1300" height="800"></iframe>
<script>
document.getElementById('graph').addEventListener('load', function () {
  var doc = this.contentDocument, out = {};
  try {
    var svg = doc.getElementById('flamegraph');
    out.ready = svg.getAttribute('data-ready');
    var hot = Array.prototype.filter.call(doc.querySelectorAll('g.f'), function (g) {
      return g.querySelector('title').textContent.indexOf('__main__.hot_function (') === 0;
    })[0];
    out.hotTitle = hot.querySelector('title').textContent;
    out.hotText = hot.querySelector('text').textContent;
    hot.dispatchEvent(new MouseEvent('mouseover', {bubbles: true}));
    out.details = doc.getElementById('details').textContent;
    hot.dispatchEvent(new MouseEvent('click', {bubbles: true}));
    out.zoomedWidth = +hot.querySelector('rect').getAttribute('width');
    out.fullWidth = +svg.getAttribute('data-width') - 2 * +svg.getAttribute('data-pad');
    out.unzoomShown = !doc.getElementById('unzoom').classList.contains('hide');
    var box = doc.getElementById('searchbox');
    box.value = 'hot_func';
    box.dispatchEvent(new Event('input', {bubbles: true}));
    out.matched = doc.getElementById('matched').textContent;
    out.highlighted = hot.querySelector('rect').getAttribute('fill');
  } catch (e) { out.error = String(e); }
  document.getElementById('result').textContent = JSON.stringify(out);
});
</script></body></html>
"""


def run_chromium(url, tmp_path):
    profile_dir = tempfile.mkdtemp(dir=str(tmp_path))
    argv = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--user-data-dir=" + profile_dir, "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000",
            "--dump-dom", url]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=90)
    return done.stdout, done.stderr


def test_html_flame_graph_is_served_and_works_in_chromium(spawn, tmp_path):
    target = start_target(spawn)
    profiler_result(target, "profiler start -i 2")
    wait_for_samples(target, 200)
    model = profiler_result(target, "profiler stop")
    assert model["format"] == "html" and model["outputFile"].endswith(".html")
    name = os.path.basename(model["outputFile"])
    assert "profiler output url: /arthas-output/%s\n" % name in model["executeResult"]
    status, headers, body = post_raw(target.url, b"", method="GET", path="/arthas-output/" + name)
    assert status == 200 and "html" in headers.get("Content-Type", "")
    with open(model["outputFile"], "rb") as stream:
        assert body == stream.read()
    assert b"http://" not in body.replace(b"http://www.w3.org/2000/svg", b"")  # nothing fetched from a network

    check = os.path.join(os.path.dirname(model["outputFile"]), "check.html")
    with open(check, "w") as out:
        out.write(CHECK_PAGE % name)
    dom, log = run_chromium(target.url + "/arthas-output/check.html", tmp_path)
    console = [line for line in log.splitlines() if ":CONSOLE" in line]
    assert not console, console
    result = json.loads(re.search(r'<pre id="result">(.*?)</pre>', dom, re.S).group(1).replace("&quot;", '"'))
    assert "error" not in result, result
    assert result["ready"] == "true"
    hot_share = float(re.search(r"([\d.]+)%\)$", result["hotTitle"]).group(1))
    assert 60 <= hot_share <= 99.5, result
    assert result["hotText"].startswith("__main__.hot_f")
    assert result["details"] == result["hotTitle"]
    assert abs(result["zoomedWidth"] - result["fullWidth"]) < 2 and result["unzoomShown"], result
    assert result["matched"].startswith("Matched: ") and result["highlighted"] == "rgb(230,0,230)", result


def test_stopping_the_agent_stops_the_sampler(spawn, tmp_path):
    target = spawn("""
        import threading, time
        while True:
            names = sorted(t.name for t in threading.enumerate() if t.name.startswith("pyarthas-profiler"))
            print("profiler threads %s" % names, flush=True)
            time.sleep(0.02)
        """)
    profiler_result(target, "profiler start -e wall -d 3600 --engine sampler")
    target.wait_stdout(r"^profiler threads \['pyarthas-profiler'\]$")
    assert target.results("stop")[-1]["statusCode"] == 0
    target.wait_stdout(r"^profiler threads \[\]$")
    assert target.alive()
    assert os.listdir(str(tmp_path / "arthas-output")) == []   # the -d run was dropped, not written


def test_interval_units():
    from pyarthas.agent.command.base import CommandError
    from pyarthas.agent.commands.profiler import parse_interval
    assert parse_interval("10") == pytest.approx(0.010)
    assert parse_interval("0.5") == pytest.approx(0.0005)
    assert parse_interval("500us") == pytest.approx(0.0005)
    assert parse_interval("2ms") == pytest.approx(0.002)
    assert parse_interval("1000000") == pytest.approx(0.001)     # Arthas's nanoseconds
    assert parse_interval("1000000ns") == pytest.approx(0.001)
    for bad in ("0", "20s", "fast", "-1"):
        with pytest.raises(CommandError):
            parse_interval(bad)


# ---- engines, and Arthas's profiler page (formats, meminfo, %t, alloc) ----

def test_engine_is_chosen_stated_and_falls_back(spawn):
    target = start_target(spawn)
    profiler_result(target, "profiler start --engine sampler")
    status = profiler_result(target, "profiler status")["executeResult"]
    assert status.startswith("[cpu] profiling is running for ") and "\nengine: in-process sampler (" in status
    profiler_result(target, "profiler stop -f s.txt")
    # no py-spy where it was said to be: auto falls back and says why; --engine py-spy refuses
    profiler_result(target, "profiler start -e wall --py-spy /nonexistent/py-spy")
    status = profiler_result(target, "profiler status")["executeResult"]
    assert "engine: in-process sampler" in status
    assert "py-spy not used: py-spy not found at /nonexistent/py-spy" in status
    profiler_result(target, "profiler stop -f w.txt")
    error = target.results("profiler start --engine py-spy --py-spy /nonexistent/py-spy")[-1]
    assert error["statusCode"] == 1
    assert error["message"] == "AsyncProfiler error: py-spy not found at /nonexistent/py-spy"
    error = target.results("profiler start --engine gdb")[-1]
    assert error["message"].startswith("AsyncProfiler error: unknown engine 'gdb'")


def test_py_spy_engine_when_it_can_trace(spawn):
    target = start_target(spawn)
    results = target.results("profiler start --engine py-spy -i 5")
    if results[-1]["statusCode"] != 0:
        pytest.skip("py-spy cannot sample here: %s" % results[-1].get("message"))
    status = profiler_result(target, "profiler status")["executeResult"]
    assert re.search(r"\nengine: py-spy \d+\.\d+\.\d+ \(reads stacks from outside", status), status
    wait_for_samples(target, 150)
    dumped = read_collapsed(profiler_result(target, "profiler dump -o collapsed -f first.txt")["outputFile"])
    model = profiler_result(target, "profiler stop -o collapsed -f pyspy.txt")
    stacks = read_collapsed(model["outputFile"])
    assert sum(stacks.values()) >= sum(dumped.values()) > 0     # segments add up
    assert share(stacks, r"\.hot_function$", among="__main__.compute") >= 0.75, stacks
    assert any(s.endswith("__main__.compute;__main__.Worker.step;__main__.hot_function") for s in stacks), stacks
    assert_no_agent_frames(stacks)
    profiler_result(target, "profiler start --engine py-spy")
    status = profiler_result(target, "profiler status")["executeResult"]
    assert "cpu counts the thread holding the GIL (--gil)" in status, status    # the default
    profiler_result(target, "profiler stop -f gil.txt")
    profiler_result(target, "profiler start --engine py-spy --gil false")
    status = profiler_result(target, "profiler status")["executeResult"]
    old = tuple(target.ognl("list(sys.version_info[:2])")) < (3, 11)
    expected = "cpu counts the thread holding the GIL" if old else "py-spy's idle detection"
    assert expected in status, status
    profiler_result(target, "profiler stop -f idle.txt")


def test_arthas_profiler_page_examples(spawn, tmp_path):
    target = start_target(spawn)
    profiler_result(target, "profiler start -i 2")
    wait_for_samples(target, 100)
    meminfo = profiler_result(target, "profiler meminfo")["executeResult"].splitlines()
    assert meminfo[0].strip().startswith("Call trace storage:") and meminfo[0].endswith(" KB"), meminfo
    assert set(meminfo[-2]) == {"-"} and re.match(r"^ *Total: +\d+ KB$", meminfo[-1]), meminfo
    md = profiler_result(target, "profiler dump --format md=3")
    assert md["format"] == "md=3" and md.get("outputFile") is None
    report = md["executeResult"]
    assert report.startswith("# pyarthas profiler report (Markdown)\n") and "## Top 3 hotspots (self)" in report
    rows = report.split("## Top 3 hotspots (self)\n\n", 1)[1].split("\n\n", 1)[0].splitlines()[2:]
    assert 1 <= len(rows) <= 3 and rows[0].startswith("| 1 | __main__.hot_function | "), rows
    written = profiler_result(target, "profiler dump -f report.md")
    assert written["format"] == "md" and written["outputFile"].endswith("report.md")
    with open(written["outputFile"]) as stream:
        assert stream.read().startswith("# pyarthas profiler report")
    model = profiler_result(target, "profiler stop --format flamegraph --file result-%t.html")
    assert model["format"] == "flamegraph"
    assert re.search(r"/arthas-output/result-\d{8}-\d{6}\.html$", model["outputFile"]), model
    with open(model["outputFile"]) as stream:
        assert 'id="flamegraph"' in stream.read()
    assert "  alloc\n" in profiler_result(target, "profiler list")["executeResult"]
    assert "\nengine: " in profiler_result(target, "profiler version")["executeResult"]
    assert "meminfo" in profiler_result(target, "profiler actions")["supportedActions"]


ALLOCATING = """
import collections, threading, time

kept = collections.deque(maxlen=20000)

def allocate_buffers():
    for _ in range(50):
        kept.append(bytearray(2000))

def compute():
    total = 0
    for i in range(2000):
        total += i
    return total

print("ready", flush=True)
while True:
    allocate_buffers()
    compute()
"""


def test_alloc_event_shows_the_allocating_stack(spawn):
    target = spawn(ALLOCATING)
    target.wait_stdout("ready")
    assert profiler_result(target, "profiler start -e alloc -i 50")["executeResult"] == "Started [alloc] profiling\n"
    assert "engine: tracemalloc" in profiler_result(target, "profiler status")["executeResult"]
    wait_for_samples(target, 200)
    model = profiler_result(target, "profiler stop -o collapsed -f alloc.txt")
    stacks = read_collapsed(model["outputFile"])
    # the script's own allocations (threads' start-up in the threading module allocates too)
    total = sum(c for s, c in stacks.items() if "__main__." in s)
    allocating = sum(c for s, c in stacks.items() if s.endswith("__main__.allocate_buffers"))
    assert total > 0 and allocating / total >= 0.8, stacks
    assert_no_agent_frames(stacks)
