"""``/ws``: the agent's shell over WebSocket (RFC 6455 on the stdlib), speaking Arthas's web console protocol.

The client sends text frames ``{"action":"read","data":"<keys>"}`` (what was typed) and
``{"action":"resize","cols":C,"rows":R}``; the agent sends the terminal's output as text frames. The HTTP
server has already checked Host, Origin and the password (HTTP Basic, or ``?username=&password=`` on the
URL as Arthas's web console sends them) when the upgrade arrives here.

Refused and closed cleanly: a bad handshake (400), unmasked, binary or fragmented-control frames (1002 /
1003), text that is not UTF-8 JSON of the protocol (1007 / 1003), frames over ``MAX_FRAME`` bytes (1009),
and a frame that starts but does not finish within ``FRAME_TIMEOUT`` seconds (a half-open client).
"""
import base64
import hashlib
import json
import os
import socket
import struct
from typing import Any, Callable, Dict, Optional, Tuple

from . import terminals_of
from .terminal import Terminal, keep_alive

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_FRAME = 64 * 1024
FRAME_TIMEOUT = float(os.environ.get("PYARTHAS_FRAME_TIMEOUT") or 30.0)  # tests shorten it
TEXT, BINARY, CONTINUATION, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA
PROTOCOL_ERROR, UNSUPPORTED, INVALID_DATA, TOO_BIG, NORMAL = 1002, 1003, 1007, 1009, 1000


class Refused(Exception):
    def __init__(self, code: int, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + GUID).encode("ascii")).digest()).decode("ascii")


def handshake_error(method: str, headers: Dict[str, str]) -> Optional[str]:
    """Why this request is no WebSocket opening handshake, or None."""
    if method != "GET":
        return "WebSocket handshake needs GET"
    if headers.get("upgrade", "").lower() != "websocket":
        return "missing Upgrade: websocket"
    if "upgrade" not in [token.strip().lower() for token in headers.get("connection", "").split(",")]:
        return "missing Connection: Upgrade"
    if headers.get("sec-websocket-version") != "13":
        return "unsupported Sec-WebSocket-Version (13 expected)"
    try:
        if len(base64.b64decode(headers.get("sec-websocket-key", ""), validate=True)) != 16:
            raise ValueError
    except ValueError:
        return "bad Sec-WebSocket-Key"
    return None


class WebSocketTerminal(Terminal):
    """A shell's terminal on a WebSocket; ``masked`` when the agent is the connection's client (Arthas's
    tunnel: the agent dials out to the tunnel server)."""

    def __init__(self, sock: socket.socket, client_ip: str, masked: bool = False):
        super().__init__(sock, client_ip)
        self.masked = masked

    def _frame(self, text: str) -> bytes:
        return frame(TEXT, text.encode("utf-8"), self.masked)

    def close_with(self, code: int, reason: str) -> None:
        self.write_raw(frame(CLOSE, struct.pack("!H", code) + reason.encode("utf-8")[:120], self.masked))
        self.close()

    def _closing(self) -> None:
        from .terminal import WRITE_TIMEOUT, send_within
        send_within(self.sock, frame(CLOSE, struct.pack("!H", NORMAL), self.masked), WRITE_TIMEOUT)


def frame(opcode: int, payload: bytes, masked: bool = False) -> bytes:
    """A final frame: unmasked from a server, masked (a fresh random key) from a client (RFC 6455 5.3)."""
    size = len(payload)
    mask_bit = 0x80 if masked else 0
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, mask_bit | size)
    elif size < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, mask_bit | 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, mask_bit | 127, size)
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + _unmask(payload, key)


def upgrade_handler(agent) -> Callable[[socket.socket, Any], None]:
    """The server's handler for ``GET /ws`` with ``Upgrade`` (``ApiServer.add_upgrade``): the access check
    has passed; the socket is ours, and ``request.rest`` holds the bytes the client sent after the head."""
    from ..http.server import http_response

    def handle(connection: socket.socket, request) -> None:
        def send_http(status: int, body: bytes, content_type: str) -> None:
            connection.sendall(http_response(status, body, content_type, False, {}, request.method))

        try:
            serve(agent, connection, _PrefixedReader(connection, request.rest), request.method, request.headers,
                  request.peer.address, send_http)
        except OSError:
            pass
        finally:
            try:
                connection.close()
            except OSError:
                pass
    return handle


class _PrefixedReader:
    """Reads what the server had already taken from the socket, then the socket itself."""

    def __init__(self, connection: socket.socket, prefix: bytes):
        self._connection = connection
        self._prefix = prefix

    def read(self, size: int) -> bytes:
        """``size`` bytes, fewer only at the end of the stream (as a buffered file's ``read``)."""
        data, self._prefix = self._prefix[:size], self._prefix[size:]
        while len(data) < size:
            more = self._connection.recv(size - len(data))
            if not more:
                break
            data += more
        return data


def serve(agent, connection: socket.socket, reader, method: str, headers: Dict[str, str], client_ip: str,
          send_http: Callable[[int, bytes, str], None]) -> None:
    """Answer the upgrade, then run a shell on the connection until either side closes it."""
    problem = handshake_error(method, headers)
    if problem is not None:
        send_http(400, problem.encode(), "text/plain; charset=utf-8")
        return
    connection.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Accept: %s\r\n\r\n" % accept_key(headers["sec-websocket-key"])).encode())
    connection.settimeout(None)
    keep_alive(connection)
    terminal = WebSocketTerminal(connection, client_ip)
    terminals_of(agent).serve(terminal, lambda shell: read_loop(connection, reader, terminal, shell))


def read_loop(connection: socket.socket, reader, terminal: WebSocketTerminal, shell) -> None:
    """Feed the shell what the other side types until it closes; frames come masked exactly when the
    terminal's own frames do not (the other side is then the client)."""
    while not terminal.closed:
        try:
            opcode, payload = read_message(connection, reader, from_client=not terminal.masked)
            action = parse_action(payload) if opcode == TEXT else None
        except Refused as refused:
            terminal.close_with(refused.code, refused.reason)
            return
        except (OSError, EOFError):
            return
        if opcode == CLOSE:
            terminal.close()
            return
        if opcode == PING:
            terminal.write_raw(frame(PONG, payload, terminal.masked))
        elif action is not None and action[0] == "read":
            shell.feed(action[1].encode("utf-8"))
        elif action is not None:
            terminal.resize(*action[1])


def parse_action(payload: bytes) -> Tuple[str, Any]:
    try:
        message = json.loads(payload.decode("utf-8"))
    except UnicodeDecodeError:
        raise Refused(INVALID_DATA, "text frames must be UTF-8") from None
    except (ValueError, RecursionError):
        raise Refused(UNSUPPORTED, "expected a JSON object with an action") from None
    if not isinstance(message, dict):
        raise Refused(UNSUPPORTED, "expected a JSON object with an action")
    action = message.get("action")
    if action == "read" and isinstance(message.get("data"), str):
        return "read", message["data"]
    if action == "resize":
        cols, rows = message.get("cols"), message.get("rows")
        if isinstance(cols, int) and isinstance(rows, int) and not isinstance(cols, bool):
            return "resize", (cols, rows)
    raise Refused(UNSUPPORTED, "unknown action; expected read or resize")


def read_message(connection: socket.socket, reader, from_client: bool = True,
                 idle: Optional[float] = None) -> Tuple[int, bytes]:
    """The next whole message (continuations joined) or control frame. ``idle``: how long to wait for its
    first byte (``socket.timeout`` after that; None waits as long as it takes)."""
    opcode, payload = read_frame(connection, reader, from_client, idle)
    if opcode in (TEXT, CONTINUATION) and not payload[0]:
        if opcode == CONTINUATION:
            raise Refused(PROTOCOL_ERROR, "continuation without a message")
        parts = [payload[1]]
        size = len(payload[1])
        while True:
            next_opcode, (fin, data) = read_frame(connection, reader, from_client)
            if next_opcode != CONTINUATION:
                raise Refused(PROTOCOL_ERROR, "control frames inside a fragmented message are not supported")
            size += len(data)
            if size > MAX_FRAME:
                raise Refused(TOO_BIG, "message too big")
            parts.append(data)
            if fin:
                return TEXT, b"".join(parts)
    if opcode == CONTINUATION:
        raise Refused(PROTOCOL_ERROR, "continuation without a message")
    return opcode, payload[1]


def read_frame(connection: socket.socket, reader, from_client: bool = True,
               idle: Optional[float] = None) -> Tuple[int, Tuple[bool, bytes]]:
    """(opcode, (fin, unmasked payload)). Waits ``idle`` seconds for a frame's first byte (None: without a
    deadline, an idle terminal), then gives the rest of the frame ``FRAME_TIMEOUT`` seconds. A client's
    frames must be masked and a server's must not (RFC 6455 5.1)."""
    connection.settimeout(idle)
    first = reader.read(1)
    if not first:
        raise EOFError
    connection.settimeout(FRAME_TIMEOUT)
    try:
        second = _exactly(reader, 1)[0]
        fin, rsv, opcode = first[0] & 0x80, first[0] & 0x70, first[0] & 0x0F
        masked, size = second & 0x80, second & 0x7F
        if rsv:
            raise Refused(PROTOCOL_ERROR, "no extension was negotiated")
        if from_client and not masked:
            raise Refused(PROTOCOL_ERROR, "client frames must be masked")
        if masked and not from_client:
            raise Refused(PROTOCOL_ERROR, "server frames must not be masked")
        if opcode == BINARY:
            raise Refused(UNSUPPORTED, "binary frames are not supported")
        if opcode not in (TEXT, CONTINUATION, CLOSE, PING, PONG):
            raise Refused(PROTOCOL_ERROR, "unknown opcode %d" % opcode)
        if opcode >= CLOSE and (not fin or size > 125):
            raise Refused(PROTOCOL_ERROR, "bad control frame")
        if size == 126:
            size = struct.unpack("!H", _exactly(reader, 2))[0]
        elif size == 127:
            size = struct.unpack("!Q", _exactly(reader, 8))[0]
        if size > MAX_FRAME:
            raise Refused(TOO_BIG, "frame too big (at most %d bytes)" % MAX_FRAME)
        mask = _exactly(reader, 4) if masked else b""
        data = _exactly(reader, size)
    except socket.timeout:
        raise Refused(PROTOCOL_ERROR, "incomplete frame") from None
    finally:
        try:
            connection.settimeout(None)
        except OSError:
            pass
    return opcode, (bool(fin), _unmask(data, mask) if mask else data)


def _exactly(reader, size: int) -> bytes:
    data = reader.read(size) if size else b""
    if len(data) < size:
        raise EOFError
    return data


def _unmask(data: bytes, mask: bytes) -> bytes:
    if not data:
        return data
    # XOR with the 4-byte mask, done on one big integer rather than byte by byte
    repeated = (mask * (len(data) // 4 + 1))[:len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(repeated, "big")).to_bytes(len(data), "big")
