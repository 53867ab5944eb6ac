"""Arthas's ObjectView text (``@ArrayList[...]``) for pyarthas's structured JSON values, with Python type names.

The agent sends values as JSON (see ``agent/values/serializer.py``): None, bool,
int, float, str, lists, dicts with string keys, and objects as dicts carrying ``"@type"`` (qualified class
name) and their attributes, or ``"@type"`` and ``"@value"`` (``str(obj)``) where the agent's ``-x`` depth
stopped expanding. How deep to expand is decided once, by the agent; this module draws what it sent::

    @list[
        @list[
            @int[-5],
        ],
        None,
        @ValueError[number is: -5, need >= 2],
    ]

Exceptions keep Arthas's rule: drawn as a stack trace only when their nesting depth (every list, dict and
object counts, the value itself is depth 0) is below ``expand``, else as ``@ValueError[message]`` (so the
seed's ``{params, returnObj, throwExp}`` shows one line at ``-x 1`` and the stack trace at ``-x 2``).
Keys starting with ``@`` are the agent's annotations, not fields; the agent's size and time marker texts
are printed as they are.
"""
from typing import Any, List

from ..values.limits import DEFAULT_SIZE_LIMIT, MAX_EXPAND, SIZE_MARKER, is_marker

INDENT = "    "


class _SizeExceeded(Exception):
    pass


class _Writer:
    def __init__(self, limit: int):
        self.parts: List[str] = []
        self.size = 0
        self.limit = limit

    def write(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)
        if self.size > self.limit:
            raise _SizeExceeded()


def object_view(value: Any, expand: int = 1, size_limit: int = DEFAULT_SIZE_LIMIT) -> str:
    """The text of ``value`` expanded to ``expand`` levels, cut after ``size_limit`` characters."""
    expand = max(0, min(int(expand if expand is not None else 1), MAX_EXPAND))
    limit = size_limit if isinstance(size_limit, int) and size_limit > 0 else DEFAULT_SIZE_LIMIT
    writer = _Writer(limit)
    try:
        _draw(writer, value, 0, expand)
    except _SizeExceeded:
        text = "".join(writer.parts)[:limit]
        return text + "...\n" + SIZE_MARKER % limit
    except Exception as error:  # a value of an unexpected shape must not break the console
        return "ERROR DATA!!! value type: %s, exception class: %s, exception message: %s" % (
            type(value).__name__, type(error).__name__, error)
    return "".join(writer.parts)


def type_name(value: Any) -> str:
    """The short Python type name shown after ``@``."""
    if isinstance(value, dict) and isinstance(value.get("@type"), str):
        return value["@type"].rsplit(".", 1)[-1]
    if isinstance(value, bool):
        return "bool"
    return type(value).__name__


def is_exception(value: Any) -> bool:
    return isinstance(value, dict) and "@type" in value and "stackTrace" in value


def _draw(out: _Writer, value: Any, deep: int, expand: int) -> None:
    if value is None:
        out.write("None")
    elif isinstance(value, bool):
        out.write("@bool[%s]" % ("True" if value else "False"))
    elif isinstance(value, (int, float)):
        out.write("@%s[%r]" % (type(value).__name__, value))
    elif isinstance(value, str):
        out.write(value if is_marker(value) else
                  "@str[%s]" % value.replace("\n", "\\n").replace("\r", "\\r"))
    elif isinstance(value, list):
        _draw_items(out, "list", value, deep, lambda item: _draw(out, item, deep + 1, expand))
    elif isinstance(value, dict) and "@type" in value:
        _draw_object(out, value, deep, expand)
    elif isinstance(value, dict):
        _draw_items(out, "dict", list(value.items()), deep, lambda kv: _draw_entry(out, kv, deep, expand))
    else:
        out.write("@%s[%s]" % (type(value).__name__, value))


def _draw_entry(out: _Writer, key_value, deep: int, expand: int) -> None:
    key, item = key_value
    if key == "...":  # the agent cut the dict here
        out.write(str(item))
        return
    _draw(out, key, deep + 1, expand)
    out.write(":")
    _draw(out, item, deep + 1, expand)


def _draw_items(out: _Writer, name: str, items: list, deep: int, draw_item) -> None:
    if not items:
        out.write("@%s[isEmpty=true;size=0]" % name)
        return
    out.write("@%s[" % name)
    for item in items:
        out.write("\n" + INDENT * (deep + 1))
        draw_item(item)
        out.write(",")
    out.write("\n" + INDENT * deep + "]")


def _draw_object(out: _Writer, value: dict, deep: int, expand: int) -> None:
    name = type_name(value)
    if is_exception(value):
        _draw_exception(out, value, name, deep, expand)
        return
    fields = [(k, v) for k, v in value.items() if not k.startswith("@")]
    if not fields:
        out.write("@%s[%s]" % (name, _summary(value)))
        return
    out.write("@%s[" % name)
    for key, item in fields:
        out.write("\n" + INDENT * (deep + 1) + "%s=" % key)
        _draw(out, item, deep + 1, expand)
        out.write(",")
    out.write("\n" + INDENT * deep + "]")


def _summary(value: dict) -> str:
    return str(value.get("@value", value.get("@type", "")))


def _draw_exception(out: _Writer, value: dict, name: str, deep: int, expand: int) -> None:
    message = value.get("message")
    if deep >= expand:
        out.write("@%s[%s]" % (name, "" if message is None else message))
        return
    out.write(exception_text(value, INDENT * (deep + 1)))


def exception_text(value: dict, indent: str = "\t") -> str:
    """A Java-style stack trace (``X: msg`` then ``at ...`` lines, innermost first, ``Caused by:``)."""
    lines = []
    current: Any = value
    prefix, seen = "", 0
    while isinstance(current, dict) and seen < 20:
        message = current.get("message")
        head = str(current.get("@type", "Exception"))
        head = head[len("builtins."):] if head.startswith("builtins.") else head
        lines.append(prefix + head + ("" if message in (None, "") else ": %s" % message))
        for frame in current.get("stackTrace") or []:
            lines.append(indent + "at " + frame_text(frame))
        current, prefix, seen = current.get("cause"), "Caused by: ", seen + 1
    return "\n".join(lines)


def frame_text(frame: Any) -> str:
    """``demo.MathGame.primeFactors(demo.py:42)`` from a StackTraceElement-shaped dict."""
    if not isinstance(frame, dict):
        return str(frame)
    where = frame.get("fileName") or "Unknown Source"
    line = frame.get("lineNumber")
    if isinstance(line, int) and line >= 0:
        where = "%s:%d" % (where, line)
    return "%s.%s(%s)" % (frame.get("className", "?"), frame.get("methodName", "?"), where)
