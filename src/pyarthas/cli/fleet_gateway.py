"""``pyarthas fleet gateway``: an HTTP front door to every agent of the fleet, on the URL shape of Arthas's tunnel
server, so the seed's curl flow, the web console's API calls, MCP bridges and any Arthas HTTP client reach any
agent:

- ``GET /api/tunnelApps``: the apps that have live agents (a JSON array, as the tunnel server's).
- ``GET /api/tunnelAgentInfo?app=NAME``: ``{agentId: {host, port, arthasVersion, clientConnectHost,
  clientConnectPort, ...}}`` (the tunnel server's AgentClusterInfo fields, plus pid, python and startTime).
- ``POST /proxy/AGENT_ID/api``: the body is the API request, sent signed to that agent through Redis; the
  answer is the agent's. (Arthas's own server replays proxied requests as bodiless GETs, see
  arthas-tunnel.md; this one carries the full API.)

It keeps nothing between requests (every request asks Redis), so several can run behind a load balancer.
Binds 127.0.0.1 unless told otherwise; HTTP Basic when a password is given; cross-origin browser requests
are refused, as the agent refuses them.
"""
import base64
import hmac
import json
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Optional

import redis

from .fleet_client import Fleet, FleetError

MAX_BODY = 10 * 1024 * 1024
DEFAULT_WAIT = 30.0
WAIT_MARGIN = 10.0


class Gateway(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fleet: Fleet, ip: str = "127.0.0.1", port: int = 8080, username: str = "arthas",
                 password: Optional[str] = None):
        super().__init__((ip, port), _Handler)
        self.fleet = fleet
        self.credentials = None
        if password:
            self.credentials = "Basic " + base64.b64encode(("%s:%s" % (username, password)).encode()).decode()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return "http://%s:%d" % (host, port)


class _Handler(BaseHTTPRequestHandler):
    server: Gateway
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: one line per request is noise here
        pass

    def do_GET(self) -> None:
        if not self._allowed():
            return
        parsed = urllib.parse.urlsplit(self.path)
        fleet = self.server.fleet
        try:
            if parsed.path == "/api/tunnelApps":
                return self._json(200, fleet.apps())
            if parsed.path == "/api/tunnelAgentInfo":
                app = (urllib.parse.parse_qs(parsed.query).get("app") or [""])[0]
                if not app:
                    return self._json(400, {"state": "FAILED", "message": "'app' is required"})
                return self._json(200, {info["id"]: _cluster_info(info) for info in fleet.agents(app)})
        except redis.RedisError as error:
            return self._json(503, {"state": "FAILED", "message": "Redis: %s" % error})
        if self._agent_of(parsed.path) is not None:
            return self._json(200, {"state": "REFUSED", "message": "Unsupported http method: GET"})
        self._json(404, {"state": "FAILED", "message": "not found: %s" % parsed.path})

    def do_POST(self) -> None:
        if not self._allowed():
            return
        agent_id = self._agent_of(urllib.parse.urlsplit(self.path).path)
        length = int(self.headers.get("Content-Length") or 0)
        if agent_id is None:
            self._discard(length)
            return self._json(404, {"state": "FAILED", "message": "not found: %s" % self.path})
        if length > MAX_BODY:
            self.close_connection = True
            return self._json(413, {"state": "REFUSED", "message": "request body too large"})
        body = self.rfile.read(length)
        fleet = self.server.fleet
        try:
            app = fleet.app_of(agent_id)
            if app is None:
                return self._json(404, {"state": "FAILED", "message": "no live agent %s in the fleet" % agent_id})
            answer = fleet.request(app, agent_id, body, _wait_for(body))
        except FleetError as error:
            return self._json(504, {"state": "FAILED", "message": str(error)})
        except redis.RedisError as error:
            return self._json(503, {"state": "FAILED", "message": "Redis: %s" % error})
        answer.pop("agentId", None)
        self._json(200, answer)

    def _agent_of(self, path: str) -> Optional[str]:
        """``AGENT_ID`` of ``/proxy/AGENT_ID/api``."""
        parts = path.split("/")
        if len(parts) == 4 and parts[1] == "proxy" and parts[3] == "api" and parts[2]:
            return urllib.parse.unquote(parts[2])
        return None

    def _allowed(self) -> bool:
        origin = self.headers.get("Origin")
        if origin and urllib.parse.urlsplit(origin).netloc != self.headers.get("Host", ""):
            self._json(403, {"state": "REFUSED", "message": "cross-origin request refused"})
            return False
        expected = self.server.credentials
        if expected and not hmac.compare_digest(self.headers.get("Authorization", ""), expected):
            self._json(401, {"state": "REFUSED", "message": "authentication required"},
                       {"WWW-Authenticate": 'Basic realm="pyarthas fleet"'})
            return False
        return True

    def _discard(self, length: int) -> None:
        if length > MAX_BODY:
            self.close_connection = True
        else:
            self.rfile.read(length)

    def _json(self, status: int, payload: Any, headers: Optional[Dict[str, str]] = None) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def _cluster_info(info: Dict[str, Any]) -> Dict[str, Any]:
    return {"host": info.get("host"), "port": info.get("port"), "arthasVersion": info.get("version"),
            "clientConnectHost": info.get("host"), "clientConnectPort": info.get("port"), "pid": info.get("pid"),
            "python": info.get("python"), "startTime": info.get("startTime")}


def _wait_for(body: bytes) -> float:
    """How long to wait for the agent: the request's own ``execTimeout`` plus a margin (a long poll answers
    within seconds)."""
    try:
        millis = float(json.loads(body).get("execTimeout") or 0)
    except (ValueError, AttributeError, TypeError):
        millis = 0
    return (millis / 1000.0 if millis > 0 else DEFAULT_WAIT) + WAIT_MARGIN


def serve(fleet: Fleet, ip: str, port: int, username: str, password: Optional[str]) -> int:
    try:
        gateway = Gateway(fleet, ip, port, username, password)
    except OSError as error:
        sys.stderr.write("pyarthas fleet gateway: cannot listen on %s:%d: %s\n" % (ip, port, error.strerror))
        return 1
    sys.stderr.write("pyarthas fleet gateway serving %s (/api/tunnelApps, /api/tunnelAgentInfo?app=NAME, "
                     "/proxy/AGENT_ID/api)%s\n" % (gateway.url, ", Basic auth" if password else ""))
    sys.stderr.flush()
    try:
        gateway.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        gateway.server_close()
    return 0
