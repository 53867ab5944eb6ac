"""``pyarthas console URL -c/-f/--json`` and commands on stdin: output, exit status, no tracebacks.

The console is client-side code: one target interpreter (this one) is enough.
"""
import json
import os
import subprocess
import sys

import pytest

from harness import ROOT, start_demo
from pyarthas.agent.job.pipes import PipeError, Pipeline
from pyarthas.cli.console import normalize_url
from pyarthas.cli.console.runner import split_commands
from pyarthas.client import AgentUnavailable, Client, Session

FAST = {"PYARTHAS_POLL_WAIT": "0.3"}


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory):
    target = start_demo(sys.executable, tmp_path_factory.mktemp("demo"), env=FAST)
    yield target.url
    target.kill()


def console(*args, stdin=None, timeout=60):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"))
    env.pop("NO_COLOR", None)
    return subprocess.run([sys.executable, "-m", "pyarthas", "console", *args], input=stdin, capture_output=True,
                          text=True, timeout=timeout, env=env)


def test_commands_run_in_order_with_pipes(demo_url):
    done = console(demo_url, "-c", 'version; echo "a;b" | grep a; echo hidden | grep -v hidden; '
                                   'dashboard -n 1 -i 100 | grep -i mainthread; help | wc -l')
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == Client(demo_url).exec("version").results[0]["version"]
    assert lines[1] == "a;b"
    assert lines[2].split()[1] == "MainThread"
    assert int(lines[3]) > 3 and len(lines) == 4
    assert "\x1b[" not in done.stdout  # piped: no colours
    assert done.stderr == ""


def test_failed_command_sets_the_exit_status(demo_url):
    done = console(demo_url, "-c", "nosuchcommand; echo still runs; dashboard --bogus")
    assert done.returncode == 1
    assert done.stdout.splitlines()[:2] == ["nosuchcommand: command not found", "still runs"]
    assert "bogus" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_json_lines(demo_url):
    done = console(demo_url, "--json", "-c", "version; echo hi")
    assert done.returncode == 0
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["type"] for r in results] == ["command", "version", "status", "command", "echo", "status"]
    assert results[4]["content"] == "hi" and results[5]["statusCode"] == 0


def test_file_and_stdin(demo_url, tmp_path):
    script = tmp_path / "commands.txt"
    script.write_text("# a comment\necho one\n\necho two\n")
    done = console(demo_url, "-f", str(script))
    assert (done.returncode, done.stdout) == (0, "one\ntwo\n")
    piped = console(demo_url, stdin="echo three\nquit\necho never\n")
    assert (piped.returncode, piped.stdout) == (0, "three\n")
    missing = console(demo_url, "-f", str(tmp_path / "nope.txt"))
    assert missing.returncode == 2 and "nope.txt" in missing.stderr and "Traceback" not in missing.stderr


def test_join_an_existing_session_leaves_it_open(demo_url):
    owner = Session.init(demo_url, keepalive=None)
    done = console(demo_url, "--session", owner.id, "-c", "session")
    assert done.returncode == 0 and owner.id in done.stdout
    assert owner.info()["pid"]  # still open: the console only joined it
    owner.close()
    gone = console(demo_url, "--session", owner.id, "-c", "version")
    assert gone.returncode == 1 and "session not found: %s" % owner.id in gone.stderr


def test_agent_down_is_a_message_not_a_traceback(demo_url):
    port = demo_url.rsplit(":", 1)[1]
    dead = "http://127.0.0.1:1"
    done = console(dead, "-c", "version")
    assert done.returncode == 1
    assert "cannot reach the agent at %s" % dead in done.stderr and "Traceback" not in done.stderr
    assert console(port, "-c", "echo by port").stdout == "by port\n"


def test_stop_stops_the_agent(tmp_path):
    target = start_demo(sys.executable, tmp_path, env=FAST)
    try:
        done = console(target.url, "-c", "stop")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Traceback" not in done.stdout + done.stderr
        with pytest.raises(AgentUnavailable):
            Client(target.url).exec("version")
        assert target.alive()  # the program carries on without its agent
    finally:
        target.kill()


def test_pipes():
    assert Pipeline([["grep", "b"]]).feed("a\nb\nab") == ["b", "ab"]
    assert Pipeline([["grep", "-v", "b"]]).feed("a\nb\nab") == ["a"]
    assert Pipeline([["grep", "-i", "-n", "B"]]).feed("a\nb") == ["2:b"]
    assert Pipeline([["grep", "-e", "^a.$"]]).feed("a\nab\nabc") == ["ab"]
    assert Pipeline([["grep", "a.c"]]).feed("abc\na.c") == ["a.c"]  # a plain string without -e
    assert Pipeline([["grep", "-m", "1", "a"]]).feed("a1\na2") == ["a1"]
    assert Pipeline([["grep", "-A", "1", "x"]]).feed("x\ny\nz") == ["x", "y"]
    assert Pipeline([["grep", "-B", "1", "z"]]).feed("x\ny\nz") == ["y", "z"]
    assert Pipeline([["plaintext"]]).feed("\x1b[31mred\x1b[0m") == ["red"]
    counted = Pipeline([["grep", "a"], ["wc", "-l"]])
    assert counted.feed("a\nb\na") == [] and counted.finish() == ["2"]
    for bad in (["sort"], ["grep"], ["grep", "-x", "a"], ["grep", "-e", "("]):
        with pytest.raises(PipeError):
            Pipeline([bad])


def test_command_splitting_and_urls():
    assert split_commands('echo "a;b"; version;; x \'c;d\'') == ['echo "a;b"', "version", "x 'c;d'"]
    assert normalize_url("8563") == "http://127.0.0.1:8563"
    assert normalize_url("host:1234/") == "http://host:1234"
    assert normalize_url("http://h:1/api") == "http://h:1"
