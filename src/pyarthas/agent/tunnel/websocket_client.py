"""The client side of RFC 6455 on the stdlib, for the connections the agent opens itself (Arthas's tunnel
server). Framing is the shell's (``shell.websocket``); this adds the opening handshake as the client."""
import base64
import os
import socket
import ssl
from typing import Tuple
from urllib.parse import urlsplit

from ..shell.websocket import _PrefixedReader, accept_key

MAX_RESPONSE_HEAD = 16 * 1024


class HandshakeFailed(OSError):
    pass


class ClientConnection:
    """An open WebSocket this process dialled: ``sock`` to write frames to, ``reader`` to read them from."""

    def __init__(self, sock: socket.socket, reader: _PrefixedReader, peer_host: str):
        self.sock = sock
        self.reader = reader
        self.peer_host = peer_host

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def connect(url: str, timeout: float = 10.0) -> ClientConnection:
    """Open ``ws://`` or ``wss://`` ``url``; raises ``OSError`` (``HandshakeFailed`` for a refused upgrade)."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError("a tunnel server URL looks like ws://HOST:PORT/ws (or wss://), not %r" % url)
    port = parts.port or (443 if parts.scheme == "wss" else 80)
    sock = socket.create_connection((parts.hostname, port), timeout=timeout)
    try:
        if parts.scheme == "wss":
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=parts.hostname)
        rest = _handshake(sock, parts.hostname, port, (parts.path or "/") + ("?" + parts.query if parts.query else ""))
    except BaseException:
        sock.close()
        raise
    sock.settimeout(None)
    return ClientConnection(sock, _PrefixedReader(sock, rest), parts.hostname)


def _handshake(sock: socket.socket, host: str, port: int, target: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode("ascii")
    request = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (target, host, port, key))
    sock.sendall(request.encode("ascii"))
    head, rest = _response_head(sock)
    status, headers = _parse_head(head)
    if status != 101:
        raise HandshakeFailed("the tunnel server refused the WebSocket upgrade (HTTP %d)" % status)
    if headers.get("sec-websocket-accept") != accept_key(key):
        raise HandshakeFailed("the tunnel server answered the upgrade with a wrong Sec-WebSocket-Accept")
    return rest


def _response_head(sock: socket.socket) -> Tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > MAX_RESPONSE_HEAD:
            raise HandshakeFailed("the tunnel server's answer to the upgrade is too long")
        chunk = sock.recv(4096)
        if not chunk:
            raise HandshakeFailed("the tunnel server closed the connection during the upgrade")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _parse_head(head: bytes) -> Tuple[int, dict]:
    lines = head.decode("latin-1").split("\r\n")
    try:
        status = int(lines[0].split()[1])
    except (IndexError, ValueError):
        raise HandshakeFailed("the tunnel server's answer is not HTTP: %r" % lines[0][:80]) from None
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers
