"""Views of the enhancing commands that are not watch: ``trace`` (a tree), ``stack``, ``monitor`` (a table)
and ``tt`` (a table, or one record in detail), in Arthas's layouts::

    `---ts=2026-05-01 10:00:00.123;thread_name=MainThread;id=140245;is_daemon=false;priority=5;TCCL=...
        `---[0.617465ms] demo.MathGame:run()
            +---[12.34% 0.078946ms ] demo.MathGame:primeFactors() #22 [throws Exception]
            `---[min=0.0016ms,max=0.0244ms,total=0.0285ms,count=4] builtins:len() #23
"""
from typing import Any, Dict, List, Optional

from . import view
from .objects import frame_text
from .text import format_cost, format_ts, key_value_table, table

STEP_LAST, STEP_MIDDLE, BOARD, EMPTY = "`---", "+---", "|   ", "    "


def _ms(nanos: Any) -> str:
    return format_cost((nanos or 0) / 1e6)


def thread_line(node: Dict[str, Any], ts_key: str = "timestamp") -> str:
    return "ts=%s;thread_name=%s;id=%s;is_daemon=%s;priority=%s;TCCL=%s" % (
        format_ts(node.get(ts_key)), node.get("threadName", ""), node.get("threadId", ""),
        "true" if node.get("daemon") else "false", node.get("priority", 5), node.get("classloader", "null"))


def _cost_text(node: Dict[str, Any], parent_cost: Optional[int]) -> str:
    percent = ""
    if parent_cost:
        percent = "%.2f%% " % (100.0 * node.get("totalCost", 0) / parent_cost)
    if node.get("times", 1) <= 1:
        return "[%s%sms%s] " % (percent, _ms(node.get("cost")), " " if percent else "")
    return "[%smin=%sms,max=%sms,total=%sms,count=%d] " % (
        percent, _ms(node.get("minCost")), _ms(node.get("maxCost")), _ms(node.get("totalCost")), node["times"])


def _node_text(node: Dict[str, Any], parent_cost: Optional[int], highlight, ctx) -> str:
    kind = node.get("type")
    line = node.get("lineNumber", -1)
    where = " #%d" % line if isinstance(line, int) and line >= 0 else ""
    if kind == "thread":
        return thread_line(node)
    if kind == "throw":
        return "throw:%s%s [%s]" % (node.get("exception", ""), where, node.get("message") or "")
    if kind == "suspend":
        return "%ssuspended, awaiting %s%s" % (_cost_text(node, parent_cost), node.get("awaiting", "?"), where)
    cost = _cost_text(node, parent_cost)
    if node is highlight:
        cost = ctx.style.red(cost)
    text = "%s%s:%s()%s" % (cost, node.get("className", ""), node.get("methodName", ""), where)
    marks = [node["mark"]] if node.get("mark") else []
    if node.get("suspensions"):
        marks.append("suspended %d time(s), %sms" % (node["suspensions"], _ms(node.get("suspendedCost"))))
    return text + "".join(" [%s]" % mark for mark in marks)


def _costliest(root: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The child call with the largest total cost below the traced method (Arthas paints it red)."""
    best = None
    stack = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if node.get("type") == "method" and depth >= 3 and (
                best is None or node.get("totalCost", 0) > best.get("totalCost", 0)):
            best = node
        stack.extend((child, depth + 1) for child in node.get("children", ()))
    return best


@view("trace")
def render_trace(result, ctx):
    root = result.get("root")
    if not isinstance(root, dict):
        return ""
    highlight = _costliest(root)
    lines: List[str] = []

    def walk(node, prefix, last, parent_cost):
        lines.append(prefix + (STEP_LAST if last else STEP_MIDDLE) + _node_text(node, parent_cost, highlight, ctx))
        children = node.get("children") or []
        # percentages are of the traced method's own cost, for its children and theirs
        own = node.get("cost") if node.get("type") == "method" and node.get("lineNumber") == -1 else parent_cost
        for index, child in enumerate(children):
            walk(child, prefix + (EMPTY if last else BOARD), index == len(children) - 1, own)

    walk(root, "", True, None)
    return "\n".join(lines)


@view("stack")
def render_stack(result, ctx):
    frames = result.get("stackTrace") or []
    lines = [thread_line(result, "ts")]
    if frames:
        first = frames[0]
        lines.append("    @%s.%s()" % (first.get("className", "?"), first.get("methodName", "?")))
        lines.extend("        at %s" % frame_text(frame) for frame in frames[1:])
    for task in result.get("awaitingTasks") or []:
        lines.append("    awaited in task %s" % task.get("taskName", "?"))
        lines.extend("        at %s" % frame_text(frame) for frame in task.get("stackTrace") or [])
    return "\n".join(lines)


@view("monitor")
def render_monitor(result, ctx):
    rows = []
    for data in result.get("monitorDataList") or []:
        total = data.get("total") or 0
        failed = data.get("failed") or 0
        rows.append([format_ts(data.get("timestamp")), data.get("className", ""), data.get("methodName", ""),
                     total, data.get("success", 0), failed,
                     "%.2f" % ((data.get("cost") or 0.0) / total if total else 0.0),
                     "%.2f%%" % (100.0 * failed / total if total else 0.0)])
    return table(rows, ["timestamp", "class", "method", "total", "success", "fail", "avg-rt(ms)", "fail-rate"],
                 style=ctx.style, width=ctx.width)


def _fragment_rows(fragments, ctx, header: bool) -> str:
    """The table of records; ``tt -t`` prints its header once, with the first recorded call."""
    rows = [[f.get("index"), format_ts(f.get("timestamp")), format_cost(f.get("cost")),
             "true" if f.get("return") else "false", "true" if f.get("throw") else "false", f.get("object", ""),
             f.get("className", ""), f.get("methodName", "")] for f in fragments]
    headers = ["INDEX", "TIMESTAMP", "COST(ms)", "IS-RET", "IS-EXP", "OBJECT", "CLASS", "METHOD"]
    text = table(rows + ([] if header else [headers]), headers, style=ctx.style, width=ctx.width)
    return text if header else "\n".join(text.splitlines()[1:-1])


def _fragment_detail(fragment: Dict[str, Any], expand: int, ctx, replay_no: Optional[int] = None) -> str:
    pairs = [("RE-INDEX" if replay_no else "INDEX", fragment.get("index")),
             ("GMT-REPLAY" if replay_no else "GMT-CREATE", format_ts(fragment.get("timestamp"))),
             ("COST(ms)", format_cost(fragment.get("cost"))), ("OBJECT", fragment.get("object", "")),
             ("CLASS", fragment.get("className", "")), ("METHOD", fragment.get("methodName", "")),
             ("IS-RETURN", "true" if fragment.get("return") else "false"),
             ("IS-EXCEPTION", "true" if fragment.get("throw") else "false")]
    pairs += [(label, fragment[key]) for label, key in (("CONTEXT", "context"), ("EVENT-LOOP", "eventLoop"))
              if fragment.get(key)]
    for index, param in enumerate(fragment.get("params") or []):
        value = param.get("object") if isinstance(param, dict) else param
        pairs.append(("PARAMETERS[%d]" % index, ctx.value(value, expand)))
    if fragment.get("throw"):
        pairs.append(("THROW-EXCEPTION", ctx.value(fragment.get("throwExp"), expand)))
    else:
        pairs.append(("RETURN-OBJ", ctx.value(fragment.get("returnObj"), expand)))
    return key_value_table(pairs, style=ctx.style, width=ctx.width)


@view("tt")
def render_tt(result, ctx):
    expand = result.get("expand", 1)
    if "timeFragmentList" in result:
        return _fragment_rows(result["timeFragmentList"], ctx, result.get("first", True))
    if "timeFragment" in result:
        return _fragment_detail(result["timeFragment"], expand, ctx)
    if "replayResult" in result:
        number = result.get("replayNo")
        text = _fragment_detail(result["replayResult"], expand, ctx, replay_no=number or 1)
        return text + "\nTime fragment[%s] successfully replayed %s times." % (result["replayResult"].get("index"),
                                                                              number)
    if "watchValue" in result:
        return ctx.value(result["watchValue"], expand, result.get("sizeLimit"))
    if "watchResults" in result:
        return "\n".join("%s: %s" % (index, ctx.value(value, expand, result.get("sizeLimit")))
                         for index, value in result["watchResults"].items())
    return ""
