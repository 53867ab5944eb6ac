"""The HTTP server: ``POST /api``, the web console at ``/``, the agent's shell at ``/ws`` (WebSocket, handed
to ``shell.websocket``), the output folder at ``/arthas-output/``.

Safe by default: requests carrying a foreign ``Origin`` are refused with 403, and so are requests whose
``Host`` is not a loopback name while the agent is bound to loopback (DNS rebinding); bodies over 10 MiB
are refused; when a password is set (always when bound beyond loopback), HTTP Basic authentication as
Arthas does it. Every answer closes its connection, as Arthas's does.

A small HTTP/1.1 server on plain sockets rather than ``http.server``: that one pulls in ``email``,
``http.client`` and ``ssl`` (a third of the agent's start-up in a busy target that was just attached to).
One agent thread blocks in ``accept()``; each connection gets its own agent thread (a long poll holds one),
at most ``MAX_CONNECTIONS`` at once.
"""
import json
import os
import socket
import threading
import urllib.parse
from typing import Dict, Optional, Tuple

from ..api.actions import handle_request
from ..util import threads
from ..util.net import is_loopback

MAX_BODY = 10 * 1024 * 1024
MAX_CONNECTIONS = 128
MAX_HEADER_LINE = 65536
MAX_HEADERS = 100
SOCKET_TIMEOUT = 60.0
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
CONTENT_TYPES = {".html": HTML, ".htm": HTML, ".js": "application/javascript", ".css": "text/css",
                 ".svg": "image/svg+xml", ".json": "application/json", ".txt": TEXT, ".collapsed": TEXT,
                 ".log": TEXT, ".png": "image/png", ".ico": "image/x-icon"}
REASONS = {100: "Continue", 200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
           404: "Not Found", 411: "Length Required", 413: "Request Entity Too Large", 500: "Server Error"}


class BadRequest(Exception):
    pass


class Request:
    def __init__(self, method: str, target: str, headers: Dict[str, str], client_ip: str):
        self.method = method
        split = urllib.parse.urlsplit(target)
        self.path = split.path
        self.query = split.query
        self.headers = headers
        self.client_ip = client_ip


class ApiServer:
    def __init__(self, agent):
        self.agent = agent
        family = socket.AF_INET6 if ":" in agent.ip else socket.AF_INET
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        try:
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.listener.bind((agent.ip, agent.requested_port))
            self.listener.listen(MAX_CONNECTIONS)
        except OSError:
            self.listener.close()
            raise
        self.port = self.listener.getsockname()[1]
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._thread: Optional[threading.Thread] = None
        self._stopping = False

    def start(self) -> None:
        self._thread = threads.spawn("http", self._serve)

    def _serve(self) -> None:
        """Blocks in accept() (no polling); stop() shuts the socket down, which wakes it."""
        while not self._stopping:
            try:
                connection, address = self.listener.accept()
            except OSError:
                continue
            if self._stopping or not self._slots.acquire(blocking=False):
                connection.close()  # past MAX_CONNECTIONS concurrent requests, new ones are closed at once
                continue
            try:
                threads.spawn("http-conn", lambda c=connection, a=address: self._handle(c, a))
            except RuntimeError:  # no thread could be started
                self._slots.release()
                connection.close()

    def _handle(self, connection: socket.socket, address) -> None:
        try:
            connection.settimeout(SOCKET_TIMEOUT)
            _Exchange(self.agent, connection, address[0]).run()
        except Exception:  # a broken client must not disturb anyone else
            pass
        finally:
            try:
                connection.close()
            finally:
                self._slots.release()

    def stop(self) -> None:
        self._stopping = True
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        if self._thread is not None:
            self._thread.join(5)
        self.listener.close()


class _Exchange:
    """One request and its answer on one connection."""

    def __init__(self, agent, connection: socket.socket, client_ip: str):
        self.agent = agent
        self.connection = connection
        self.reader = connection.makefile("rb")
        self.client_ip = client_ip
        self.request: Optional[Request] = None

    def run(self) -> None:
        try:
            self.request = self._read_head()
        except BadRequest as exc:
            self.send(400, str(exc).encode(), TEXT)
            return
        if self.request is None:
            return
        if self._allowed():
            self._route()

    # ---- reading ----

    def _read_head(self) -> Optional[Request]:
        line = self.reader.readline(MAX_HEADER_LINE + 1)
        if not line:
            return None
        parts = line.decode("latin-1").split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            raise BadRequest("malformed request line")
        headers: Dict[str, str] = {}
        for _ in range(MAX_HEADERS + 1):
            raw = self.reader.readline(MAX_HEADER_LINE + 1)
            if len(raw) > MAX_HEADER_LINE:
                raise BadRequest("header line too long")
            if raw in (b"\r\n", b"\n", b""):
                return Request(parts[0].upper(), parts[1], headers, self.client_ip)
            name, colon, value = raw.decode("latin-1").partition(":")
            if not colon:
                raise BadRequest("malformed header")
            headers[name.strip().lower()] = value.strip()
        raise BadRequest("too many headers")

    def _read_body(self) -> Optional[bytes]:
        headers = self.request.headers
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self.send(411, b"Length Required", TEXT)
            return None
        try:
            length = int(headers.get("content-length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self.send(413, b"Request Entity Too Large", TEXT)
            return None
        if headers.get("expect", "").lower() == "100-continue":
            self.connection.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")  # curl asks for it past 1 KiB
        body = self.reader.read(length) if length else b""
        if len(body) < length:
            return None
        return body

    # ---- checks ----

    def _allowed(self) -> bool:
        agent, headers = self.agent, self.request.headers
        host = headers.get("host")
        if is_loopback(agent.ip) and host is not None and _host_name(host) not in LOOPBACK_HOSTS:
            self.send(403, b"Forbidden: foreign Host", TEXT)
            return False
        origin = headers.get("origin")
        if origin is not None and (host is None or origin.rstrip("/") != "http://" + host):
            self.send(403, b"Forbidden: cross-origin request", TEXT)
            return False
        if agent.password and not self._authenticated():
            self.send(401, b"", "text/plain", {"WWW-Authenticate": 'Basic realm="arthas webconsole"'})
            return False
        return True

    def _authenticated(self) -> bool:
        if self.client_ip == "127.0.0.1":
            return True  # Arthas's localConnectionNonAuth
        user, password = _credentials(self.request.headers.get("authorization"), self.request.query)
        if user is None:
            return False
        import hmac  # only when a password is set
        agent = self.agent
        return (hmac.compare_digest(user.encode(), agent.username.encode())
                and hmac.compare_digest(password.encode(), agent.password.encode()))

    # ---- routing ----

    def _route(self) -> None:
        method, path = self.request.method, self.request.path
        if path == "/api":
            if method != "POST":
                self.send_json({"state": "REFUSED", "message": "Unsupported http method: %s" % method})
                return
            body = self._read_body()
            if body is not None:
                self.send_json(handle_request(self.agent, body))
        elif path == "/ws":  # the agent's shell: the socket now belongs to the WebSocket terminal
            from ..shell.websocket import serve
            serve(self.agent, self.connection, self.reader, method, self.request.headers, self.client_ip, self.send)
        elif method not in ("GET", "HEAD"):
            self.send(404, b"Not found", HTML)
        elif path in ("/", "/index.html"):
            self._send_file(os.path.join(STATIC_DIR, "index.html"))
        elif path == "/arthas-output" or path.startswith("/arthas-output/"):
            self._output(urllib.parse.unquote(path[len("/arthas-output"):]))
        else:
            self.send(404, b"Not found", HTML)

    def _output(self, relative: str) -> None:
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

    # ---- writing ----

    def send_json(self, payload) -> None:
        self.send(200, json.dumps(payload, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")

    def send(self, status: int, data: bytes, content_type: str, extra: Optional[Dict[str, str]] = None) -> None:
        lines = ["HTTP/1.1 %d %s" % (status, REASONS.get(status, "")), "Server: pyarthas",
                 "Content-Type: " + content_type, "Content-Length: %d" % len(data), "Connection: close"]
        lines.extend("%s: %s" % item for item in (extra or {}).items())
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        with_body = self.request is None or self.request.method != "HEAD"
        self.connection.sendall(head + data if with_body else head)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _host_name(host: str) -> str:
    """``localhost:8563`` -> ``localhost``; ``[::1]:8563`` -> ``[::1]``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0] if ":" in host else host


def _credentials(authorization: Optional[str], query: str) -> Tuple[Optional[str], Optional[str]]:
    if authorization and authorization.lower().startswith("basic "):
        import base64
        try:
            decoded = base64.b64decode(authorization[6:].strip()).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None, None
        user, _, password = decoded.partition(":")
        return user, password
    parsed = urllib.parse.parse_qs(query)
    if "password" in parsed:
        return parsed.get("username", ["arthas"])[0], parsed["password"][0]
    return None, None
