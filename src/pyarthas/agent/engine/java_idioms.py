"""The Java that users paste from Arthas's docs, given its Python meaning inside expressions.

``method.name``, ``method.getName()``, ``target.getClass().getName()``, ``params.length``,
``returnObj.size()``, ``throwExp.getMessage()``, ``"x".equals(method.name)``: the expression compiler
(``express.py``) rewrites the reads of these attribute names and the calls of these method names into
``java_attr``/``java_call``, which use the object's own attribute when it has one (a Python ``name``
attribute, ``dict.get``) and the Java meaning otherwise. ``@java.lang.System@currentTimeMillis()`` and
the other static calls of the docs reach ``JAVA``, a small stand-in for the ``java`` package.
"""
import math
import os
import random
import threading
import time
import types
from typing import Any, Callable, Dict, Optional


def _name(obj: Any) -> str:
    """Java's ``getName()``: a class's qualified name, a function's or module's name."""
    if isinstance(obj, type):
        module = getattr(obj, "__module__", None)
        return obj.__qualname__ if module in (None, "builtins") else "%s.%s" % (module, obj.__qualname__)
    if isinstance(obj, threading.Thread):
        return obj.name
    name = getattr(obj, "__name__", None)
    if isinstance(name, str):
        return name
    raise AttributeError("%s has no name" % type(obj).__name__)


def _simple_name(obj: Any) -> str:
    return _name(obj).rsplit(".", 1)[-1]


def _message(error: Any) -> Any:
    if isinstance(error, BaseException):
        return str(error)
    raise AttributeError("'%s' object has no attribute 'message'" % type(error).__name__)


def _cause(error: Any) -> Any:
    return getattr(error, "__cause__", None) or getattr(error, "__context__", None)


# Attribute reads with a Java meaning (Java fields and JavaBean properties of the docs' examples).
PROPERTIES: Dict[str, Callable[[Any], Any]] = {
    "name": _name,
    "length": len,
    "simpleName": _simple_name,
    "message": _message,
}

# Method calls with a Java meaning: the object first, then the call's arguments.
METHODS: Dict[str, Callable[..., Any]] = {
    "getName": _name,
    "getSimpleName": _simple_name,
    "getClass": type,
    "size": len,
    "length": len,
    "isEmpty": lambda obj: len(obj) == 0,
    "toString": str,
    "hashCode": hash,
    "equals": lambda obj, other: obj == other,
    "get": lambda obj, key: obj[key],
    "contains": lambda obj, item: item in obj,
    "containsKey": lambda obj, key: key in obj,
    "keySet": lambda obj: set(obj.keys()),
    "getMessage": _message,
    "getCause": _cause,
    "intValue": int,
    "longValue": int,
    "doubleValue": float,
    "startsWith": lambda obj, prefix: obj.startswith(prefix),
    "endsWith": lambda obj, suffix: obj.endswith(suffix),
    "substring": lambda obj, start, end=None: obj[start:end],
    "indexOf": lambda obj, item: obj.find(item) if isinstance(obj, str) else (obj.index(item) if item in obj else -1),
    "trim": lambda obj: obj.strip(),
    "toUpperCase": lambda obj: obj.upper(),
    "toLowerCase": lambda obj: obj.lower(),
    "charAt": lambda obj, index: obj[index],
}

# Methods whose Python namesake is deprecated (``Thread.getName``): the Java meaning is used at once.
_JAVA_FIRST = {(threading.Thread, "getName")}


# Types whose instances have only their type's attributes (a function: also its own ``__dict__``): whether
# they have a name is known once per type, without raising AttributeError on every call of a hot condition.
_CLOSED_TYPES = frozenset((list, tuple, dict, str, set, frozenset, bytes, int, float, bool, type(None),
                           types.FunctionType))
_TYPE_HAS: Dict[tuple, bool] = {}


def _has_own(obj: Any, name: str) -> Optional[bool]:
    """Whether ``obj`` has an attribute ``name``, when that is cheap to know; None when it is not."""
    kind = type(obj)
    if kind not in _CLOSED_TYPES:
        return None
    if kind is types.FunctionType and name in obj.__dict__:
        return True
    known = _TYPE_HAS.get((kind, name))
    if known is None:
        known = _TYPE_HAS[(kind, name)] = hasattr(kind, name)
    return known


def java_attr(obj: Any, name: str) -> Any:
    """``obj.name`` where ``name`` has a Java meaning: the object's own attribute, else that meaning."""
    if _has_own(obj, name) is False:
        return PROPERTIES[name](obj)
    try:
        return getattr(obj, name)
    except AttributeError:
        meaning = PROPERTIES.get(name)
        if meaning is None:
            raise
    return meaning(obj)


def java_call(obj: Any, name: str, *args: Any) -> Any:
    """``obj.name(*args)`` where ``name`` has a Java meaning: the object's own method, else that meaning."""
    if _has_own(obj, name) is False or any(isinstance(obj, cls) and name == method for cls, method in _JAVA_FIRST):
        own = None
    else:
        own = getattr(obj, name, None)
    if own is not None:
        return own(*args)
    meaning = METHODS.get(name)
    if meaning is None:
        raise AttributeError("'%s' object has no attribute '%s'" % (type(obj).__name__, name))
    return meaning(obj, *args)


def _namespace(name: str, **members: Any) -> types.SimpleNamespace:
    space = types.SimpleNamespace(**members)
    space.__name__ = name
    return space


# ``@java.lang.System@currentTimeMillis()`` and friends: what the docs call, with its Python meaning.
JAVA = _namespace("java", lang=_namespace(
    "java.lang",
    System=_namespace("java.lang.System",
                      currentTimeMillis=lambda: int(time.time() * 1000),
                      nanoTime=time.perf_counter_ns,
                      getenv=lambda name=None: dict(os.environ) if name is None else os.environ.get(name),
                      identityHashCode=id,
                      lineSeparator=lambda: os.linesep),
    Thread=_namespace("java.lang.Thread", currentThread=threading.current_thread),
    Math=_namespace("java.lang.Math", max=max, min=min, abs=abs, random=random.random, sqrt=math.sqrt,
                    pow=math.pow, floor=math.floor, ceil=math.ceil, round=round),
    String=_namespace("java.lang.String", valueOf=str),
    Integer=_namespace("java.lang.Integer", parseInt=int, valueOf=int),
    Long=_namespace("java.lang.Long", parseLong=int, valueOf=int),
    Double=_namespace("java.lang.Double", parseDouble=float, valueOf=float),
), util=_namespace("java.util", Arrays=_namespace("java.util.Arrays", toString=lambda a: str(list(a)),
                                                    asList=lambda *a: list(a))))
