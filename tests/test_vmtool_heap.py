"""vmtool heapAnalyze/referenceAnalyze (on a target with a known set of objects), getInstances with
--express and --limit, forceGc, and heapdump's path rules."""
import re

from harness import of_type, only, run, run_in_session
from shell_client import RawTerminal, prompt_of, start_shell_target

KNOWN_OBJECTS = """
import time

class Blob:
    def __init__(self, size):
        self.payload = list(range(size))

class Small:
    pass

HOLDER = [Blob(200000)]
SMALLS = [Small() for _ in range(5000)]
print("ready", flush=True)
while True:
    time.sleep(1)
"""


def _terminal_text(target, command):
    """What a shell shows: Arthas's vmtool writes its analyses as text, not as result models (a session
    gets them when it asks, as pyarthas's consoles do)."""
    results = run_in_session(target, command, timeout=120, terminalMessages=True)
    assert only(results, "status")["statusCode"] == 0, results
    return only(results, "message")["message"]


def test_heap_analyze_on_known_objects(spawn):
    target = spawn(KNOWN_OBJECTS)
    target.wait_stdout("ready")
    text = _terminal_text(target, "vmtool --action heapAnalyze --classNum 60 --objectNum 3")
    assert re.match(r"class_number: \d+\nobject_number: \d+\n", text)
    objects, classes = text.split("#instances")
    largest = objects.split("-" * 52 + "\n")[1].splitlines()[0]
    # the Blob's payload: 200000 references, held by the Blob, held by the list HOLDER
    assert re.match(r"1\s+\t\d{7}\s*\tbuiltins\.list <-- .*", largest), largest
    assert "__main__.Blob" in largest or "builtins.dict['payload']" in largest
    assert re.search(r"\n\d+\s+\t5000\s+\t\d+\s+\t__main__\.Small\n", classes), classes

    path = _terminal_text(target, "vmtool -a referenceAnalyze --className __main__.Blob --objectNum 1 "
                                  "--backtraceNum -1")
    assert re.search(r"1\s+\t\d+\s+\t__main__\.Blob <-- builtins\.list <-- root \(global HOLDER of module "
                     r"__main__\)", path), path

    # a one-time exec gets what Arthas's exec gets: no result model, status 0
    results, status = run(target, "vmtool --action heapAnalyze --classNum 1 --objectNum 1")
    assert results == [] and status["statusCode"] == 0
    _, status = run(target, "vmtool --action heapAnalyze --classNum 0")
    assert status["statusCode"] == -1 and "greater than 0" in status["message"]
    _, status = run(target, "vmtool --action referenceAnalyze")
    assert status["message"] == "vmtool referenceAnalyze: --className is required"


def test_get_instances_force_gc_and_heapdump_paths(spawn, tmp_path):
    target = spawn(KNOWN_OBJECTS)
    target.wait_stdout("ready")
    limited = run(target, "vmtool --action getInstances --className __main__.Small --limit 3 "
                          "--express 'len(instances)'")[0]
    assert only(limited, "vmtool")["value"] == 3
    everything = run(target, "vmtool -a getInstances --className __main__.Small -l -1 --express "
                             "'instances.size()'")[0]
    assert only(everything, "vmtool")["value"] == 5000
    results, status = run(target, "vmtool --action forceGc")
    assert results == [] and status["statusCode"] == 0

    results, status = run(target, "heapdump --live dumps/heap.json")
    dump = only(results, "heapdump")
    assert dump["dumpFile"] == str(tmp_path / "dumps" / "heap.json") and dump["live"] is True
    assert (tmp_path / "dumps" / "heap.json").exists()
    absolute = tmp_path / "elsewhere.json"
    assert only(run(target, "heapdump %s" % absolute)[0], "heapdump")["dumpFile"] == str(absolute)
    assert [m["message"] for m in of_type(results, "message")][-1] == "Heap dump file created"


def test_heap_analyze_in_the_shell(target_python, tmp_path):
    (tmp_path / "known.py").write_text(KNOWN_OBJECTS)
    target = start_shell_target(target_python, tmp_path, ["run", str(tmp_path / "known.py")])
    term = RawTerminal(target.telnet_port)
    try:
        term.screen.expect(re.escape(prompt_of(target)), timeout=60)
        target.wait_stdout("ready", timeout=60)
        mark = term.screen.mark()
        term.send("vmtool --action heapAnalyze --classNum 3 --objectNum 2\r\n")
        term.screen.expect(r"class_number: \d+\nobject_number: \d+\n\nid\s+#bytes\s+class_name\n-+\n1\s+\d+\s+"
                           r"builtins\.list", after=mark, timeout=120)
    finally:
        term.close()
        target.kill()
