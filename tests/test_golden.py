"""The golden harness (tests/golden.py): the same requests against real Arthas and pyarthas, each difference
either explained in docs/arthas-differences.md or a failure.

- The Arthas 4 dialect (``--wire-format arthas4``) against real Arthas 4 (its agent in its math-game,
  fetched by scripts/arthas.sh; started once per test session), on every CPython.
- The seed dialect (the default) against the responses Arthas's HTTP API documentation shows
  (``SEED_REFERENCE``, copied from it), on every CPython; for the commands that documentation does not
  show (classloader, dump, perfcounter, mc, retransform, mbean, the idioms), against the Arthas 4
  dialect's answers, which may differ only in times and values (agent/api/wire.py).
"""
import fcntl
import json
import os
import shutil

import pytest

import golden
from harness import only, start_demo, status_of
from pyarthas.agent.api import wire

FAST_DEMO = {"PYARTHAS_DEMO_INTERVAL": "0.1"}

# The responses of the seed's session flow as Arthas's HTTP API documentation shows them
# (https://arthas.aliyun.com/en/doc/http-api.html, "Session interaction"), by the harness's step names.
_SEED_WATCH_FAILED = {"type": "watch", "jobId": 3, "cost": 0.071499, "ts": 1596703453237, "sizeLimit": 10485760,
                      "expand": 1, "value": [[-170365], None, {
                          "stackTrace": [{"className": "demo.MathGame", "classLoaderName": "app",
                                          "methodName": "primeFactors", "nativeMethod": False, "lineNumber": 46,
                                          "fileName": "MathGame.java"}],
                          "localizedMessage": "number is: -170365, need >= 2",
                          "@type": "java.lang.IllegalArgumentException",
                          "message": "number is: -170365, need >= 2"}]}
_SEED_WATCH_RETURNED = {"type": "watch", "cost": 0.033375, "jobId": 3, "ts": 1596703454241,
                        "value": [[1], [2, 2, 2, 2, 13, 491], None], "sizeLimit": 10485760, "expand": 1}
SEED_REFERENCE = {
    "init_session": {"sessionId": "b09f1353-202c-407b-af24-701b744f971e",
                     "consumerId": "5ae4e5fbab8b4e529ac404f260d4e2d1_1", "state": "SUCCEEDED"},
    "join_session": {"consumerId": "8f7f6ad7bc2d4cb5aa57a530927a95cc_2",
                     "sessionId": "b09f1353-202c-407b-af24-701b744f971e", "state": "SUCCEEDED"},
    "pull_results (joined)": {
        "body": {"results": [
            {"inputStatus": "DISABLED", "jobId": 0, "type": "input_status"},
            {"type": "message", "jobId": 0, "message": "Welcome to arthas!"},
            {"tutorials": "https://arthas.aliyun.com/doc/arthas-tutorials.html", "time": "2020-08-06 15:56:43",
             "type": "welcome", "jobId": 0, "pid": "7909", "wiki": "https://arthas.aliyun.com/doc",
             "version": "3.3.7"},
            {"inputStatus": "ALLOW_INPUT", "type": "input_status", "jobId": 0}]},
        "sessionId": "b09f1353-202c-407b-af24-701b744f971e", "consumerId": "8f7f6ad7bc2d4cb5aa57a530927a95cc_2",
        "state": "SUCCEEDED"},
    "async_exec watch": {"sessionId": "2b085b5d-883b-4914-ab35-b2c5c1d5aa2a", "state": "SCHEDULED",
                         "body": {"jobStatus": "READY", "jobId": 3,
                                  "command": "watch demo.MathGame primeFactors \"{params, returnObj, throwExp}\" "}},
    "pull_results (watch)": {
        "body": {"results": [
            {"type": "command", "jobId": 3, "state": "SCHEDULED",
             "command": "watch demo.MathGame primeFactors \"{params, returnObj, throwExp}\" "},
            {"inputStatus": "ALLOW_INTERRUPT", "jobId": 0, "type": "input_status"},
            {"success": True, "jobId": 3, "effect": {"listenerId": 3, "cost": 24, "classCount": 1, "methodCount": 1},
             "type": "enhancer"},
            _SEED_WATCH_FAILED, _SEED_WATCH_RETURNED]},
        "consumerId": "8ecb9cb7c7804d5d92e258b23d5245cc_1", "sessionId": "2b085b5d-883b-4914-ab35-b2c5c1d5aa2a",
        "state": "SUCCEEDED"},
    "interrupt_job": {"state": "SUCCEEDED", "body": {"jobStatus": "TERMINATED", "jobId": 3}},
    "close_session": {"state": "SUCCEEDED"},
}


@pytest.fixture(scope="session")
def arthas_responses(tmp_path_factory):
    """Real Arthas's responses to the request script: run once per test session (the test workers share
    the run through a file beside their temporary folders)."""
    if shutil.which("java") is None:
        pytest.skip("java is not installed: the golden harness needs it to run real Arthas")
    # this run's folder: xdist's workers have theirs in it, a run without workers has its own
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    saved = shared / "golden-arthas.json"
    with open(shared / "golden-arthas.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not saved.exists():
            saved.write_text(json.dumps(_run_arthas(shared / "golden-arthas"), indent=1))
    responses = json.loads(saved.read_text())
    if "@skip" in responses:
        pytest.skip(responses["@skip"])
    return responses


def _run_arthas(workdir):
    home, why = golden.arthas_home()
    if home is None:
        return {"@skip": "real Arthas is not available: %s" % why}
    workdir.mkdir(exist_ok=True)
    target = golden.JavaTarget(home, str(workdir))
    try:
        return golden.run_script(target, is_python=False, workdir=str(workdir))
    finally:
        target.kill()


def _assert_explained(found, heading, name):
    rows = golden.read_table(heading=heading)
    assert rows, "no table under '## %s' in %s" % (heading, golden.DIFFERENCES_DOC)
    left = golden.unexplained(found, rows)
    assert not left, ("%d differences from %s that docs/arthas-differences.md does not explain (fix pyarthas, "
                      "or add a row under '## %s'):\n%s" % (len(left), name, heading, golden.report(left)))
    # a row no difference needs any more explains something that is gone (fixed, or a step renamed)
    stale = [row.field for row in rows if not row.used]
    assert not stale, "rows under '## %s' that no difference from %s needs: %s" % (heading, name, stale)


def test_arthas4_dialect_against_real_arthas(arthas_responses, target_python, tmp_path):
    target = start_demo(target_python, tmp_path, env=FAST_DEMO, args=["--wire-format", "arthas4"])
    try:
        responses = golden.run_script(target, is_python=True, workdir=str(tmp_path))
    finally:
        target.kill()
    (tmp_path / "golden-pyarthas.json").write_text(json.dumps(responses, indent=1))
    _assert_explained(golden.differences(arthas_responses, responses), "Arthas 4 dialect", "real Arthas 4")


def test_seed_dialect_against_the_seed(target_python, tmp_path):
    target = start_demo(target_python, tmp_path, env=FAST_DEMO)
    try:
        responses = golden.run_seed_flow(target)
    finally:
        target.kill()
    reference = {step: SEED_REFERENCE[step] for step in responses if step in SEED_REFERENCE}
    assert len(reference) == len(SEED_REFERENCE), sorted(set(SEED_REFERENCE) - set(responses))
    _assert_explained(golden.differences(reference, responses), "Seed dialect", "the seed's documented responses")


# the commands and idioms whose steps also run in the seed dialect, with the steps they learn from
SEED_TOO = ("classloader", "dump", "perfcounter", "mc", "retransform", "mbean", "sc -d", "tt -t", "tt -s",
            "watch idioms", "watch returnObj.size()", "ognl static call")


def _dialect_path(what):
    """Whether ``what`` (a difference's id) is a path where the dialects differ by design (agent/api/wire.py):
    a time, a value from the target (its own keys in the seed's structured JSON), ``expand``."""
    kind, _, path = what.split(": ", 1)[1].partition(".")
    paths = wire.VALUE_PATHS.get(kind, []) + wire.OPTIONAL_VALUE_PATHS.get(kind, []) + wire.TIME_PATHS.get(kind, [])
    return path == "expand" or any(path == p or path.startswith((p + ".", p + "[]", p + "{}")) for p in paths)


def test_seed_dialect_of_the_commands_differs_only_by_design(target_python, tmp_path):
    """The seed's documentation shows none of these commands: their seed answers are checked against the
    Arthas 4 dialect's (which the test above checks against real Arthas), step by step on one demo."""
    target = start_demo(target_python, tmp_path, env=FAST_DEMO)
    answers = {}
    try:
        for dialect in wire.DIALECTS:
            (tmp_path / dialect).mkdir()
            answers[dialect] = golden.run_script(target, is_python=True, workdir=str(tmp_path / dialect),
                                                 only=lambda name: name.startswith(SEED_TOO),
                                                 fields={"wireFormat": dialect})
    finally:
        target.kill()
    assert len(answers[wire.SEED]) >= 30 and all("@error" not in r for r in answers[wire.SEED].values())
    found = golden.differences(answers[wire.ARTHAS4], answers[wire.SEED])
    assert any(_dialect_path(d[0]) for d in found), "no time or value differed: were the dialects applied?"
    left = [d for d in found if not _dialect_path(d[0])]
    assert not left, "the seed dialect differs from arthas4 beyond times and values:\n" + golden.report(left)


def test_wire_format_option_switches_dialect_at_run_time(target_python, tmp_path):
    target = start_demo(target_python, tmp_path, env=FAST_DEMO)
    try:
        watch = "watch demo.MathGame primeFactors '{params, returnObj}' -n 1"
        seed = only(target.results(watch, execTimeout=20000), "watch")
        assert isinstance(seed["ts"], int) and isinstance(seed["value"], list) and seed["expand"] == 1

        changed = only(target.results("options wire-format arthas4"), "options")["changeResult"]
        assert (changed["beforeValue"], changed["afterValue"]) == ("seed", "arthas4")
        arthas4 = only(target.results(watch, execTimeout=20000), "watch")
        assert golden.DATE_TIME.fullmatch(arthas4["ts"]), arthas4
        assert arthas4["value"].startswith("@list[") and "expand" not in arthas4

        # a request may ask for its own dialect (pyarthas's console and web console ask for the seed's)
        own = only(target.results(watch, execTimeout=20000, wireFormat="seed"), "watch")
        assert isinstance(own["ts"], int) and isinstance(own["value"], list)
        bad = target.exec("version", wireFormat="json")
        assert (bad["state"], bad["message"]) == ("FAILED", "'wireFormat' must be one of seed, arthas4, not json")

        refused = target.results("options wire-format json")
        assert status_of(refused)["statusCode"] == -1
        assert status_of(refused)["message"] == "Cannot cast option value[json] to type[String]."
        assert only(target.results("options wire-format"), "options")["options"][0]["value"] == "arthas4"
    finally:
        target.kill()


def test_table_rows_are_well_formed():
    for heading in ("Arthas 4 dialect", "Seed dialect"):
        rows = golden.read_table(heading=heading)
        assert rows, heading
        for row in rows:
            assert row.field and row.arthas and row.python and row.why and row.why != "?", row


def test_differences_not_in_the_table_are_found():
    """The comparison itself: a changed key type, a missing key and a changed text are each a difference,
    and only a row matching all three columns explains one."""
    arthas = {"step": {"state": "SUCCEEDED", "body": {"results": [
        {"type": "watch", "jobId": 1, "ts": "2024-01-01 00:00:00.000", "cost": 1.5},
        {"type": "status", "jobId": 1, "statusCode": 0}]}}}
    python = {"step": {"state": "SUCCEEDED", "body": {"results": [
        {"type": "watch", "jobId": 1, "ts": 1704067200000},
        {"type": "status", "jobId": 1, "statusCode": -1, "message": "no"}]}}}
    found = golden.differences(arthas, python)
    assert ("step: watch.ts", "string", "number") in found
    assert ("step: watch.cost", "number", "absent") in found
    assert ("step: status.statusCode =", "0", "-1") in found
    rows = [golden.Row("*: watch.ts", "string", "number", "why"), golden.Row("*: watch.cost", "string", "*", "x")]
    left = golden.unexplained(found, rows)
    assert ("step: watch.ts", "string", "number") not in left
    assert ("step: watch.cost", "number", "absent") in left
    assert rows[0].used and not rows[1].used      # what the stale-row check reads
