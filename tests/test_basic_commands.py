"""The basic commands, the ways into a process, and the command line tokenizer."""
import base64
import json
import os
import socket
import subprocess
import sys

import pytest

from harness import SRC, Target, post_json, target_env

sys.path.insert(0, SRC)
from pyarthas.agent.command.options import Argument, Option, UsageError, parse
from pyarthas.agent.command.tokenizer import parse_command_line, tokenize

SLEEPER = """
import time
while True:
    time.sleep(3600)
"""


@pytest.fixture
def target(spawn):
    return spawn(SLEEPER)


def test_version_help_session_echo_pwd(target):
    version = target.results("version")[0]
    assert version["type"] == "version" and version["version"]
    listing = target.results("help")[0]["commands"]
    names = {c["name"] for c in listing}
    assert {"version", "help", "session", "echo", "pwd", "history", "sysenv", "sysprop", "options", "stop",
            "dashboard"} <= names
    detail = target.results("help history")[0]["detailCommand"]
    assert detail["name"] == "history" and {"c", "n"} <= {o.get("shortName") for o in detail["options"]}
    missing = target.results("help nosuch")[-1]
    assert missing["statusCode"] == -1 and "nosuch" in missing["message"]

    session = target.session()
    info = session.api("exec", command="session")["body"]["results"][0]
    assert info == {"type": "session", "jobId": info["jobId"], "javaPid": target.proc.pid,
                    "sessionId": session.id, "tunnelConnected": False}
    assert target.results("echo 'a  b' c")[0]["content"] == "a  b c"
    assert target.results("pwd")[0]["workingDir"] == os.path.realpath(os.path.dirname(str(target.proc.args[-1])))


def test_user_id_is_kept_by_the_session(target):
    reply = target.api("init_session", userId="alice")
    info = target.api("exec", sessionId=reply["sessionId"], command="session")["body"]["results"][0]
    assert info["userId"] == "alice"


def test_history(target):
    target.exec("echo first")
    target.exec("echo second")
    lines = target.results("history")[0]["history"]
    assert lines[-3:] == ["echo first", "echo second", "history"]
    assert target.results("history -n 1")[0]["history"] == ["history -n 1"]
    target.exec("history -c")
    assert target.results("history")[0]["history"] == ["history"]


def test_sysenv_and_sysprop(spawn):
    target = spawn(SLEEPER, env={"PYARTHAS_PROBE": "42"})
    env = target.results("sysenv")[0]["env"]
    assert env["PYARTHAS_PROBE"] == "42" and list(env) == sorted(env)
    assert target.results("sysenv PYARTHAS_PROBE")[0]["env"] == {"PYARTHAS_PROBE": "42"}
    props = target.results("sysprop")[0]["props"]
    version = subprocess.run([target.proc.args[0], "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True).stdout.strip()
    assert props["python.version"] == version
    assert props["python.executable"]
    assert target.results("sysprop python.version")[0]["props"] == {"python.version": version}
    missing = target.results("sysprop nope")[-1]
    assert missing == {"type": "status", "jobId": missing["jobId"], "statusCode": 1,
                       "message": "There is no property with the key nope"}
    assert target.results("sysprop a b")[-1]["statusCode"] == -1


def test_options(target):
    options = {o["name"]: o for o in target.results("options")[0]["options"]}
    assert options["job-timeout"]["value"] == "1d" and options["object-size-limit"]["value"] == "10485760"
    assert options["json-format"]["type"] == "boolean"
    change = target.results("options json-format true")[0]["changeResult"]
    assert change == {"name": "json-format", "beforeValue": False, "afterValue": True}
    assert target.results("options json-format")[0]["options"][0]["value"] == "true"
    bad = target.results("options nope 1")[-1]
    assert bad["statusCode"] == -1 and bad["message"] == "options[nope] not found."
    bad = target.results("options object-size-limit lots")[-1]
    assert bad["statusCode"] == -1 and bad["message"] == "Cannot cast option value[lots] to type[int]."


def test_dashboard_emits_then_ends_after_n(target):
    results = target.results("dashboard -n 2 -i 100")
    dashboards = [r for r in results if r["type"] == "dashboard"]
    assert len(dashboards) == 2
    first = dashboards[0]
    assert first["runtimeInfo"]["processors"] >= 1 and first["runtimeInfo"]["pythonVersion"]
    assert any(t["name"] == "MainThread" for t in first["threads"])
    assert not any(t["name"].startswith("pyarthas-") for t in first["threads"])
    assert first["memoryInfo"]["heap"][0]["used"] > 0
    assert results[-1]["statusCode"] == 0 and results[-1]["message"] == "Process ends after 2 time(s)."


def test_run_module_with_arguments(tmp_path, target_python):
    package = tmp_path / "probe_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(
        "import sys, time\nprint('argv', sys.argv[1:], flush=True)\nwhile True:\n    time.sleep(3600)\n")
    target = Target([target_python, "-m", "pyarthas", "run", "--port", "0", "-m", "probe_pkg", "x", "--flag"],
                    target_env(), cwd=str(tmp_path))
    try:
        line = target.wait_stdout("argv")
        assert "['x', '--flag']" in line
        assert target.exec("version")["state"] == "SUCCEEDED"
    finally:
        target.kill()


def test_run_script_passes_arguments(spawn):
    target = spawn("""
        import sys, time
        print("argv", sys.argv, flush=True)
        while True:
            time.sleep(3600)
    """, args=["one", "--two"])
    line = target.wait_stdout("argv")
    assert "target_main.py', 'one', '--two']" in line


def test_library_start_and_stop(spawn):
    target = spawn("""
        import sys, time
        import pyarthas
        agent = pyarthas.start(port=0)
        pyarthas.stop()
        again = pyarthas.start(port=0)
        print("second", again.url, flush=True)
        while True:
            time.sleep(3600)
    """, agent=False)
    url = target.wait_stdout("second").split()[1]
    reply = post_json(url, {"action": "exec", "command": "version"})
    assert reply["state"] == "SUCCEEDED"


def test_help_everywhere(target_python):
    for argv in (["--help"], ["run", "--help"], ["demo", "--help"]):
        out = subprocess.run([target_python, "-m", "pyarthas", *argv], capture_output=True, text=True,
                             env=target_env(), timeout=60)
        assert out.returncode == 0 and "usage: pyarthas" in out.stdout


def test_password_required_beyond_loopback(spawn):
    target = spawn(SLEEPER, env={"PYARTHAS_PASSWORD": "s3cret"}, args=())
    # Bound to loopback with a password: local connections from 127.0.0.1 need none, as in Arthas.
    assert target.exec("version")["state"] == "SUCCEEDED"
    body = json.dumps({"action": "exec", "command": "version"}).encode()
    assert _post_from(target.port, "127.0.0.2", body) == 401
    token = base64.b64encode(b"arthas:s3cret").decode()
    assert _post_from(target.port, "127.0.0.2", body, {"Authorization": "Basic " + token}) == 200
    wrong = base64.b64encode(b"arthas:nope").decode()
    assert _post_from(target.port, "127.0.0.2", body, {"Authorization": "Basic " + wrong}) == 401


def _post_from(port, source_ip, body, headers=None):
    """POST /api from another loopback address (so the agent does not see 127.0.0.1)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source_ip, 0))
    try:
        lines = ["POST /api HTTP/1.1", "Host: 127.0.0.1:%d" % port, "Content-Length: %d" % len(body)]
        lines += ["%s: %s" % item for item in (headers or {}).items()]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        return int(sock.recv(4096).split()[1])
    finally:
        sock.close()


# ---- the tokenizer and option parser (pure functions, in-process) ----

@pytest.mark.parametrize("line, tokens", [
    ("thread| grep xxx", ["thread", "|", "grep", "xxx"]),
    ("thread | grep xxx", ["thread", "|", "grep", "xxx"]),
    ("thread |grep xxx", ["thread", "|", "grep", "xxx"]),
    ("thread|grep xxx", ["thread|grep", "xxx"]),
    ("watch -E a|b c", ["watch", "-E", "a|b", "c"]),
    ("""watch demo.MathGame primeFactors "{params, returnObj, throwExp}" """,
     ["watch", "demo.MathGame", "primeFactors", "{params, returnObj, throwExp}"]),
    ("ognl 'a b' \"c \\\"d\\\"\" e\\ f", ["ognl", "a b", 'c "d"', "e f"]),
    ("echo\ta   b", ["echo", "a", "b"]),
])
def test_tokenizer(line, tokens):
    assert tokenize(line) == tokens


def test_command_line_pipes_and_background():
    parsed = parse_command_line("watch a b -n 3 | grep x &")
    assert parsed.words == ["watch", "a", "b", "-n", "3"] and parsed.pipes == [["grep", "x"]]
    assert parsed.background
    parsed = parse_command_line("dashboard &")
    assert parsed.words == ["dashboard"] and parsed.background


def test_option_parser():
    options = [Option("before", "b", flag=True), Option("exception", "e", flag=True),
               Option("limits", "n", type=int, default=100), Option("skipJDKMethod", type=bool, default=True)]
    arguments = [Argument("class-pattern", required=True), Argument("express")]
    args = parse(options, arguments, ["-be", "-n", "5", "--skipJDKMethod", "false", "demo.*", "-1"])
    assert (args.before, args.exception, args.limits, args.skipJDKMethod) == (True, True, 5, False)
    assert (args.class_pattern, args.express) == ("demo.*", "-1")
    assert parse(options, arguments, ["--limits=7", "x"]).limits == 7
    with pytest.raises(UsageError, match="The argument 'class-pattern' is required"):
        parse(options, arguments, [])
    with pytest.raises(UsageError, match="Unexpected option"):
        parse(options, arguments, ["-q", "x"])
    with pytest.raises(UsageError, match="Invalid value 'x' for option 'limits'"):
        parse(options, arguments, ["-n", "x", "y"])
