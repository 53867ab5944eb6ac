"""The text views of classloader, dump, mc, retransform and perfcounter, on results as the agent sends them."""
from pyarthas.agent.view import Context, render

LOADER = {"name": "FileFinder('/app')", "hash": "4fc4390a", "parent": "PathFinder", "loadedCount": 2}


def test_classloader_views():
    stats = {"type": "classloader", "jobId": 1, "classLoaderStats": {
        "FileFinder": {"loadedCount": 200, "numberOfInstance": 4}, "BuiltinImporter": {"loadedCount": 20,
                                                                                       "numberOfInstance": 1}}}
    lines = render(stats, Context()).splitlines()
    assert lines[0].split() == ["name", "numberOfInstances", "loadedCountTotal"]
    assert lines[1].split() == ["FileFinder", "4", "200"] and lines[2].split() == ["BuiltinImporter", "1", "20"]
    listed = render({"type": "classloader", "jobId": 1, "tree": False,
                     "classLoaders": [{"name": "PathFinder", "hash": "fe407642", "loadedCount": 0}, LOADER]},
                    Context())
    assert listed.splitlines()[1].split() == ["PathFinder", "0", "fe407642", "null"]
    tree = render({"type": "classloader", "jobId": 1, "tree": True, "classLoaders": [
        {"name": "PathFinder", "hash": "fe407642", "loadedCount": 0, "children": [LOADER]}]}, Context())
    assert tree == "PathFinder (hash fe407642, loaded 0)\n  +-FileFinder('/app') (hash 4fc4390a, loaded 2)"
    urls = render({"type": "classloader", "jobId": 1, "urlStats": {'{"hash":"fe407642","name":"PathFinder"}': {
        "usedUrls": ["/app"], "unUsedUrls": ["/tmp"]}}}, Context())
    assert urls == "PathFinder, hash:fe407642\nUsed URLs:\n/app\nUnused URLs:\n/tmp"
    class_set = render({"type": "classloader", "jobId": 1, "classSet": {"classloader": LOADER,
                                                                        "classes": ["demo", "demo.x"], "segment": 0}},
                       Context())
    assert class_set == "hash:4fc4390a, FileFinder('/app')\ndemo\ndemo.x"


def test_dump_mc_retransform_perfcounter_views():
    dumped = render({"type": "dump", "jobId": 1, "dumpedClasses": [
        {"name": "demo", "classloader": ["FileFinder('/app')", "PathFinder"], "classLoaderHash": "4fc4390a",
         "location": "/out/demo.py"}]}, Context(width=200))
    assert dumped.splitlines()[1].split() == ["4fc4390a", "FileFinder('/app')", "->", "PathFinder", "/out/demo.py"]
    assert render({"type": "mc", "jobId": 1, "files": ["/out/demo.pyc"]}, Context()) == \
        "Memory compiler output:\n/out/demo.pyc"
    done = render({"type": "retransform", "jobId": 1, "retransformCount": 1, "retransformClasses": ["demo.X"],
                   "ids": [1]}, Context())
    assert done == "retransform success, size: 1, classes:\ndemo.X"
    entries = render({"type": "retransform", "jobId": 1, "retransformCount": 0, "retransformEntries": [
        {"id": 1, "className": "demo.X", "methodName": "f", "hashCode": "4fc4390a",
         "classLoaderClass": "FileFinder('/app')", "transformCount": 2}]}, Context(width=200))
    assert entries.splitlines()[1].split() == ["1", "demo.X", "f", "2", "4fc4390a", "FileFinder('/app')"]
    counters = {"type": "perfcounter", "jobId": 1, "details": True, "perfCounters": [
        {"name": "python.gc.gen0.collections", "value": 5, "units": "Events", "variability": "Monotonic"}]}
    assert render(counters, Context()).splitlines()[1].split() == ["python.gc.gen0.collections", "Monotonic",
                                                                   "Events", "5"]
    plain = dict(counters, details=False, perfCounters=[{"name": "python.threads.live", "value": 3}])
    assert render(plain, Context()).split() == ["python.threads.live", "3"]
