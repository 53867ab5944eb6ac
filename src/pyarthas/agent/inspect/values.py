"""Values read from the target (locals, class attributes, instances) as JSON, through the engine's one
value serializer (``engine.values.to_json_value``)."""
from typing import Any


def value_json(value: Any, expand: int = 1, size_limit: int = 10 * 1024 * 1024) -> Any:
    try:
        from ..engine.values import to_json_value
    except ImportError:  # the engine is optional at import time; never fail a snapshot for it
        return _fallback(value)
    try:
        return to_json_value(value, expand, size_limit)
    except Exception as exc:
        return {"@type": _type_name(value), "@error": "cannot serialize: %r" % (exc,)}


def _type_name(value: Any) -> str:
    kind = type(value)
    return "%s.%s" % (kind.__module__, kind.__qualname__)


def _fallback(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    try:
        text = repr(value)
    except Exception as exc:
        text = "<repr failed: %r>" % (exc,)
    return {"@type": _type_name(value), "repr": text[:1000]}
