"""``memory``, ``heapdump`` and ``vmtool``: the memory table (as dashboard draws it), the process and gc
figures, a ``jmap -histo``-style type table, tracemalloc's allocation sites; vmtool's value as ObjectView."""
from typing import List

from . import view
from .dashboard import gc_table, memory_table
from .text import format_bytes, key_value_table, table


@view("memory")
def render_memory(result, ctx):
    parts = []
    if result.get("memoryInfo"):
        parts.append(memory_table(result["memoryInfo"], ctx))
    process = result.get("process")
    if process:
        parts.append(key_value_table([(k, format_bytes(v)) for k, v in process.items()], width=ctx.width))
    if result.get("gcInfos"):
        parts.append(gc_table(result["gcInfos"], ctx))
    gc_summary = result.get("gc")
    if gc_summary:
        parts.append(key_value_table([("gc." + k, v) for k, v in gc_summary.items()], width=ctx.width))
    tracing = result.get("tracemalloc")
    if tracing and result.get("traceTop") is None:
        parts.append("tracemalloc: " + (
            "tracing, %s traced, peak %s" % (format_bytes(tracing.get("traced")), format_bytes(tracing.get("peak")))
            if tracing.get("tracing") else "not tracing"))
    if result.get("topTypes") is not None:
        parts.append(histogram_table(result["topTypes"], ctx) + "\nTotal: %s objects, %s" % (
            result.get("objectCount"), format_bytes(result.get("objectBytes"))))
    if result.get("traceTop") is not None:
        parts.append(_sites_table(result["traceTop"], ctx, "Top allocation sites"))
    if result.get("traceDiff") is not None:
        parts.append(_sites_table(result["traceDiff"], ctx, "Difference from the previous snapshot"))
    return "\n\n".join(p for p in parts if p)


def histogram_table(entries, ctx) -> str:
    rows = [(i + 1, e.get("count"), e.get("bytes"), e.get("className")) for i, e in enumerate(entries)]
    return table(rows, ["num", "#instances", "#bytes", "class name"], style=ctx.style, width=ctx.width,
                 align=">>><", flexible=3)


def _sites_table(sites, ctx, title) -> str:
    with_diff = any("sizeDiff" in s for s in sites)
    rows: List[tuple] = []
    for site in sites:
        where = "%s:%s" % (site.get("fileName"), site.get("lineNumber"))
        if with_diff:
            rows.append((format_bytes(site.get("size")), _signed(site.get("sizeDiff"), True), site.get("count"),
                         _signed(site.get("countDiff")), where))
        else:
            rows.append((format_bytes(site.get("size")), site.get("count"), where))
    headers = ["SIZE", "+SIZE", "COUNT", "+COUNT", "LOCATION"] if with_diff else ["SIZE", "COUNT", "LOCATION"]
    return ctx.style.bold(title) + "\n" + table(rows, headers, style=ctx.style, width=ctx.width,
                                                align=">" * (len(headers) - 1) + "<", flexible=len(headers) - 1)


def _signed(value, size=False) -> str:
    if not isinstance(value, int):
        return ""
    text = format_bytes(abs(value)) if size else str(abs(value))
    return ("-" if value < 0 else "+") + text


@view("heapdump")
def render_heapdump(result, ctx):
    trace = result.get("traceFile")
    return "tracemalloc snapshot: %s" % trace if trace else ""


@view("vmtool")
def render_vmtool(result, ctx):
    return ctx.value(result.get("value"), result.get("expand") or 1)
