"""A protocol peer for the agent's tunnel client: only what Arthas's tunnel server sends and how it relays,
as its source and a run against the real server show it (spec: arthas-tunnel.md). It stands in for the
server where its fatjar is not available (tests run against the real one when PYARTHAS_TUNNEL_SERVER_JAR
names it, see ``RealTunnelServer``).

One port serves what the real server splits over two (WebSocket ``/ws`` and the web port's ``/proxy``):
- ``/ws?method=agentRegister``: answers ``response:/?method=agentRegister&id=ID`` (the agent's id, else
  ``APP_`` + 20 random characters) and keeps the connection as the agent's control connection;
- ``/ws?method=connectArthas&id=ID`` (a browser): asks the agent ``startTunnel`` and relays frames both
  ways once the agent's ``openTunnel`` arrives (an unknown id: the socket stays open, nothing sent);
- ``GET /proxy/ID/PATH``: asks the agent ``httpProxy`` and answers with its ``SimpleHttpResponse``.
"""
import base64
import json
import os
import queue
import random
import signal
import socket
import string
import struct
import subprocess
import threading
import time
import urllib.request
from typing import Dict, List, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Response
from websockets.sync.server import serve

PROXY_WAIT = 15.0  # the real server's
OPEN_TUNNEL_WAIT = 20.0


def random_id() -> str:
    return "".join(random.choice(string.ascii_uppercase + string.digits) for _ in range(20))


class TunnelPeer:
    def __init__(self, port: int = 0) -> None:
        self.proxied: List[bytes] = []  # every SimpleHttpResponse an agent sent, as sent
        self.agents: Dict[str, Dict[str, object]] = {}
        self.registered: "queue.Queue[str]" = queue.Queue()
        self._pending_proxy: Dict[str, "queue.Queue[str]"] = {}
        self._pending_tunnels: Dict[str, "queue.Queue[object]"] = {}
        self._lock = threading.Lock()
        self._server = serve(self._handle, "127.0.0.1", port, process_request=self._http, compression=None,
                             max_size=10 * 1024 * 1024, ping_interval=None)
        self.port = self._server.socket.getsockname()[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def ws_url(self) -> str:
        return "ws://127.0.0.1:%d/ws" % self.port

    @property
    def web_url(self) -> str:
        return "http://127.0.0.1:%d" % self.port

    def close(self) -> None:
        self._server.shutdown()
        for agent in list(self.agents.values()):
            agent["connection"].close()
        self._thread.join(timeout=10)

    def wait_registered(self, timeout: float = 30.0) -> str:
        return self.registered.get(timeout=timeout)

    # ---- WebSocket connections ----

    def _handle(self, connection) -> None:
        params = _params(connection.request.path)
        method = params.get("method")
        if method == "agentRegister":
            self._control(connection, params)
        elif method == "connectArthas":
            self._browser(connection, params.get("id", ""))
        elif method == "openTunnel":
            waiting = self._pending_tunnels.get(params.get("clientConnectionId", ""))
            if waiting is None:
                return
            done = threading.Event()
            waiting.put((connection, done))
            done.wait()

    def _control(self, connection, params: Dict[str, str]) -> None:
        app = params.get("appName", "")
        agent_id = params.get("id") or ((app + "_" if app else "") + random_id())
        with self._lock:
            self.agents[agent_id] = {"connection": connection, "appName": app,
                                     "arthasVersion": params.get("arthasVersion")}
        connection.send("response:/?method=agentRegister&id=" + agent_id)
        self.registered.put(agent_id)
        try:
            for message in connection:
                reply = _params(message)
                if reply.get("method") == "httpProxy" and reply.get("requestId") in self._pending_proxy:
                    self._pending_proxy[reply["requestId"]].put(reply.get("responseData", ""))
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                if self.agents.get(agent_id, {}).get("connection") is connection:
                    del self.agents[agent_id]

    def _browser(self, browser, agent_id: str) -> None:
        agent = self.agents.get(agent_id)
        if agent is None:
            browser.recv()  # as the real server: nothing sent, the socket stays open until the browser leaves
            return
        client_connection_id = random_id()
        waiting: "queue.Queue[object]" = queue.Queue()
        self._pending_tunnels[client_connection_id] = waiting
        agent["connection"].send("response:/?method=startTunnel&id=%s&clientConnectionId=%s"
                                 % (agent_id, client_connection_id))
        try:
            tunnel, done = waiting.get(timeout=OPEN_TUNNEL_WAIT)
        except queue.Empty:
            browser.close()
            return
        finally:
            del self._pending_tunnels[client_connection_id]
        relay = threading.Thread(target=_relay, args=(tunnel, browser), daemon=True)
        relay.start()
        _relay(browser, tunnel)
        relay.join(timeout=10)
        done.set()

    # ---- HTTP ----

    def _http(self, connection, request) -> Optional[Response]:
        path = urlsplit(request.path).path
        if not path.startswith("/proxy/"):
            return None
        agent_id, _, target = path[len("/proxy/"):].partition("/")
        agent = self.agents.get(agent_id)
        if agent is None:
            return connection.respond(500, "no such agent\n")
        request_id = random_id()
        answer: "queue.Queue[str]" = queue.Queue()
        self._pending_proxy[request_id] = answer
        try:
            # the real server replays every request as a GET without a body, the path only
            agent["connection"].send("response:/?method=httpProxy&id=%s&targetUrl=/%s&requestId=%s"
                                     % (agent_id, target, request_id))
            data = answer.get(timeout=PROXY_WAIT)
        except queue.Empty:
            return connection.respond(500, "the agent did not answer\n")
        finally:
            del self._pending_proxy[request_id]
        self.proxied.append(base64.b64decode(data))
        status, content, headers = read_simple_http_response(self.proxied[-1])
        return Response(status, "OK", Headers(headers), content)


def _relay(source, sink) -> None:
    try:
        for message in source:
            sink.send(message)
    except ConnectionClosed:
        pass
    finally:
        sink.close()


def _params(text: str) -> Dict[str, str]:
    query = urlsplit(text.split(":", 1)[-1] if text.startswith("response:") else text).query
    return {name: values[0] for name, values in parse_qs(query).items()}


def read_simple_http_response(data: bytes) -> Tuple[int, bytes, Dict[str, str]]:
    """(status, content, headers) of the serialized ``SimpleHttpResponse`` the server accepts: read the way
    the server's ``ObjectInputStream`` would for this one shape (class descriptor, int, byte[], HashMap)."""
    reader = _Stream(data)
    assert reader.take(4) == b"\xac\xed\x00\x05", "not a Java serialization stream"
    assert reader.byte() == 0x73 and reader.byte() == 0x72
    assert reader.utf() == "com.alibaba.arthas.tunnel.common.SimpleHttpResponse"
    reader.take(9)  # serialVersionUID, flags
    fields = [reader.field() for _ in range(reader.u2())]
    assert [name for _, name in fields] == ["status", "content", "headers"], fields
    assert reader.byte() == 0x78 and reader.byte() == 0x70
    status = reader.s4()
    assert reader.byte() == 0x75 and reader.byte() == 0x72 and reader.utf() == "[B"
    reader.take(11)  # serialVersionUID, flags, no fields
    assert reader.byte() == 0x78 and reader.byte() == 0x70
    content = reader.take(reader.s4())
    assert reader.byte() == 0x73 and reader.byte() == 0x72 and reader.utf() == "java.util.HashMap"
    reader.take(9)
    for _ in range(reader.u2()):
        reader.field()
    assert reader.byte() == 0x78 and reader.byte() == 0x70
    reader.take(8)  # loadFactor, threshold
    assert reader.byte() == 0x77 and reader.byte() == 8
    _, size = reader.s4(), reader.s4()
    headers = {}
    for _ in range(size):
        assert reader.byte() == 0x74
        key = reader.utf()
        assert reader.byte() == 0x74
        headers[key] = reader.utf()
    assert reader.byte() == 0x78 and reader.rest() == b""
    return status, content, headers


class _Stream:
    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def take(self, size: int) -> bytes:
        chunk = self.data[self.at:self.at + size]
        assert len(chunk) == size, "truncated stream"
        self.at += size
        return chunk

    def byte(self) -> int:
        return self.take(1)[0]

    def u2(self) -> int:
        return struct.unpack(">H", self.take(2))[0]

    def s4(self) -> int:
        return struct.unpack(">i", self.take(4))[0]

    def utf(self) -> str:
        return self.take(self.u2()).decode("utf-8", "surrogatepass")

    def field(self) -> Tuple[str, str]:
        code, name = chr(self.byte()), self.utf()
        if code in "[L":
            assert self.byte() == 0x74
            self.utf()
        return code, name

    def rest(self) -> bytes:
        return self.data[self.at:]


class RealTunnelServer:
    """Arthas's own tunnel server (``java -jar $PYARTHAS_TUNNEL_SERVER_JAR``) on free ports."""

    def __init__(self, jar: str):
        self.port, web = _free_port(), _free_port()
        self.web_port = web
        self.proc = subprocess.Popen(
            ["java", "-jar", jar, "--server.port=%d" % web, "--arthas.server.port=%d" % self.port,
             "--arthas.server.host=127.0.0.1", "--arthas.enable-detail-pages=true"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1), \
                        socket.create_connection(("127.0.0.1", web), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)  # a bounded wait for the JVM to listen
        self.close()
        raise AssertionError("the tunnel server did not start")

    @property
    def ws_url(self) -> str:
        return "ws://127.0.0.1:%d/ws" % self.port

    @property
    def web_url(self) -> str:
        return "http://127.0.0.1:%d" % self.web_port

    def agent_listed(self, app: str, agent_id: str) -> bool:
        with urllib.request.urlopen(self.web_url + "/api/tunnelAgentInfo?app=" + app, timeout=10) as reply:
            return agent_id in json.loads(reply.read() or b"{}")

    def close(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
