"""The agent's shell over WebSocket (``/ws``, Arthas's web console protocol), driven by the ``websockets``
client: what a browser terminal sends and sees, byte for byte where it matters, on every interpreter."""
import base64
import os
import re
import socket
import struct
import time

import pytest

from harness import post_raw
from shell_client import ENDLESS, SEED_WATCH, WsTerminal, prompt_of, start_shell_demo, wait_until

CODE_ID = "id(demo.MathGame.primeFactors.__code__)"
WATCH_RESULT = (r"method=demo\.MathGame\.primeFactors location=AtExit\r\n"
                r"ts=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}; \[cost=\d+\.\d+(e-\d+)?ms\] result=@list\[\r\n"
                r"    @list\[\r\n        @int\[(?P<number>\d+)\],\r\n    \],\r\n"
                r"    @list\[\r\n(?P<factors>(        @int\[\d+\],\r\n)+)    \],\r\n"
                r"    None,\r\n\]\r\n")


@pytest.fixture
def shell_demo(target_python, tmp_path):
    target = start_shell_demo(target_python, tmp_path)
    yield target
    target.kill()


def _after_command(screen, prompt, command, mark):
    """The text a command printed (typed after ``mark``): between its echoed line and the next prompt."""
    match = screen.expect(re.escape(command) + r"\n(?P<out>.*?)" + re.escape(prompt), after=mark)
    return match.group("out")


def test_web_console_session(shell_demo, tmp_path):
    target, prompt = shell_demo, prompt_of(shell_demo)
    code_before = target.ognl(CODE_ID)
    term = WsTerminal(target.url)
    screen = term.screen
    try:
        screen.expect(r"main_class\s+demo\.MathGame")
        screen.expect(re.escape(prompt) + r"$")
        assert screen.text.endswith("\r\n" + prompt)  # the prompt, byte for byte, at the start of a line
        assert "\n" not in "".join(term.frames[-1:]).split("\r\n")[-1]

        # the session is an ordinary one: `session` shows it, and so does the HTTP API's session_info
        mark = screen.mark()
        term.send("session\r")
        session_id = re.search(r"SESSION_ID\s+(\S+)", _after_command(screen, prompt, "session", mark)).group(1)
        assert target.api("session_info", sessionId=session_id)["state"] == "SUCCEEDED"

        # the seed's watch, byte-exact in the raw frames (colours and \r\n included)
        term.resize(120, 40)
        mark = len(screen.text)
        term.send(SEED_WATCH + " 'throwExp is None' -n 1\r")
        result = screen.expect(WATCH_RESULT, after=mark, plain=False)
        product = 1
        for factor in re.findall(r"@int\[(\d+)\]", result.group("factors")):
            product *= int(factor)
        assert product == int(result.group("number"))
        screen.expect(r"Command execution times exceed limit: 1.*" + re.escape(prompt), after=screen.mark() - 400)

        # Ctrl-C interrupts the foreground job; the function is restored
        mark = screen.mark()
        term.send(SEED_WATCH + ENDLESS + "\r")
        screen.expect(r"result=@list", after=mark)
        term.send("\x03")
        screen.expect(r"\n" + re.escape(prompt) + r"$", after=mark)

        # history: Up recalls the last line (the same history as the `history` command)
        mark = screen.mark()
        term.send("\x1b[A")
        screen.expect(re.escape(prompt + SEED_WATCH + ENDLESS) + r"$", after=mark)
        term.send("\x15")  # Ctrl-U
        wait_until(lambda: target.ognl(CODE_ID) == code_before, message="primeFactors restored")
        mark = screen.mark()
        term.send("history\r")
        assert SEED_WATCH + ENDLESS in _after_command(screen, prompt, "history", mark)

        # Tab completes commands, options, module/class and function names
        for typed, shown in (("dashb", "dashboard "), ("--num", "--number-of-execution "),):
            mark = screen.mark()
            term.send(typed + "\t")
            screen.expect(re.escape(shown), after=mark)
        term.send("\x15")
        mark = screen.mark()
        term.send("watch demo.MathG\t")
        screen.expect(re.escape("demo.MathGame "), after=mark)
        term.send("primeF\t")
        screen.expect(re.escape("primeFactors "), after=mark)
        term.send("\x15")

        # pipes
        mark = screen.mark()
        term.send("sc demo.* | grep MathGame\r")
        assert _after_command(screen, prompt, "sc demo.* | grep MathGame", mark).split("\n") == ["demo.MathGame", ""]
        mark = screen.mark()
        term.send("sc demo.* | wc -l\r")
        assert _after_command(screen, prompt, "sc demo.* | wc -l", mark) == "2\n"  # the class, Affect(...)

        # redirects, relative to the target's working directory as Arthas's: the file's path on the screen,
        # the text in the file
        mark = screen.mark()
        written = tmp_path / "shell" / "v.txt"
        term.send("version > shell/v.txt\r")
        assert _after_command(screen, prompt, "version > shell/v.txt", mark) == (
            "redirect output file will be: %s\n" % written)
        term.send("echo again >> shell/v.txt\r")
        screen.expect(re.escape(prompt + "echo again >> shell/v.txt") + r"\nredirect output file will be: .*\n"
                      + re.escape(prompt), after=mark)
        version = target.results("version")[0]["version"]
        assert written.read_text() == version + "\nagain\n"

        # job control: &, jobs, fg, Ctrl-C, kill
        mark = screen.mark()
        term.send("watch demo.MathGame primeFactors '{params}' > bg.txt &\r")
        screen.expect(re.escape(prompt) + r"$", after=mark + 10)
        mark = screen.mark()
        term.send("jobs\r")
        job_id = re.search(r"\[(\d+)\]\s*\n\s+Running\s+watch demo\.MathGame",
                           _after_command(screen, prompt, "jobs", mark)).group(1)
        wait_until(lambda: "@int[" in (tmp_path / "bg.txt").read_text(), message="bg.txt")
        mark = screen.mark()
        term.send("fg %s\r" % job_id)
        screen.expect(re.escape("fg %s" % job_id) + r"\nwatch demo", after=mark)
        term.send("\x03")
        screen.expect(r"\n" + re.escape(prompt) + r"$", after=mark)
        mark = screen.mark()
        term.send("watch demo.MathGame primeFactors '{params}'" + ENDLESS + " > bg2.txt &\r")
        screen.expect(re.escape(prompt) + r"$", after=mark + 10)
        mark = screen.mark()
        term.send("jobs\r")
        job_id = re.search(r"\[(\d+)\]", _after_command(screen, prompt, "jobs", mark)).group(1)
        mark = screen.mark()
        term.send("kill %s\r" % job_id)
        _after_command(screen, prompt, "kill %s" % job_id, mark)
        mark = screen.mark()
        term.send("jobs\r")
        assert _after_command(screen, prompt, "jobs", mark) == ""
        wait_until(lambda: target.ognl(CODE_ID) == code_before, message="primeFactors restored after kill")

        # a resize reflows what follows: the dashboard fits 60 columns, and redraws in place
        term.resize(60, 30)
        mark = len(screen.text)
        term.send("dashboard -n 1\r")
        screen.expect(r"\x1b\[H\x1b\[2J", after=mark, plain=False)
        out = screen.expect(r"Memory.*?" + re.escape(prompt), after=screen.mark() - 5000).group(0)
        assert max(len(line) for line in out.split("\n")) <= 60

        # quit closes the connection and the session, never the agent
        term.send("quit\r")
        screen.wait_closed()
        wait_until(lambda: target.api("session_info", sessionId=session_id)["state"] == "FAILED",
                   message="the session closed")
        assert target.results("version")[0]["version"] == version
    finally:
        term.close()


def test_disconnect_during_a_job_ends_it(shell_demo):
    target, prompt = shell_demo, prompt_of(shell_demo)
    code_before = target.ognl(CODE_ID)
    term = WsTerminal(target.url)
    term.screen.expect(re.escape(prompt))
    term.send(SEED_WATCH + ENDLESS + "\r")
    term.screen.expect(r"result=@list")
    assert target.ognl(CODE_ID) != code_before
    term.ws.socket.close()  # gone without a close frame
    wait_until(lambda: target.ognl(CODE_ID) == code_before, message="primeFactors restored")


def test_background_jobs_end_with_the_connection(shell_demo):
    """Closing a session ends its background jobs too (the session layer does it; the shell only closes)."""
    target, prompt = shell_demo, prompt_of(shell_demo)
    code_before = target.ognl(CODE_ID)
    term = WsTerminal(target.url)
    term.screen.expect(re.escape(prompt))
    term.send("watch demo.MathGame primeFactors '{params}'" + ENDLESS + " > gone.txt &\r")
    wait_until(lambda: target.ognl(CODE_ID) != code_before, message="primeFactors enhanced")
    term.close()
    wait_until(lambda: target.ognl(CODE_ID) == code_before, message="primeFactors restored")


# ---- refusals ----

def _raw_upgrade(port, headers=None, path="/ws", source_ip=None):
    """Send a handshake by hand; returns (status, socket)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30,
                                    source_address=(source_ip, 0) if source_ip else None)
    lines = ["GET %s HTTP/1.1" % path, "Host: 127.0.0.1:%d" % port]
    base = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode()}
    base.update(headers or {})
    lines += ["%s: %s" % item for item in base.items() if item[1] is not None]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    return int(head.split()[1]), sock


def _client_frame(opcode, payload, masked=True, fin=True):
    head = bytes([(0x80 if fin else 0) | opcode])
    size = len(payload)
    length = bytes([size]) if size < 126 else (bytes([126]) + struct.pack("!H", size) if size < 65536
                                              else bytes([127]) + struct.pack("!Q", size))
    if not masked:
        return head + length + payload
    mask = os.urandom(4)
    length = bytes([length[0] | 0x80]) + length[1:]
    return head + length + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def _close_code(sock):
    """Read the agent's frames until its close frame; the close's status code."""
    data = b""

    def need(size):
        nonlocal data
        while len(data) < size:
            chunk = sock.recv(65536)
            if not chunk:
                raise AssertionError("closed without a close frame")
            data += chunk

    while True:
        need(2)
        opcode, size, offset = data[0] & 0x0F, data[1] & 0x7F, 2
        if size == 126:
            need(4)
            size, offset = struct.unpack("!H", data[2:4])[0], 4
        elif size == 127:
            need(10)
            size, offset = struct.unpack("!Q", data[2:10])[0], 10
        need(offset + size)
        payload, data = data[offset:offset + size], data[offset + size:]
        if opcode == 0x8:
            return struct.unpack("!H", payload[:2])[0]


@pytest.mark.parametrize("frame, code", [
    (_client_frame(0x2, b"\x00\x01"), 1003),                                  # binary
    (_client_frame(0x1, b'{"action":"read","data":"x"}', masked=False), 1002),  # unmasked
    (_client_frame(0x1, b"not json"), 1003),                                  # not the protocol
    (_client_frame(0x1, b'{"action":"launch"}'), 1003),                       # unknown action
    (_client_frame(0x1, b"\xff\xfe"), 1007),                                  # not UTF-8
    (_client_frame(0x1, b"x" * 70000), 1009),                                 # oversized
    (_client_frame(0x9, b"p", fin=False), 1002),                              # fragmented control frame
], ids=["binary", "unmasked", "not-json", "unknown-action", "not-utf8", "oversized", "fragmented-ping"])
def test_bad_frames_close_cleanly(shell_demo, frame, code):
    status, sock = _raw_upgrade(shell_demo.port)
    try:
        assert status == 101
        sock.sendall(_client_frame(0x9, b"hi"))  # a ping is answered with a pong
        sock.sendall(frame)
        assert _close_code(sock) == code
    finally:
        sock.close()
    assert shell_demo.results("version")[0]["version"]  # the agent is fine


def test_bad_handshakes_and_refusals(target_python, tmp_path):
    target = start_shell_demo(target_python, tmp_path, env={"PYARTHAS_PASSWORD": "s3cret",
                                                            "PYARTHAS_FRAME_TIMEOUT": "2"})
    try:
        port = target.port
        assert _raw_upgrade(port, {"Sec-WebSocket-Version": "8"})[0] == 400
        assert _raw_upgrade(port, {"Sec-WebSocket-Key": "short"})[0] == 400
        assert _raw_upgrade(port, {"Upgrade": None})[0] == 400
        assert _raw_upgrade(port, {"Origin": "http://evil.example"})[0] == 403
        assert _raw_upgrade(port, {"Host": "evil.example:%d" % port})[0] == 403
        # the password: from another address it is needed, on the URL as Arthas's web console sends it
        assert _raw_upgrade(port, source_ip="127.0.0.2")[0] == 401
        assert _raw_upgrade(port, path="/ws?username=arthas&password=nope", source_ip="127.0.0.2")[0] == 401
        status, sock = _raw_upgrade(port, path="/ws?username=arthas&password=s3cret", source_ip="127.0.0.2")
        sock.close()
        assert status == 101
        # a half-open client (a frame begun, never finished) is closed, not waited for forever
        status, sock = _raw_upgrade(port)
        assert status == 101
        sock.sendall(b"\x81")
        sock.settimeout(60)
        assert _close_code(sock) == 1002
        sock.close()
    finally:
        target.kill()


def test_terminal_limit(target_python, tmp_path):
    target = start_shell_demo(target_python, tmp_path, env={"PYARTHAS_MAX_TERMINALS": "2"})
    prompt = prompt_of(target)
    terms = []
    try:
        for _ in range(2):
            terms.append(WsTerminal(target.url))
            terms[-1].screen.expect(re.escape(prompt))
        refused = WsTerminal(target.url)
        terms.append(refused)
        refused.screen.expect(r"too many terminals are open \(2\)")
        refused.screen.wait_closed()
        terms[0].send("quit\r")
        terms[0].screen.wait_closed()
        # the slot is freed once the closed shell's session is torn down, just after its socket closes:
        # a new terminal gets in within moments
        deadline = time.monotonic() + 15
        while True:
            again = WsTerminal(target.url)
            terms.append(again)
            wait_until(lambda term=again: prompt in term.screen.plain or term.screen.closed, message="a prompt")
            if prompt in again.screen.plain or time.monotonic() > deadline:
                break
            assert "too many terminals" in again.screen.plain
        assert prompt in again.screen.plain
    finally:
        for term in terms:
            term.close()
        target.kill()


def test_fifty_terminals_watching(target_python, tmp_path):
    target = start_shell_demo(target_python, tmp_path)
    prompt = prompt_of(target)
    terms = []
    try:
        for _ in range(50):
            terms.append(WsTerminal(target.url))
        for term in terms:
            term.screen.expect(re.escape(prompt), timeout=60)
            term.send(SEED_WATCH + " -n 2\r")
        for term in terms:
            term.screen.expect(r"Command execution times exceed limit: 2.*" + re.escape(prompt), timeout=120)
        assert target.results("version")[0]["version"]  # and the agent still answers
    finally:
        for term in terms:
            term.close()
        target.kill()


def test_http_api_unchanged_beside_ws(shell_demo):
    status, _, body = post_raw(shell_demo.url, b"", method="GET", path="/ws")
    assert status == 400 and b"Upgrade" in body
