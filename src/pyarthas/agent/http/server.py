"""The HTTP server: ``POST /api``, the web console at ``/``, MCP at ``/mcp``, the agent's shell at ``/ws``
(an upgrade handed to ``shell.websocket``), the output folder at ``/arthas-output/``.

Who may talk is decided in ``access.py`` (Host, Origin, credentials, token), before a body byte is read.

What a client can cost the target is bounded (``settings.Limits``), so that no one, authenticated or not,
can lock others out or inflate the target's memory:
- One agent thread (``http``) owns every connection that is not being answered: it accepts, reads request
  heads and bodies without blocking, and sleeps in ``select()`` until a socket is readable or the next
  deadline passes (no polling). A slow client costs a socket and its bytes, never a thread.
- Deadlines: the whole head must arrive within ``head_timeout``, the whole body within ``body_timeout``;
  an idle keep-alive connection is closed after ``keepalive_timeout``.
- At ``max_connections``, a new connection first displaces the longest-idle connection, then the oldest
  one still sending its request (answered 503); if none can go, the newcomer gets the 503. Refusals are
  HTTP answers with an Arthas body ``{"state": "REFUSED", "message": ...}``, never a reset.
- Bodies: at most ``max_body`` each (413 above, the rest read and thrown away within ``max_discard`` so the
  client sees the answer), and at most ``max_buffered_bodies`` held at once across connections (503).
- A complete request goes to a worker thread (at most ``max_workers`` at once); long polls
  (``pull_results``) may hold at most ``max_long_polls`` of them, so ``exec`` and ``init_session`` always
  find a worker. A worker writes the answer within ``write_timeout`` and hands the connection back.
HTTP/1.1 keep-alive and pipelining work (requests on one connection are answered in order); chunked bodies
are read.

Other front doors on this port: ``add_upgrade(path, handler)`` routes a ``GET`` (normally carrying
``Upgrade``) for ``path`` (after the access check passed) to ``handler(sock, request)``, which then owns the
(blocking) socket and runs on the worker's thread, no longer counted in the worker budget (the handler bounds its own
connections); ``request.rest`` holds what the client sent after the request head.

A small server on plain sockets rather than ``http.server``: that one pulls in ``email``, ``http.client``
and ``ssl`` (a third of the agent's start-up in a busy target that was just attached to).
"""
import collections
import itertools
import json
import os
import selectors
import socket
import sys
import threading
import time
import urllib.parse
from typing import Callable, Deque, Dict, List, Optional, Tuple, Union

from ..api.actions import handle_request
from ..model import encode_json
from ..util import threads
from ..util.net import listening_socket
from . import static_files
from .access import Peer, Refusal

HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
JSON = "application/json; charset=utf-8"
CONTENT_TYPES = {".html": HTML, ".htm": HTML, ".js": "application/javascript", ".css": "text/css",
                 ".svg": "image/svg+xml", ".json": "application/json", ".txt": TEXT, ".collapsed": TEXT,
                 ".log": TEXT, ".png": "image/png", ".ico": "image/x-icon"}
REASONS = {100: "Continue", 200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
           404: "Not Found", 408: "Request Timeout", 413: "Request Entity Too Large",
           431: "Request Header Fields Too Large", 500: "Server Error", 501: "Not Implemented",
           503: "Service Unavailable"}
RECV_SIZE = 65536
MAX_LINGERING = 64  # refused connections whose request we still read and throw away
LINGER_TIMEOUT = 2.0
ACCEPT_PAUSE = 0.5

IDLE, HEAD, BODY, LINGER = "idle", "head", "body", "linger"
_CONNECTION_NUMBERS = itertools.count()
DETACHED = "detached"


class HttpError(Exception):
    """Answered as ``status`` and the connection closed."""

    def __init__(self, status: int, message: str, content_type: str = TEXT):
        super().__init__(message)
        self.status = status
        self.message = message
        self.content_type = content_type


def _too_large(request: "Request", limit: int) -> HttpError:
    """413 in the dialect of the path: MCP clients read JSON-RPC errors, others Netty's plain text."""
    if request.path == "/mcp":
        return HttpError(413, json.dumps({"jsonrpc": "2.0", "id": None, "error": {
            "code": -32600, "message": "Request too large: at most %d bytes" % limit}}), JSON)
    return HttpError(413, "Request Entity Too Large")


def refused(message: str) -> HttpError:
    return HttpError(503, json.dumps({"state": "REFUSED", "message": message}), JSON)


class Request:
    def __init__(self, method: str, target: str, version: str, headers: Dict[str, str], peer: Peer):
        self.method = method
        split = urllib.parse.urlsplit(target)
        self.path = split.path
        self.query = split.query
        self.version = version
        self.headers = headers
        self.peer = peer
        self.body = b""
        self.rest = b""  # for an upgrade: the bytes that followed the request
        connection = headers.get("connection", "").lower()
        self.keep_alive = "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection


class _Connection:
    def __init__(self, sock: socket.socket, peer: Peer, now: float, head_timeout: float):
        self.sock = sock
        self.key = next(_CONNECTION_NUMBERS)  # not the descriptor: that is reused once closed
        self.peer = peer
        self.buffer = bytearray()
        self.state = IDLE
        self.since = now
        self.deadline = now + head_timeout
        self.request: Optional[Request] = None
        self.body: Optional["BodyReader"] = None  # while the body arrives
        self.reserved = 0  # body bytes counted against max_buffered_bodies
        self.discarded = 0
        self.served = 0  # requests answered: an IDLE connection that has some is an idle keep-alive one


class ApiServer:
    def __init__(self, agent, port: int):
        self.agent = agent
        self.limits = agent.limits
        self.listener = listening_socket(agent.ip, port, 128)
        self.port = self.listener.getsockname()[1]
        self.unix_path = getattr(agent, "unix_socket", None)
        self.unix_listener = None
        if self.unix_path:
            try:
                self.unix_listener = _unix_listener(self.unix_path)
            except OSError:
                self.listener.close()
                raise
        self._selector = selectors.DefaultSelector()
        self._wake_reader, self._wake_writer = socket.socketpair()
        for sock in (self._wake_reader, self._wake_writer):
            sock.setblocking(False)
        self._connections: Dict[int, _Connection] = {}  # the http thread's alone
        self._lingering: Dict[int, _Connection] = {}
        self._returned: Deque[Tuple[_Connection, object]] = collections.deque()
        self._workers = 0
        self._paused: List[Tuple[float, socket.socket]] = []  # listeners not watched until then
        self._buffered = 0
        self._long_polls = threading.BoundedSemaphore(self.limits.max_long_polls)
        self._upgrades: Dict[str, Callable[[socket.socket, Request], None]] = {}
        self._thread: Optional[threading.Thread] = None
        self._stopping = False

    def add_upgrade(self, path: str, handler: Callable[[socket.socket, Request], None]) -> None:
        self._upgrades[path] = handler

    def start(self) -> None:
        for listener in (self.listener, self.unix_listener):
            if listener is not None:
                listener.setblocking(False)
                self._selector.register(listener, selectors.EVENT_READ, listener)
        self._selector.register(self._wake_reader, selectors.EVENT_READ, None)
        self._thread = threads.spawn("http", self._serve)

    def stop(self) -> None:
        self._stopping = True
        self._wake()
        if self._thread is not None:
            self._thread.join(5)
        else:  # never served (the agent failed to start): nobody else closes the sockets
            for sock in (self.listener, self.unix_listener, self._wake_reader, self._wake_writer):
                if sock is not None:
                    sock.close()
            self._selector.close()
        if self.unix_path and self.unix_listener is not None:
            try:
                os.unlink(self.unix_path)
            except OSError:
                pass

    # ---- the http thread ----

    def _serve(self) -> None:
        try:
            while not self._stopping:
                events = self._selector.select(self._next_timeout())
                self._guarded(self._take_returned)  # first: a connection handed back may be the one to displace
                for key, _ in events:
                    self._guarded(self._on_event, key.data)
                self._guarded(self._expire, time.monotonic())
                self._guarded(self._resume_listeners, time.monotonic())
        finally:
            for conn in self._registered():  # those with a worker are closed by it, once answered
                self._close(conn)
            for sock in (self.listener, self.unix_listener, self._wake_reader, self._wake_writer):
                if sock is not None:
                    sock.close()
            self._selector.close()

    def _guarded(self, step: Callable, *args) -> None:
        try:
            step(*args)
        except Exception as exc:  # a bug of ours with one connection must not stop the server
            conn = args[0] if args and isinstance(args[0], _Connection) else None
            if conn is not None:
                self._close(conn)
            else:
                sys.stderr.write("pyarthas: http server: %r\n" % (exc,))

    def _on_event(self, data) -> None:
        if data is None:
            # drain first, then take: a connection handed back after the drain writes a new wake-up byte,
            # while one handed back between an earlier take and this drain would otherwise wait unseen
            _drain(self._wake_reader)
            self._take_returned()
        elif isinstance(data, _Connection):
            self._on_readable(data)
        else:
            self._accept(data)

    def _resume_listeners(self, now: float) -> None:
        while self._paused and self._paused[0][0] <= now:
            _, listener = self._paused.pop(0)
            self._selector.register(listener, selectors.EVENT_READ, listener)

    def _next_timeout(self) -> Optional[float]:
        waiting = [c.deadline for c in self._registered()] + [when for when, _ in self._paused]
        if not waiting:
            return None  # nothing to expire: sleep until a socket wakes us
        return max(0.0, min(waiting) - time.monotonic())

    def _registered(self) -> List[_Connection]:
        return [key.data for key in self._selector.get_map().values() if isinstance(key.data, _Connection)]

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                sock, address = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                # Out of descriptors and the like: the listener stays readable, so stop watching it a while
                # rather than spin; the client waits in the backlog.
                self._selector.unregister(listener)
                self._paused.append((time.monotonic() + ACCEPT_PAUSE, listener))
                return
            sock.setblocking(False)
            if listener is self.unix_listener:
                peer = Peer("", "", True)
            else:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                peer = Peer(address[0], _local_address(sock))
            now = time.monotonic()
            conn = _Connection(sock, peer, now, self.limits.head_timeout)
            if len(self._connections) >= self.limits.max_connections and not self._make_room():
                self._refuse(conn, refused("too many connections, retry later"))
                continue
            self._connections[conn.key] = conn
            self._selector.register(sock, selectors.EVENT_READ, conn)

    def _make_room(self) -> bool:
        """Displace the longest-idle keep-alive connection (closed: clients retry those), else the one that
        has been sending its request (or nothing yet) longest (answered 503)."""
        waiting = self._registered()
        idle = [c for c in waiting if c.state == IDLE and c.served and not c.buffer]
        if idle:
            self._close(min(idle, key=lambda c: c.since))
            return True
        sending = [c for c in waiting if c.state in (IDLE, HEAD, BODY)]
        if sending:
            self._refuse(min(sending, key=lambda c: c.since), refused("too many connections, retry later"))
            return True
        return False

    def _on_readable(self, conn: _Connection) -> None:
        try:
            data = conn.sock.recv(RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._close(conn)
            return
        if conn.state == LINGER:
            conn.discarded += len(data)
            if conn.discarded > self.limits.max_discard:
                self._close(conn)
            return
        if conn.state == IDLE:
            conn.state, conn.since = HEAD, time.monotonic()
            conn.deadline = conn.since + self.limits.head_timeout
        conn.buffer += data
        self._advance(conn)

    def _advance(self, conn: _Connection) -> None:
        try:
            if conn.state in (IDLE, HEAD) and conn.buffer:
                conn.state = HEAD
                if not self._read_head(conn):
                    return
            if conn.state == BODY:
                body, request = conn.body, conn.request
                assert body is not None and request is not None, "state BODY: the head was read"
                if body.feed(conn.buffer):
                    request.body = body.take()
                    self._dispatch(conn)
        except HttpError as error:
            self._refuse(conn, error)

    def _read_head(self, conn: _Connection) -> bool:
        end, separator = _head_end(conn.buffer)
        if end < 0:
            if len(conn.buffer) > self.limits.max_head:
                raise HttpError(431, "request head too large")
            return False
        if end > self.limits.max_head:
            raise HttpError(431, "request head too large")
        head = bytes(conn.buffer[:end])
        del conn.buffer[:end + len(separator)]
        request = _parse_head(head, conn.peer, self.limits.max_headers)
        conn.request = request
        refusal = self.agent.access.check(request.headers, conn.peer, request.query)
        if refusal is not None:
            self._refuse(conn, HttpError(refusal.status, refusal.message), refusal)
            return False
        conn.body = self._body_reader(request)
        conn.reserved = conn.body.reserved
        if conn.reserved and request.headers.get("expect", "").lower() == "100-continue":
            _send_quietly(conn.sock, b"HTTP/1.1 100 Continue\r\n\r\n")  # curl asks for it past 1 KiB
        conn.state, conn.since = BODY, time.monotonic()
        conn.deadline = conn.since + self.limits.body_timeout
        return True

    def _body_reader(self, request: Request) -> "BodyReader":
        limits, headers = self.limits, request.headers
        encoding = headers.get("transfer-encoding")
        length_text = headers.get("content-length")
        if encoding is not None:
            if encoding.strip().lower() != "chunked" or length_text is not None:
                raise HttpError(400, "unsupported Transfer-Encoding")
            return _ChunkedBody(self, limits.max_body)
        length = _content_length(length_text)
        if length > limits.max_body:
            raise _too_large(request, limits.max_body)
        self._reserve(length)
        return _SizedBody(length)

    def _reserve(self, size: int) -> None:
        if self._buffered + size > self.limits.max_buffered_bodies:
            raise refused("too many request bodies in flight, retry later")
        self._buffered += size

    def _dispatch(self, conn: _Connection) -> None:
        if self._workers >= self.limits.max_workers:
            raise refused("too many requests in progress, retry later")
        self._selector.unregister(conn.sock)
        self._workers += 1
        try:
            threads.spawn("http-request", lambda: self._work(conn))
        except RuntimeError:  # no thread could be started
            self._workers -= 1
            self._selector.register(conn.sock, selectors.EVENT_READ, conn)
            raise refused("no thread for the request, retry later") from None

    def _take_returned(self) -> None:
        while self._returned:
            conn, outcome = self._returned.popleft()
            self._workers -= 1
            conn.served += 1
            self._release(conn)
            if outcome == DETACHED:
                self._connections.pop(conn.key, None)
            elif outcome and not self._stopping:
                conn.sock.setblocking(False)
                conn.state, conn.since, conn.request, conn.body = IDLE, time.monotonic(), None, None
                conn.deadline = conn.since + self.limits.keepalive_timeout
                self._selector.register(conn.sock, selectors.EVENT_READ, conn)
                self._advance(conn)  # a pipelined request may already be here
            else:
                self._close(conn)

    def _expire(self, now: float) -> None:
        for conn in [c for c in self._registered() if c.deadline <= now]:
            if conn.state == LINGER or (conn.state == IDLE and not conn.buffer):
                self._close(conn)
            else:
                self._refuse(conn, HttpError(408, "request not received in time"))

    def _refuse(self, conn: _Connection, error: HttpError, refusal: Optional[Refusal] = None) -> None:
        """Answer ``error`` without blocking, then read and throw away what the client still sends (bounded)
        before closing, so that the answer is not lost to a reset."""
        extra = dict(refusal.headers) if refusal is not None else {}
        data = error.message.encode("utf-8") if error.status != 401 else b""
        content_type = error.content_type if error.status != 401 else "text/plain"  # as Arthas
        method = conn.request.method if conn.request is not None else "POST"
        _send_quietly(conn.sock, http_response(error.status, data, content_type, False, extra, method))
        self._release(conn)
        self._connections.pop(conn.key, None)
        try:
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        if len(self._lingering) >= MAX_LINGERING:
            self._close(min(self._lingering.values(), key=lambda c: c.since))
        conn.state, conn.since = LINGER, time.monotonic()
        conn.deadline = conn.since + (self.limits.body_timeout if error.status in (401, 413) else LINGER_TIMEOUT)
        self._lingering[conn.key] = conn
        try:
            self._selector.register(conn.sock, selectors.EVENT_READ, conn)
        except (KeyError, ValueError):
            self._selector.modify(conn.sock, selectors.EVENT_READ, conn)

    def _release(self, conn: _Connection) -> None:
        self._buffered -= conn.reserved
        conn.reserved = 0

    def _close(self, conn: _Connection) -> None:
        self._connections.pop(conn.key, None)
        self._lingering.pop(conn.key, None)
        self._release(conn)
        try:
            self._selector.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        conn.sock.close()

    def _wake(self) -> None:
        _send_quietly(self._wake_writer, b"x")

    # ---- worker threads ----

    def _work(self, conn: _Connection) -> None:
        outcome: object = False
        request = conn.request
        try:
            assert request is not None, "a connection reaches a worker once its head is read"
            # a GET on an upgrade path goes to its handler even without Upgrade: it says what is missing
            handler = self._upgrades.get(request.path) if request.method == "GET" else None
            if handler is not None:
                request.rest = bytes(conn.buffer)  # what the client sent after the request (its first frames)
                conn.sock.setblocking(True)
                self._hand_back(conn, DETACHED)
                handler(conn.sock, request)
                return
            conn.sock.settimeout(self.limits.write_timeout)
            outcome = _Exchange(self, conn.sock, request).run()
        except Exception:  # a broken client must not disturb anyone else
            outcome = False
        self._hand_back(conn, outcome)

    def _hand_back(self, conn: _Connection, outcome: object) -> None:
        if self._stopping and outcome != DETACHED:
            conn.sock.close()
            return
        self._returned.append((conn, outcome))
        self._wake()


class _SizedBody:
    def __init__(self, length: int):
        self.length = length
        self.reserved = length
        self.data = b""

    def feed(self, buffer: bytearray) -> bool:
        if len(buffer) < self.length:
            return False
        self.data = bytes(buffer[:self.length])
        del buffer[:self.length]
        return True

    def take(self) -> bytes:
        return self.data


class _ChunkedBody:
    """Reads a ``Transfer-Encoding: chunked`` body as it arrives, each chunk counted against the limits."""

    def __init__(self, server: ApiServer, limit: int):
        self.server = server
        self.limit = limit
        self.parts: List[bytes] = []
        self.size = 0
        self.reserved = 0
        self.need = 0
        self.state = "size"
        self.trailer_bytes = 0

    def feed(self, buffer: bytearray) -> bool:
        while True:
            if self.state == "data":
                taken = bytes(buffer[:self.need])
                del buffer[:len(taken)]
                self.parts.append(taken)
                self.need -= len(taken)
                if self.need:
                    return False
                self.state = "end of chunk"
            if self.state == "end of chunk":
                if buffer[:2] == b"\r\n" or buffer[:1] == b"\n":
                    del buffer[:2 if buffer[:1] == b"\r" else 1]
                    self.state = "size"
                elif len(buffer) < 2 and buffer in (b"", b"\r"):
                    return False
                else:
                    raise HttpError(400, "bad chunked body: a chunk does not end with CRLF")
            line = self._line(buffer)
            if line is None:
                return False
            if self.state == "trailer":
                if not line:
                    return True
                continue
            self._start_chunk(line)

    def _line(self, buffer: bytearray) -> Optional[bytes]:
        end = buffer.find(b"\n")
        if end < 0:
            if len(buffer) > 1024:
                raise HttpError(400, "bad chunked body: line too long")
            return None
        line = bytes(buffer[:end]).strip()
        del buffer[:end + 1]
        if self.state == "trailer":
            self.trailer_bytes += end + 1
            if self.trailer_bytes > self.server.limits.max_head:
                raise HttpError(431, "chunked trailer too large")
        return line

    def _start_chunk(self, line: bytes) -> None:
        try:
            size = int(line.split(b";", 1)[0].strip() or b"x", 16)
        except ValueError:
            raise HttpError(400, "bad chunked body: chunk size %r" % line[:40].decode("latin-1")) from None
        if size < 0:
            raise HttpError(400, "bad chunked body: negative chunk size")
        if size == 0:
            self.state = "trailer"
            return
        if self.size + size > self.limit:
            raise HttpError(413, "Request Entity Too Large")
        self.server._reserve(size)
        self.reserved += size
        self.size += size
        self.need = size
        self.state = "data"

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts = []
        return data


BodyReader = Union[_SizedBody, _ChunkedBody]


class _Exchange:
    """One request and its answer, on a worker thread. ``run()`` says whether the connection may carry on."""

    def __init__(self, server: ApiServer, sock: socket.socket, request: Request):
        self.server = server
        self.agent = server.agent
        self.sock = sock
        self.request = request
        self.deadline = time.monotonic() + server.limits.write_timeout
        self.keep_alive = False

    def run(self) -> bool:
        try:
            self._route()
        except HttpError as error:
            self.send(error.status, error.message.encode("utf-8"), error.content_type)
        return self.keep_alive

    def _route(self) -> None:
        method, path = self.request.method, self.request.path
        if path == "/api":
            if method != "POST":
                self.send_json({"state": "REFUSED", "message": "Unsupported http method: %s" % method})
                return
            self.send_json(handle_request(self.agent, self.request.body, self.server._long_polls))
        elif path == "/mcp":
            from ..mcp import handle_mcp  # loaded on the first MCP request only
            handle_mcp(self)
        elif method not in ("GET", "HEAD"):
            self.send(404, b"Not found", HTML)
        elif static_files.serves(path):
            self.send(*static_files.answer(path))
        elif path == "/arthas-output" or path.startswith("/arthas-output/"):
            self._output(urllib.parse.unquote(path[len("/arthas-output"):], errors="strict"))
        else:
            self.send(404, b"Not found", HTML)

    def _output(self, relative: str) -> None:
        if "\x00" in relative:
            raise HttpError(400, "Bad Request: NUL in path")
        root = os.path.realpath(self.agent.output_root)
        target = os.path.realpath(os.path.join(root, relative.lstrip("/")))
        if target != root and not target.startswith(root + os.sep):
            self.send(404, b"Not found", HTML)
        elif os.path.isdir(target):
            self._send_listing(target, relative)
        else:
            self._send_file(target)

    def _send_listing(self, folder: str, relative: str) -> None:
        base = ("/arthas-output/" + relative.strip("/")).rstrip("/") + "/"
        items = "".join('<li><a href="%s">%s</a></li>' % (_escape(base + urllib.parse.quote(name)), _escape(name))
                        for name in sorted(os.listdir(folder)))
        page = "<html><body><h1>%s</h1><ul>%s</ul></body></html>" % (_escape(base), items)
        self.send(200, page.encode("utf-8"), HTML)

    def _send_file(self, path: str) -> None:
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError:
            self.send(404, b"Not found", HTML)
            return
        content_type = CONTENT_TYPES.get(os.path.splitext(path)[1].lower(), "application/octet-stream")
        self.send(200, data, content_type)

    def send_json(self, payload) -> None:
        self.send(200, encode_json(payload), JSON)

    @property
    def connection(self) -> socket.socket:
        """The client's socket, for answers the server does not frame itself (MCP's event streams)."""
        return self.sock

    def send(self, status: int, data: bytes, content_type: str, extra: Optional[Dict[str, str]] = None) -> None:
        self.keep_alive = status < 400 and self.request.keep_alive
        _send_all(self.sock, http_response(status, data, content_type, self.keep_alive, extra or {},
                                       self.request.method), self.deadline)


# ---- helpers ----

def _unix_listener(path: str) -> socket.socket:
    """A Unix socket only the target's user can connect to (mode 0600 from the start, not chmod'ed after)."""
    if os.path.exists(path):
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
            raise OSError("%s: another agent is listening there" % path)
        except (ConnectionRefusedError, FileNotFoundError):
            os.unlink(path)  # left behind by a process that is gone
        finally:
            probe.close()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        listener.bind(path)
    except OSError:
        listener.close()
        raise
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o600)
    listener.listen(128)
    return listener


def _local_address(sock: socket.socket) -> str:
    try:
        return sock.getsockname()[0]
    except OSError:
        return ""


def _head_end(buffer: bytearray) -> Tuple[int, bytes]:
    crlf = buffer.find(b"\r\n\r\n")
    lf = buffer.find(b"\n\n")
    if lf >= 0 and (crlf < 0 or lf < crlf):
        return lf, b"\n\n"
    return crlf, b"\r\n\r\n"


def _parse_head(head: bytes, peer: Peer, max_headers: int) -> Request:
    lines = head.decode("latin-1").split("\n")
    parts = lines[0].strip().split()
    if len(parts) != 3 or parts[2] not in ("HTTP/1.0", "HTTP/1.1"):
        raise HttpError(400, "malformed request line")
    if len(lines) - 1 > max_headers:
        raise HttpError(431, "too many headers")
    headers: Dict[str, str] = {}
    for raw in lines[1:]:
        name, colon, value = raw.partition(":")
        name = name.strip().lower()
        if not colon or not name or name != name.split()[0]:
            raise HttpError(400, "malformed header")
        value = value.strip()
        if name == "content-length" and name in headers and headers[name] != value:
            raise HttpError(400, "conflicting Content-Length")
        headers[name] = value
    return Request(parts[0].upper(), parts[1], parts[2], headers, peer)


def _content_length(text: Optional[str]) -> int:
    if text is None or text == "":
        return 0
    if not text.isdigit() or len(text) > 18:
        raise HttpError(400, "Bad Request: Content-Length is not a number")
    return int(text)


def http_response(status: int, data: bytes, content_type: str, keep_alive: bool, extra: Dict[str, str],
              method: str) -> bytes:
    lines = ["HTTP/1.1 %d %s" % (status, REASONS.get(status, "")), "Server: pyarthas",
             "Content-Type: " + content_type, "Content-Length: %d" % len(data),
             "Connection: " + ("keep-alive" if keep_alive else "close")]
    lines.extend("%s: %s" % item for item in extra.items())
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if method == "HEAD" else head + data


def _send_all(sock: socket.socket, data: bytes, deadline: float) -> None:
    """``sendall`` with one deadline for the whole answer (a per-call timeout lets a slow reader hold on)."""
    view = memoryview(data)
    while view:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("answer not taken in time")
        sock.settimeout(remaining)
        view = view[sock.send(view):]


def _send_quietly(sock: socket.socket, data: bytes) -> None:
    try:
        sock.send(data)
    except OSError:
        pass


def _drain(sock: socket.socket) -> None:
    try:
        while sock.recv(4096):
            pass
    except OSError:
        pass


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
