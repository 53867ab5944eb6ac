"""The two wire dialects of the results the API sends (the global option ``wire-format``, or the agent's
``--wire-format`` flag):

- ``seed`` (the default): what Arthas's HTTP API documentation shows and scripts want: times as epoch
  milliseconds, values from the target as structured JSON (``values/serializer.py``).
- ``arthas4``: what Arthas 4 sends (fastjson2 with its ``ObjectVOFilter``): times as
  ``yyyy-MM-dd HH:mm:ss.SSS`` strings, values from the target as Arthas's display text (``@list[...]``, the
  agent's own object view; tt's parameters stay ``{"expand": 1, "object": <JSON>}``, as the filter does not
  reach array elements), and no ``expand`` key where Arthas 4 has none.

In both, null fields are left out of the models (Arthas's clients call methods on every field they get);
nulls inside a value from the target are the target's data and stay (in ``seed``).

Each result type names its paths: ``a.b`` a key of an object, ``a[]`` every element of an array.
"""
import functools
import re
from typing import Any, Callable, Dict, List, Optional, Pattern

from ..model import format_time
from ..view.objects import object_view

SEED = "seed"
ARTHAS4 = "arthas4"
DIALECTS = (SEED, ARTHAS4)

_FRAGMENT_VALUES = ("returnObj", "throwExp")
# result type -> paths holding a value from the target (Arthas's ObjectVO)
VALUE_PATHS: Dict[str, List[str]] = {
    "watch": ["value"],
    "ognl": ["value"],
    "vmtool": ["value"],
    "getstatic": ["field"],
    "sc": ["classInfo.fields[].value"],
    "tt": (["timeFragmentList[]." + name for name in _FRAGMENT_VALUES]
           + ["timeFragment." + name for name in _FRAGMENT_VALUES]
           + ["watchValue", "watchResults{}"]),
}
# paths of values Arthas 4 draws only when there is one (a replay's result or exception)
OPTIONAL_VALUE_PATHS: Dict[str, List[str]] = {"tt": ["replayResult." + name for name in _FRAGMENT_VALUES]}
# result type -> paths holding a time as epoch milliseconds (Arthas 4: a LocalDateTime)
TIME_PATHS: Dict[str, List[str]] = {
    "watch": ["ts"],
    "stack": ["ts"],
    "trace": ["root.timestamp"],
    "monitor": ["monitorDataList[].timestamp"],
    "tt": ["timeFragmentList[].timestamp", "timeFragment.timestamp", "replayResult.timestamp"],
}
# result types whose ``expand`` Arthas 4 does not send (tt's lists neither; one record shown by index has it)
NO_EXPAND = ("watch", "ognl", "vmtool", "getstatic")


def for_wire(result: Dict[str, Any], dialect: str, size_limit: int) -> Dict[str, Any]:
    """``result`` (a serialized model, not changed) as the dialect sends it. Never raises."""
    try:
        kind = result.get("type", "")
        if dialect == ARTHAS4:
            expand = result.get("expand", 1)
            result = _map_paths(result, VALUE_PATHS.get(kind, []), lambda v: object_view(v, expand, size_limit))
            result = _map_paths(result, OPTIONAL_VALUE_PATHS.get(kind, []),
                                lambda v: None if v is None else object_view(v, expand, size_limit))
            result = _map_paths(result, TIME_PATHS.get(kind, []), _time_text)
            if kind in NO_EXPAND or (kind == "tt" and "timeFragmentList" in result):
                result = {k: v for k, v in result.items() if k != "expand"}
            return _without_nulls(result, ())
        return _without_nulls(result, VALUE_PATHS.get(kind, []) + OPTIONAL_VALUE_PATHS.get(kind, []))
    except Exception:   # a result of an unexpected shape goes as it is rather than not at all
        return result


def _time_text(value: Any) -> Any:
    return format_time(value / 1000.0) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        else value


def _map_paths(value: Any, paths: List[str], change: Callable[[Any], Any]) -> Any:
    for path in paths:
        value = _map_path(value, _steps(path), change)
    return value


def _steps(path: str) -> List[str]:
    return re.findall(r"[^.\[\]{}]+|\[\]|\{\}", path)


def _map_path(value: Any, steps: List[str], change: Callable[[Any], Any]) -> Any:
    if not steps:
        return change(value)
    step, rest = steps[0], steps[1:]
    if step == "[]":
        return [_map_path(item, rest, change) for item in value] if isinstance(value, list) else value
    if step == "{}":
        return {k: _map_path(v, rest, change) for k, v in value.items()} if isinstance(value, dict) else value
    if not isinstance(value, dict) or step not in value:
        return value
    copy = dict(value)
    copy[step] = _map_path(value[step], rest, change)
    return copy


def _without_nulls(value: Any, kept_paths, prefix: str = "") -> Any:
    """``value`` with null object fields left out, except inside the values at ``kept_paths``."""
    if prefix and _is_value(prefix, kept_paths):
        return value
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            path = (prefix + "." if prefix else "") + str(key)
            if item is not None or _is_value(path, kept_paths):
                out[key] = _without_nulls(item, kept_paths, path)
        return out
    if isinstance(value, list):
        return [_without_nulls(v, kept_paths, prefix + "[]") for v in value]
    return value


def _is_value(prefix: str, kept_paths) -> bool:
    return any(_path_pattern(path).fullmatch(prefix) for path in kept_paths)


@functools.lru_cache(maxsize=None)
def _path_pattern(path: str) -> Pattern[str]:
    """A path as a regular expression over the prefixes ``_without_nulls`` builds (``{}``: any key)."""
    return re.compile("".join(r"\.[^.]+" if step == "{}" else re.escape(step) if step == "[]"
                              else (r"\." if i else "") + re.escape(step)
                              for i, step in enumerate(_steps(path))))


def dialect_of(agent) -> str:
    dialect: Optional[str] = agent.options.get("wire-format")
    return dialect if dialect in DIALECTS else SEED
