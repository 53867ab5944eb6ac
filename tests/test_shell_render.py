"""The agent's shell and the external console draw the same text for the same results: one set of views.

Deterministic commands covering the result types whose text does not change from one run to the next
are run in both (the shell at 80 columns, colours stripped; the console in batch mode), on every
interpreter; the outputs must be identical.
"""
import re
import subprocess
import sys

import pytest

from harness import target_env
from shell_client import ANSI, WsTerminal, prompt_of, start_shell_demo

COMMANDS = [
    "version", "echo a  b", "pwd", "ognl '[1, {\"k\": None}, \"x\"]'", "ognl 'demo.MathGame' -x 2",
    "getstatic demo.MathGame random", "sc demo.*", "sc -d demo.MathGame", "sm demo.MathGame",
    "sm -d demo.MathGame primeFactors", "jad demo.MathGame primeFactors", "help", "help watch", "options",
    "options unsafe", "sysenv PYARTHAS_DEMO_INTERVAL", "tt -l", "reset", "nosuch", "watch -h",
    "sc demo.* | grep Math", "help | wc -l",
]
SEPARATOR = "echo =====8<====="


@pytest.fixture
def shell_demo(target_python, tmp_path):
    target = start_shell_demo(target_python, tmp_path)
    yield target
    target.kill()


def test_shell_and_console_draw_the_same_text(shell_demo):
    console_line = "; ".join(c for command in COMMANDS for c in (command, SEPARATOR))
    done = subprocess.run([sys.executable, "-m", "pyarthas", "console", shell_demo.url, "-c", console_line],
                          capture_output=True, text=True, timeout=120, env=target_env({"NO_COLOR": ""}))
    console = done.stdout.split("=====8<=====\n")[:len(COMMANDS)]
    assert len(console) == len(COMMANDS), done.stdout + done.stderr

    prompt = prompt_of(shell_demo)
    term = WsTerminal(shell_demo.url)
    try:
        term.resize(80, 24)
        term.screen.expect(re.escape(prompt) + "$")
        shell = []
        for command in COMMANDS:
            mark = term.screen.mark()
            term.send(command + "\r")
            match = term.screen.expect(re.escape(command) + r"\n(?P<out>.*?)" + re.escape(prompt) + "$", after=mark)
            shell.append(ANSI.sub("", match.group("out")))
    finally:
        term.close()
    for command, in_console, in_shell in zip(COMMANDS, console, shell):
        assert in_shell == in_console, command
    assert "@int[1]" in shell[3] and "field: random" in shell[5] and "primeFactors" in shell[10]
