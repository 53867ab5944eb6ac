"""memory, heapdump, vmtool; and no inspection command leaves threads or tracemalloc running."""
import json
import os

from harness import only, run

NEEDLES_TARGET = """
import time

class Needle:
    __slots__ = ("number",)
    def __init__(self, number):
        self.number = number

class SharpNeedle(Needle):
    __slots__ = ()

haystack = [Needle(i) for i in range(1000000)]
sharp = SharpNeedle(-1)
print("ready", flush=True)
while True:
    time.sleep(10)
"""

ALLOCATING_TARGET = """
import time
kept = []

def grow():
    kept.append([0] * 100)

print("ready", flush=True)
while True:
    grow()
    if len(kept) % 200 == 0:
        print("grown %d" % len(kept), flush=True)
    if len(kept) >= 2000:
        kept.clear()
    time.sleep(0.002)
"""


def test_memory_top_vmtool_and_heapdump_on_a_million_objects(spawn, tmp_path):
    """One target for the three (allocating a million objects takes a while): memory --top ranks the type
    allocated a million times first, vmtool finds instances of the test class, heapdump writes them."""
    target = spawn(NEEDLES_TARGET)
    target.wait_stdout("ready", timeout=60)
    _memory_top(target)
    _vmtool(target)
    _heapdump(target, tmp_path)


def _memory_top(target):
    results, status = run(target, "memory --top 3")
    assert status["statusCode"] == 0
    model = only(results, "memory")
    top = model["topTypes"]
    assert len(top) == 3
    assert top[0]["className"] == "__main__.Needle"
    assert top[0]["count"] == 1000000
    assert top[0]["bytes"] >= 1000000 * 16
    assert model["objectCount"] > 1000000

    by_bytes = only(run(target, "memory --top 1 --sort bytes")[0], "memory")["topTypes"]
    assert by_bytes[0]["bytes"] >= top[0]["bytes"]

    info = model["memoryInfo"]
    assert {"heap", "nonheap", "buffer_pool"} == set(info)
    assert info["heap"][0]["name"] == "heap" and info["heap"][0]["type"] == "heap"
    assert {"type", "name", "used", "total", "max"} == set(info["heap"][0])
    assert model["process"]["rss"] > 40 * 1024 * 1024
    assert model["process"]["rssPeak"] >= model["process"]["rss"]
    assert [g["name"] for g in model["gcInfos"]] == ["gen0", "gen1", "gen2"]
    assert model["tracemalloc"] == {"tracing": False}


def _vmtool(target):
    results, status = run(target, "vmtool --action getInstances --className __main__.Needle --limit 3")
    assert status["statusCode"] == 0
    value = only(results, "vmtool")["value"]
    assert len(value) == 3
    assert {v["@type"] for v in value} <= {"__main__.Needle", "__main__.SharpNeedle"}

    count = run(target, "vmtool -a getInstances --className __main__.Needle -l -1 --express len(instances)")[0]
    assert only(count, "vmtool")["value"] == 1000001  # subclasses count, as in Java
    sharp = run(target, "vmtool -a getInstances --className *SharpNeedle --express instances[0].number")[0]
    assert only(sharp, "vmtool")["value"] == -1

    _, status = run(target, "vmtool --action forceGc")
    assert status["statusCode"] == 0
    for command, message in (("vmtool -a getInstances --className no.Such", "Can not find class by class name"),
                             ("vmtool -a getInstances", "vmtool getInstances: --className is required"),
                             ("vmtool -a getInstances --className __main__.Needle --express 1/0",
                              "Failed to execute express, exception message: ZeroDivisionError")):
        _, status = run(target, command)
        assert status["statusCode"] == -1
        assert status["message"].startswith(message)


def _heapdump(target, tmp_path):
    results, status = run(target, "heapdump --live")
    assert status["statusCode"] == 0
    dump = only(results, "heapdump")
    assert dump["live"] is True
    assert os.path.dirname(dump["dumpFile"]) == str(tmp_path / "arthas-output")
    messages = [r["message"] for r in results if r["type"] == "message"]
    assert messages == ["Dumping heap to %s ..." % dump["dumpFile"], "Heap dump file created"]
    with open(dump["dumpFile"]) as handle:
        body = json.load(handle)
    counts = {entry["className"]: entry["count"] for entry in body["histogram"]}
    assert counts["__main__.Needle"] == 1000000

    named = only(run(target, "heapdump mine.json")[0], "heapdump")
    assert named["dumpFile"] == str(tmp_path / "mine.json")     # relative to the working directory, as Arthas
    assert named["live"] is False and os.path.exists(named["dumpFile"])


def test_memory_trace_shows_allocation_sites_and_their_difference(spawn):
    target = spawn(ALLOCATING_TARGET)
    target.wait_stdout("ready")
    _, status = run(target, "memory --trace snapshot")
    assert status["statusCode"] == -1
    assert "run 'memory --trace start' first" in status["message"]

    started = only(run(target, "memory --trace start")[0], "message")["message"]
    assert started.startswith("tracemalloc started")
    while not target.stdout_lines.empty():  # lines printed before tracing started do not count
        target.stdout_lines.get_nowait()
    target.wait_stdout("grown")
    target.wait_stdout("grown")  # at least 200 lists allocated while tracing
    first = only(run(target, "memory --trace snapshot -n 20")[0], "memory")
    assert first["tracemalloc"]["tracing"] is True
    assert "traceDiff" not in first  # nothing to compare the first snapshot with
    assert any(site["fileName"].endswith("target_main.py") for site in first["traceTop"])
    second = only(run(target, "memory --trace snapshot -n 20")[0], "memory")
    assert second["traceDiff"] and all("sizeDiff" in site for site in second["traceDiff"])

    assert only(run(target, "memory --trace stop")[0], "message")["message"] == "tracemalloc stopped."
    assert only(run(target, "memory")[0], "memory")["tracemalloc"] == {"tracing": False}


def _lasting_threads(target):
    """Names of the threads alive, without the ones a request or a job uses while it runs (the HTTP
    server's request threads are marked as the agent's but not named by it; the serializer's str() worker
    ends a few seconds after its last call)."""
    stats = only(run(target, "thread --all -i 10")[0], "thread")["threadStats"]
    transient = ("pyarthas-job-", "pyarthas-distributor-", "pyarthas-tostring")
    return sorted(vo["name"] for vo in stats if not vo["name"].startswith(transient)
                  and not (vo["agentThread"] and not vo["name"].startswith("pyarthas-")))


def test_no_command_leaves_threads_or_tracemalloc_running(spawn):
    target = spawn(ALLOCATING_TARGET.replace("import time", "import time, asyncio, logging"))
    target.wait_stdout("ready")
    before = _lasting_threads(target)
    for command in ("thread", "thread -n 2", "thread -b", "thread --locals 1", "tasks", "sc -d __main__*",
                    "sm __main__ grow", "jad __main__.grow", "logger", "vmoption", "jvm", "memory --top 5",
                    "heapdump", "vmtool -a getInstances --className builtins.list -l 2", "vmtool -a forceGc",
                    "memory --trace start", "memory --trace snapshot", "memory --trace stop"):
        run(target, command)
    assert _lasting_threads(target) == before
    assert only(run(target, "memory")[0], "memory")["tracemalloc"] == {"tracing": False}


def test_memory_views():
    from pyarthas.agent.view import Context, render
    result = {"type": "memory", "jobId": 1,
              "memoryInfo": {"heap": [{"type": "heap", "name": "heap", "used": 1024, "total": 2048, "max": -1}]},
              "topTypes": [{"className": "__main__.Needle", "count": 1000000, "bytes": 40000000}],
              "objectCount": 1000010, "objectBytes": 40000400}
    text = render(result, Context(width=100))
    assert "heap" in text.splitlines()[1] and "50.00%" in text.splitlines()[1]
    assert "  1     1000000  40000000  __main__.Needle" in text
    assert text.endswith("Total: 1000010 objects, 38.1M")
    sites = {"type": "memory", "jobId": 1, "traceTop": [{"fileName": "a.py", "lineNumber": 3, "size": 2048,
                                                         "count": 2}],
             "traceDiff": [{"fileName": "a.py", "lineNumber": 3, "size": 2048, "count": 2, "sizeDiff": 1024,
                            "countDiff": 1}]}
    lines = render(sites, Context()).splitlines()
    assert lines[0] == "Top allocation sites" and lines[2].split() == ["2.0K", "2", "a.py:3"]
    assert lines[-1].split() == ["2.0K", "+1.0K", "2", "+1", "a.py:3"]
    vmtool = {"type": "vmtool", "jobId": 1, "value": [{"@type": "__main__.Needle", "number": 1}], "expand": 2}
    assert render(vmtool, Context()) == "@list[\n    @Needle[\n        number=@int[1],\n    ],\n]"
