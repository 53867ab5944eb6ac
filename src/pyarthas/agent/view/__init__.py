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
  ``| plaintext``), ``ctx.width`` is the terminal width to fit tables in (80 when unknown),
  ``ctx.value(v, expand, size_limit)`` draws an expression value as Arthas's ObjectView does.
- Return the text to print, without a trailing newline; return ``""`` (or None) to print nothing.
- Raise nothing: a view that fails falls back to the generic view (the console never shows a
  traceback), but test your view anyway (``tests/test_views*.py`` style: ``render(result, Context())``).
- Modules are imported in alphabetical order and a later registration of a type wins, so the module
  of the command that owns a type (``memory.py`` for ``memory``) overrides a generic one elsewhere.
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
from .text import Style, colour_wanted, terminal_width

View = Callable[[dict, "Context"], Optional[str]]

_VIEWS: Dict[str, View] = {}
_discovered = False
_discover_lock = threading.Lock()


def view(*types: str) -> Callable[[View], View]:
    """Decorator: ``fn`` renders results of these ``types``."""
    def register(fn: View) -> View:
        for result_type in types:
            _VIEWS[result_type] = fn
        return fn
    return register


class Context:
    """What a view may know about where its text goes."""

    def __init__(self, color: bool = False, width: Optional[int] = 80, size_limit: int = DEFAULT_SIZE_LIMIT):
        self.style = Style(color)
        self._width = width
        self.size_limit = size_limit

    @classmethod
    def for_stream(cls, stream=None, color: Optional[bool] = None) -> "Context":
        """Colours and width for ``stream`` (stdout by default): colours only on a terminal without
        ``NO_COLOR``; the width follows the terminal as it is resized (80 when not a terminal)."""
        stream = stream or sys.stdout
        wanted = colour_wanted(stream) if color is None else color
        return cls(color=wanted, width=None if _is_tty(stream) else 80)

    @property
    def width(self) -> int:
        return self._width or terminal_width()

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
                try:
                    importlib.import_module("%s.%s" % (__name__, module.name))
                except Exception:  # one broken view module must not take the console down
                    continue
        _discovered = True


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
