"""The telnet server: the agent's shell on port 3658 (Arthas's default), bound like the HTTP port.

On connect the agent offers to echo and to suppress go-ahead (so a ``telnet`` client sends each key as
typed, not whole lines) and asks for NAWS (the window size, sent again on each resize). A client that
answers none of it (``nc``) still works: it sends lines, which the shell runs one after the other.
One agent thread blocks in ``accept()``; each connection has a reader thread blocked in ``recv()``.
"""
import functools
import socket
import threading
from typing import Optional, Set, Tuple

from ..util import threads
from ..util.net import listening_socket
from . import access, terminals_of
from .terminal import Terminal, keep_alive

DEFAULT_PORT = 3658
IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
IP, BRK, EOF_ = 244, 243, 236
ECHO, SGA, NAWS = 1, 3, 31
OFFERED = {ECHO: WILL, SGA: WILL, NAWS: DO}     # what the agent proposes, and so never answers again
MAX_SUBNEGOTIATION = 64


class TelnetTerminal(Terminal):
    def _frame(self, text: str) -> bytes:
        return text.encode("utf-8").replace(b"\xff", b"\xff\xff")


class TelnetParser:
    """Splits what a telnet client sends into data and commands, keeping state across reads."""

    def __init__(self, terminal: TelnetTerminal):
        self.terminal = terminal
        self.interrupts = 0
        self._state = "data"
        self._command = 0
        self._sub = bytearray()
        self._answered: Set[Tuple[int, int]] = set()

    def feed(self, data: bytes) -> bytes:
        out = bytearray()
        for byte in data:
            state = self._state
            if state == "data":
                if byte == IAC:
                    self._state = "iac"
                else:
                    out.append(byte)
            elif state == "iac":
                self._state = "data"
                if byte == IAC:
                    out.append(IAC)
                elif byte in (WILL, WONT, DO, DONT):
                    self._command, self._state = byte, "option"
                elif byte == SB:
                    self._sub.clear()
                    self._state = "sub"
                elif byte in (IP, BRK):
                    self.interrupts += 1
                elif byte == EOF_:
                    out.append(4)  # as Ctrl-D
            elif state == "option":
                self._state = "data"
                self._negotiate(self._command, byte)
            elif state == "sub":
                if byte == IAC:
                    self._state = "sub-iac"
                elif len(self._sub) < MAX_SUBNEGOTIATION:
                    self._sub.append(byte)
            elif state == "sub-iac":
                if byte == SE:
                    self._state = "data"
                    self._subnegotiation(bytes(self._sub))
                else:
                    self._state = "sub"
                    if byte == IAC and len(self._sub) < MAX_SUBNEGOTIATION:
                        self._sub.append(IAC)
        return bytes(out)

    def _negotiate(self, command: int, option: int) -> None:
        """Refuse what was not offered; an answer to our own offer needs no reply (no negotiation loops)."""
        if option in OFFERED:
            return
        if (command, option) in self._answered:
            return
        self._answered.add((command, option))
        reply = {DO: WONT, WILL: DONT}.get(command)
        if reply is not None:
            self.terminal.write_raw(bytes([IAC, reply, option]))

    def _subnegotiation(self, body: bytes) -> None:
        if len(body) == 5 and body[0] == NAWS:
            self.terminal.resize((body[1] << 8) | body[2], (body[3] << 8) | body[4])


class TelnetServer:
    def __init__(self, agent, port: int):
        self.agent = agent
        self.listener = listening_socket(agent.ip, port, 16)
        self.port = self.listener.getsockname()[1]
        self._stopping = False
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        self._thread = threads.spawn("telnet", self._serve)

    def _serve(self) -> None:
        """Blocks in accept(); stop() shuts the socket down, which wakes it. The terminal limit is counted
        per shell (``Terminals``), so that a refused client is told why."""
        while not self._stopping:
            try:
                connection, address = self.listener.accept()
            except OSError:
                continue
            try:
                threads.spawn("telnet-conn", functools.partial(self._handle, connection, address[0]))
            except RuntimeError:  # no thread could be started
                connection.close()

    def _handle(self, connection: socket.socket, client_ip: str) -> None:
        keep_alive(connection)
        terminal = TelnetTerminal(connection, client_ip)
        parser = TelnetParser(terminal)
        try:
            terminal.write_raw(bytes([IAC, WILL, ECHO, IAC, WILL, SGA, IAC, DO, NAWS]))
            locked = access.telnet_needs_password(self.agent, client_ip)
            terminals_of(self.agent).serve(terminal, lambda shell: _read_loop(connection, parser, shell), locked)
        except Exception:  # a broken client must not disturb anyone else
            pass
        finally:
            terminal.close()
            try:
                connection.close()
            except OSError:
                pass

    def stop(self) -> None:
        self._stopping = True
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()


def _read_loop(connection: socket.socket, parser: TelnetParser, shell) -> None:
    while True:
        try:
            data = connection.recv(4096)
        except OSError:
            return
        if not data:
            shell.input_ended()
            return
        payload = parser.feed(data)
        if parser.interrupts:
            parser.interrupts = 0
            shell.interrupt()
        if payload:
            shell.feed(payload)
