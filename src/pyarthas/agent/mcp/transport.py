"""The streamable HTTP transport of MCP on the agent's ``/mcp``: JSON-RPC messages POSTed one per request
(a batch only in the 2025-03-26 protocol, which had them), answered as JSON, or as an SSE stream when a
streaming tool (watch, trace, stack, monitor, tt, dashboard) sends progress notifications before its
result. ``Mcp-Session-Id`` names the session after ``initialize``; DELETE ends it. GET (a stream of server
requests) is not offered: 405, as the transport allows.

The HTTP server has already applied the agent's Origin, Host and password checks (``http/server.py``).
"""
import json
import select
import socket
from typing import Any, Dict, List, Optional

from ..model import encode_json
from .protocol import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    PARSE_ERROR,
    PROTOCOL_VERSIONS,
    McpServer,
    RpcError,
    Stream,
    dispatch,
    error_response,
    initialize_result,
    is_request,
    negotiate,
    server_of,
    validate,
)
from .tools import TOOLS

MAX_BODY = 1024 * 1024
SESSION_HEADER = "Mcp-Session-Id"
VERSION_HEADER = "mcp-protocol-version"
JSON = "application/json"
SESSION_NOT_FOUND = -32001


class _HttpError(Exception):
    def __init__(self, status: int, error: RpcError, request_id: Any = None):
        super().__init__(error.message)
        self.status = status
        self.error = error
        self.request_id = request_id


def handle_mcp(exchange) -> None:
    """Answer one HTTP request on ``/mcp``. ``exchange`` is the HTTP server's: ``agent``, ``request``
    (``method``, ``headers`` with lower-case names), ``reader`` (the connection's buffered reader, past the
    head), ``connection`` (the socket) and ``send(status, data, content_type, extra_headers)``."""
    try:
        _handle(exchange)
    except _HttpError as failure:
        _send_json(exchange, failure.status, error_response(failure.request_id, failure.error))


def _handle(exchange) -> None:
    method = exchange.request.method
    if method == "POST":
        _post(exchange)
    elif method == "DELETE":
        _delete(exchange)
    else:
        exchange.send(405, b"Method Not Allowed: /mcp takes POST (messages) and DELETE (end a session)",
                      "text/plain; charset=utf-8", {"Allow": "POST, DELETE"})


def _delete(exchange) -> None:
    server = server_of(exchange.agent)
    session_id = _session_id(exchange)
    if not server.close(session_id):
        raise _HttpError(404, RpcError(SESSION_NOT_FOUND, "Session not found: %s" % session_id))
    exchange.send(200, b"", JSON)


def _session_id(exchange) -> str:
    session_id = exchange.request.headers.get(SESSION_HEADER.lower())
    if not session_id:
        raise _HttpError(400, RpcError(INVALID_REQUEST, "Bad Request: the Mcp-Session-Id header is required "
                                                        "(send initialize first)"))
    return session_id


def _post(exchange) -> None:
    body = _read_body(exchange)
    try:
        message = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise _HttpError(400, RpcError(PARSE_ERROR, "Parse error: %s" % (exc,))) from None
    server = server_of(exchange.agent)
    if isinstance(message, dict) and message.get("method") == "initialize":
        _initialize(exchange, server, message)
        return
    session = server.get(_session_id(exchange))
    if session is None:
        raise _HttpError(404, RpcError(SESSION_NOT_FOUND, "Session not found: it was closed or expired; "
                                                          "initialize a new one"))
    version = exchange.request.headers.get(VERSION_HEADER)
    if version is not None and version not in PROTOCOL_VERSIONS:
        raise _HttpError(400, RpcError(INVALID_REQUEST, "Bad Request: unsupported MCP-Protocol-Version %s "
                                                        "(supported: %s)" % (version, ", ".join(PROTOCOL_VERSIONS))))
    if isinstance(message, list):
        _batch(exchange, server, session, message)
        return
    message = _validated(message)
    if not is_request(message):
        dispatch(server, session, message, Stream())
        exchange.send(202, b"", JSON)
        return
    if _streams(message) and "text/event-stream" in exchange.request.headers.get("accept", ""):
        stream = _SseStream(exchange, session.id)
        response = dispatch(server, session, message, stream)
        if response is not None:
            stream.send_event(response)
        return
    response = dispatch(server, session, message, _SocketWatch(exchange.connection))
    if response is None:  # cancelled while the client still waits on this request
        response = error_response(message["id"], RpcError(-32800, "Request cancelled"))
    _send_json(exchange, 200, response, session.id)


def _initialize(exchange, server: McpServer, message: Dict[str, Any]) -> None:
    message = _validated(message)
    if not is_request(message):
        raise _HttpError(400, RpcError(INVALID_REQUEST, "Invalid Request: initialize must carry an id"))
    params = message.get("params") or {}
    if not isinstance(params.get("protocolVersion"), str):
        raise _HttpError(400, RpcError(INVALID_PARAMS, "Invalid params: 'protocolVersion' is required"),
                         message["id"])
    version = negotiate(params["protocolVersion"])
    try:
        session = server.create(version)
    except RpcError as error:
        raise _HttpError(503, error, message["id"]) from None
    response = {"jsonrpc": "2.0", "id": message["id"], "result": initialize_result(exchange.agent, version)}
    _send_json(exchange, 200, response, session.id)


def _batch(exchange, server: McpServer, session, messages: List[Any]) -> None:
    if not messages:
        raise _HttpError(400, RpcError(INVALID_REQUEST, "Invalid Request: an empty batch"))
    if session.protocol_version != "2025-03-26":
        raise _HttpError(400, RpcError(INVALID_REQUEST, "Invalid Request: JSON-RPC batches are not part of MCP "
                                                        "%s (only of 2025-03-26)" % session.protocol_version))
    responses = []
    watch = _SocketWatch(exchange.connection)
    for item in messages:
        try:
            item = _validated(item)
        except _HttpError as failure:
            responses.append(error_response(failure.request_id, failure.error))
            continue
        if item.get("method") == "initialize":
            responses.append(error_response(item.get("id"), RpcError(INVALID_REQUEST, "Invalid Request: "
                                                                    "initialize cannot be batched")))
            continue
        response = dispatch(server, session, item, watch)
        if response is not None and is_request(item):
            responses.append(response)
    if responses:
        _send_json(exchange, 200, responses, session.id)
    else:
        exchange.send(202, b"", JSON)


def _validated(message: Any) -> Dict[str, Any]:
    try:
        return validate(message)
    except RpcError as error:
        request_id = message.get("id") if isinstance(message, dict) else None
        valid = isinstance(request_id, str) or (isinstance(request_id, int) and not isinstance(request_id, bool))
        raise _HttpError(400, error, request_id if valid else None) from None


def _streams(message: Dict[str, Any]) -> bool:
    if message.get("method") != "tools/call":
        return False
    name = (message.get("params") or {}).get("name")
    tool = TOOLS.get(name) if isinstance(name, str) else None
    return tool is not None and (tool.streaming or tool.name == "dashboard")


def _read_body(exchange) -> bytes:
    headers = exchange.request.headers
    content_type = headers.get("content-type", JSON).split(";")[0].strip().lower()
    if content_type != JSON:
        raise _HttpError(415, RpcError(INVALID_REQUEST, "Unsupported Media Type: POST JSON-RPC as application/json"))
    body = exchange.request.body  # read whole by the server, within its own limits (chunked included)
    if len(body) > MAX_BODY:
        raise _HttpError(413, RpcError(INVALID_REQUEST, "Request too large: at most %d bytes" % MAX_BODY))
    return body


def _send_json(exchange, status: int, payload: Any, session_id: Optional[str] = None) -> None:
    extra = {SESSION_HEADER: session_id} if session_id else None
    exchange.send(status, encode_json(payload), JSON, extra)


class _SocketWatch(Stream):
    """Knows when the client hung up: its end of the connection reads as closed."""

    def __init__(self, connection: socket.socket):
        self.connection = connection
        self.lost = False

    def gone(self) -> bool:
        if self.lost:
            return True
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if readable and not self.connection.recv(1, socket.MSG_PEEK):
                self.lost = True
        except (OSError, ValueError):
            self.lost = True
        return self.lost


class _SseStream(_SocketWatch):
    """A ``text/event-stream`` answer: notifications as they come, then the response; the connection's
    close ends it."""

    def __init__(self, exchange, session_id: str):
        super().__init__(exchange.connection)
        head = ("HTTP/1.1 200 OK\r\nServer: pyarthas\r\nContent-Type: text/event-stream\r\n"
                "Cache-Control: no-cache\r\nConnection: close\r\n%s: %s\r\n\r\n" % (SESSION_HEADER, session_id))
        self._write(head.encode("latin-1"))

    def progress(self, params: Dict[str, Any]) -> None:
        self.send_event({"jsonrpc": "2.0", "method": "notifications/progress", "params": params})

    def send_event(self, message: Dict[str, Any]) -> None:
        self._write(b"event: message\ndata: " + encode_json(message) + b"\n\n")

    def _write(self, data: bytes) -> None:
        if self.lost:
            return
        try:
            self.connection.sendall(data)
        except OSError:
            self.lost = True
