"""classloader: Python's import system as Arthas's class loaders (meta-path finders, one path-entry finder
per sys.path entry), and the loader identity sc, sm and jad filter by (-c, --classLoaderClass, -cs)."""
import json
import os
import re

from harness import only, run
from shell_client import RawTerminal, prompt_of, start_shell_demo


def _demo_loader(demo):
    info = only(run(demo, "sc -d demo.MathGame")[0], "sc")["classInfo"]
    return info["classLoaderHash"], info["classloader"], os.path.dirname(info["codeSource"])


def sys_path_entries(demo):
    return only(run(demo, "classloader --classLoaderClass PathFinder")[0], "classloader")["urls"]


def test_classloader_lists_the_import_system(demo, tmp_path):
    demo.wait_stdout(".")
    loader_hash, chain, demo_dir = _demo_loader(demo)
    assert chain == ["FileFinder('%s')" % demo_dir, "PathFinder"]

    results, status = run(demo, "classloader")
    stats = only(results, "classloader")["classLoaderStats"]
    assert status["statusCode"] == 0 and only(results, "row_affect")["rowCount"] == len(stats)
    assert stats["BuiltinImporter"]["numberOfInstance"] == 1 and stats["BuiltinImporter"]["loadedCount"] >= 2
    assert stats["FileFinder"]["loadedCount"] >= 1 and stats["PathFinder"]["loadedCount"] == 0

    listed = only(run(demo, "classloader -l")[0], "classloader")
    assert listed["tree"] is False
    by_hash = {vo["hash"]: vo for vo in listed["classLoaders"]}
    assert by_hash[loader_hash] == {"name": chain[0], "hash": loader_hash, "parent": "PathFinder", "loadedCount": 1}
    assert "parent" not in next(vo for vo in listed["classLoaders"] if vo["name"] == "BuiltinImporter")

    tree = only(run(demo, "classloader -t")[0], "classloader")
    path_finder = next(vo for vo in tree["classLoaders"] if vo["name"] == "PathFinder")
    assert tree["tree"] is True and loader_hash in {child["hash"] for child in path_finder["children"]}

    url_stats = only(run(demo, "classloader --url-stat")[0], "classloader")["urlStats"]
    path_finder = next(vo for vo in listed["classLoaders"] if vo["name"] == "PathFinder")
    # keyed by the loader's ClassLoaderVO as JSON text, as Arthas's map comes out of fastjson2
    stat = url_stats[json.dumps({"hash": path_finder["hash"], "name": "PathFinder"}, separators=(",", ":"))]
    assert demo_dir in stat["usedUrls"]
    assert os.path.realpath(str(tmp_path)) in {os.path.realpath(u) for u in stat["unUsedUrls"]}   # the cwd


def test_classloader_of_one_loader(demo):
    demo.wait_stdout(".")
    loader_hash, _, demo_dir = _demo_loader(demo)
    results, status = run(demo, "classloader -c %s" % loader_hash)
    assert only(results, "classloader")["urls"] == [demo_dir] and only(results, "row_affect")["rowCount"] == 1

    resources = only(run(demo, "classloader -c %s -r demo.py" % loader_hash)[0], "classloader")["resources"]
    assert resources == [os.path.join(demo_dir, "demo.py")]

    class_set = only(run(demo, "classloader -a -c %s" % loader_hash)[0], "classloader")["classSet"]
    assert class_set["classes"] == ["demo"] and class_set["classloader"]["hash"] == loader_hash

    results, status = run(demo, "classloader --classLoaderClass BuiltinImporter --load json.scanner")
    assert status["statusCode"] == 0 and only(results, "message")["message"] == "load class success."
    assert only(results, "classloader")["loadClass"]["name"] == "json.scanner"

    results, status = run(demo, "classloader --classLoaderClass BuiltinImporter")
    assert only(results, "message")["message"].startswith("not a path-based loader")

    stats = only(run(demo, "classloader -c %s --url-classes -d" % loader_hash)[0], "classloader")
    assert stats["urlClassStats"] == [{"url": demo_dir, "loadedClassCount": 1, "classes": ["demo"], "truncated": False}]
    # PathFinder (the sys.path loader) counts by entry what each entry's finder loaded, as Arthas by jar
    results, _ = run(demo, "classloader --classLoaderClass PathFinder --url-classes -d --jar '%s'" % demo_dir)
    assert only(results, "classloader")["urlClassStats"] == [
        {"url": demo_dir, "loadedClassCount": 1, "classes": ["demo"], "truncated": False}]
    stats = only(run(demo, "classloader --classLoaderClass PathFinder --url-classes --class 'json*'")[0],
                 "classloader")["urlClassStats"]
    assert sum(stat["matchedClassCount"] for stat in stats) >= 2 and len(stats) == len(sys_path_entries(demo))


def test_classloader_errors_as_arthas(demo):
    results, status = run(demo, "classloader --classLoaderClass FileFinder")
    assert status == {"type": "status", "jobId": status["jobId"], "statusCode": -1, "message":
                      "Found more than one classloader by class name, please specify classloader with "
                      "'-c <classloader hash>'"}
    assert len(only(results, "classloader")["matchedClassLoaders"]) >= 2
    _, status = run(demo, "classloader --classLoaderClass NoSuchLoader")
    assert status["message"] == "Can not find classloader by class name: NoSuchLoader."
    _, status = run(demo, "classloader -d")
    assert status["message"] == "Options -d/-E/-n/--jar/--class only work with --url-classes."
    _, status = run(demo, "classloader --url-classes")
    assert status["statusCode"] == -1 and "for --url-classes" in status["message"]
    results, status = run(demo, "classloader -c 00000000")      # an unknown hash shows nothing, as Arthas
    assert status["statusCode"] == 0 and only(results, "row_affect")["rowCount"] == 0


def test_sc_sm_jad_filter_by_the_loader_classloader_shows(demo):
    demo.wait_stdout(".")
    loader_hash, chain, _ = _demo_loader(demo)
    builtin = next(vo["hash"] for vo in only(run(demo, "classloader -l")[0], "classloader")["classLoaders"]
                   if vo["name"] == "BuiltinImporter")
    assert only(run(demo, "sc -c %s demo.*" % loader_hash)[0], "sc")["classNames"] == ["demo.MathGame"]
    assert only(run(demo, "sc -c %s demo.*" % builtin)[0], "row_affect")["rowCount"] == 0
    assert only(run(demo, "sc --classLoaderClass FileFinder demo.MathGame")[0], "row_affect")["rowCount"] == 1
    assert only(run(demo, "sc -cs \"%s\" demo.MathGame" % chain[0])[0], "row_affect")["rowCount"] == 1
    assert only(run(demo, "sc -c %s sys" % builtin)[0], "sc")["classNames"] == ["sys"]
    results, _ = run(demo, "sm -d -c %s demo.MathGame primeFactors" % loader_hash)
    method = only(results, "sm")
    assert method["detail"] is True and method["methodInfo"]["classLoaderHash"] == loader_hash
    assert only(run(demo, "sm -c %s demo.MathGame" % builtin)[0], "row_affect")["rowCount"] == 0
    results, status = run(demo, "jad -c %s demo.MathGame" % builtin)
    assert status["message"] == "No class found for: demo.MathGame"
    assert [r["type"] for r in results] == ["row_affect"] and results[0]["rowCount"] == 0
    assert run(demo, "jad -c %s demo.MathGame" % loader_hash)[1]["statusCode"] == 0


def test_classloader_in_the_shell(target_python, tmp_path):
    target = start_shell_demo(target_python, tmp_path)
    term = RawTerminal(target.telnet_port)
    try:
        prompt = prompt_of(target)
        term.screen.expect(re.escape(prompt), timeout=60)
        mark = term.screen.mark()
        term.send("classloader\r\n")
        term.screen.expect(r"numberOfInstances\s+loadedCountTotal[\s\S]*BuiltinImporter\s+1\s+\d+[\s\S]*"
                           r"Affect\(row-cnt:\d+\)", after=mark, timeout=60)
        mark = term.screen.mark()
        term.send("classloader -t\r\n")
        term.screen.expect(r"PathFinder \(hash \w+, loaded 0\)\n\s*\+-FileFinder\('", after=mark, timeout=60)
    finally:
        term.close()
        target.kill()
