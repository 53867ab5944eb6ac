"""dump (a module's source and .pyc, a class's source), jad -d/--source-only/--lineNumber and its row
count, mc (compile to .pyc) and retransform (redefine's replacement, listed and undone by id)."""
import os

from harness import of_type, only, run

FIXED = "if number < 0:"      # the demo's primeFactors, changed: 1 no longer raises


def _demo_source(demo):
    info = only(run(demo, "sc -d demo.MathGame")[0], "sc")["classInfo"]
    with open(info["codeSource"]) as handle:
        return handle.read(), info


def test_dump_writes_source_and_pyc(demo, tmp_path):
    demo.wait_stdout(".")
    source, info = _demo_source(demo)
    results, status = run(demo, "dump demo.MathGame")
    dumped = only(results, "dump")["dumpedClasses"]
    assert status["statusCode"] == 0 and only(results, "row_affect")["rowCount"] == 1
    assert dumped[0]["name"] == "demo.MathGame" and dumped[0]["classLoaderHash"] == info["classLoaderHash"]
    assert dumped[0]["classloader"] == info["classloader"]
    location = dumped[0]["location"]
    expected_dir = os.path.join(str(tmp_path), "arthas-output", "classdump", "FileFinder-" + info["classLoaderHash"])
    assert location == os.path.join(os.path.realpath(expected_dir), "demo", "MathGame.py")
    with open(location) as handle:
        assert handle.read().startswith("class MathGame:")

    out = tmp_path / "out"
    results, _ = run(demo, "dump -d %s demo" % out)
    locations = sorted(vo["location"] for vo in only(results, "dump")["dumpedClasses"])
    assert locations == [str(out / "demo.py"), str(out / "demo.pyc")]
    assert (out / "demo.py").read_text() == source
    # the .pyc is this interpreter's compile of that source: the target loads it
    loaded = demo.ognl("__import__('marshal').loads(open(%r, 'rb').read()[16:]).co_filename" % str(out / "demo.pyc"))
    assert loaded == info["codeSource"]
    package = only(run(demo, "dump -d %s json" % out)[0], "dump")["dumpedClasses"]
    assert sorted(vo["location"] for vo in package) == [str(out / "json" / "__init__.py"),
                                                         str(out / "json" / "__init__.pyc")]


def test_dump_errors(demo):
    results, status = run(demo, "dump no.Such")
    assert status["statusCode"] == -1 and status["message"] == "No class found for: no.Such"
    assert only(results, "row_affect")["rowCount"] == 0
    results, status = run(demo, "dump -l 1 json.decoder.*")
    assert status["message"].startswith("Found more than 1 class for: json.decoder.*")
    assert len(only(results, "dump")["matchedClasses"]) > 1
    _, status = run(demo, "dump sys")     # defined in C: no code to write
    assert status["statusCode"] == -1 and status["message"].startswith("dump: fail to dump classes: [sys]")


def test_jad_options_and_row_affect(demo, tmp_path):
    demo.wait_stdout(".")
    results, status = run(demo, "jad -d %s demo.MathGame primeFactors" % (tmp_path / "src"))
    assert [r["type"] for r in results] == ["jad", "row_affect"] and results[1]["rowCount"] == 1
    assert results[0]["source"].lstrip().startswith("def primeFactors")
    assert (tmp_path / "src" / "demo" / "MathGame.py").read_text().startswith("class MathGame:")

    only_source = run(demo, "jad --source-only demo.MathGame")[0]
    assert [r["type"] for r in only_source] == ["jad"]                       # Arthas: no row count either
    assert "classInfo" not in only_source[0] and "location" not in only_source[0]
    assert only_source[0]["source"].startswith("class MathGame:")
    assert only(run(demo, "jad --lineNumber false demo.MathGame")[0], "jad")["lineNumber"] is False

    results, status = run(demo, "jad json.decoder.JSONDecode*")
    assert [r["type"] for r in results] == ["message", "jad", "row_affect"] and status["statusCode"] == -1
    (tmp_path / "file").write_text("")
    _, status = run(demo, "jad -d %s demo.MathGame" % (tmp_path / "file"))
    assert status["message"] == "%s :is not a directory, please check it" % (tmp_path / "file")


def test_mc_then_retransform_then_undo(demo, tmp_path):
    demo.wait_stdout(".")
    source, _ = _demo_source(demo)
    assert "if number < 2:" in source
    changed = tmp_path / "new" / "demo.py"
    changed.parent.mkdir()
    changed.write_text(source.replace("if number < 2:", FIXED))
    out = tmp_path / "classes"
    results, status = run(demo, "mc -d %s %s" % (out, changed))
    assert status["statusCode"] == 0 and only(results, "mc")["files"] == [str(out / "demo.pyc")]
    assert only(results, "row_affect")["rowCount"] == 1
    broken = tmp_path / "broken.py"
    broken.write_text("def f(:\n")
    _, status = run(demo, "mc %s" % broken)
    assert status["statusCode"] == -1 and status["message"].startswith(
        "Memory compiler error, exception message: Compilation Error\nmessage: ")
    assert ", line: 1 , \n, please check $HOME/logs/arthas/arthas.log for more details." in status["message"]
    missing = tmp_path / "missing.py"
    assert run(demo, "mc %s" % missing)[1]["message"] == (      # Java's words for a missing file, as Arthas's
        "Memory compiler error, exception message: %s (No such file or directory), please check "
        "$HOME/logs/arthas/arthas.log for more details." % missing)

    calls_one = "demo.MathGame().primeFactors(1)"
    assert "need >= 2" in run(demo, "ognl '%s'" % calls_one)[1]["message"]
    results, status = run(demo, "retransform %s" % (out / "demo.pyc"))
    model = only(results, "retransform")
    assert status["statusCode"] == 0 and "demo.MathGame" in model["retransformClasses"]
    assert model["retransformCount"] == len(model["retransformClasses"]) and model["ids"]
    assert demo.ognl(calls_one) == []

    entries = only(run(demo, "retransform -l")[0], "retransform")["retransformEntries"]
    prime = next(e for e in entries if e["methodName"] == "primeFactors")
    assert prime["className"] == "demo.MathGame" and prime["transformCount"] == 1 and prime["id"] in model["ids"]
    results, status = run(demo, "retransform -d %d" % prime["id"])
    assert status["statusCode"] == 0 and results == []                       # Arthas sends nothing for -d
    assert "need >= 2" in run(demo, "ognl '%s'" % calls_one)[1]["message"]
    left = only(run(demo, "retransform -l")[0], "retransform")["retransformEntries"]
    assert prime["id"] not in {e["id"] for e in left} and left

    assert only(run(demo, "retransform --deleteAll")[0], "retransform")["retransformCount"] == 0
    assert only(run(demo, "retransform -l")[0], "retransform")["retransformEntries"] == []

    pattern = only(run(demo, "retransform --classPattern demo.MathGame")[0], "retransform")
    assert pattern["retransformClasses"] == ["demo.MathGame"] and pattern["retransformCount"] == 1
    _, status = run(demo, "retransform --classPattern no.Such")
    assert status["statusCode"] == -1 and "no.Such" in status["message"]
    assert run(demo, "retransform")[1]["message"] == "paths is empty."
    assert not of_type(run(demo, "retransform -l")[0], "message")
