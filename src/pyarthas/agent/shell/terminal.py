"""What a shell needs of a connection, whatever carries it (telnet, WebSocket): write text, know the
window size, close. Each transport subclasses ``Terminal`` and frames the bytes its own way.

Bounded by construction: output is sent straight to the socket (no queue of ours grows); a client that
stops reading fills its socket buffer, and when nothing more could be sent for ``WRITE_TIMEOUT`` seconds
the client is disconnected (its session closes, its foreground job ends). Meanwhile the session's result
queues stay bounded as for any consumer (drop-oldest).
"""
import select
import socket
import threading
import time
from typing import Callable, Optional

WRITE_TIMEOUT = 10.0
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)


class ConnectionLost(Exception):
    pass


def send_within(sock: socket.socket, data: bytes, timeout: float) -> None:
    """Send all of ``data`` or raise ``ConnectionLost`` when the client accepted nothing for ``timeout``."""
    view = memoryview(data)
    deadline = time.monotonic() + timeout
    while view:
        try:
            sent = sock.send(view, _DONTWAIT)
        except (BlockingIOError, InterruptedError, socket.timeout):
            sent = 0
        except OSError as error:
            raise ConnectionLost(str(error)) from None
        if sent:
            view = view[sent:]
            deadline = time.monotonic() + timeout
            continue
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ConnectionLost("the client read nothing for %.0f s" % timeout)
        try:
            select.select([], [sock], [], remaining)
        except (OSError, ValueError):
            raise ConnectionLost("socket closed") from None


def keep_alive(sock: socket.socket) -> None:
    """TCP keepalive: the kernel finds dead peers of idle terminals; nothing of ours wakes up for it."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for name, value in (("TCP_KEEPIDLE", 60), ("TCP_KEEPINTVL", 15), ("TCP_KEEPCNT", 4)):
            if hasattr(socket, name):
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # echo each key at once
    except OSError:
        pass


class Terminal:
    """A connected terminal. Subclasses implement ``_frame`` (text to wire bytes) and may override
    ``_closing`` (a goodbye on the wire)."""

    def __init__(self, sock: socket.socket, client_ip: str):
        self.sock = sock
        self.client_ip = client_ip
        self.cols = 80
        self.rows = 24
        self.on_resize: Callable[[int, int], None] = lambda cols, rows: None
        self._write_lock = threading.Lock()
        self._closed = threading.Event()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def write(self, text: str) -> None:
        """Send terminal output (``\\n`` becomes ``\\r\\n``); a lost client closes the terminal."""
        if not text or self.closed:
            return
        self.write_raw(self._frame(text.replace("\r\n", "\n").replace("\n", "\r\n")))

    def write_raw(self, data: bytes) -> None:
        """Send bytes already framed for the wire."""
        with self._write_lock:
            try:
                send_within(self.sock, data, WRITE_TIMEOUT)
            except ConnectionLost:
                self._shutdown()

    def resize(self, cols: int, rows: int) -> None:
        if 0 < cols <= 10000 and 0 < rows <= 10000:
            self.cols, self.rows = cols, rows
            self.on_resize(cols, rows)

    def close(self, goodbye: Optional[str] = None) -> None:
        if self.closed:
            return
        if goodbye:
            self.write(goodbye)
        with self._write_lock:
            try:
                self._closing()
            except (OSError, ConnectionLost):
                pass
        self._shutdown()

    def _shutdown(self) -> None:
        """Wake the reader (its recv returns) and mark closed; the reader closes the socket."""
        self._closed.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _frame(self, text: str) -> bytes:
        return text.encode("utf-8")

    def _closing(self) -> None:
        pass
