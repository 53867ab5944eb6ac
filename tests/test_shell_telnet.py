"""The agent's shell over telnet: Debian's ``telnet`` client in a real terminal (tmux), ``nc`` in batch, and
raw TCP clients for auth, refusals and a client that stops reading; every interpreter."""
import os
import re
import shutil
import socket
import subprocess
import time

import pytest

from shell_client import ENDLESS, SEED_WATCH, RawTerminal, prompt_of, start_shell_demo, start_shell_target, wait_until
from test_console_tty import Terminal as Tmux

CODE_ID = "id(demo.MathGame.primeFactors.__code__)"
needs_telnet = pytest.mark.skipif(shutil.which("telnet") is None or shutil.which("tmux") is None,
                                  reason="needs telnet and tmux (scripts/system-deps.sh)")
needs_nc = pytest.mark.skipif(shutil.which("nc") is None, reason="needs nc (scripts/system-deps.sh)")


@pytest.fixture
def shell_demo(target_python, tmp_path):
    target = start_shell_demo(target_python, tmp_path)
    yield target
    target.kill()


@needs_telnet
def test_telnet_in_a_terminal(shell_demo, tmp_path):
    target, prompt = shell_demo, prompt_of(shell_demo)
    code_before = target.ognl(CODE_ID)
    term = Tmux("telnet 127.0.0.1 %d" % target.telnet_port, {"TERM": "xterm-256color"})
    try:
        term.wait_for(r"main_class\s+demo\.MathGame")
        term.wait_prompt(prompt)

        # the seed's watch, then Ctrl-C: the prompt comes back and the function is restored
        term.enter(SEED_WATCH + ENDLESS)
        term.wait_for(r"ts=.*result=@list\[")
        assert target.ognl(CODE_ID) != code_before
        term.send("C-c")
        term.wait_prompt(prompt)
        wait_until(lambda: target.ognl(CODE_ID) == code_before, message="primeFactors restored")

        # history recall and editing: Up, Home, Ctrl-K, End
        term.send("C-l")
        term.wait_prompt(prompt)
        term.send("Up")
        term.wait_for(re.escape(prompt) + r"ognl .*$|" + re.escape(prompt + SEED_WATCH + ENDLESS) + "$")
        term.send("C-u")
        term.type("echo abc")
        term.send("Home")
        for _ in range(5):
            term.send("Right")
        term.send("C-k")
        term.type("hello")
        term.send("Enter")
        term.wait_for(r"^%s\nhello$" % re.escape(prompt + "echo hello"))
        term.wait_prompt(prompt)

        # Tab completion: a command, a class, a function
        term.complete("dashb", prompt, "dashboard")  # (the screen's trailing blanks are cut)
        term.send("C-u")
        term.complete("sm demo.MathG", prompt, "sm demo.MathGame")
        term.complete("prime", prompt, "sm demo.MathGame primeFactors")
        term.send("C-u")

        # pipes and redirects
        term.send("C-l")
        term.wait_prompt(prompt)
        term.enter("sc demo.* | grep MathGame")
        term.wait_for(r"^%s\ndemo\.MathGame\n%s$"
                      % (re.escape(prompt + "sc demo.* | grep MathGame"), re.escape(prompt.rstrip())))
        term.enter("sysprop > props.txt")
        term.wait_for(r"^%s\nredirect output file will be: %s\n%s$" % (
            re.escape(prompt + "sysprop > props.txt"), re.escape(str(tmp_path / "props.txt")),
            re.escape(prompt.rstrip())))
        assert "python.version" in (tmp_path / "props.txt").read_text()

        # jobs, fg, kill
        term.send("C-l")
        term.wait_prompt(prompt)
        term.enter("watch demo.MathGame primeFactors '{params}' > bg.txt &")
        term.wait_prompt(prompt)
        job_id = _listed_job(term)
        term.wait_prompt(prompt)
        term.enter("fg %s" % job_id)
        term.wait_for(re.escape("fg %s" % job_id) + r"\nwatch demo")
        term.send("C-c")
        term.wait_prompt(prompt)
        term.enter("watch demo.MathGame primeFactors '{params}'" + ENDLESS + " > bg2.txt &")
        term.wait_prompt(prompt)
        assert "Another job is running" not in term.screen()  # the fg job did end with Ctrl-C
        term.send("C-l")
        job_id = _listed_job(term)
        term.wait_prompt(prompt)
        term.enter("kill %s" % job_id)
        term.wait_prompt(prompt)
        wait_until(lambda: target.ognl(CODE_ID) == code_before, message="restored after kill")

        # a resize (NAWS): the dashboard fits the new width
        term.tmux("resize-window", "-x", "60", "-y", "40")
        term.send("C-l")
        term.wait_prompt(prompt)
        term.enter("dashboard -n 1")
        term.wait_for(r"^Memory\s+used")
        term.wait_prompt(prompt)
        drawn = term.screen().rsplit("dashboard -n 1", 1)[1]
        assert "Runtime" in drawn and max(len(line) for line in drawn.split("\n")) <= 60

        # quit closes the connection, not the agent
        term.enter("quit")
        term.wait_for(r"Connection closed by foreign host")
        assert target.results("version")[0]["version"]
    finally:
        term.close()


def _listed_job(term):
    """Run ``jobs``; the id of the job it lists."""
    mark = len(term.screen())
    term.enter("jobs")
    listed = term.wait_for(r"\[\d+\]\s*\n\s+Running\s+watch demo\.MathGame", after=mark)
    return re.search(r"^\[(\d+)\]", listed[mark:], re.M).group(1)


@needs_nc
def test_nc_batch(shell_demo):
    prompt = prompt_of(shell_demo)
    commands = "version\nsession\necho one two\nsc demo.* | grep MathGame\nquit\n"
    done = subprocess.run(["nc", "127.0.0.1", str(shell_demo.telnet_port)], input=commands.encode(),
                          capture_output=True, timeout=60)
    text = re.sub(rb"\xff[\xfb-\xfe].", b"", done.stdout).decode().replace("\r\n", "\n")
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
    version = shell_demo.results("version")[0]["version"]
    assert ("%sversion\n%s\n%ssession\n" % (prompt, version, prompt)) in text
    assert "%secho one two\none two\n%ssc demo.* | grep MathGame\ndemo.MathGame\n%squit\n" % (
        prompt, prompt, prompt) in text
    # input that ends without quit: the lines run, then the connection closes (nc -N shuts down its side)
    done = subprocess.run(["nc", "-N", "127.0.0.1", str(shell_demo.telnet_port)], input=b"echo last\n",
                          capture_output=True, timeout=60)
    assert b"\r\nlast\r\n" in done.stdout


def test_auth_unlocks_a_telnet_session(target_python, tmp_path):
    """With a password, a telnet client from another address gets a locked shell: only ``auth`` runs
    (Arthas's AuthCommand and its texts); ``auth PASSWORD`` unlocks it; the password is kept out of history."""
    target = start_shell_demo(target_python, tmp_path, env={"PYARTHAS_PASSWORD": "s3cret"})
    try:
        prompt = prompt_of(target)
        local = RawTerminal(target.telnet_port)  # from 127.0.0.1: authenticated, as for HTTP
        local.screen.expect(re.escape(prompt))
        local.send("version\r\n")
        local.screen.expect(r"version\n\d+\.\d+")
        local.close()
        remote = RawTerminal(target.telnet_port, source_ip="127.0.0.2")
        remote.screen.expect(re.escape(prompt))
        _dialogue(remote,
                  ("version", re.escape("Error! command not permitted, try to use 'auth' command to authenticates.")),
                  ("auth", r"Authentication result: false, Need authentication: true"),
                  ("auth wrong", r"Authentication result: false, username: arthas"),
                  ("version", r"not permitted.*not permitted"),
                  ("auth --username arthas s3cret", r"Authentication result: true, username: arthas"))
        mark = remote.screen.mark()
        remote.send("version\r\n")
        remote.screen.expect(r"version\n\d+\.\d+", after=mark)
        remote.close()
        history = target.results("history")[0]["history"]
        assert "auth --username arthas ******" in history and not any("s3cret" in line for line in history)
    finally:
        target.kill()


def _dialogue(terminal, *exchanges):
    """Type each line; wait for its pattern before the next."""
    for line, pattern in exchanges:
        terminal.send(line + "\r\n")
        terminal.screen.expect(pattern)


def test_telnet_follows_the_agents_access_policy(target_python, tmp_path):
    """--local-connection-non-auth false locks a shell from 127.0.0.1 too, on telnet as on HTTP."""
    target = start_shell_demo(target_python, tmp_path, env={"PYARTHAS_PASSWORD": "s3cret"},
                              args=("--local-connection-non-auth", "false"))
    try:
        prompt = prompt_of(target)
        local = RawTerminal(target.telnet_port)
        local.screen.expect(re.escape(prompt))
        _dialogue(local, ("sysenv", r"not permitted"), ("auth s3cret", r"Authentication result: true"),
                  ("echo unlocked", r"\nunlocked\n"))
        local.close()
    finally:
        target.kill()


def test_http_to_the_telnet_port_runs_nothing(shell_demo):
    """A browser tricked into posting to the telnet port: its lines never run as commands."""
    client = RawTerminal(shell_demo.telnet_port)
    client.send("POST / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nOrigin: http://evil.example\r\n"
                "Content-Type: text/plain\r\n\r\nstop\r\n" % shell_demo.telnet_port)
    client.screen.wait_closed()
    assert shell_demo.alive() and shell_demo.results("version")[0]["version"]


def test_terminal_limit_on_telnet(target_python, tmp_path):
    target = start_shell_demo(target_python, tmp_path, env={"PYARTHAS_MAX_TERMINALS": "1"})
    try:
        first = RawTerminal(target.telnet_port)
        first.screen.expect(re.escape(prompt_of(target)))
        second = RawTerminal(target.telnet_port)
        second.screen.expect(r"too many terminals are open \(1\)")
        second.screen.wait_closed()
        first.send("quit\r\n")
        first.screen.wait_closed()
    finally:
        target.kill()


def test_a_client_that_stops_reading(target_python, tmp_path):
    """A hot watch printing to a client that reads nothing: the agent's memory stays flat, the job is
    interrupted (its consumer is unhealthy, as in Arthas) and the function restored; the shell answers
    again once the client reads again."""
    target = start_shell_demo(target_python, tmp_path, env={"PYARTHAS_DEMO_INTERVAL": "0"})
    try:
        code_before = target.ognl(CODE_ID)
        rss = "int(open('/proc/self/statm').read().split()[1]) * 4096"
        sock = socket.create_connection(("127.0.0.1", target.telnet_port), timeout=30)
        sock.sendall((SEED_WATCH + " -x 3" + ENDLESS + "\r\n").encode())
        received = b""
        while b"Affect(class count: 1" not in received:  # read until the watch is in place, then never again
            chunk = sock.recv(4096)
            assert chunk, received
            received += chunk
        samples = []
        # well within the 10 s the agent waits for a client that reads nothing before it hangs up
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            samples.append(target.ognl(rss))
            time.sleep(0.5)
        assert max(samples[2:]) - samples[2] < 20 * 1024 * 1024, samples
        wait_until(lambda: target.ognl(CODE_ID) == code_before, timeout=60, message="restored after the cut")
        sock.sendall(b"echo back-again\r\n")
        received = b""
        while b"\r\nback-again\r\n" not in received[-200:]:
            chunk = sock.recv(65536)
            assert chunk, "the agent hung up"
            received += chunk
        assert b"all consumers are unhealthy, current job was interrupted." in received
        sock.close()
    finally:
        target.kill()


def test_idle_shells_cost_no_cpu(target_python, tmp_path):
    """Open terminals that nobody types into: none of the target's threads wakes up (no timers, no polling)."""
    script = tmp_path / "sleeper.py"
    script.write_text("import time\nwhile True:\n    time.sleep(3600)\n")
    target = start_shell_target(target_python, tmp_path, ["run", str(script)])
    prompt = prompt_of(target)
    terms = []
    try:
        for _ in range(5):
            terms.append(RawTerminal(target.telnet_port))
        for term in terms:
            term.screen.expect(re.escape(prompt))

        def wakeups():
            """Voluntary context switches of all the target's threads: each wake-up of a sleeping thread."""
            total = 0
            for task in os.listdir("/proc/%d/task" % target.proc.pid):
                try:
                    status = open("/proc/%d/task/%s/status" % (target.proc.pid, task)).read()
                except OSError:
                    continue
                total += int(re.search(r"voluntary_ctxt_switches:\s+(\d+)", status).group(1))
            return total

        time.sleep(1)  # let the start-up settle (not a sync: the measure is over the next 5 s)
        before = wakeups()
        time.sleep(5)
        assert wakeups() - before <= 2  # 5 shells, 15 threads: asleep (a poll every 2 s would show ~15)
        terms[0].send("version\r\n")
        terms[0].screen.expect(r"version\n\d+\.\d+")
    finally:
        for term in terms:
            term.close()
        target.kill()
