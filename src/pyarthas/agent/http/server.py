"""The HTTP server: ``POST /api``, the web console at ``/``, the output folder at ``/arthas-output/``.

Safe by default: requests carrying a foreign ``Origin`` are refused with 403, and so are requests whose
``Host`` is not a loopback name while the agent is bound to loopback (DNS rebinding); bodies over 10 MiB
are refused; when a password is set (always when bound beyond loopback), HTTP Basic authentication as
Arthas does it. Every answer closes its connection, as Arthas's does.
"""
import base64
import hmac
import html
import json
import mimetypes
import os
import socket
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional, Tuple

from ..api.actions import handle_request
from ..util import threads
from ..util.net import is_loopback

MAX_BODY = 10 * 1024 * 1024
MAX_CONNECTIONS = 128
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "application/javascript",
                 ".css": "text/css", ".svg": "image/svg+xml", ".json": "application/json",
                 ".txt": "text/plain; charset=utf-8", ".collapsed": "text/plain; charset=utf-8"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = MAX_CONNECTIONS

    def __init__(self, address, handler, agent):
        self.agent = agent
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        # Bounded: past MAX_CONNECTIONS concurrent requests, new connections are closed at once.
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address):
        threads.mark_current_thread()
        try:
            super().process_request_thread(request, client_address)
        finally:
            threads.unmark_current_thread()
            self.slots.release()


class ApiServer:
    def __init__(self, agent):
        self.agent = agent
        self.httpd = _Server((agent.ip, agent.requested_port), _Handler, agent)
        self.port = self.httpd.server_address[1]
        self._thread: Optional[threading.Thread] = None
        self._stopping = False

    def start(self) -> None:
        self._thread = threads.spawn("http", self._serve)

    def _serve(self) -> None:
        """Blocks in accept() (no polling); stop() shuts the socket down, which wakes it."""
        listener = self.httpd.socket
        while not self._stopping:
            try:
                connection, address = listener.accept()
            except OSError:
                continue
            try:
                self.httpd.process_request(connection, address)
            except Exception:
                self.httpd.shutdown_request(connection)

    def stop(self) -> None:
        self._stopping = True
        try:
            self.httpd.socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        if self._thread is not None:
            self._thread.join(5)
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    server_version = "pyarthas"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # the target's stderr is not ours to fill
        pass

    # ---- routing ----

    def do_POST(self):
        self._route("POST")

    def do_GET(self):
        self._route("GET")

    def do_PUT(self):
        self._route("PUT")

    def do_DELETE(self):
        self._route("DELETE")

    def do_OPTIONS(self):
        self._route("OPTIONS")

    def do_HEAD(self):
        self._route("HEAD")

    def do_PATCH(self):
        self._route("PATCH")

    def _route(self, method: str) -> None:
        try:
            if not self._allowed():
                return
            path = urllib.parse.urlsplit(self.path).path
            if path == "/api":
                self._api(method)
            elif method in ("GET", "HEAD"):
                self._static(path)
            else:
                self._send(404, b"Not found", "text/html; charset=utf-8")
        except (ConnectionError, socket.timeout):
            pass
        except Exception:
            try:
                self._send(500, b"Server error", "text/html; charset=utf-8")
            except Exception:
                pass

    def _api(self, method: str) -> None:
        if method != "POST":
            self._send_json({"state": "REFUSED", "message": "Unsupported http method: %s" % method})
            return
        body = self._read_body()
        if body is None:
            return
        self._send_json(handle_request(self.server.agent, body))

    def _read_body(self) -> Optional[bytes]:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self._send(413, b"Request Entity Too Large", "text/plain; charset=utf-8")
            return None
        return self.rfile.read(length) if length else b""

    # ---- checks ----

    def _allowed(self) -> bool:
        agent = self.server.agent
        host = self.headers.get("Host")
        if is_loopback(agent.ip) and host is not None and _host_name(host) not in LOOPBACK_HOSTS:
            self._send(403, b"Forbidden: foreign Host", "text/plain; charset=utf-8")
            return False
        origin = self.headers.get("Origin")
        if origin is not None and (host is None or origin.rstrip("/") != "http://" + host):
            self._send(403, b"Forbidden: cross-origin request", "text/plain; charset=utf-8")
            return False
        if agent.password and not self._authenticated():
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="arthas webconsole"')
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "0")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            return False
        return True

    def _authenticated(self) -> bool:
        agent = self.server.agent
        if self.client_address[0] == "127.0.0.1":
            return True  # Arthas's localConnectionNonAuth
        user, password = _credentials(self.headers.get("Authorization"), self.path)
        if user is None:
            return False
        return (hmac.compare_digest(user, agent.username)
                and hmac.compare_digest(password.encode(), agent.password.encode()))

    # ---- static files ----

    def _static(self, path: str) -> None:
        if path in ("/", "/index.html"):
            self._send_file(os.path.join(STATIC_DIR, "index.html"))
        elif path == "/arthas-output" or path.startswith("/arthas-output/"):
            self._output(urllib.parse.unquote(path[len("/arthas-output"):]))
        else:
            self._send(404, b"Not found", "text/html; charset=utf-8")

    def _output(self, relative: str) -> None:
        root = os.path.realpath(self.server.agent.output_root)
        target = os.path.realpath(os.path.join(root, relative.lstrip("/")))
        if target != root and not target.startswith(root + os.sep):
            self._send(404, b"Not found", "text/html; charset=utf-8")
        elif os.path.isdir(target):
            self._send_listing(target, relative)
        else:
            self._send_file(target)

    def _send_listing(self, folder: str, relative: str) -> None:
        base = "/arthas-output/" + relative.strip("/")
        base = base.rstrip("/") + "/"
        items = "".join('<li><a href="%s">%s</a></li>' % (html.escape(base + urllib.parse.quote(name)),
                                                            html.escape(name))
                        for name in sorted(os.listdir(folder)))
        page = "<html><body><h1>%s</h1><ul>%s</ul></body></html>" % (html.escape(base), items)
        self._send(200, page.encode("utf-8"), "text/html; charset=utf-8")

    def _send_file(self, path: str) -> None:
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError:
            self._send(404, b"Not found", "text/html; charset=utf-8")
            return
        extension = os.path.splitext(path)[1].lower()
        content_type = CONTENT_TYPES.get(extension) or mimetypes.guess_type(path)[0] or "application/octet-stream"
        self._send(200, data, content_type)

    # ---- writing ----

    def _send_json(self, payload) -> None:
        self._send(200, json.dumps(payload, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")

    def _send(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.close_connection = True


def _host_name(host: str) -> str:
    """``localhost:8563`` -> ``localhost``; ``[::1]:8563`` -> ``[::1]``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0] if ":" in host else host


def _credentials(authorization: Optional[str], path: str) -> Tuple[Optional[str], Optional[str]]:
    if authorization and authorization.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(authorization[6:].strip()).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None, None
        user, _, password = decoded.partition(":")
        return user, password
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
    if "password" in query:
        return query.get("username", ["arthas"])[0], query["password"][0]
    return None, None
