"""vmoption (the interpreter's tunables) and jvm (the process at a glance)."""
import os

from harness import only, run

WATCHING_TARGET = """
import gc, sys, time
last = None
while True:
    now = (sys.getswitchinterval(), gc.get_threshold())
    if now != last:
        print("tunables %r %r" % now, flush=True)
        last = now
    time.sleep(0.02)
"""


def options_of(target, command="vmoption"):
    return {o["name"]: o for o in only(run(target, command)[0], "vmoption")["vmOptions"]}


def test_vmoption_changes_the_switch_interval(spawn):
    target = spawn(WATCHING_TARGET)
    target.wait_stdout("tunables 0.005")
    options = options_of(target)
    assert options["sys.switchinterval"] == {"name": "sys.switchinterval", "value": "0.005", "origin": "DEFAULT",
                                             "writeable": True}
    assert options["sys.recursionlimit"]["writeable"] is True
    assert options["sys.flags.optimize"]["writeable"] is False
    assert options["gc.enabled"]["value"] == "true"

    results, status = run(target, "vmoption sys.switchinterval 0.001")
    assert status["statusCode"] == 0
    assert only(results, "message")["message"] == "Successfully updated the vm option."
    assert only(results, "vmoption")["changeResult"] == {"name": "sys.switchinterval", "beforeValue": "0.005",
                                                         "afterValue": "0.001"}
    target.wait_stdout("tunables 0.001")
    after = options_of(target, "vmoption sys.switchinterval")
    assert after["sys.switchinterval"]["origin"] == "MANAGEMENT"

    run(target, "vmoption gc.threshold 1234,5,6")
    target.wait_stdout(r"\(1234, 5, 6\)")


def test_vmoption_errors(spawn):
    target = spawn(WATCHING_TARGET)
    target.wait_stdout("tunables")
    for command, message in (("vmoption no.such 1", "vm option no.such not found."),
                             ("vmoption sys.flags.optimize 2", "vm option sys.flags.optimize is not writeable."),
                             ("vmoption sys.switchinterval fast", "Cannot change vm option sys.switchinterval")):
        _, status = run(target, command)
        assert status["statusCode"] == -1
        assert status["message"].startswith(message)


def test_jvm_shows_the_process_at_a_glance(spawn):
    target = spawn(WATCHING_TARGET)
    target.wait_stdout("tunables")
    results, status = run(target, "jvm")
    assert status["statusCode"] == 0
    info = only(results, "jvm")["jvmInfo"]
    assert {"RUNTIME", "CLASS-LOADING", "GARBAGE-COLLECTORS", "MEMORY", "OPERATING-SYSTEM", "THREAD",
            "FILE-DESCRIPTOR"} <= set(info)
    runtime = {item["name"]: item["value"] for item in info["RUNTIME"]}
    assert runtime["PID"] == target.proc.pid
    assert any(arg.endswith("target_main.py") for arg in runtime["ARGV"])
    assert os.path.samefile(runtime["CWD"], os.path.dirname(runtime["ARGV"][0]))
    fds = {item["name"]: item["value"] for item in info["FILE-DESCRIPTOR"]}
    assert fds["OPEN-FILE-DESCRIPTOR-COUNT"] > 2
    threads = {item["name"]: item["value"] for item in info["THREAD"]}
    assert threads["COUNT"] == 1 and threads["AGENT-COUNT"] >= 1
    assert only(run(target, "runtime")[0], "jvm")["jvmInfo"].keys() == info.keys()


def test_vmoption_and_jvm_views():
    from pyarthas.agent.view import Context, render
    listing = {"type": "vmoption", "jobId": 1, "vmOptions": [
        {"name": "sys.switchinterval", "value": "0.005", "origin": "DEFAULT", "writeable": True}]}
    assert render(listing, Context()).splitlines() == ["KEY                 VALUE  ORIGIN   WRITEABLE",
                                                       "sys.switchinterval  0.005  DEFAULT  true"]
    change = {"type": "vmoption", "jobId": 1, "changeResult": {"name": "sys.switchinterval", "beforeValue": "0.005",
                                                               "afterValue": "0.001"}}
    assert render(change, Context()).splitlines()[1].split() == ["sys.switchinterval", "0.005", "0.001"]
    jvm = {"type": "jvm", "jobId": 1, "jvmInfo": {"RUNTIME": [{"name": "PID", "value": 42},
                                                              {"name": "ARGV", "value": ["app.py", "-v"]}]}}
    assert render(jvm, Context(width=40)).splitlines() == [" RUNTIME", "-" * 40, "PID   42", "ARGV  app.py",
                                                           "      -v"]
