"""``thread`` and ``tasks`` as Arthas prints threads: the summary line and table, and stacks as
``"name" Id=... STATE`` followed by ``    at module.Class.function(file:line)`` lines."""
from typing import Any, Dict

from . import view
from .dashboard import threads_table
from .objects import frame_text

STATES = ("NEW", "RUNNABLE", "BLOCKED", "WAITING", "TIMED_WAITING", "TERMINATED")


@view("thread")
def render_thread(result, ctx):
    parts = []
    stats = result.get("threadStats")
    if stats is not None:
        parts.append(_summary(result.get("threadStateCount") or {}))
        if stats:
            parts.append(threads_table(stats, ctx))
    if result.get("threadInfo"):
        parts.append(thread_stack(result["threadInfo"], ctx))
    for busy in result.get("busyThreads") or []:
        parts.append(thread_stack(busy, ctx, busy=True) + "\n")
    blocking = result.get("blockingLockInfo")
    if blocking:
        parts.append(thread_stack(blocking.get("threadInfo") or {}, ctx) + "\n" + ctx.style.red(
            "    -  locked %s <---- but blocks %d other threads!" % (
                blocking.get("lockName") or blocking.get("lockIdentityHashCode"),
                blocking.get("blockingThreadCount", 0))))
    unknown = result.get("unknownLockOwners")
    if unknown:
        parts.append(ctx.style.yellow("Blocked on locks whose owner Python cannot tell:") + "\n" + "\n".join(
            '    "%s" Id=%s waiting for %s' % (u.get("threadName"), u.get("threadId"), u.get("lockName") or "a lock")
            for u in unknown))
    return "\n".join(p for p in parts if p).rstrip("\n")


def _summary(counts) -> str:
    total = sum(v for v in counts.values() if isinstance(v, int))
    return "Threads Total: %d, %s" % (total, ", ".join("%s: %s" % (s, counts.get(s, 0)) for s in STATES))


def thread_header(info, busy=False) -> str:
    """``"name" Id=123 [cpuUsage=...] STATE [on lock owned by "x" Id=y]`` of a ThreadInfo or busy thread."""
    name = info.get("threadName", info.get("name"))
    ident = info.get("threadId", info.get("id"))
    state = info.get("threadState", info.get("state")) or ""
    words = ['"%s"' % name, "Id=%s" % ident]
    if info.get("nativeId", -1) not in (None, -1):
        words.append("nativeId=%s" % info["nativeId"])
    if busy:
        words.append("cpuUsage=%.2f%%" % (info.get("cpu") or 0))
        words.append("deltaTime=%sms" % info.get("deltaTime", 0))
        words.append("time=%sms" % info.get("time", 0))
    words.append(state)
    if info.get("waitReason") and state != "RUNNABLE":
        words.append("(%s)" % info["waitReason"])
    if info.get("lockName"):
        words.append("on %s" % info["lockName"])
        if info.get("lockOwnerName"):
            words.append('owned by "%s" Id=%s' % (info["lockOwnerName"], info.get("lockOwnerId")))
    if info.get("agentThread"):
        words.append("[pyarthas]")
    return " ".join(words)


def thread_stack(info, ctx, busy=False) -> str:
    lines = [thread_header(info, busy)]
    lines.extend(stack_lines(info.get("stackTrace") or [], ctx))
    return "\n".join(lines)


def stack_lines(frames, ctx, indent="    "):
    lines = []
    for frame in frames:
        lines.append("%sat %s" % (indent, frame_text(frame)))
        local_vars = frame.get("locals") if isinstance(frame, dict) else None
        if isinstance(local_vars, dict):
            for name, value in local_vars.items():
                text = ctx.value(value, 1).replace("\n", "\n" + indent * 2)
                lines.append("%s%s%s = %s" % (indent, indent, name, text))
    return lines


@view("tasks")
def render_tasks(result, ctx):
    tasks = result.get("tasks") or []
    counts: Dict[Any, int] = {}
    for task in tasks:
        counts[task.get("state")] = counts.get(task.get("state"), 0) + 1
    parts = ["Tasks Total: %d, %s" % (len(tasks), ", ".join(
        "%s: %d" % (state, counts.get(state, 0)) for state in ("PENDING", "DONE", "CANCELLED")))]
    for task in tasks:
        parts.append("\n".join([_task_header(task)] + stack_lines(task.get("stackTrace") or [], ctx)))
    return "\n\n".join(parts)


def _task_header(task) -> str:
    words = ['"%s"' % task.get("name"), task.get("state") or "", "coroutine=%s" % task.get("coroutine"),
             'thread="%s"' % task.get("threadName")]
    awaiting = task.get("awaiting")
    if awaiting:
        if awaiting.get("kind") == "task":
            words.append('awaiting Task "%s"' % awaiting.get("name"))
        elif awaiting.get("kind") == "gather":
            words.append("awaiting gather(%s)" % ", ".join('"%s"' % c.get("name")
                                                          for c in awaiting.get("children") or []))
        else:
            words.append("awaiting %s" % (awaiting.get("repr") or awaiting.get("kind")))
    if task.get("awaitedBy"):
        words.append("awaited by %s" % ", ".join('"%s"' % n for n in task["awaitedBy"]))
    return " ".join(words)
