"""memory, heapdump, vmtool; and no inspection command leaves threads or tracemalloc running."""
import json
import os

from test_thread import only, run

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
    if len(kept) > 2000:
        kept.clear()
    time.sleep(0.005)
"""


def test_memory_top_ranks_the_type_allocated_a_million_times_first(spawn):
    target = spawn(NEEDLES_TARGET)
    target.wait_stdout("ready", timeout=60)
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


def test_vmtool_finds_instances_of_a_test_class(spawn):
    target = spawn(NEEDLES_TARGET)
    target.wait_stdout("ready", timeout=60)
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


def test_heapdump_writes_a_histogram_into_the_output_folder(spawn, tmp_path):
    target = spawn(NEEDLES_TARGET)
    target.wait_stdout("ready", timeout=60)
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
    assert named["dumpFile"] == str(tmp_path / "arthas-output" / "mine.json")
    assert named["live"] is False and os.path.exists(named["dumpFile"])


def test_memory_trace_shows_allocation_sites_and_their_difference(spawn):
    target = spawn(ALLOCATING_TARGET)
    target.wait_stdout("ready")
    _, status = run(target, "memory --trace snapshot")
    assert status["statusCode"] == -1
    assert "run 'memory --trace start' first" in status["message"]

    started = only(run(target, "memory --trace start")[0], "message")["message"]
    assert started.startswith("tracemalloc started")
    first = only(run(target, "memory --trace snapshot -n 5")[0], "memory")
    assert first["tracemalloc"]["tracing"] is True
    assert first["traceDiff"] is None if "traceDiff" in first else True
    assert any(site["fileName"].endswith("target_main.py") for site in first["traceTop"])
    second = only(run(target, "memory --trace snapshot -n 5")[0], "memory")
    assert second["traceDiff"] and all("sizeDiff" in site for site in second["traceDiff"])

    assert only(run(target, "memory --trace stop")[0], "message")["message"] == "tracemalloc stopped."
    assert only(run(target, "memory")[0], "memory")["tracemalloc"] == {"tracing": False}


def _lasting_threads(target):
    """Names of the threads alive, without the ones a request or a job uses while it runs."""
    stats = only(run(target, "thread --all -i 10")[0], "thread")["threadStats"]
    transient = ("pyarthas-job-", "pyarthas-distributor-", "pyarthas-request")
    return sorted(vo["name"] for vo in stats if not vo["name"].startswith(transient))


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
