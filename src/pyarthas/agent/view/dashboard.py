"""``dashboard``: the threads table, then memory, gc and runtime, fitted to the terminal width. On a
terminal each refresh redraws the screen in place (cursor home, clear), as Arthas's dashboard does.

The memory and gc tables are shared with ``memory``'s view. Columns are drawn from the fields present, so the agent
may send Python-specific memory groups (e.g. ``rss``, ``gc generations``) with the same entry shape
``{name, used, total, max}``.
"""
from . import view
from .text import cell, format_bytes, format_ts, key_value_table, table

# (field, header) of a thread row, most important first; narrow terminals drop columns in WIDE_ONLY's order.
# Arthas's columns in Arthas's order, then the OS and Python ids.
THREAD_COLUMNS = [("id", "ID"), ("name", "NAME"), ("group", "GROUP"), ("priority", "PRIORITY"),
                  ("state", "STATE"), ("cpu", "%CPU"), ("deltaTime", "DELTA_TIME"), ("time", "TIME"),
                  ("interrupted", "INTERRUPTED"), ("daemon", "DAEMON"), ("nativeId", "TID"),
                  ("pythonId", "PYTHON_ID")]
WIDE_ONLY = ("pythonId", "interrupted", "priority", "group", "daemon", "deltaTime", "time", "nativeId")
NAME_FIT = 10


CLEAR_SCREEN = "\x1b[H\x1b[2J"


@view("dashboard")
def render_dashboard(result, ctx):
    parts = []
    threads = result.get("threads")
    if threads:
        parts.append(threads_table(threads, ctx))
    memory = result.get("memoryInfo")
    if memory:
        parts.append(memory_table(memory, ctx))
    gc_infos = result.get("gcInfos")
    if gc_infos:
        parts.append(gc_table(gc_infos, ctx))
    runtime = result.get("runtimeInfo")
    if runtime:
        parts.append(ctx.style.bold("Runtime") + "\n" + key_value_table(
            [(k, _runtime_value(k, v)) for k, v in runtime.items()], width=ctx.width))
    return (CLEAR_SCREEN if ctx.terminal else "") + "\n\n".join(parts)


def threads_table(threads, ctx) -> str:
    columns = [c for c in THREAD_COLUMNS if any(c[0] in t for t in threads)]
    for dropped in WIDE_ONLY:
        if _row_width(threads, columns) <= ctx.width:
            break
        columns = [c for c in columns if c[0] != dropped]
    rows = [[_thread_cell(field, t.get(field)) for field, _ in columns] for t in threads]
    flexible = next((i for i, (field, _) in enumerate(columns) if field == "name"), None)
    return table(rows, [h for _, h in columns], style=ctx.style, width=ctx.width, flexible=flexible)


def _row_width(threads, columns) -> int:
    """The table's width with the NAME column at most NAME_FIT wide (the table cuts it to fit)."""
    widths = [max([len(h)] + [len(_thread_cell(f, t.get(f))) for t in threads]) for f, h in columns]
    widths = [min(w, NAME_FIT) if f == "name" else w for w, (f, _) in zip(widths, columns)]
    return sum(widths) + 2 * (len(widths) - 1)


def _thread_cell(field, value) -> str:
    if field == "time" and isinstance(value, (int, float)):
        minutes, ms = divmod(int(value), 60000)
        return "%d:%d.%03d" % (minutes, ms // 1000, ms % 1000)
    if field == "deltaTime" and isinstance(value, (int, float)):
        return "%.3f" % (value / 1000.0)
    if field == "cpu" and isinstance(value, (int, float)):
        return "%.2f" % value
    return cell(value)


def memory_table(memory, ctx) -> str:
    rows = []
    groups = memory.items() if isinstance(memory, dict) else [("", memory)]
    for _, entries in groups:
        for entry in entries or []:
            if isinstance(entry, dict):
                rows.append((entry.get("name"), format_bytes(entry.get("used")), format_bytes(entry.get("total")),
                             format_bytes(entry.get("max")), _usage(entry)))
    return table(rows, ["Memory", "used", "total", "max", "usage"], style=ctx.style, width=ctx.width,
                 align="<>>>>", flexible=0)


def _usage(entry) -> str:
    used, total, limit = entry.get("used"), entry.get("total"), entry.get("max")
    base = limit if isinstance(limit, (int, float)) and limit > 0 else total
    if isinstance(used, (int, float)) and isinstance(base, (int, float)) and base > 0:
        return "%.2f%%" % (100.0 * used / base)
    return ""


def gc_table(gc_infos, ctx) -> str:
    rows = [(g.get("name"), g.get("collectionCount"), g.get("collectionTime")) for g in gc_infos]
    return table(rows, ["GC", "count", "time(ms)"], style=ctx.style, width=ctx.width, align="<>>", flexible=0)


def _runtime_value(key, value):
    if key == "timestamp" and isinstance(value, (int, float)):
        return format_ts(value)
    return value
