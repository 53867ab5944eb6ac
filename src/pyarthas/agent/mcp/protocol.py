"""MCP over JSON-RPC 2.0: sessions, ``initialize`` and version negotiation, ``tools/list``, ``tools/call``,
``notifications/cancelled``. Knows messages, not HTTP (``transport.py`` carries them).

An MCP session owns one Arthas session (``agent.sessions``): its tool calls are jobs of that session, and
closing the MCP session (DELETE, or the Arthas session reaped when idle) ends the calls still running and
removes the Arthas session.
"""
import threading
import time
import weakref
from typing import Any, Dict, List, Optional, Tuple

from ..session.manager import TooManySessions
from ..util.ids import random_uuid
from . import calls as calls_module
from .calls import Call, JobCreationError, final_status, result_text, run_call
from .profiles import top_frames_text
from .tools import TOOLS, Tool, ToolInputError

# The versions negotiated at initialize: Arthas's own (2025-03-26) up to the newest the handshake knows.
# 2026-07-28's stateless envelope starts with server/discover, which is answered "method not found", so
# clients fall back to initialize.
PROTOCOL_VERSIONS = ("2025-03-26", "2025-06-18", "2025-11-25")
LATEST_VERSION = PROTOCOL_VERSIONS[-1]

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, INTERNAL_ERROR = -32700, -32600, -32601, -32602, -32603
REQUEST_CANCELLED = -32800
MAX_MCP_SESSIONS = 64
INSTRUCTIONS = ("pyarthas diagnoses this live Python process. Start with dashboard, thread (topN) or memory; "
                "find code with sc/sm/jad (e.g. demo.MathGame); watch/trace/stack/monitor/tt capture real calls "
                "(numberOfExecutions and timeout keep them short) and undo their instrumentation when they end. "
                "Tools that change the process refuse unless the agent allows writes.")


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: Any = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> Dict[str, Any]:
        error: Dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


def error_response(request_id: Any, error: RpcError) -> Dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": error.to_json()}


class _Refused(Exception):
    """A tool call that cannot run; its message is the tool error the assistant reads."""


class McpSession:
    def __init__(self, arthas_session, protocol_version: str):
        self.id = random_uuid()
        self.arthas_session = arthas_session
        self.protocol_version = protocol_version
        self.calls: Dict[Any, Call] = {}
        self.lock = threading.Lock()
        self.closed = False


class McpServer:
    """The MCP sessions of one agent (at most MAX_MCP_SESSIONS, each holding one Arthas session)."""

    def __init__(self, agent):
        self.agent = agent
        self._sessions: Dict[str, McpSession] = {}
        self._lock = threading.Lock()

    @property
    def writes_allowed(self) -> bool:
        return bool(self.agent.options.get("mcp-allow-writes"))

    def create(self, protocol_version: str) -> McpSession:
        self._forget_reaped()
        if len(self._sessions) >= MAX_MCP_SESSIONS and not self._evict_idlest():
            raise RpcError(INTERNAL_ERROR, "too many MCP sessions (%d) with calls running" % MAX_MCP_SESSIONS)
        try:
            arthas_session = self.agent.sessions.create()
        except TooManySessions as exc:
            raise RpcError(INTERNAL_ERROR, str(exc)) from None
        session = McpSession(arthas_session, protocol_version)
        with self._lock:
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str) -> Optional[McpSession]:
        session = self._sessions.get(session_id)
        if session is None:
            return None
        if self.agent.sessions.get(session.arthas_session.session_id) is None:  # reaped, or the agent stopping
            self.close(session_id)
            return None
        session.arthas_session.touch()
        return session

    def close(self, session_id: str) -> bool:
        """End the session's running calls (their enhancements are undone), then its Arthas session."""
        with self._lock:
            session = self._sessions.pop(session_id, None)
        if session is None:
            return False
        with session.lock:
            session.closed = True
            running = list(session.calls.values())
        for call in running:
            call.cancel()
        self.agent.sessions.remove(session.arthas_session.session_id)
        return True

    def _evict_idlest(self) -> bool:
        """Clients that never DELETE their sessions must not lock others out: the longest idle session
        without a running call makes room."""
        with self._lock:
            idle = [s for s in self._sessions.values() if not s.calls]
        if not idle:
            return False
        idlest = max(idle, key=lambda s: s.arthas_session.idle_seconds())
        return self.close(idlest.id)

    def _forget_reaped(self) -> None:
        for session_id in list(self._sessions):
            self.get(session_id)


_servers: "weakref.WeakKeyDictionary[Any, McpServer]" = weakref.WeakKeyDictionary()
_servers_lock = threading.Lock()


def server_of(agent) -> McpServer:
    with _servers_lock:
        server = _servers.get(agent)
        if server is None:
            server = _servers[agent] = McpServer(agent)
        return server


# ---- messages ----

def validate(message: Any) -> Dict[str, Any]:
    """The message if it is a well-formed JSON-RPC request, notification or response; RpcError otherwise."""
    if not isinstance(message, dict):
        raise RpcError(INVALID_REQUEST, "Invalid Request: a JSON-RPC message must be an object")
    if message.get("jsonrpc") != "2.0":
        raise RpcError(INVALID_REQUEST, "Invalid Request: 'jsonrpc' must be \"2.0\"")
    if "id" in message and not _valid_id(message["id"]):
        raise RpcError(INVALID_REQUEST, "Invalid Request: 'id' must be a string or an integer")
    if "method" not in message:
        if "id" in message and ("result" in message or "error" in message):
            return message  # a response to something we asked (we never ask; ignored)
        raise RpcError(INVALID_REQUEST, "Invalid Request: 'method' is required")
    if not isinstance(message["method"], str):
        raise RpcError(INVALID_REQUEST, "Invalid Request: 'method' must be a string")
    if "params" in message and not isinstance(message["params"], dict):
        raise RpcError(INVALID_PARAMS, "Invalid params: 'params' must be an object")
    return message


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def is_request(message: Dict[str, Any]) -> bool:
    return "method" in message and "id" in message


def negotiate(requested: Any) -> str:
    return requested if requested in PROTOCOL_VERSIONS else LATEST_VERSION


def initialize_result(agent, version: str) -> Dict[str, Any]:
    return {"protocolVersion": version,
            "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": {"name": "pyarthas", "title": "pyarthas (Arthas for Python)", "version": agent.version},
            "instructions": INSTRUCTIONS}


class Stream:
    """Where a request's notifications go (SSE), and whether its client is still there."""

    progress_token: Any = None

    def progress(self, params: Dict[str, Any]) -> None:
        pass

    def gone(self) -> bool:
        return False


def dispatch(server: McpServer, session: McpSession, message: Dict[str, Any],
             stream: Stream) -> Optional[Dict[str, Any]]:
    """The response to ``message`` (None for notifications and cancelled requests)."""
    method, params = message["method"], message.get("params") or {}
    if not is_request(message):
        if method == "notifications/cancelled":
            _cancel(session, params.get("requestId"))
        return None
    request_id = message["id"]
    try:
        if method == "ping":
            result: Optional[Dict[str, Any]] = {}
        elif method == "initialize":
            raise RpcError(INVALID_REQUEST, "Invalid Request: the session is already initialized")
        elif method == "tools/list":
            result = {"tools": [tool.describe(server.writes_allowed) for tool in TOOLS.values()]}
        elif method == "tools/call":
            result = call_tool(server, session, request_id, params, stream)
            if result is None:
                return None
        else:
            raise RpcError(METHOD_NOT_FOUND, "Method not found: %s" % method)
    except RpcError as error:
        return error_response(request_id, error)
    except Exception as exc:  # a bug of ours: the client gets an answer, the agent goes on
        return error_response(request_id, RpcError(INTERNAL_ERROR, "Internal error: %r" % (exc,)))
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def _cancel(session: McpSession, request_id: Any) -> None:
    with session.lock:
        call = session.calls.get(request_id) if _valid_id(request_id) else None
    if call is not None:
        call.cancel()


def call_tool(server: McpServer, session: McpSession, request_id: Any, params: Dict[str, Any],
              stream: Stream) -> Optional[Dict[str, Any]]:
    meta = params.get("_meta")
    token = meta.get("progressToken") if isinstance(meta, dict) else None
    stream.progress_token = token if _valid_id(token) else None
    name = params.get("name")
    tool = TOOLS.get(name) if isinstance(name, str) else None
    if tool is None:
        raise RpcError(INVALID_PARAMS, "Unknown tool: %s" % (name,))
    try:
        args = tool.arguments(params.get("arguments"))
        reason = tool.write_reason(args)
        words = tool.words(args)
    except ToolInputError as exc:
        return tool_error("Invalid arguments for tool '%s': %s" % (tool.name, exc))
    if reason and not server.writes_allowed:
        return tool_error("%s; the agent's MCP tools only look by default. Start the agent with "
                          "--mcp-allow-writes (or PYARTHAS_MCP_ALLOW_WRITES=1), or set "
                          "'options mcp-allow-writes true' from its console, to allow it." % reason)
    try:
        if tool.name == "profiler" and args["action"] in ("stop", "dump"):
            return _profiler_output(server, session, request_id, tool, words, args, stream)
        return _run_tool(server, session, request_id, tool, command_line(words), args, stream)
    except _Refused as refused:
        return tool_error(str(refused))


def _run_tool(server: McpServer, session: McpSession, request_id: Any, tool: Tool, line: str,
              args: Dict[str, Any], stream: Stream, extra: Optional[Dict[str, Any]] = None) -> Optional[Dict[str, Any]]:
    results, call = _gather(server, session, request_id, tool, line, args, stream)
    if call.cancelled:
        return None
    return tool_result(server.agent, line, call, results, extra)


def _gather(server: McpServer, session: McpSession, request_id: Any, tool: Tool, line: str,
            args: Dict[str, Any], stream: Stream) -> Tuple[List[Dict[str, Any]], Call]:
    """Run ``line`` as a job of the session's Arthas session; its results and the call."""
    with session.lock:
        if session.closed:
            raise _Refused("the MCP session is closed")
        if request_id in session.calls:
            raise RpcError(INVALID_REQUEST, "Invalid Request: request id %r is already in use" % (request_id,))
        try:
            call = Call(server.agent, session.arthas_session, line)
        except JobCreationError as exc:
            raise _Refused("%s: %s" % (line, exc)) from None
        session.calls[request_id] = call
    total = args.get("numberOfExecutions") if tool.streaming else None
    token = stream.progress_token
    seen = [0]

    def on_result(result: Dict[str, Any]) -> None:
        if token is None or result.get("type") in calls_module.NOT_CAPTURES:
            return
        seen[0] += 1
        note = {"progressToken": token, "progress": seen[0],
                "message": result_text([result], server.agent.url)[:4000]}
        if total:
            note["total"] = total
        stream.progress(note)

    try:
        results, expired = run_call(call, time.monotonic() + tool.wait_seconds(args), on_result, stream.gone)
    finally:
        if not call.job.ended:  # only when something failed here: no job outlives its call
            call.cancel()
        with session.lock:
            session.calls.pop(request_id, None)
    call.expired = expired
    return results, call


def tool_result(agent, line: str, call: Call, results: List[Dict[str, Any]],
                extra: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    status = final_status(results)
    shown = [r for r in results if r.get("type") not in calls_module.SILENT_TYPES]
    structured: Dict[str, Any] = {"command": line, "jobId": call.job.job_id, "statusCode": status.get("statusCode"),
                                  "timeExpired": call.expired, "results": shown}
    if status.get("message"):
        structured["message"] = status["message"]
    if call.dropped:
        structured["droppedResults"] = call.dropped
    text = result_text(shown, agent.url)
    if extra:
        structured.update(extra)
        if extra.get("topFramesText"):
            text = (text + "\n\n" + extra["topFramesText"]).strip()
    if structured["timeExpired"]:
        text += "\n(the command ran past its time and was interrupted)"
    return {"content": [{"type": "text", "text": text or "(no output)"}], "structuredContent": structured,
            "isError": status.get("statusCode") not in (0, None)}


def tool_error(message: str) -> Dict[str, Any]:
    return {"content": [{"type": "text", "text": message}], "isError": True}


def _profiler_output(server, session, request_id, tool, words, args, stream) -> Optional[Dict[str, Any]]:
    """stop/dump: first the samples as collapsed stacks (for the top frames), then the asked-for output."""
    if args.get("format") not in (None, "collapsed"):
        collapsed = None
    else:
        dump_line = command_line(["profiler", "dump", "-o", "collapsed"])
        collapsed = _output_file(_gather(server, session, request_id, tool, dump_line, args, stream)[0])
    extra: Dict[str, Any] = {}
    if collapsed:
        extra["topFramesText"], extra["topFrames"] = top_frames_text(collapsed, server.agent.output_root)
    return _run_tool(server, session, request_id, tool, command_line(words), args, stream, extra)


def _output_file(results: List[Dict[str, Any]]) -> Optional[str]:
    for result in results:
        if result.get("type") == "profiler" and result.get("outputFile"):
            return result["outputFile"]
    return None


def command_line(words: List[str]) -> str:
    """Words quoted for the agent's tokenizer (``command/tokenizer.py``)."""
    return " ".join(_quote(word) for word in words)


def _quote(word: str) -> str:
    if word and all(ch.isalnum() or ch in "-_.*/:=," for ch in word):
        return word
    if "'" not in word:
        return "'" + word + "'"
    return '"' + "".join("\\" + ch if ch in '"\\$`' else ch for ch in word) + '"'
