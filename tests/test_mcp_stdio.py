"""``pyarthas mcp``: the stdio MCP server (official SDK) bridging to an agent, driven by the SDK's stdio
client as an assistant that launches servers as commands would."""
import sys
import time

import pytest

from harness import ROOT, of_type, target_env

anyio = pytest.importorskip("anyio")
mcp = pytest.importorskip("mcp")


def run_stdio(args, body, env=None):
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(command=sys.executable, args=["-m", "pyarthas", "mcp", *args],
                                   env=target_env(env), cwd=ROOT)

    async def main():
        with anyio.fail_after(120):
            async with Client(params) as client:
                return await body(client)
    return anyio.run(main)


def text_of(result):
    return "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")


def test_bridge_lists_and_calls_the_agent_tools(fast_demo):
    progress = []

    async def on_progress(value, total, message):
        progress.append(value)

    async def body(client):
        tools = {t.name for t in (await client.list_tools()).tools}
        thread = await client.call_tool("thread", {"topN": 3})
        watch = await client.call_tool("watch", {"classPattern": "demo.MathGame", "methodPattern": "primeFactors",
                                                 "numberOfExecutions": 2}, progress_callback=on_progress)
        ps = await client.call_tool("ps", {})
        return tools, thread, watch, ps

    tools, thread, watch, ps = run_stdio(["--url", fast_demo.url], body)
    assert {"ps", "attach", "thread", "watch", "trace", "tasks"} <= tools
    assert not thread.is_error and "MainThread" in text_of(thread)
    assert not watch.is_error and len(of_type(watch.structured_content["results"], "watch")) == 2
    assert progress == [1, 2]
    assert str(fast_demo.proc.pid) in text_of(ps)


def test_cancelling_through_the_bridge_restores_the_function(demo):
    def enhanced():
        results = demo.results("ognl 'any(type(c).__name__ == \"Enhancement\" for c in "
                               "demo.MathGame.primeFactors.__code__.co_consts)'")
        return of_type(results, "ognl")[0]["value"]

    def wait_for(predicate):
        deadline = time.monotonic() + 30
        while not predicate():
            assert time.monotonic() < deadline
            time.sleep(0.1)

    async def body(client):
        with anyio.move_on_after(60) as scope:
            async with anyio.create_task_group() as group:
                group.start_soon(client.call_tool, "watch", {
                    "classPattern": "demo.MathGame", "methodPattern": "primeFactors",
                    "condition": "params[0] == 123456789123", "timeout": 120})
                await anyio.to_thread.run_sync(wait_for, enhanced)
                group.cancel_scope.cancel()
        assert not scope.cancelled_caught
        await anyio.to_thread.run_sync(wait_for, lambda: not enhanced())
        return (await client.call_tool("version", {})).is_error

    assert run_stdio(["--url", demo.url], body) is False


def test_without_an_agent_only_ps_and_attach_work():
    async def body(client):
        tools = {t.name for t in (await client.list_tools()).tools}
        thread = await client.call_tool("thread", {})
        return tools, thread

    tools, thread = run_stdio([], body)
    assert tools == {"ps", "attach"}
    assert thread.is_error and "attach" in text_of(thread)


def test_ps_then_attach_bridges_to_the_chosen_process(spawn):
    target = spawn("import time\nprint('ready', flush=True)\nwhile True: time.sleep(0.2)\n", agent=False)
    target.wait_stdout("^ready")
    pid = target.proc.pid

    async def body(client):
        ps = await client.call_tool("ps", {})
        attached = await client.call_tool("attach", {"pid": pid, "port": 0})
        tools = {t.name for t in (await client.list_tools()).tools}
        sysenv = await client.call_tool("jvm", {})
        return ps, attached, tools, sysenv

    ps, attached, tools, jvm = run_stdio([], body)
    assert str(pid) in text_of(ps)
    assert not attached.is_error and "attached to process %d" % pid in text_of(attached), text_of(attached)
    assert {"thread", "watch"} <= tools
    assert not jvm.is_error and str(pid) in text_of(jvm), text_of(jvm)
