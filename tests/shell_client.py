"""Clients of the agent's shell for tests: a demo with telnet on a free port, a raw TCP terminal (what
``nc`` is), and a WebSocket terminal speaking Arthas's web console frames through the ``websockets`` package."""
import json
import re
import socket
import threading
import time
from typing import List, Optional

from harness import Target, target_env

SEED_WATCH = 'watch demo.MathGame primeFactors "{params, returnObj, throwExp}"'
ENDLESS = " -n 100000000"  # past watch's default limit of 100 results: only an interrupt or a kill ends it
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
IAC_SEQUENCE = re.compile(rb"\xff[\xfb-\xfe].|\xff\xfa.*?\xff\xf0|\xff[\xf0-\xf9]", re.S)
TELNET_LINE = re.compile(r"pyarthas shell: telnet \S+ (\d+)")


def start_shell_demo(python: str, tmp_path, env: Optional[dict] = None, args=()) -> Target:
    """The demo with the agent, HTTP and telnet on free ports; ``target.telnet_port`` set."""
    extra = {"PYARTHAS_DEMO_INTERVAL": "0.1"}
    extra.update(env or {})
    return start_shell_target(python, tmp_path, ["demo", *args], extra)


def start_shell_target(python: str, folder, command: List[str], env: Optional[dict] = None) -> Target:
    """``pyarthas COMMAND...`` (``demo``, ``run script.py``) with HTTP and telnet on free ports."""
    target = Target([python, "-m", "pyarthas", command[0], "--port", "0", "--telnet-port", "0", *command[1:]],
                    target_env(env), cwd=str(folder))
    deadline = time.monotonic() + 30
    while True:
        found = [m for m in (TELNET_LINE.search(line) for line in list(target.stderr_lines)) if m]
        if found:
            target.telnet_port = int(found[0].group(1))
            return target
        if time.monotonic() > deadline:
            target.kill()
            raise AssertionError("no telnet port announced:\n" + "".join(target.stderr_lines))
        time.sleep(0.05)


def prompt_of(target: Target) -> str:
    return "[arthas@%d]$ " % target.proc.pid


class Screen:
    """What a terminal client received, as text; ``expect`` waits for a pattern after a mark."""

    def __init__(self):
        self.raw = bytearray()
        self.closed = False
        self._cond = threading.Condition()

    def add(self, data: bytes) -> None:
        with self._cond:
            self.raw += data
            self._cond.notify_all()

    def end(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    @property
    def text(self) -> str:
        return IAC_SEQUENCE.sub(b"", bytes(self.raw)).decode("utf-8", "replace")

    @property
    def plain(self) -> str:
        return ANSI.sub("", self.text).replace("\r\n", "\n")

    def mark(self) -> int:
        return len(self.plain)

    def expect(self, pattern: str, after: int = 0, timeout: float = 30.0, plain: bool = True) -> "re.Match":
        regex = re.compile(pattern, re.M | re.S)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                text = self.plain if plain else self.text
                match = regex.search(text, after)
                if match:
                    return match
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.closed:
                    raise AssertionError("%r not received (closed=%s); got:\n%s"
                                         % (pattern, self.closed, text[after:][-3000:]))
                self._cond.wait(min(remaining, 0.5))

    def wait_closed(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self.closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError("the connection stayed open")
                self._cond.wait(remaining)


class RawTerminal:
    """A plain TCP client of the telnet port (as ``nc`` is): sends bytes, collects what comes back."""

    def __init__(self, port: int, source_ip: Optional[str] = None, read: bool = True):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30,
                                             source_address=(source_ip, 0) if source_ip else None)
        self.screen = Screen()
        if read:
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                self.screen.add(data)
        except OSError:
            pass
        self.screen.end()

    def send(self, text: str) -> None:
        self.sock.sendall(text.encode("utf-8"))

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class WsTerminal:
    """Arthas's web console protocol over ``websockets`` (sync client)."""

    def __init__(self, url: str, path: str = "/ws", **connect_args):
        from websockets.sync.client import connect
        self._connection = connect(url.replace("http://", "ws://") + path, open_timeout=30, **connect_args)
        self.ws = self._connection.__enter__()
        self.screen = Screen()
        self.frames: List[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for message in self.ws:
                self.frames.append(message)
                self.screen.add(message.encode("utf-8") if isinstance(message, str) else message)
        except Exception:
            pass
        self.screen.end()

    def send(self, keys: str) -> None:
        self.ws.send(json.dumps({"action": "read", "data": keys}))

    def resize(self, cols: int, rows: int) -> None:
        self.ws.send(json.dumps({"action": "resize", "cols": cols, "rows": rows}))

    def close(self) -> None:
        try:
            self._connection.__exit__(None, None, None)
        except Exception:
            pass


def wait_until(predicate, timeout: float = 30.0, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + message)
        time.sleep(0.1)
