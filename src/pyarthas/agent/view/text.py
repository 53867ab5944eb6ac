"""Text helpers every view uses: colours, aligned tables, timestamps, sizes.

Stdlib only (the CLI package must import in a bare target interpreter).
"""
import os
import re
import shutil
import sys
import textwrap
import time
from typing import Any, Iterable, List, Optional, Sequence

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

_CODES = {
    "bold": "1", "dim": "2", "underline": "4", "inverse": "7",
    "red": "31", "green": "32", "yellow": "33", "blue": "34", "magenta": "35", "cyan": "36", "white": "37",
}


class Style:
    """``style.red(text)`` and friends: ANSI colours when enabled, the text unchanged otherwise."""

    def __init__(self, enabled: bool):
        self.enabled = enabled

    def paint(self, text: str, *names: str) -> str:
        if not self.enabled or not names or text == "":
            return text
        return "\x1b[%sm%s\x1b[0m" % (";".join(_CODES[n] for n in names), text)

    def __getattr__(self, name: str):
        if name not in _CODES:
            raise AttributeError(name)
        return lambda text: self.paint(text, name)


def colour_wanted(stream=None) -> bool:
    """Colours on a terminal; none when piped, when ``NO_COLOR`` is set (https://no-color.org) or when
    ``TERM=dumb``."""
    stream = stream or sys.stdout
    if os.environ.get("NO_COLOR", "") != "" or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):
        return False


def terminal_width(default: int = 80) -> int:
    return shutil.get_terminal_size((default, 24)).columns or default


UNLIMITED_WIDTH = 1 << 20


def output_width(stream=None) -> int:
    """The width to fit output that is not a terminal in (piped, redirected, batch): ``$COLUMNS`` when set,
    else the width of the terminal the user sits at (stderr's or stdin's), else no limit."""
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    for candidate in (stream, sys.stderr, sys.stdin):
        try:
            if candidate is not None and candidate.isatty():
                return os.get_terminal_size(candidate.fileno()).columns or UNLIMITED_WIDTH
        except (AttributeError, OSError, ValueError):
            continue
    return UNLIMITED_WIDTH


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def visible_len(text: str) -> int:
    return len(strip_ansi(text))


def pad(text: str, width: int, align: str = "<") -> str:
    """Pad to ``width`` visible characters (ANSI escapes do not count)."""
    gap = max(0, width - visible_len(text))
    return " " * gap + text if align == ">" else text + " " * gap


def truncate(text: str, width: int) -> str:
    """Cut plain ``text`` to ``width`` characters, marking the cut with ``…``."""
    if width <= 0:
        return ""
    if len(text) <= width:
        return text
    return text[:width - 1] + "…" if width > 1 else text[:width]


def cell(value: Any) -> str:
    """A table cell from a JSON value: None empty, booleans lower-case as Arthas prints them."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "%.2f" % value if value != int(value) or abs(value) < 1e15 else str(value)
    return str(value)


def table(rows: Iterable[Sequence[Any]], headers: Optional[Sequence[str]] = None, style: Optional[Style] = None,
          width: Optional[int] = None, flexible: Optional[int] = None, align: Optional[str] = None,
          gap: int = 2) -> str:
    """Aligned columns as Arthas prints them: an optional bold header row, then one line per row.

    ``width`` is the line width to fit in (e.g. ``ctx.width``): when the table is wider, the ``flexible``
    column is cut, then (or without one) the widest columns; a column of timestamps is never cut.
    ``align`` is one character per column, ``<`` or ``>``.
    Cells are plain text (colour whole cells after the fact only through ``style``)."""
    texts = [[cell(v) for v in row] for row in rows]
    header = [str(h) for h in headers] if headers else None
    all_rows = ([header] if header else []) + texts
    if not all_rows:
        return ""
    columns = max(len(r) for r in all_rows)
    widths = [max((len(r[i]) if i < len(r) else 0) for r in all_rows) for i in range(columns)]
    total = sum(widths) + gap * (columns - 1)
    if width and total > width and columns:
        _narrow(widths, total - width, texts, flexible)
    align = align or "<" * columns
    lines = []
    for index, row in enumerate(all_rows):
        parts = []
        for i in range(columns):
            text = truncate(row[i] if i < len(row) else "", widths[i])
            last = i == columns - 1
            parts.append(text if last and align[i] == "<" else pad(text, widths[i], align[i]))
        line = (" " * gap).join(parts).rstrip()
        if header and index == 0 and style:
            line = style.bold(line)
        lines.append(line)
    return "\n".join(lines)


_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d(\.\d+)?)?")
MIN_COLUMN = 4


def _narrow(widths: List[int], excess: int, rows: List[List[str]], flexible: Optional[int]) -> None:
    """Take ``excess`` characters off the columns: the ``flexible`` one first, then the widest, none below
    ``MIN_COLUMN``, none holding timestamps only."""
    def cuttable(i: int) -> bool:
        cells = [row[i] for row in rows if i < len(row) and row[i]]
        return widths[i] > MIN_COLUMN and not (cells and all(_TIMESTAMP.fullmatch(c) for c in cells))

    if flexible is not None and flexible < len(widths) and cuttable(flexible):
        cut = min(excess, widths[flexible] - MIN_COLUMN)
        widths[flexible] -= cut
        excess -= cut
    while excess > 0:
        candidates = [i for i in range(len(widths)) if cuttable(i)]
        if not candidates:
            return
        widest = max(candidates, key=lambda i: widths[i])
        others = [widths[i] for i in candidates if i != widest]
        cut = min(excess, max(1, widths[widest] - max(others + [MIN_COLUMN])))
        widths[widest] -= cut
        excess -= cut


def change_table(change: dict, style: Optional[Style] = None, width: Optional[int] = None) -> str:
    """Arthas's table for a changed setting (``options``, ``vmoption``): NAME BEFORE-VALUE AFTER-VALUE."""
    return table([(change.get("name"), change.get("beforeValue"), change.get("afterValue"))],
                 ["NAME", "BEFORE-VALUE", "AFTER-VALUE"], style=style, width=width)


def key_value_table(pairs: Iterable[Sequence[Any]], style: Optional[Style] = None, width: Optional[int] = None,
                    headers: Optional[Sequence[str]] = None) -> str:
    """Two columns, keys left, values wrapped to the width (sysprop, sysenv, runtime info)."""
    pairs = [(cell(k), cell(v)) for k, v in pairs]
    if not pairs:
        return ""
    key_width = max(len(k) for k, _ in pairs + ([tuple(headers)] if headers else []))
    value_width = max(20, (width or 10 ** 6) - key_width - 2)
    lines = []
    if headers:
        head = pad(str(headers[0]), key_width) + "  " + str(headers[1])
        lines.append(style.bold(head) if style else head)
    for key, value in pairs:
        chunks = _wrap_hard(value, value_width)
        lines.append((pad(key, key_width) + "  " + chunks[0]).rstrip())
        lines.extend((" " * (key_width + 2) + chunk).rstrip() for chunk in chunks[1:])
    return "\n".join(lines)


def _wrap_hard(text: str, width: int) -> List[str]:
    """Wrap at blanks where possible, inside words where not (paths, long tokens)."""
    out: List[str] = []
    for line in text.split("\n"):
        out.extend(textwrap.wrap(line, width, break_on_hyphens=False, drop_whitespace=True) or [""])
    return out


def format_ts(value: Any) -> str:
    """Arthas's text timestamp ``yyyy-MM-dd HH:mm:ss.SSS`` (local time) from epoch milliseconds; a
    string is taken as already formatted."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value / 1000.0
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds)) + ".%03d" % int(round(value) % 1000)
    return "" if value is None else str(value)


def format_bytes(value: Any) -> str:
    """``123M``-style sizes as Arthas's dashboard shows them; negative means unknown (``-``)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return cell(value)
    if value < 0:
        return "-"
    for unit in ("", "K", "M", "G", "T"):
        if abs(value) < 1024 or unit == "T":
            return ("%d%s" % (value, unit)) if unit == "" or value >= 100 else ("%.1f%s" % (value, unit))
        value /= 1024.0
    return str(value)


def format_cost(ms: Any) -> str:
    """A cost in milliseconds as Arthas prints a Java double of nanoseconds / 1e6 (``0.071499``, ``24.0``)."""
    if isinstance(ms, (int, float)) and not isinstance(ms, bool):
        return repr(round(float(ms), 6))
    return cell(ms)
