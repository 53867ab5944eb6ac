"""MCP on the agent's /mcp, driven by the official MCP Python SDK (its streamable-HTTP client) and by raw
HTTP where the SDK would never send what is tested (malformed JSON-RPC, a client that vanishes)."""
import base64
import http.client
import json
import socket
import time

import pytest

from harness import of_type, post_raw

anyio = pytest.importorskip("anyio")
mcp = pytest.importorskip("mcp")
jsonschema = pytest.importorskip("jsonschema")

PRIME_FACTORS = "demo.MathGame.primeFactors"
NEVER = "params[0] == 123456789123"   # a watch that waits without capturing
ARTHAS_TOOL_NAMES = {"dashboard", "thread", "memory", "heapdump", "jvm", "version", "sysenv", "sysprop",
                     "vmoption", "options", "getstatic", "ognl", "sc", "sm", "jad", "watch", "trace", "stack",
                     "monitor", "tt", "profiler", "vmtool", "redefine", "stop"}
PYTHON_TOOL_NAMES = {"tasks", "logger", "memory", "profiler"}


# ---- helpers ----

def run_client(url, body, **client_options):
    """Run ``body(client)`` with an SDK client connected to ``url``/mcp."""
    from mcp import Client

    async def main():
        async with Client(url + "/mcp", **client_options) as client:
            return await body(client)
    return anyio.run(main)


def text_of(result):
    return "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")


def rpc(url, message, session=None, headers=None, raw=None):
    """POST one JSON-RPC message (or raw bytes) to /mcp; (status, headers, parsed body or None)."""
    all_headers = {"Accept": "application/json, text/event-stream"}
    if session:
        all_headers["Mcp-Session-Id"] = session
    all_headers.update(headers or {})
    body = raw if raw is not None else json.dumps(message).encode()
    status, response_headers, data = post_raw(url, body, all_headers, path="/mcp")
    is_json = response_headers.get("Content-Type", "").startswith("application/json")
    parsed = json.loads(data) if data and is_json else None
    return status, {k.lower(): v for k, v in response_headers.items()}, parsed


def initialize(url, version="2025-11-25"):
    status, headers, body = rpc(url, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}})
    assert status == 200, body
    session = headers["mcp-session-id"]
    assert rpc(url, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session)[0] == 202
    return session, body["result"]


def enhanced(target):
    results = target.results("ognl 'any(type(c).__name__ == \"Enhancement\" for c in %s.__code__.co_consts)'"
                             % PRIME_FACTORS)
    return of_type(results, "ognl")[0]["value"]


def wait_for(predicate, timeout=30.0, what="the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting for %s" % what)


def open_sse_call(target, session, name, arguments, request_id=7):
    """POST a tools/call on a raw socket and read the SSE answer's head; returns the socket."""
    body = json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "tools/call",
                       "params": {"name": name, "arguments": arguments}}).encode()
    sock = socket.create_connection(("127.0.0.1", target.port), timeout=30)
    head = ["POST /mcp HTTP/1.1", "Host: 127.0.0.1:%d" % target.port, "Content-Type: application/json",
            "Accept: application/json, text/event-stream", "Mcp-Session-Id: " + session,
            "Content-Length: %d" % len(body)]
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(4096)
        assert chunk, received
        received += chunk
    assert received.startswith(b"HTTP/1.1 200") and b"text/event-stream" in received, received
    return sock


def read_to_close(sock, timeout=30.0):
    sock.settimeout(timeout)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


# ---- initialize and versions ----

@pytest.mark.parametrize("asked, agreed", [("2025-03-26", "2025-03-26"), ("2025-06-18", "2025-06-18"),
                                            ("2025-11-25", "2025-11-25"), ("2024-11-05", "2025-11-25"),
                                            ("2099-01-01", "2025-11-25")])
def test_initialize_negotiates_the_version(demo, asked, agreed):
    session, result = initialize(demo.url, asked)
    assert result["protocolVersion"] == agreed
    assert result["serverInfo"]["name"] == "pyarthas" and "tools" in result["capabilities"]
    assert session


def test_sdk_client_connects_in_auto_and_legacy_modes(demo):
    from mcp_types.version import LATEST_HANDSHAKE_VERSION

    async def body(client):
        return client.protocol_version, client.server_info.name

    # auto probes server/discover (answered "method not found") and falls back to initialize
    assert run_client(demo.url, body) == (LATEST_HANDSHAKE_VERSION, "pyarthas")
    assert run_client(demo.url, body, mode="legacy") == (LATEST_HANDSHAKE_VERSION, "pyarthas")


# ---- tools/list ----

def test_tools_list_has_arthas_tools_with_valid_schemas(demo):
    async def body(client):
        return (await client.list_tools()).tools

    tools = {t.name: t.model_dump(by_alias=True, exclude_none=True) for t in run_client(demo.url, body)}
    assert ARTHAS_TOOL_NAMES | PYTHON_TOOL_NAMES <= set(tools)
    for name, tool in tools.items():
        schema = tool["inputSchema"]
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["type"] == "object" and tool["description"], name
        for prop, spec in schema.get("properties", {}).items():
            assert spec.get("description"), (name, prop)
        annotations = tool["annotations"]
        assert isinstance(annotations["readOnlyHint"], bool) and isinstance(annotations["destructiveHint"], bool)
    watch = tools["watch"]["inputSchema"]["properties"]
    assert watch["classPattern"]["examples"] == ["demo.MathGame"]
    assert watch["methodPattern"]["examples"] == ["primeFactors"]
    assert {"numberOfExecutions", "timeout", "express", "condition"} <= set(watch)
    assert tools["redefine"]["annotations"]["destructiveHint"] is True
    assert tools["thread"]["annotations"]["readOnlyHint"] is True
    assert tools["redefine"]["description"].startswith("[disabled")
    validator = jsonschema.Draft202012Validator(tools["watch"]["inputSchema"])
    assert not list(validator.iter_errors({"classPattern": "demo.MathGame", "numberOfExecutions": 2}))
    assert list(validator.iter_errors({"numberOfExecutions": "two"}))


# ---- each tool against the demo ----

ONE_SHOT_CALLS = [
    ("dashboard", {"intervalMs": 200}, "MainThread"),
    ("thread", {"topN": 3}, "MainThread"),
    ("memory", {"top": 5}, ""),
    ("tasks", {}, ""),
    ("heapdump", {}, ""),
    ("jvm", {}, ""),
    ("version", {}, "0."),
    ("sysenv", {"envName": "PATH"}, "PATH"),
    ("sysprop", {}, ""),
    ("vmoption", {}, ""),
    ("options", {"name": "mcp-allow-writes"}, "mcp-allow-writes"),
    ("getstatic", {"classPattern": "demo.MathGame", "fieldName": "random"}, "Random"),
    ("ognl", {"expression": "len(sys.modules['demo'].MathGame.__name__)"}, None),
    ("ognl", {"expression": "sys.modules['demo'].MathGame.primeFactors.__name__"}, None),
    ("ognl", {"expression": "{1 + 2, len('abc')}"}, "3"),
    ("sc", {"classPattern": "demo.MathGame"}, "demo.MathGame"),
    ("sm", {"classPattern": "demo.MathGame", "methodPattern": "prime*"}, "primeFactors"),
    ("jad", {"classPattern": "demo.MathGame"}, "def primeFactors"),
    ("vmtool", {"action": "getInstances", "className": "demo.MathGame"}, "MathGame"),
    ("logger", {}, "root"),
    ("monitor", {"classPattern": "demo.MathGame", "methodPattern": "primeFactors", "intervalMs": 1000},
     "primeFactors"),
    ("stack", {"classPattern": "demo.MathGame", "methodPattern": "primeFactors"}, "run"),
    ("tt", {"action": "record", "classPattern": "demo.MathGame", "methodPattern": "primeFactors"}, "primeFactors"),
    ("tt", {"action": "list"}, "primeFactors"),
    ("profiler", {"action": "start"}, ""),
    ("profiler", {"action": "status"}, ""),
]


def test_each_tool_against_the_demo(fast_demo):
    async def body(client):
        answers = []
        for name, arguments, expected in ONE_SHOT_CALLS:
            answers.append((name, arguments, expected, await client.call_tool(name, arguments)))
        return answers

    for name, arguments, expected, result in run_client(fast_demo.url, body):
        text = text_of(result)
        if expected is None:  # dunder reads need the write permission
            assert result.is_error and "mcp-allow-writes" in text, (name, text)
            continue
        assert not result.is_error, (name, arguments, text)
        assert expected in text, (name, arguments, text)
        structured = result.structured_content
        assert structured["statusCode"] == 0 and structured["command"].startswith(name), structured
    assert not enhanced(fast_demo)


def test_watch_returns_primefactors_arguments_and_the_exception(fast_demo):
    progress = []

    async def on_progress(value, total, message):
        progress.append((value, total, message))

    async def body(client):
        return await client.call_tool("watch", {
            "classPattern": "demo.MathGame", "methodPattern": "primeFactors", "express": "{params, throwExp}",
            "exceptionOnly": True, "numberOfExecutions": 2}, progress_callback=on_progress)

    result = run_client(fast_demo.url, body)
    assert not result.is_error, text_of(result)
    watches = of_type(result.structured_content["results"], "watch")
    assert len(watches) == 2
    for watch in watches:
        assert "primeFactors" in watch["methodName"] or watch.get("className") == "demo.MathGame", watch
        text = json.dumps(watch["value"])
        assert "ValueError" in text and "need >= 2" in text, watch
    text = text_of(result)
    assert "location=AtExceptionExit" in text and "@ValueError[number is:" in text
    assert [p[0] for p in progress] == [1, 2] and progress[0][1] == 2
    assert "@ValueError" in progress[0][2]
    assert not enhanced(fast_demo)


def test_trace_has_primefactors_under_run(fast_demo):
    async def body(client):
        return await client.call_tool("trace", {"classPattern": "demo.MathGame", "methodPattern": "run"})

    result = run_client(fast_demo.url, body)
    assert not result.is_error, text_of(result)
    (trace,) = of_type(result.structured_content["results"], "trace")
    (method,) = trace["root"]["children"]
    assert method["methodName"] == "run"
    assert any(child.get("methodName") == "primeFactors" for child in method.get("children", [])), method
    text = text_of(result)
    assert text.index("demo.MathGame:run()") < text.index("demo.MathGame:primeFactors()")


def test_profiler_stop_gives_top_frames_and_the_flame_graph_url(fast_demo):
    async def body(client):
        # wall: the demo's main thread is sampled while it sleeps between runs too, so samples are certain
        # (cpu mode may see none of its short runs on a loaded machine)
        started = await client.call_tool("profiler", {"action": "start", "event": "wall", "interval": "2ms"})
        await anyio.sleep(1.5)  # let it take samples of the running demo
        stopped = await client.call_tool("profiler", {"action": "stop"})
        return started, stopped

    started, stopped = run_client(fast_demo.url, body)
    assert not started.is_error and not stopped.is_error, (text_of(started), text_of(stopped))
    text = text_of(stopped)
    assert "Top frames by self samples" in text
    assert "profiler output url: %s/arthas-output/" % fast_demo.url in text
    structured = stopped.structured_content
    assert structured["topFrames"] and structured["topFrames"][0]["selfSamples"] > 0


# ---- cancellation and vanished clients ----

def test_cancelled_watch_restores_the_function(demo):
    outcome = {}

    async def body(client):
        async with anyio.create_task_group() as group:
            scope = anyio.CancelScope()

            async def watch():
                with scope:
                    outcome["result"] = await client.call_tool("watch", {
                        "classPattern": "demo.MathGame", "methodPattern": "primeFactors", "condition": NEVER,
                        "timeout": 120})
            group.start_soon(watch)
            await anyio.to_thread.run_sync(lambda: wait_for(lambda: enhanced(demo), what="the watch"))
            scope.cancel()
        # the session stays open: the cancellation alone must end the job
        await anyio.to_thread.run_sync(lambda: wait_for(lambda: not enhanced(demo), what="the restore"))
        return (await client.call_tool("version", {})).is_error

    assert run_client(demo.url, body) is False
    assert "result" not in outcome


def test_notifications_cancelled_ends_the_sse_stream_without_a_result(demo):
    session, _ = initialize(demo.url)
    sock = open_sse_call(demo, session, "watch", {"classPattern": "demo.MathGame", "methodPattern": "primeFactors",
                                                  "condition": NEVER, "timeout": 120}, request_id="w-1")
    try:
        wait_for(lambda: enhanced(demo), what="the watch")
        status, _, _ = rpc(demo.url, {"jsonrpc": "2.0", "method": "notifications/cancelled",
                                      "params": {"requestId": "w-1", "reason": "test"}}, session)
        assert status == 202
        assert not enhanced(demo)  # restored before the notification was acknowledged
        rest = read_to_close(sock)
        assert b'"result"' not in rest, rest
    finally:
        sock.close()


def test_a_vanished_client_leaves_nothing_enhanced(demo):
    session, _ = initialize(demo.url)
    sock = open_sse_call(demo, session, "watch", {"classPattern": "demo.MathGame", "methodPattern": "primeFactors",
                                                  "condition": NEVER, "timeout": 120})
    wait_for(lambda: enhanced(demo), what="the watch")
    sock.close()
    wait_for(lambda: not enhanced(demo), timeout=15, what="the restore after the client left")
    assert rpc(demo.url, {"jsonrpc": "2.0", "id": 2, "method": "ping"}, session)[2]["result"] == {}


def test_closing_the_session_ends_its_calls(demo):
    session, _ = initialize(demo.url)
    sock = open_sse_call(demo, session, "trace", {"classPattern": "demo.MathGame", "methodPattern": "primeFactors",
                                                  "condition": NEVER, "timeout": 120})
    try:
        wait_for(lambda: enhanced(demo), what="the trace")
        status, _, _ = post_raw(demo.url, b"", {"Mcp-Session-Id": session}, method="DELETE", path="/mcp")
        assert status == 200
        assert not enhanced(demo)
        read_to_close(sock)
    finally:
        sock.close()
    status, _, body = rpc(demo.url, {"jsonrpc": "2.0", "id": 3, "method": "ping"}, session)
    assert status == 404 and body["error"]["code"] == -32001


# ---- safe by default ----

WRITES = [
    ("redefine", {"classFilePaths": "/nonexistent/x.py"}),
    ("stop", {}),
    ("vmtool", {"action": "forceGc"}),
    ("logger", {"name": "root", "level": "DEBUG"}),
    ("options", {"name": "unsafe", "value": "true"}),
    ("sysprop", {"propertyName": "x", "propertyValue": "y"}),
    ("ognl", {"expression": "__import__('os').getpid()"}),
    ("ognl", {"expression": "sys.modules['demo'].MathGame.random.seed(1)"}),
    ("watch", {"classPattern": "demo.MathGame", "methodPattern": "primeFactors", "express": "params.append(1)"}),
    ("tt", {"action": "replay", "index": 1000}),
]


def test_tools_that_change_the_process_refuse_by_default(demo):
    async def body(client):
        return [await client.call_tool(name, arguments) for name, arguments in WRITES]

    for (name, _), result in zip(WRITES, run_client(demo.url, body)):
        text = text_of(result)
        assert result.is_error, (name, text)
        assert "--mcp-allow-writes" in text and "only look by default" in text, text
    assert demo.alive() and demo.exec("version")["state"] == "SUCCEEDED"
    assert not enhanced(demo)


def test_writes_run_when_the_agent_allows_them(target_python, tmp_path):
    from harness import start_demo
    target = start_demo(target_python, tmp_path, env={"PYARTHAS_MCP_ALLOW_WRITES": "1"})
    try:
        async def body(client):
            pid = await client.call_tool("ognl", {"expression": "__import__('os').getpid()"})
            level = await client.call_tool("logger", {"name": "root", "level": "ERROR"})
            return pid, level

        pid, level = run_client(target.url, body)
        assert not pid.is_error and str(target.proc.pid) in text_of(pid), text_of(pid)
        assert not level.is_error, text_of(level)
    finally:
        target.kill()


# ---- the HTTP rules of /api apply to /mcp ----

INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}}


def test_foreign_origin_and_host_are_refused(demo):
    assert rpc(demo.url, INITIALIZE, headers={"Origin": "http://evil.example"})[0] == 403
    assert rpc(demo.url, INITIALIZE, headers={"Host": "evil.example:%d" % demo.port})[0] == 403
    assert rpc(demo.url, INITIALIZE, headers={"Origin": "http://127.0.0.1:%d" % demo.port})[0] == 200


def test_password_is_required_beyond_127_0_0_1(spawn):
    target = spawn("import time\nwhile True: time.sleep(1)\n", env={"PYARTHAS_PASSWORD": "s3cret"})
    body = json.dumps(INITIALIZE).encode()

    def post_from(headers):
        sock = socket.create_connection(("127.0.0.1", target.port), timeout=10, source_address=("127.0.0.2", 0))
        try:
            lines = ["POST /mcp HTTP/1.1", "Host: 127.0.0.1:%d" % target.port, "Content-Type: application/json",
                     "Content-Length: %d" % len(body)] + ["%s: %s" % item for item in headers.items()]
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
            return int(sock.recv(4096).split()[1])
        finally:
            sock.close()

    assert post_from({}) == 401
    assert post_from({"Authorization": "Basic " + base64.b64encode(b"arthas:nope").decode()}) == 401
    assert post_from({"Authorization": "Basic " + base64.b64encode(b"arthas:s3cret").decode()}) == 200


# ---- malformed JSON-RPC ----

def test_malformed_json_rpc_gets_json_rpc_errors_and_the_agent_stays_up(demo):
    url = demo.url
    session, _ = initialize(url)

    def error_of(message=None, raw=None, expect_status=None, **kwargs):
        status, _, body = rpc(url, message, session=kwargs.pop("session", session), raw=raw, **kwargs)
        if expect_status is not None:
            assert status == expect_status, (status, body)
        assert body["jsonrpc"] == "2.0" and "error" in body, body
        return body["id"], body["error"]["code"], body["error"]["message"]

    assert error_of(raw=b"{not json", expect_status=400)[:2] == (None, -32700)
    assert error_of(raw="\"\xff\"".encode("latin-1"), expect_status=400)[1] == -32700
    for bad_id in (None, True, 1.5, {"a": 1}, [1]):
        assert error_of({"jsonrpc": "2.0", "id": bad_id, "method": "ping"})[:2] == (None, -32600), bad_id
    assert error_of({"id": 5, "method": "ping"})[1] == -32600                       # no "jsonrpc"
    assert error_of({"jsonrpc": "2.0", "id": 5, "method": 7})[1] == -32600
    assert error_of({"jsonrpc": "2.0", "id": 5, "method": "ping", "params": [1]})[:2] == (5, -32602)
    assert error_of({"jsonrpc": "2.0", "id": 6, "method": "no/such"})[:2] == (6, -32601)
    assert error_of({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "nope"}})[:2] == (7, -32602)
    assert error_of({"jsonrpc": "2.0", "id": 8, "method": "initialize", "params": {}},
                    expect_status=400)[:2] == (8, -32602)
    assert error_of([{"jsonrpc": "2.0", "id": 9, "method": "ping"}], expect_status=400)[1] == -32600   # 2025-11-25
    assert error_of([], expect_status=400)[1] == -32600
    assert error_of({"jsonrpc": "2.0", "id": 10, "method": "ping"}, session=None, expect_status=400)[1] == -32600
    assert error_of({"jsonrpc": "2.0", "id": 11, "method": "ping"}, session="nope", expect_status=404)[1] == -32001
    assert error_of({"jsonrpc": "2.0", "id": 12, "method": "ping"}, headers={"MCP-Protocol-Version": "1999-01-01"},
                    expect_status=400)[1] == -32600
    assert error_of({"jsonrpc": "2.0", "id": 13, "method": "ping"}, headers={"Content-Type": "text/plain"},
                    expect_status=415)[1] == -32600
    # a huge body is refused from its Content-Length, before it is read
    conn = http.client.HTTPConnection("127.0.0.1", demo.port, timeout=30)
    conn.putrequest("POST", "/mcp")
    for name, value in (("Content-Type", "application/json"), ("Content-Length", str(50 * 1024 * 1024)),
                        ("Mcp-Session-Id", session)):
        conn.putheader(name, value)
    conn.endheaders()
    conn.send(b"[" * 65536)
    response = conn.getresponse()
    assert response.status == 413 and json.loads(response.read())["error"]["code"] == -32600
    conn.close()
    # a tool's bad arguments are a tool error the assistant can read, not a protocol error
    status, _, body = rpc(url, {"jsonrpc": "2.0", "id": 14, "method": "tools/call",
                                "params": {"name": "thread", "arguments": {"topN": "three", "bogus": 1}}}, session)
    assert status == 200 and body["result"]["isError"] and "bogus" in body["result"]["content"][0]["text"]
    # GET offers no server stream
    assert post_raw(url, b"", {"Mcp-Session-Id": session}, method="GET", path="/mcp")[0] == 405
    # and the agent still answers, on /mcp and /api
    status, _, body = rpc(url, {"jsonrpc": "2.0", "id": 15, "method": "tools/call",
                                "params": {"name": "version", "arguments": {}}}, session)
    assert status == 200 and not body["result"]["isError"]
    assert demo.exec("version")["state"] == "SUCCEEDED"


def test_batches_are_answered_in_the_2025_03_26_protocol(demo):
    session, _ = initialize(demo.url, "2025-03-26")
    status, _, body = rpc(demo.url, [{"jsonrpc": "2.0", "id": 1, "method": "ping"},
                                     {"jsonrpc": "2.0", "method": "notifications/initialized"},
                                     {"jsonrpc": "2.0", "id": 2, "method": "no/such"},
                                     {"jsonrpc": "2.0", "id": None, "method": "ping"}], session)
    assert status == 200
    assert body[0] == {"jsonrpc": "2.0", "id": 1, "result": {}}
    assert body[1]["id"] == 2 and body[1]["error"]["code"] == -32601
    assert body[2]["id"] is None and body[2]["error"]["code"] == -32600
    assert len(body) == 3


def test_sessions_never_deleted_make_room_for_new_ones(demo):
    first, _ = initialize(demo.url)
    for _ in range(70):  # past the 64 MCP sessions an agent keeps
        initialize(demo.url)
    status, _, body = rpc(demo.url, {"jsonrpc": "2.0", "id": 1, "method": "ping"}, first)
    assert status == 404 and body["error"]["code"] == -32001
    assert demo.exec("version")["state"] == "SUCCEEDED"
