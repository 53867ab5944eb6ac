"""MCP (Model Context Protocol) on the agent's ``/mcp``: AI assistants diagnose this process with tools
named and shaped as Arthas's MCP tools.

Layers, top to bottom: ``transport`` (streamable HTTP: POST, SSE, ``Mcp-Session-Id``), ``protocol``
(JSON-RPC, sessions, initialize, tools/list, tools/call, cancellation), ``tools`` (the tool table: schemas,
command lines, what writes), ``calls`` (a tool call as a job of the session's Arthas session, drawn with
the agent's views), ``safety`` (which expressions only read). The MCP layer is a client of the session and
job layers; commands run exactly as they do for ``/api``.
"""
from .transport import handle_mcp

__all__ = ["handle_mcp"]
