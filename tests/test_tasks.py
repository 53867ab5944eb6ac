"""tasks: the asyncio tasks of the running loops and the chain of awaits each is suspended in."""
from harness import only, run

ASYNC_TARGET = """
import asyncio

async def leaf():
    await asyncio.sleep(3600)

async def middle():
    await asyncio.create_task(leaf(), name="leaf-task")

async def top():
    await middle()

async def main():
    asyncio.create_task(top(), name="top-task")
    await asyncio.sleep(0.01)
    print("ready", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


def test_tasks_awaiting_each_other_show_their_chain(spawn):
    target = spawn(ASYNC_TARGET)
    target.wait_stdout("ready")
    results, status = run(target, "tasks")
    assert status["statusCode"] == 0
    tasks = {t["name"]: t for t in only(results, "tasks")["tasks"]}
    assert only(results, "row_affect")["rowCount"] == len(tasks)
    assert {"top-task", "leaf-task"} <= set(tasks)

    top = tasks["top-task"]
    assert top["state"] == "PENDING"
    assert top["coroutine"] == "__main__.top"
    assert top["awaiting"] == {"kind": "task", "name": "leaf-task", "id": tasks["leaf-task"]["id"]}
    assert [f["methodName"] for f in top["stackTrace"]] == ["middle", "top"]  # innermost first

    leaf = tasks["leaf-task"]
    assert leaf["awaitedBy"] == ["top-task"]
    assert leaf["awaiting"]["kind"] == "future"
    assert [f["methodName"] for f in leaf["stackTrace"]] == ["sleep", "leaf"]
    assert leaf["threadName"] == "MainThread"

    limited = only(run(target, "tasks -n 1")[0], "tasks")["tasks"]
    assert len(limited) == 1


def test_tasks_without_asyncio(spawn):
    target = spawn("import time\nprint('ready', flush=True)\nwhile True:\n    time.sleep(10)\n")
    target.wait_stdout("ready")
    results, status = run(target, "tasks")
    assert status["statusCode"] == 0
    assert only(results, "tasks")["tasks"] == []
    assert only(results, "row_affect")["rowCount"] == 0


def test_tasks_view():
    from pyarthas.agent.view import Context, render
    result = {"type": "tasks", "jobId": 1, "tasks": [
        {"name": "top-task", "state": "PENDING", "coroutine": "__main__.top", "threadName": "MainThread",
         "awaiting": {"kind": "task", "name": "leaf-task", "id": 2}, "awaitedBy": [],
         "stackTrace": [{"className": "__main__", "methodName": "middle", "fileName": "m.py", "lineNumber": 9}]}]}
    assert render(result, Context()).splitlines() == [
        "Tasks Total: 1, PENDING: 1, DONE: 0, CANCELLED: 0", "",
        '"top-task" PENDING coroutine=__main__.top thread="MainThread" awaiting Task "leaf-task"',
        "    at __main__.middle(m.py:9)"]
