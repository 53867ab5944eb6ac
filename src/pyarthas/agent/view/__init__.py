"""Text views: one function per result ``type`` turns a result's JSON into the text Arthas prints.

The contract (for everyone adding a view)
----------------------------------------
Put a module in this package (e.g. ``views/trace.py``); every module here is imported automatically the
first time anything is rendered, so nothing else needs registering::

    from . import view
    from .text import table, format_ts          # aligned tables, timestamps, sizes, colours
    from .objects import object_view            # Arthas's @list[...] / @MathGame[...] text for a value

    @view("trace")                              # one or more result types
    def render_trace(result: dict, ctx) -> str:
        return "..."

- ``result`` is the JSON object exactly as pulled from the API (``type``, ``jobId`` and the model's
  fields; fields that were None are absent, so use ``result.get``).
- ``ctx`` is a ``Context``: ``ctx.style`` paints text (``ctx.style.red(s)``, ``.green``, ``.yellow``,
  ``.cyan``, ``.magenta``, ``.bold``, ``.dim``; a no-op when colours are off: pipes, ``NO_COLOR``,
  ``| plaintext``), ``ctx.width`` is the width to fit tables in (80 unless told: the console gives its
  terminal's, ``$COLUMNS``, or no limit),
  ``ctx.terminal`` says the text goes straight to an ANSI terminal (a view may then move the cursor: the
  dashboard redraws in place),
  ``ctx.value(v, expand, size_limit)`` draws an expression value as Arthas's ObjectView does.
- Return the text to print, without a trailing newline; return ``""`` (or None) to print nothing.
- Raise nothing: a view that fails falls back to the generic view (the console never shows a
  traceback), but test your view anyway (``tests/test_views*.py`` style: ``render(result, Context())``).
- One view per type: registering a second view for a type raises ``ViewConflict`` (the module that
  tried is reported as broken, see below). Every result type the agent's models declare has a view
  (``tests/test_views.py`` checks it).
- A module that fails to import is reported once on stderr and listed by ``import_errors()``; its
  types then fall back to the generic view.
- Helpers: ``text.table(rows, headers, style=ctx.style, width=ctx.width)`` aligns columns and cuts the
  widest to fit; ``text.key_value_table(pairs, ...)``; ``text.format_ts(epoch_ms)`` gives
  ``yyyy-MM-dd HH:mm:ss.SSS``; ``text.format_bytes``; ``text.format_cost``; ``objects.exception_text``
  and ``objects.frame_text`` for stack traces (``className.methodName(fileName:lineNumber)``).
- Types without a view are drawn by the generic fallback (``generic.render_generic``): scalar fields as
  ``name: value`` lines, lists of objects as tables, nested values indented.

``render(result, ctx)`` is what the console calls; ``registered()`` lists the types that have a view.
"""
import importlib
import pkgutil
import sys
import threading
from typing import Any, Callable, Dict, Optional

from .objects import DEFAULT_SIZE_LIMIT, object_view
from .text import Style, colour_wanted, output_width, terminal_width

View = Callable[[dict, "Context"], Optional[str]]

_VIEWS: Dict[str, View] = {}
_IMPORT_ERRORS: Dict[str, str] = {}
_discovered = False
_discover_lock = threading.Lock()


class ViewConflict(Exception):
    """Two views registered for one result type."""


def view(*types: str) -> Callable[[View], View]:
    """Decorator: ``fn`` renders results of these ``types`` (each type has exactly one view)."""
    def register(fn: View) -> View:
        for result_type in types:
            existing = _VIEWS.get(result_type)
            if existing is not None and existing is not fn:
                raise ViewConflict("two views for result type %r: %s.%s and %s.%s" % (
                    result_type, existing.__module__, existing.__name__, fn.__module__, fn.__name__))
        for result_type in types:
            _VIEWS[result_type] = fn
        return fn
    return register


class Context:
    """What a view may know about where its text goes."""

    def __init__(self, color: bool = False, width: Optional[int] = 80, size_limit: int = DEFAULT_SIZE_LIMIT,
                 terminal: bool = False):
        self.style = Style(color)
        self._width = width
        self.size_limit = size_limit
        self.terminal = terminal
        self.base_url: Optional[str] = None  # set by MCP: the profiler's view prints full URLs with it

    @classmethod
    def for_stream(cls, stream=None, color: Optional[bool] = None) -> "Context":
        """Colours and width for ``stream`` (stdout by default): colours only on a terminal without
        ``NO_COLOR``; the width follows the terminal as it is resized, or, when ``stream`` is not a terminal
        (piped, batch), ``$COLUMNS``, else the user's terminal, else no limit (``text.output_width``)."""
        stream = stream or sys.stdout
        wanted = colour_wanted(stream) if color is None else color
        tty = _is_tty(stream)
        return cls(color=wanted, width=None if tty else output_width(stream), terminal=tty)

    @property
    def width(self) -> int:
        return self._width or terminal_width()

    @width.setter
    def width(self, columns: int) -> None:
        """A remote terminal's width (the agent's shell follows the client's resizes)."""
        self._width = columns

    @property
    def color(self) -> bool:
        return self.style.enabled

    def value(self, value: Any, expand: Any = 1, size_limit: Any = None) -> str:
        return object_view(value, 1 if expand is None else expand, size_limit or self.size_limit)


def _is_tty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, OSError, ValueError):
        return False


def discover() -> None:
    """Import every module of this package once, so their ``@view`` registrations run."""
    global _discovered
    if _discovered:
        return
    with _discover_lock:
        if _discovered:
            return
        for module in pkgutil.iter_modules(__path__):
            if not module.name.startswith("_"):
                name = "%s.%s" % (__name__, module.name)
                try:
                    importlib.import_module(name)
                except Exception as error:  # one broken module must not take the others down: say so
                    _IMPORT_ERRORS[name] = "%s: %s" % (type(error).__name__, error)
                    sys.stderr.write("pyarthas: view module %s failed to import (its types fall back to the "
                                     "generic view): %s\n" % (name, _IMPORT_ERRORS[name]))
        _discovered = True


def import_errors() -> Dict[str, str]:
    """``{module: error}`` for the view modules that failed to import."""
    discover()
    return dict(_IMPORT_ERRORS)


def registered() -> Dict[str, View]:
    discover()
    return dict(_VIEWS)


def render(result: dict, ctx: Optional[Context] = None) -> str:
    """The text of one result (``""`` when nothing is to be printed)."""
    discover()
    ctx = ctx or Context()
    from .generic import render_generic
    fn = _VIEWS.get(result.get("type", "")) if isinstance(result, dict) else None
    try:
        text = fn(result, ctx) if fn else render_generic(result, ctx)
    except Exception:
        text = render_generic(result, ctx)
    return text or ""
