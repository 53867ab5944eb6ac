"""Arthas's tunnel client in the agent: with ``--tunnel-server ws://HOST:7777/ws`` the agent dials out to an
Arthas tunnel server, the way Arthas's own ``tunnel-client`` does, so that users reach it through the server:

- the control connection registers (``method=agentRegister`` with ``appName``, ``id``, ``arthasVersion``);
  the server answers ``response:/?method=agentRegister&id=ID`` and later sends, on the same connection,
- ``startTunnel``: the agent opens a second connection (``method=openTunnel``) and runs a shell on it,
  speaking its web console's terminal protocol, as ``/ws`` does;
- ``httpProxy``: the agent makes the request against its own HTTP server and answers with the response
  as a Java-serialized ``SimpleHttpResponse`` (``java_serial``), base64 and URL-encoded.

One agent thread holds the control connection and sleeps in a blocking read (a ping after ``IDLE_PING``
seconds of silence, as both sides of Arthas's tunnel do); each tunnel and each proxied request (at most
``MAX_PROXY_REQUESTS`` at once) has its own thread. A lost server is retried with backoff under the id it
gave; nothing of this reaches the target's threads.
"""
import base64
import http.client
import socket
import sys
import threading
from typing import Dict, Optional
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from ..shell import terminals_of
from ..shell.websocket import CLOSE, PING, PONG, TEXT, Refused, WebSocketTerminal, frame, read_loop, read_message
from ..util import threads
from ..version import VERSION
from . import java_serial
from .websocket_client import ClientConnection, connect

IDLE_PING = 10.0
MAX_RETRY_DELAY = 5.0
MAX_PROXY_REQUESTS = 8
PROXY_TIMEOUT = 10.0
MAX_PROXY_BODY = 8 * 1024 * 1024  # under the server's 10 MiB frame once base64'd


class TunnelClient:
    def __init__(self, agent, server_url: str, app_name: Optional[str] = None, agent_id: Optional[str] = None):
        connect_check(server_url)
        self.agent = agent
        self.server_url = server_url
        self.app_name = app_name
        self.id = agent_id  # the server's answer replaces it; a re-registration asks for the same
        self.registered = threading.Event()
        self.last_error: Optional[str] = None
        self._stopping = threading.Event()
        self._control: Optional[ClientConnection] = None
        self._send_lock = threading.Lock()
        self._proxy_slots = threading.BoundedSemaphore(MAX_PROXY_REQUESTS)
        self._thread: Optional[threading.Thread] = None
        self._announced = False

    def start(self) -> "TunnelClient":
        self._thread = threads.spawn("tunnel", self._run)
        return self

    def stop(self) -> None:
        self._stopping.set()
        control = self._control
        if control is not None:
            control.close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def info(self) -> Dict[str, object]:
        return {"tunnelServer": self.server_url, "agentId": self.id, "appName": self.app_name,
                "registered": self.registered.is_set(), "lastError": self.last_error}

    # ---- the control connection ----

    def _run(self) -> None:
        delay = 1.0
        while not self._stopping.is_set():
            try:
                self._serve_control()
                delay = 1.0
            except (OSError, EOFError, Refused, ValueError, UnicodeDecodeError) as error:
                self.last_error = str(error) or type(error).__name__
            self.registered.clear()
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, MAX_RETRY_DELAY)

    def register_url(self) -> str:
        query = {"method": "agentRegister", "arthasVersion": VERSION}
        if self.app_name:
            query["appName"] = self.app_name
        if self.id:
            query["id"] = self.id
        return _with_query(self.server_url, query)

    def _serve_control(self) -> None:
        control = connect(self.register_url())
        self._control = control
        try:
            if self._stopping.is_set():
                return
            while not self._stopping.is_set():
                try:
                    opcode, payload = read_message(control.sock, control.reader, from_client=False, idle=IDLE_PING)
                except socket.timeout:
                    self._send(control, PING, b"")
                    continue
                if opcode == CLOSE:
                    return
                if opcode == PING:
                    self._send(control, PONG, payload)
                elif opcode == TEXT:
                    self._on_message(control, payload.decode("utf-8"))
        finally:
            self._control = None
            control.close()

    def _send(self, control: ClientConnection, opcode: int, payload: bytes) -> None:
        with self._send_lock:
            control.sock.sendall(frame(opcode, payload, masked=True))

    def _on_message(self, control: ClientConnection, text: str) -> None:
        params = {name: values[0] for name, values in parse_qs(urlsplit(text.split(":", 1)[-1]).query).items()}
        method = params.get("method")
        if method == "agentRegister" and params.get("id"):
            self.id = params["id"]
            self.registered.set()
            self.last_error = None
            self._announce()
        elif method == "startTunnel" and params.get("clientConnectionId"):
            threads.spawn("tunnel-terminal", lambda: self._open_tunnel(params["clientConnectionId"]))
        elif method == "httpProxy" and params.get("requestId"):
            if self._proxy_slots.acquire(blocking=False):
                threads.spawn("tunnel-proxy", lambda: self._proxy(control, params))
            else:
                self._answer_proxy(control, params["requestId"], 200, b"error", {})

    def _announce(self) -> None:
        if not self._announced:
            self._announced = True
            sys.stderr.write("pyarthas: registered with the tunnel server %s as %s\n" % (self.server_url, self.id))
            sys.stderr.flush()

    # ---- a terminal through the tunnel ----

    def _open_tunnel(self, client_connection_id: str) -> None:
        try:
            tunnel = connect(_with_query(self.server_url, {"method": "openTunnel",
                                                            "clientConnectionId": client_connection_id,
                                                            "id": self.id or ""}))
        except (OSError, ValueError) as error:
            self.last_error = "openTunnel: %s" % error
            return
        try:
            terminal = WebSocketTerminal(tunnel.sock, tunnel.peer_host, masked=True)
            terminals_of(self.agent).serve(terminal,
                                           lambda shell: read_loop(tunnel.sock, tunnel.reader, terminal, shell))
        finally:
            tunnel.close()

    # ---- HTTP through the tunnel ----

    def _proxy(self, control: ClientConnection, params: Dict[str, str]) -> None:
        try:
            status, body, headers = self._local_get(params.get("targetUrl") or "/")
        except (OSError, http.client.HTTPException):
            status, body, headers = 200, b"error", {}  # what Arthas's agent answers when its request fails
        try:
            self._answer_proxy(control, params["requestId"], status, body, headers)
        except OSError:
            pass  # the control connection went away; the server gives up on the request by itself
        finally:
            self._proxy_slots.release()

    def _local_get(self, target: str):
        """The server replays every proxied request as a GET without a body (Arthas's tunnel server does)."""
        if not target.startswith("/"):
            target = "/" + target
        host = "127.0.0.1" if self.agent.ip in ("0.0.0.0", "", "::") else self.agent.ip
        connection = http.client.HTTPConnection(host, self.agent.port, timeout=PROXY_TIMEOUT)
        try:
            connection.request("GET", target, headers=self._local_credentials())
            response = connection.getresponse()
            body = response.read(MAX_PROXY_BODY + 1)
            if len(body) > MAX_PROXY_BODY:
                return 200, b"error", {}
            headers = {"content-length": str(len(body)), "connection": "close",
                       "content-type": response.getheader("Content-Type") or "application/octet-stream"}
            return response.status, body, headers
        finally:
            connection.close()

    def _local_credentials(self) -> Dict[str, str]:
        if self.agent.token:
            return {"Authorization": "Bearer " + self.agent.token}
        if self.agent.password:
            pair = ("%s:%s" % (self.agent.username, self.agent.password)).encode("utf-8")
            return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
        return {}

    def _answer_proxy(self, control: ClientConnection, request_id: str, status: int, body: bytes,
                      headers: Dict[str, str]) -> None:
        data = base64.encodebytes(java_serial.simple_http_response(status, body, headers)).decode("ascii")
        message = "?method=httpProxy&requestId=%s&responseData=%s" % (quote(request_id, safe=""),
                                                                       quote(data, safe=""))
        self._send(control, TEXT, message.encode("ascii"))


def connect_check(server_url: str) -> None:
    """Refuse at start what can never connect (the agent says so rather than retrying forever)."""
    parts = urlsplit(server_url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError("--tunnel-server takes a URL like ws://HOST:7777/ws (or wss://), not %r" % server_url)


def _with_query(url: str, query: Dict[str, str]) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(query)
