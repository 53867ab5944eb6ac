"""The interactive console driven as a person would, in a real 80-column terminal (tmux).

Client-side behaviour: one target interpreter (this one) is enough.
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid

import pytest

from harness import ROOT, Target, start_demo, target_env
from pyarthas.client import Client

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")

SEED_WATCH = 'watch demo.MathGame primeFactors "{params, returnObj, throwExp}"'
FAST = {"PYARTHAS_POLL_WAIT": "0.3", "PYARTHAS_DEMO_INTERVAL": "0.2"}


class Terminal:
    """A tmux server of our own with one 80x40 window running ``command``."""

    def __init__(self, command: str, env: dict):
        self.socket = "pyarthas-test-%s" % uuid.uuid4().hex[:8]
        exports = " ".join("%s=%s" % (k, shlex.quote(v)) for k, v in env.items())
        # keep the pane (and what it shows) after the console exits, and say how it exited; the shell
        # catches Ctrl-C (a console job's SIGINT reaches the whole process group) without ignoring it
        shell = "trap : INT; env %s %s; echo \"[console exited $?]\"; sleep 600" % (exports, command)
        self.tmux("new-session", "-d", "-x", "80", "-y", "40", "sh", "-c", shell)

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args], check=True,
                              capture_output=True, text=True, timeout=10).stdout

    def send(self, *keys: str) -> None:
        self.tmux("send-keys", *keys)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-l", text)

    def enter(self, line: str) -> None:
        self.type(line)
        self.send("Enter")

    def complete(self, typed: str, prompt: str, shown: str) -> None:
        """Type ``typed``, press Tab, wait for the line to read ``prompt`` + ``shown``."""
        self.type(typed)
        self.send("Tab")
        self.wait_for(re.escape(prompt + shown) + "$")

    def screen(self, colours: bool = False) -> str:
        args = ["capture-pane", "-p", "-S", "-2000"] + (["-e"] if colours else ["-J"])
        return "\n".join(line.rstrip() for line in self.tmux(*args).split("\n")).rstrip("\n")

    def wait_for(self, pattern: str, timeout: float = 20.0, after: int = 0) -> str:
        """Wait until ``pattern`` (a regex) shows on screen, in the text after ``after`` characters."""
        regex = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if regex.search(screen, after):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError("%r not on screen:\n%s" % (pattern, screen))
            time.sleep(0.1)

    def last_line(self) -> str:
        lines = [line for line in self.screen().split("\n") if line.strip()]
        return lines[-1] if lines else ""

    def wait_prompt(self, prompt: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while self.last_line().rstrip() != prompt.rstrip():
            if time.monotonic() > deadline:
                raise AssertionError("no prompt at the end:\n%s" % self.screen())
            time.sleep(0.1)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    target = start_demo(sys.executable, tmp_path_factory.mktemp("demo"), env=FAST)
    yield target
    target.kill()


def open_terminal(demo, home, extra_env=None):
    env = {"HOME": str(home), "PYTHONPATH": os.path.join(ROOT, "src"), "TERM": "xterm-256color"}
    env.update(extra_env or {})
    command = "%s -m pyarthas console %s" % (shlex.quote(sys.executable), demo.url)
    return Terminal(command, env)


def test_a_console_session(demo, tmp_path):
    prompt = "[arthas@%d]$ " % demo.proc.pid
    term = open_terminal(demo, tmp_path)
    try:
        screen = term.wait_for(r"main_class\s+demo\.MathGame")
        assert ",---." in screen and re.search(r"pid\s+%d" % demo.proc.pid, screen)
        term.wait_prompt(prompt)

        version = Client(demo.url).exec("version").results[0]["version"]
        term.enter("version")
        term.wait_for(r"^%s\n%s$" % (re.escape(prompt + "version"), re.escape(version)))
        term.wait_prompt(prompt)

        mark = len(term.screen())
        term.enter("dashboard -n 1")
        screen = term.wait_for(r"Process ends after 1 time\(s\)\.", timeout=30, after=mark)
        assert re.search(r"^ID\s+NAME\s+.*STATE", screen, re.MULTILINE) and "MainThread" in screen
        assert re.search(r"^Memory\s+used\s+total\s+max\s+usage", screen, re.MULTILINE)
        assert all(len(line) <= 80 for line in screen.split("\n")), "a line wider than the terminal"
        term.wait_prompt(prompt)

        # a job that never ends by itself: Ctrl-C gives the prompt back
        mark = len(term.screen())
        term.enter("dashboard -i 200")
        term.wait_for(r"^Runtime", after=mark)
        term.send("C-c")
        term.wait_prompt(prompt, timeout=10)

        # history: Up brings back the previous lines, and they are saved under the home folder
        term.send("Up")
        term.wait_for(re.escape(prompt) + r"dashboard -i 200$")
        term.send("C-u")
        assert "version" in (tmp_path / ".pyarthas" / "history").read_text()

        # completion of a command name and of an option, from the agent's help
        term.complete("dashb", prompt, "dashboard")
        term.complete(" --num", prompt, "dashboard --number-of-execution")
        term.send("C-u")

        # Ctrl-C at the prompt only clears the line; Ctrl-D leaves, the agent keeps running
        term.type("not sent")
        term.send("C-c")
        # wait for the new prompt under the abandoned line: a bare prompt on screen may still be the one the
        # keys have not reached yet, and a Ctrl-D sent before the next prompt reads the terminal is lost
        term.wait_for(r"^%s\n%s$" % (re.escape(prompt + "not sent"), re.escape(prompt.rstrip())))
        term.send("C-d")
        term.wait_for(r"\[console exited 0\]")
        assert "Traceback" not in term.screen()
        assert Client(demo.url).exec("version").ok
    finally:
        term.close()


def test_the_seed_watch_with_interrupts_and_completion(demo, tmp_path):
    prompt = "[arthas@%d]$ " % demo.proc.pid
    term = open_terminal(demo, tmp_path)
    try:
        term.wait_prompt(prompt)
        # class and method names come from the target
        term.complete("watch demo.Ma", prompt, "watch demo.MathGame")
        term.complete(" primeF", prompt, "watch demo.MathGame primeFactors")
        term.send("C-u")

        mark = len(term.screen())
        term.enter(SEED_WATCH)
        screen = term.wait_for(r"^Affect\(class count: 1 , method count: 1\) cost in \d+ ms, listenerId: \d+$",
                               after=mark)
        screen = term.wait_for(r"^method=demo\.MathGame\.primeFactors location=At(Exit|ExceptionExit)\n"
                               r"ts=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}; \[cost=[\d.]+ms\] result=@list\[$",
                               after=mark)
        assert re.search(r"^    @list\[\n        @int\[-?\d+\],\n    \],$", screen[mark:], re.MULTILINE)
        term.send("C-c")
        term.wait_prompt(prompt, timeout=10)

        # q interrupts too
        mark = len(term.screen())
        term.enter(SEED_WATCH + " -x 2")
        term.wait_for(r"^method=demo\.MathGame\.primeFactors", after=mark)
        term.send("q")
        term.wait_prompt(prompt, timeout=10)
        term.enter("quit")
        term.wait_for(r"\[console exited 0\]")
        assert "Traceback" not in term.screen()
    finally:
        term.close()


def test_colours_on_a_terminal_unless_no_color(demo, tmp_path):
    prompt = "[arthas@%d]$ " % demo.proc.pid
    for extra, coloured in (({}, True), ({"NO_COLOR": "1"}, False)):
        term = open_terminal(demo, tmp_path, extra)
        try:
            term.wait_prompt(prompt)
            logo = next(line for line in term.screen(colours=True).split("\n") if ",---." in line)
            assert ("\x1b[31m" in logo) == coloured, repr(logo)
        finally:
            term.close()


def test_agent_down_and_restarted_under_the_console(tmp_path):
    first = start_demo(sys.executable, tmp_path, env=FAST)
    second = None
    term = open_terminal(first, tmp_path)
    try:
        term.wait_prompt("[arthas@%d]$ " % first.proc.pid)
        first.kill()
        mark = len(term.screen())
        term.enter("version")
        term.wait_for(r"cannot reach the agent at %s" % re.escape(first.url), after=mark)
        second = Target([sys.executable, "-m", "pyarthas", "demo", "--port", str(first.port)], target_env(FAST),
                        cwd=str(tmp_path))
        # the console notices the new agent, opens a new session there and follows its pid
        term.wait_for(r"session gone \(agent restarted or session closed\); opened session", after=mark)
        prompt = "[arthas@%d]$ " % second.proc.pid
        term.send("Enter")
        term.wait_prompt(prompt)
        term.enter("echo back")
        term.wait_for(r"^%s\nback$" % re.escape(prompt + "echo back"))
        assert "Traceback" not in term.screen()
    finally:
        term.close()
        first.kill()
        if second:
            second.kill()
