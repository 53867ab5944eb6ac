"""Arthas's basic commands on pyarthas (base64, cat, echo, grep, tee, pwd, history, cls, keymap, quit, auth) and
output redirection, against the demo on every interpreter, through the HTTP API and the telnet shell."""
import base64
import re

import pytest

from harness import of_type, start_demo, status_of
from shell_client import RawTerminal, prompt_of, start_shell_demo

NOT_PERMITTED = "Error! command not permitted, try to use 'auth' command to authenticates."


@pytest.fixture
def demo_dir(target_python, tmp_path):
    (tmp_path / "notes.txt").write_text("alpha\nbeta\ngamma\n")
    target = start_demo(target_python, tmp_path)
    yield target, tmp_path
    target.kill()


def _status(target, command):
    return status_of(target.results(command))


def test_base64_encode_decode_and_files(demo_dir):
    target, folder = demo_dir
    encoded = target.results("base64 notes.txt")
    assert of_type(encoded, "base64")[0]["content"] == base64.b64encode(b"alpha\nbeta\ngamma\n").decode()
    to_file = target.results("base64 --input notes.txt --output notes.b64")
    assert of_type(to_file, "base64") == [{"type": "base64", "jobId": to_file[0]["jobId"]}]  # no content
    assert (folder / "notes.b64").read_bytes() == base64.b64encode(b"alpha\nbeta\ngamma\n")
    decoded = target.results("base64 -d notes.b64")
    assert of_type(decoded, "base64")[0]["content"] == "alpha\nbeta\ngamma\n"
    target.results("base64 -d --input notes.b64 --output back.txt")
    assert (folder / "back.txt").read_text() == "alpha\nbeta\ngamma\n"
    (folder / "big.bin").write_bytes(b"x" * (128 * 1024 + 1))
    assert _status(target, "base64 big.bin")["message"] == "big.bin: Is too large, size: 131073"
    assert _status(target, "base64 nosuch")["message"] == "nosuch: No such file or directory"
    assert _status(target, "base64 .")["message"] == ".: Is a directory"
    assert _status(target, "base64")["message"] == ": No file, nor input"
    assert _status(target, "base64 -M 9000000 notes.txt")["message"] == "sizeLimit cannot be large than: 8388608"
    assert _status(target, "base64 -M 200000 notes.txt")["message"] == (
        "When executing in non-tty session, sizeLimit cannot be large than: 131072")


def test_cat_files_encoding_and_limits(demo_dir):
    target, folder = demo_dir
    (folder / "latin.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    results = target.results("cat notes.txt latin.txt --encoding latin-1")
    assert [(r["file"], r["content"]) for r in of_type(results, "cat")] == [
        ("notes.txt", "alpha\nbeta\ngamma\n"), ("latin.txt", "caf\xe9\n")]
    assert _status(target, "cat notes.txt nosuch")["message"] == "cat nosuch: No such file or directory"
    assert not of_type(target.results("cat notes.txt nosuch"), "cat")  # every file is checked first
    assert _status(target, "cat .")["message"] == "cat .: Is a directory"
    assert _status(target, "cat -M 5 notes.txt")["message"] == "cat notes.txt: Is too large, size: 17"
    assert _status(target, "cat --encoding nope notes.txt")["statusCode"] == -1
    assert _status(target, "cat")["statusCode"] == -10  # the file argument is required


def test_redirects_through_the_api(demo_dir):
    """Arthas's job writes ``> file`` / ``>> file`` (relative to the target's working directory); the API
    still receives the result models."""
    target, folder = demo_dir
    results = target.results("echo 'abc' > out/test.txt")
    assert of_type(results, "echo")[0]["content"] == "abc" and status_of(results)["statusCode"] == 0
    target.results("echo def >> out/test.txt")
    assert (folder / "out" / "test.txt").read_text() == "abc\ndef\n"
    target.results("echo again > out/test.txt")
    assert (folder / "out" / "test.txt").read_text() == "again\n"
    absolute = folder / "abs.txt"
    target.results("pwd > %s" % absolute)
    assert absolute.read_text() == "%s\n" % folder
    # the pipes before the redirect apply to the file's text
    target.results("sysprop | grep python.version -n > props.txt")
    written = (folder / "props.txt").read_text().splitlines()
    assert len(written) == 1 and re.match(r"\d+:\s*python\.version\s+\d", written[0])
    target.results("sysprop | grep -c python > count.txt")
    assert int((folder / "count.txt").read_text()) >= 5
    target.results("sysprop | tee all.txt | grep -m 1 -e ^python > first.txt")
    assert "python.version" in (folder / "all.txt").read_text()
    assert len((folder / "first.txt").read_text().splitlines()) == 1
    # a failure's text goes to the file too, as Arthas's status view
    target.results("cat nosuch > failed.txt")
    assert "cat nosuch: No such file or directory" in (folder / "failed.txt").read_text()
    # a bare > writes the job's cache file, as Arthas's (arthas-output/arthas-cache/PID/JOBID here)
    cached = target.results("echo cached >")
    cache = folder / "arthas-output" / "arthas-cache" / str(target.proc.pid) / str(cached[0]["jobId"])
    assert cache.read_text() == "cached\n"
    refused = target.exec("echo x > .")
    assert refused["state"] == "FAILED" and ".: Is a directory" in refused["message"]


def test_shell_only_commands_refuse_through_the_api(demo_dir):
    target, _ = demo_dir
    assert _status(target, "grep x")["message"] == "The grep command only for pipes. See 'grep --help'\n"
    assert _status(target, "tee x")["message"] == "The tee command only for pipes. See 'tee --help'"
    assert _status(target, "cls")["message"] == "Command 'cls' is only support tty session."
    assert _status(target, "keymap")["message"] == "Command 'keymap' is only support tty session."
    for name in ("quit", "exit"):
        refused = _status(target, name)
        assert refused["statusCode"] == -1 and "close_session" in refused["message"]
    detail = target.results("help grep")[0]["detailCommand"]
    assert {"e", "i", "v", "n", "c", "m", "A", "B", "C"} <= {o.get("shortName") for o in detail["options"]}
    assert "trim-end" in {o.get("longName") for o in detail["options"]}


def test_echo_pwd_and_history_n(demo_dir):
    target, folder = demo_dir
    assert of_type(target.results("echo hello world"), "echo")[0]["content"] == "hello world"
    assert of_type(target.results("echo 'hello world'"), "echo")[0]["content"] == "hello world"
    assert of_type(target.results("pwd"), "pwd")[0]["workingDir"] == str(folder)
    target.results("version")
    last = of_type(target.results("history 2"), "history")[0]["history"]
    assert last == ["version", "history 2"]
    assert len(of_type(target.results("history"), "history")[0]["history"]) > 2
    target.results("history -c")
    assert of_type(target.results("history"), "history")[0]["history"] == ["history"]


def test_auth_through_the_api(target_python, tmp_path):
    """API sessions are authenticated by the HTTP door (here: a local connection); ``auth`` reports it and
    checks a password as Arthas's AuthCommand."""
    target = start_demo(target_python, tmp_path, env={"PYARTHAS_PASSWORD": "s3cret"})
    try:
        state = _status(target, "auth")
        assert (state["statusCode"], state["message"]) == (0, "Authentication result: true, Need authentication: true")
        wrong = _status(target, "auth nope")
        assert (wrong["statusCode"], wrong["message"]) == (1, "Authentication result: false, username: arthas")
        other = _status(target, "auth -n admin s3cret")
        assert (other["statusCode"], other["message"]) == (1, "Authentication result: false, username: admin")
        right = _status(target, "auth --username arthas s3cret")
        assert (right["statusCode"], right["message"]) == (0, "Authentication result: true, username: arthas")
    finally:
        target.kill()


@pytest.fixture
def shell(target_python, tmp_path):
    (tmp_path / "notes.txt").write_text("alpha\nbeta\ngamma\n")
    target = start_shell_demo(target_python, tmp_path)
    terminal = RawTerminal(target.telnet_port)
    terminal.screen.expect(re.escape(prompt_of(target)))
    yield target, terminal, tmp_path
    terminal.close()
    target.kill()


def _typed(shell, line):
    """Type ``line`` in the shell; what it printed before the next prompt."""
    target, terminal, _ = shell
    prompt = prompt_of(target)
    mark = terminal.screen.mark()
    terminal.send(line + "\r\n")
    return terminal.screen.expect(re.escape(line) + r"\n(?P<out>.*?)" + re.escape(prompt), after=mark).group("out")


def test_basic_commands_in_the_shell(shell):
    _, _, folder = shell
    assert _typed(shell, "cat notes.txt") == "alpha\nbeta\ngamma\n\n"
    assert _typed(shell, "base64 notes.txt") == base64.b64encode(b"alpha\nbeta\ngamma\n").decode() + "\n"
    assert _typed(shell, "cat -M 200000 notes.txt") == "alpha\nbeta\ngamma\n\n"  # a terminal may raise it
    assert _typed(shell, "echo 'abc' > test.txt") == "redirect output file will be: %s\n" % (folder / "test.txt")
    assert (folder / "test.txt").read_text() == "abc\n"
    assert _typed(shell, "pwd") == "%s\n" % folder
    # grep after a pipe, with Arthas's options
    assert _typed(shell, "cat notes.txt | grep -n beta") == "2:beta\n"
    assert _typed(shell, "cat notes.txt | grep -v -e ^a") == "beta\ngamma\n\n"
    assert _typed(shell, "cat notes.txt | grep -i -c A") == "3\n"
    assert _typed(shell, "cat notes.txt | grep gamma -B 1") == "beta\ngamma\n"
    assert _typed(shell, "cat notes.txt | grep alpha -A1") == "alpha\nbeta\n"
    assert _typed(shell, "cat notes.txt | grep -m 1 -e a$") == "alpha\n"
    assert _typed(shell, "cat notes.txt | tee copy.txt | grep beta") == "beta\n"
    assert (folder / "copy.txt").read_text() == "alpha\nbeta\ngamma\n\n"
    _typed(shell, "cat notes.txt | tee -a copy.txt | grep beta")
    assert (folder / "copy.txt").read_text().count("beta") == 2
    assert "Unexpected option" in _typed(shell, "cat notes.txt | grep --nope x")
    # history N, keymap, cls
    assert _typed(shell, "history 1").strip().endswith("history 1")
    keymap = _typed(shell, "keymap")
    assert re.search(r"Shortcut\s+Description\s+Name", keymap) and "Ctrl + a" in keymap
    assert "beginning-of-line" in keymap and "history" in keymap
    terminal = shell[1]
    mark = len(terminal.screen.text)
    terminal.send("cls\r\n")
    terminal.screen.expect(re.escape("\x1b[H\x1b[2J"), after=mark, plain=False)  # the screen is cleared


def test_quit_and_exit_leave_the_shell_not_the_agent(shell):
    target, terminal, _ = shell
    terminal.send("exit\r\n")
    terminal.screen.wait_closed()
    again = RawTerminal(target.telnet_port)
    again.screen.expect(re.escape(prompt_of(target)))
    again.send("quit\r\n")
    again.screen.wait_closed()
    assert target.results("version")[0]["version"]
