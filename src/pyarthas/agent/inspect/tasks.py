"""asyncio tasks of every running event loop, with the chain of awaits each is suspended in.

Loops are found where they run: a thread whose stack holds ``BaseEventLoop.run_forever`` runs the loop
that is that frame's ``self``. No gc walk, no loop call: ``asyncio.all_tasks(loop)`` only reads the
registry of tasks, and each task's coroutine chain is read through ``cr_await``/``gi_yieldfrom``.

``running_loops()`` -> ``[(loop, thread ident)]``; ``task_infos(limit)`` -> task dicts::

    {id, name, state (PENDING, DONE, CANCELLED), coroutine (qualified name), loopId, threadId, threadName,
     awaiting: {kind: task|future|gather|other, name?, id?, repr} or absent,
     awaitedBy: [task names; on 3.14 also those asyncio's call graph records: TaskGroup parents...],
     stackTrace: [StackTraceElement, innermost await first, as Java stacks]}
"""
import sys
import threading
import types
from typing import Any, Dict, List, Optional, Tuple

from ..values import frame_element
from .threads import thread_id

_MAX_CHAIN = 200


def running_loops() -> List[Tuple[Any, int]]:
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:
        return []
    base = asyncio.BaseEventLoop
    loops = []
    seen = set()
    frame: Optional[types.FrameType]
    for ident, frame in sys._current_frames().items():
        while frame is not None:
            if frame.f_code.co_name == "run_forever":
                candidate = frame.f_locals.get("self")
                if isinstance(candidate, base) and id(candidate) not in seen:
                    seen.add(id(candidate))
                    loops.append((candidate, ident))
                    break
            frame = frame.f_back
    return loops


def _coroutine_name(coro: Any) -> str:
    code = getattr(coro, "cr_code", None) or getattr(coro, "gi_code", None) or getattr(coro, "ag_code", None)
    qualname = getattr(coro, "__qualname__", None) or getattr(code, "co_name", None) or type(coro).__name__
    module = None
    frame = _frame_of(coro)
    if frame is not None:
        module = frame.f_globals.get("__name__")
    return "%s.%s" % (module, qualname) if module else qualname


def _frame_of(coro: Any):
    for attr in ("cr_frame", "gi_frame", "ag_frame"):
        frame = getattr(coro, attr, None)
        if frame is not None:
            return frame
    return None


def _awaited(coro: Any) -> Any:
    for attr in ("cr_await", "gi_yieldfrom", "ag_await"):
        inner = getattr(coro, attr, None)
        if inner is not None:
            return inner
    return None


def coroutine_chain(coro: Any) -> List[Dict[str, Any]]:
    """StackTraceElements of a suspended coroutine and the coroutines it awaits, innermost first."""
    elements: List[Dict[str, Any]] = []
    while coro is not None and len(elements) < _MAX_CHAIN:
        frame = _frame_of(coro)
        if frame is None:
            break
        elements.append(frame_element(frame))
        coro = _awaited(coro)
    elements.reverse()
    return elements


def _task_name(task: Any) -> str:
    get_name = getattr(task, "get_name", None)
    return get_name() if get_name else "Task-%x" % id(task)


def _state(task: Any) -> str:
    if not task.done():
        return "PENDING"
    return "CANCELLED" if task.cancelled() else "DONE"


def _awaiting(task: Any, asyncio) -> Optional[Dict[str, Any]]:
    waiter = getattr(task, "_fut_waiter", None)
    if waiter is None:
        return None
    if isinstance(waiter, asyncio.Task):
        return {"kind": "task", "name": _task_name(waiter), "id": id(waiter)}
    children = getattr(waiter, "_children", None)
    if children is not None:
        return {"kind": "gather", "id": id(waiter),
                "children": [{"name": _task_name(c), "id": id(c)} for c in children if isinstance(c, asyncio.Task)]}
    try:
        text = repr(waiter)
    except Exception:
        text = type(waiter).__name__
    return {"kind": "future", "id": id(waiter), "repr": text[:300]}


def awaiting_task(task: Any, tasks: List[Any], asyncio) -> Optional[Any]:
    """A task that awaits ``task``: the one asyncio recorded (3.14's call graph knows ``await task``,
    TaskGroup and gather children, where a parent's ``_fut_waiter`` is only the group's inner future),
    else the task whose ``_fut_waiter`` is ``task`` or a gather over it."""
    recorded = [parent for parent in recorded_awaiters(task, asyncio) if isinstance(parent, asyncio.Task)]
    if recorded:
        return recorded[0]
    return next((t for t in tasks if t is not task and _waits_on(t, task)), None)


def recorded_awaiters(task: Any, asyncio) -> List[Any]:
    """The futures asyncio recorded as awaiting ``task`` (``asyncio.capture_call_graph``, 3.14); [] before."""
    capture = getattr(asyncio, "capture_call_graph", None)
    if capture is None:
        return []
    try:
        graph = capture(task, depth=1)
    except Exception:
        return []
    return [entry.future for entry in graph.awaited_by] if graph is not None else []


def _waits_on(waiter: Any, task: Any) -> bool:
    awaited = getattr(waiter, "_fut_waiter", None)
    return awaited is task or task in (getattr(awaited, "_children", None) or ())


def task_infos(limit: int = -1) -> List[Dict[str, Any]]:
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:
        return []
    names = {t.ident: t.name for t in threading.enumerate()}
    tasks = []
    for loop, ident in running_loops():
        try:
            loop_tasks = list(asyncio.all_tasks(loop))
        except RuntimeError:  # the registry changed under us; a second read settles it
            loop_tasks = list(asyncio.all_tasks(loop))
        for task in loop_tasks:
            tasks.append((task, loop, ident))
    tasks.sort(key=lambda item: _task_name(item[0]))
    infos = []
    awaited_by: Dict[int, List[str]] = {}
    for task, loop, ident in tasks:
        awaiting = _awaiting(task, asyncio)
        coro = task.get_coro() if hasattr(task, "get_coro") else getattr(task, "_coro", None)
        info: Dict[str, Any] = {"id": id(task), "name": _task_name(task), "state": _state(task),
                "coroutine": _coroutine_name(coro) if coro is not None else None,
                "loopId": id(loop), "threadId": thread_id(ident), "threadName": names.get(ident),
                "stackTrace": coroutine_chain(coro) if coro is not None else []}
        if awaiting is not None:
            info["awaiting"] = awaiting
            targets = [awaiting] if awaiting["kind"] == "task" else awaiting.get("children", [])
            for target in targets:
                awaited_by.setdefault(target["id"], []).append(info["name"])
        infos.append(info)
    for (task, _, _), info in zip(tasks, infos):
        info["awaitedBy"] = awaiters = awaited_by.get(info["id"], [])
        for parent in recorded_awaiters(task, asyncio):
            if isinstance(parent, asyncio.Task) and _task_name(parent) not in awaiters:
                awaiters.append(_task_name(parent))
    return infos[:limit] if limit >= 0 else infos
