"""``pyarthas mcp``: an MCP server on stdin/stdout (for assistants that launch servers as commands), built on
the official MCP Python SDK. It bridges to an agent's ``/mcp`` (``--url``, or ``--pid`` to attach first),
and offers two tools of its own: ``ps`` (the Python processes this user can see) and ``attach`` (load the
agent into one of them and bridge to it). Tool calls, their progress and their cancellation pass through
to the agent, which runs them; nothing is diagnosed here.
"""
import os
import sys
from contextlib import asynccontextmanager
from typing import Any, Dict, List, Optional

DEFAULT_PORT = 8563

LOCAL_TOOLS = [
    {"name": "ps", "title": "Python processes",
     "description": "List the Python processes this user can see (pid, Python version, command line), to "
                    "choose one to attach to.",
     "inputSchema": {"type": "object", "properties": {}, "additionalProperties": False},
     "annotations": {"readOnlyHint": True, "destructiveHint": False, "openWorldHint": False}},
    {"name": "attach", "title": "Attach to a process",
     "description": "Load the pyarthas agent into a Python process (or find the one already there) and bridge "
                    "this server's tools to it. The agent's tools (thread, watch, trace, ...) then act on it.",
     "inputSchema": {"type": "object", "required": ["pid"], "additionalProperties": False,
                     "properties": {"pid": {"type": "integer", "description": "The process id, from ps",
                                            "examples": [12345]},
                                    "port": {"type": "integer", "description": "The agent's HTTP port "
                                             "(default %d; 0 picks a free one)" % DEFAULT_PORT}}},
     "annotations": {"readOnlyHint": False, "destructiveHint": False, "openWorldHint": False}},
]


def configure(name, parser) -> None:
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--url", help="an agent's address, e.g. http://127.0.0.1:8563")
    target.add_argument("--pid", type=int, help="attach to this Python process first")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help="with --pid: the agent's HTTP port (default %d)" % DEFAULT_PORT)
    parser.add_argument("--username", help="HTTP Basic user (default arthas)")
    parser.add_argument("--password", help="HTTP Basic password (default $PYARTHAS_PASSWORD)")


def run(args) -> int:
    try:
        import anyio
    except ImportError:
        sys.stderr.write("pyarthas mcp needs the MCP Python SDK (Python 3.10+): pip install mcp\n")
        return 2
    password = args.password or os.environ.get("PYARTHAS_PASSWORD") or None
    credentials = (args.username or "arthas", password) if password else None
    url = args.url
    if args.pid is not None:
        url = _attach(args.pid, args.port, credentials)
        if url is None:
            return 1
    anyio.run(_serve, url, credentials)
    return 0


def _attach(pid: int, port: int, credentials) -> Optional[str]:
    from .attach import DEFAULT_IP, attach_and_report
    username, password = credentials or (None, None)
    attached = attach_and_report(pid, DEFAULT_IP, port, username=username, password=password)
    return attached.url if attached is not None else None


async def _serve(url: Optional[str], credentials) -> None:
    from mcp.server.lowlevel import NotificationOptions, Server
    from mcp.server.stdio import stdio_server

    from ..agent import VERSION

    @asynccontextmanager
    async def lifespan(_server):
        import anyio
        async with anyio.create_task_group() as group:
            bridge = Bridge(group, credentials)
            if url:
                await bridge.connect(url)
            try:
                yield {"bridge": bridge}
            finally:
                group.cancel_scope.cancel()

    server = Server("pyarthas", version=VERSION, title="pyarthas (Arthas for Python)",
                    instructions="Diagnose live Python processes: ps lists them, attach picks one; then the "
                                 "agent's tools (dashboard, thread, watch, trace, ...) act on it.",
                    lifespan=lifespan, on_list_tools=_list_tools, on_call_tool=_call_tool)
    options = server.create_initialization_options(NotificationOptions(tools_changed=True))
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, options)


class Bridge:
    """The connection to one agent's ``/mcp``, held by a task of the server's lifespan (an SDK client must
    be entered and left in one task)."""

    def __init__(self, group, credentials):
        self.group = group
        self.credentials = credentials
        self.client = None
        self.url: Optional[str] = None
        self._close = None

    async def connect(self, url: str) -> None:
        if self._close is not None:
            self._close.set()
        self.client = await self.group.start(self._hold, url.rstrip("/"))
        self.url = url

    async def _hold(self, url: str, *, task_status) -> None:
        import anyio
        from mcp import Client
        from mcp.client.streamable_http import streamable_http_client
        from mcp.shared._httpx_utils import create_mcp_http_client

        auth = self.credentials if self.credentials else None
        http = create_mcp_http_client(auth=_basic_auth(auth) if auth else None)
        closed = anyio.Event()
        self._close = closed
        async with http, Client(streamable_http_client(url + "/mcp", http_client=http), mode="legacy") as client:
            task_status.started(client)
            await closed.wait()


def _basic_auth(credentials):
    import httpx2
    return httpx2.BasicAuth(*credentials)


async def _list_tools(ctx, params):
    import mcp_types as types
    tools: List[Dict[str, Any]] = list(LOCAL_TOOLS)
    bridge: Bridge = ctx.lifespan_context["bridge"]
    if bridge.client is not None:
        listed = await bridge.client.list_tools()
        tools += [tool.model_dump(by_alias=True, exclude_none=True) for tool in listed.tools]
    return types.ListToolsResult(tools=[types.Tool.model_validate(tool) for tool in tools])


async def _call_tool(ctx, params):
    import mcp_types as types
    bridge: Bridge = ctx.lifespan_context["bridge"]
    arguments = params.arguments or {}
    if params.name == "ps":
        return _text_result(_processes_text())
    if params.name == "attach":
        return await _attach_tool(ctx, bridge, arguments)
    if bridge.client is None:
        return types.CallToolResult(content=[types.TextContent(type="text", text=(
            "No agent yet: call ps to list the Python processes, then attach with a pid."))], is_error=True)

    async def forward(progress: float, total: Optional[float], message: Optional[str]) -> None:
        await ctx.session.report_progress(progress, total, message)

    return await bridge.client.call_tool(params.name, arguments, progress_callback=forward)


async def _attach_tool(ctx, bridge: Bridge, arguments: Dict[str, Any]):
    import anyio
    import mcp_types as types
    pid = arguments.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool):
        return types.CallToolResult(content=[types.TextContent(type="text", text="'pid' must be an integer")],
                                    is_error=True)
    port = arguments.get("port", DEFAULT_PORT)
    url = await anyio.to_thread.run_sync(_attach, pid, port, bridge.credentials)
    if url is None:
        return types.CallToolResult(content=[types.TextContent(type="text", text=(
            "could not attach to process %d (see this server's stderr)" % pid))], is_error=True)
    await bridge.connect(url)
    await ctx.session.send_tool_list_changed()
    return _text_result("attached to process %d: the agent serves %s; its tools are listed now" % (pid, url))


def _processes_text() -> str:
    from .inject.process import python_processes
    processes = python_processes()
    if not processes:
        return "no Python process found"
    lines = ["%7s  %-7s  %s" % ("PID", "PYTHON", "COMMAND")]
    lines += ["%7d  %-7s  %s" % (p.pid, p.version_text, p.cmdline) for p in processes]
    return "\n".join(lines)


def _text_result(text: str):
    import mcp_types as types
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)])
