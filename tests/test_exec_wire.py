"""What a one-time exec and a session's pull of a limited watch/trace/stack/tt send, as Arthas's API: the
enhancer, the results, the status, and no "times exceed limit" text (Arthas writes it to the terminal only;
pyarthas's shell shows it, and its consoles ask the API for it); row_affect after jad and tt -i as Arthas
sends it."""
import pytest

from harness import of_type, only, run, run_in_session

LIMITED = [("watch demo.MathGame primeFactors -n 1", "watch"),
           ("trace demo.MathGame run -n 1", "trace"),
           ("stack demo.MathGame primeFactors -n 1", "stack"),
           ("tt -t demo.MathGame primeFactors -n 1", "tt")]


@pytest.mark.parametrize("command, kind", LIMITED, ids=[kind for _, kind in LIMITED])
def test_exec_of_a_limited_command_sends_arthas_result_types(fast_demo, command, kind):
    reply = fast_demo.exec(command, execTimeout=30000)
    assert reply["state"] == "SUCCEEDED", reply
    types = [r["type"] for r in reply["body"]["results"]]
    assert types == ["enhancer", kind, "status"], reply
    assert reply["body"]["results"][-1]["statusCode"] == 0


def test_the_limit_text_reaches_only_the_sessions_that_ask(fast_demo):
    command = "watch demo.MathGame primeFactors -n 1"
    assert [r["type"] for r in run_in_session(fast_demo, command)] == ["command", "enhancer", "watch", "status"]
    asked = run_in_session(fast_demo, command, terminalMessages=True)
    assert only(asked, "message") == {
        "type": "message", "jobId": asked[0]["jobId"], "terminal": True,
        "message": "Command execution times exceed limit: 1, so command will exit. You can set it with -n option."}
    reply = fast_demo.exec(command, execTimeout=30000, terminalMessages=True)      # exec too, when asked
    assert [r["type"] for r in reply["body"]["results"]] == ["enhancer", "watch", "message", "status"]


def test_row_affect_after_jad_and_tt_index(fast_demo):
    results, status = run(fast_demo, "jad demo.MathGame")
    assert [r["type"] for r in results] == ["jad", "row_affect"] and results[1]["rowCount"] == 1
    recorded = fast_demo.exec("tt -t demo.MathGame primeFactors -n 1", execTimeout=30000)["body"]["results"]
    index = only(recorded, "tt")["timeFragmentList"][0]["index"]
    for command in ("tt -i %d" % index, "tt -i %d -w 'params'" % index):
        results, status = run(fast_demo, command)
        assert [r["type"] for r in results] == ["tt", "row_affect"] and results[1]["rowCount"] == 1, command
        assert status["statusCode"] == 0
    assert not of_type(run(fast_demo, "tt -i %d" % index)[0], "message")
