"""The view for any result type that has none of its own: readable, never a traceback.

Scalar fields become aligned ``name  value`` lines; a list of flat objects becomes a table; an object
value with ``@type`` is drawn as Arthas's object view; other nested values are indented below their name.
"""
from typing import Any, List

from .objects import object_view
from .text import cell, key_value_table, table

_HIDDEN = ("type", "jobId")


def render_generic(result: Any, ctx) -> str:
    if not isinstance(result, dict):
        return cell(result)
    fields = [(k, v) for k, v in result.items() if k not in _HIDDEN]
    if len(fields) == 1 and _is_scalar(fields[0][1]):
        return cell(fields[0][1])
    return "\n".join(_block(fields, ctx, 0))


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _is_flat_record(value: Any) -> bool:
    return isinstance(value, dict) and "@type" not in value and all(_is_scalar(v) for v in value.values())


def _block(fields, ctx, depth: int) -> List[str]:
    indent = "  " * depth
    width = max(20, ctx.width - len(indent))
    lines: List[str] = []
    scalars = [(k, v) for k, v in fields if _is_scalar(v)]
    if scalars:
        lines.extend(indent + line for line in key_value_table(scalars, width=width).split("\n"))
    for key, value in fields:
        if _is_scalar(value):
            continue
        lines.append(indent + ctx.style.bold(str(key)))
        lines.extend(_nested(value, ctx, depth + 1))
    return lines


def _nested(value: Any, ctx, depth: int) -> List[str]:
    indent = "  " * depth
    width = max(20, ctx.width - len(indent))
    if isinstance(value, list) and value and all(_is_flat_record(v) for v in value):
        headers: List[str] = []
        for record in value:
            headers.extend(k for k in record if k not in headers)
        rows = [[record.get(h) for h in headers] for record in value]
        text = table(rows, [h.upper() for h in headers], style=ctx.style, width=width)
        return [indent + line for line in text.split("\n")]
    if isinstance(value, list) and all(_is_scalar(v) for v in value):
        return [indent + cell(v) for v in value] or [indent + "(empty)"]
    if isinstance(value, dict) and "@type" not in value:
        return _block(list(value.items()), ctx, depth) or [indent + "(empty)"]
    text = object_view(value, expand=2, size_limit=ctx.size_limit)
    return [indent + line for line in text.split("\n")]
