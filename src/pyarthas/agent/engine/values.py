"""Python values to structured JSON, as pyarthas sends expression results (``pyarthas.md``, "Result values").

``to_json_value(obj, expand=1, size_limit=10485760)``:
- None, bool, int, float, str map to themselves (NaN/Infinity and ints too long for JSON become strings);
  list, tuple, set, frozenset and deque become arrays, dicts objects (keys as strings); bytes become their
  ``repr``. Containers do not use up depth.
- Any other object becomes ``{"@type": "<module>.<qualname>", <attribute>: <value>, ...}`` (instance
  attributes, ``__slots__``, then plain class-level data attributes as Arthas prints static fields) while
  its object depth is below ``expand`` (capped at 4); deeper, and for objects without readable attributes,
  functions, classes and modules, a summary ``{"@type": ..., "@value": str(obj)}``. Enum members give
  ``name`` and ``value``.
- Exceptions: ``{"@type", "message", "localizedMessage", "stackTrace": [{"className", "methodName",
  "fileName", "lineNumber", "nativeMethod": false}, ...], "cause"?}``, innermost frame first, the engine's
  wrapper frames left out, the frames above the catch point included (as Java's full stack).
- A cycle gives ``{"@type": ..., "@value": "<cycle>"}``; an attribute or ``str()`` that raises gives
  ``"<error: ...>"`` in its place. Past ``size_limit`` characters (about the JSON size) the remaining
  items are replaced by ``SIZE_MARKER`` text (a trailing array element or a ``"..."`` key).
Never raises.
"""
import collections
import enum
import itertools
import math
import os
import types
from typing import Any, Dict, List, Optional

DEFAULT_SIZE_LIMIT = 10 * 1024 * 1024
MAX_EXPAND = 4
MAX_NESTING = 64
MAX_STACK_FRAMES = 256
SUMMARY_LENGTH = 256
SIZE_MARKER = ("... Object size exceeds size limit: %d, try to use `options object-size-limit <bytes>` "
               "to increase the limit.")

_HEAP_TYPE = 1 << 9   # Py_TPFLAGS_HEAPTYPE: a class defined in Python
_SEQUENCES = (list, tuple, set, frozenset, collections.deque)
_OPAQUE = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, types.ModuleType, type,
           types.CodeType, types.FrameType, types.TracebackType, types.GeneratorType, types.CoroutineType,
           types.AsyncGeneratorType, types.MethodWrapperType, types.WrapperDescriptorType,
           types.MethodDescriptorType, types.GetSetDescriptorType, types.MemberDescriptorType, property,
           staticmethod, classmethod)


class _Exhausted(Exception):
    pass


def to_json_value(obj: Any, expand: int = 1, size_limit: int = DEFAULT_SIZE_LIMIT) -> Any:
    try:
        limit = size_limit if size_limit and size_limit > 0 else DEFAULT_SIZE_LIMIT
        return _Converter(min(max(int(expand), 0), MAX_EXPAND), limit).top(obj)
    except Exception as error:  # the serializer must never fail a result
        return "<error: %s>" % _describe_error(error)


def type_name(obj: Any) -> str:
    cls = type(obj)
    module = getattr(cls, "__module__", None) or "builtins"
    return "%s.%s" % (module, getattr(cls, "__qualname__", cls.__name__))


def summary(obj: Any, length: int = SUMMARY_LENGTH) -> str:
    """``str(obj)``, shortened; never raises."""
    try:
        text = str(obj)
    except Exception as error:
        try:
            text = object.__repr__(obj)
        except Exception:
            text = "<error: %s>" % _describe_error(error)
    if len(text) > length:
        text = text[:length] + "..."
    return text


def _describe_error(error: BaseException) -> str:
    try:
        return "%s: %s" % (type(error).__name__, error)
    except Exception:
        return type(error).__name__


class _Converter:
    def __init__(self, expand: int, size_limit: int):
        self.expand = expand
        self.size_limit = size_limit
        self.remaining = size_limit
        self.marker = SIZE_MARKER % size_limit
        self.on_path = set()

    def top(self, obj: Any) -> Any:
        try:
            return self.convert(obj, 0, 0)
        except _Exhausted:
            return self.marker

    def spend(self, amount: int) -> None:
        self.remaining -= amount
        if self.remaining < 0:
            raise _Exhausted()

    def convert(self, obj: Any, depth: int, nesting: int) -> Any:
        if obj is None or obj is True or obj is False:
            self.spend(5)
            return obj
        cls = type(obj)
        if cls is str:
            return self.string(obj)
        if cls is int:
            return self.integer(obj)
        if cls is float:
            self.spend(12)
            return obj if math.isfinite(obj) else repr(obj)
        if nesting > MAX_NESTING:
            return self.collapsed(obj, "<too deep>")
        if isinstance(obj, BaseException):
            return self.guarded(self.exception, obj, depth, nesting)
        if isinstance(obj, enum.Enum):
            return self.guarded(self.enum_member, obj, depth, nesting)
        if isinstance(obj, dict):
            return self.guarded(self.mapping, obj, depth, nesting)
        if isinstance(obj, _SEQUENCES):
            return self.guarded(self.sequence, obj, depth, nesting)
        if isinstance(obj, str):
            return self.string(str.__str__(obj))
        if isinstance(obj, int):
            return self.integer(int(obj))
        if isinstance(obj, float):
            return self.convert(float(obj), depth, nesting)
        if isinstance(obj, (bytes, bytearray)):
            return self.string(repr(obj[:4096]) + ("..." if len(obj) > 4096 else ""))
        return self.guarded(self.instance, obj, depth, nesting)

    def guarded(self, convert, obj: Any, depth: int, nesting: int) -> Any:
        key = id(obj)
        if key in self.on_path:
            return self.collapsed(obj, "<cycle>")
        self.on_path.add(key)
        try:
            return convert(obj, depth, nesting)
        except _Exhausted:
            raise
        except Exception as error:
            return self.collapsed(obj, "<error: %s>" % _describe_error(error))
        finally:
            self.on_path.discard(key)

    def string(self, text: str) -> str:
        if len(text) + 2 > self.remaining:
            cut = max(self.remaining - 2, 0)
            self.remaining = -1
            return text[:cut] + self.marker
        self.spend(len(text) + 2)
        return text

    def integer(self, value: int) -> Any:
        if value.bit_length() > 60:
            if value.bit_length() > 4 * 3300:   # past Python's default int-to-str digit limit
                return self.string("<int of %d bits>" % value.bit_length())
            return self.string(str(value)) if value.bit_length() > 1000 else self._spent(value, 24)
        return self._spent(value, 8)

    def _spent(self, value: Any, amount: int) -> Any:
        self.spend(amount)
        return value

    def collapsed(self, obj: Any, text: Optional[str] = None) -> Dict[str, Any]:
        name = type_name(obj)
        value = text if text is not None else summary(obj)
        self.spend(len(name) + len(value) + 24)
        return {"@type": name, "@value": value}

    def sequence(self, obj: Any, depth: int, nesting: int) -> List[Any]:
        items = obj if type(obj) in (list, tuple) else self.snapshot(obj)   # lists iterate safely
        out: List[Any] = []
        self.spend(2)
        try:
            for item in items:
                out.append(self.convert(item, depth, nesting + 1))
                self.spend(1)
        except _Exhausted:
            out.append(self.marker)
            self.remaining = -1
        return out

    def mapping(self, obj: dict, depth: int, nesting: int) -> Dict[str, Any]:
        return self.fields(self.snapshot(dict.items(obj)), {}, depth, nesting)

    def snapshot(self, iterable: Any) -> Any:
        """The items to convert: a copy (taken at once, so a target thread cannot change it under us)
        unless the container holds more items than the size limit can show, then just those."""
        most = self.remaining // 2 + 1
        try:
            small = len(iterable) <= most
        except TypeError:
            small = False
        return list(iterable) if small else list(itertools.islice(iterable, most))

    def fields(self, items, out: Dict[str, Any], depth: int, nesting: int) -> Dict[str, Any]:
        self.spend(2)
        try:
            for key, value in items:
                name = key if isinstance(key, str) else summary(key)
                self.spend(len(name) + 4)
                out[name] = self.convert(value, depth, nesting + 1)
        except _Exhausted:
            out["..."] = self.marker
            self.remaining = -1
        return out

    def enum_member(self, obj: enum.Enum, depth: int, nesting: int) -> Dict[str, Any]:
        out = {"@type": type_name(obj)}
        return self.fields([("name", obj.name), ("value", obj.value)], out, depth + 1, nesting)

    def instance(self, obj: Any, depth: int, nesting: int) -> Dict[str, Any]:
        if depth >= self.expand or isinstance(obj, _OPAQUE):
            return self.collapsed(obj)
        attributes = _attributes(obj)
        if not attributes:
            return self.collapsed(obj)
        out = {"@type": type_name(obj)}
        self.spend(len(out["@type"]) + 12)
        return self.fields(attributes, out, depth + 1, nesting)

    def exception(self, error: BaseException, depth: int, nesting: int) -> Dict[str, Any]:
        message = _message(error)
        out: Dict[str, Any] = {"@type": type_name(error)}
        items = [("message", message), ("localizedMessage", message)]
        out = self.fields(items, out, depth + 1, nesting)
        if "..." in out:
            return out
        out["stackTrace"] = self.convert(stack_trace(error), depth, nesting + 1)
        cause = error.__cause__
        if cause is None and not error.__suppress_context__:
            cause = error.__context__
        if cause is not None and depth < MAX_EXPAND + 4:
            out["cause"] = self.convert(cause, depth, nesting + 1)
        if depth < self.expand:
            extra = [(k, v) for k, v in _attributes(error) if k not in ("message", "localizedMessage")]
            if extra:
                self.fields(extra, out, depth + 1, nesting)
        return out


def _message(error: BaseException) -> Optional[str]:
    text = summary(error, 65536)
    return text if text else None


def _attributes(obj: Any):
    """(name, value) pairs: instance ``__dict__``, ``__slots__``, then class-level data attributes."""
    out = []
    seen = set()
    instance_dict = getattr(obj, "__dict__", None)
    if isinstance(instance_dict, dict):
        for name, value in list(instance_dict.items()):
            if isinstance(name, str):
                out.append((name, value))
                seen.add(name)
    cls = type(obj)
    mro = [c for c in getattr(cls, "__mro__", (cls,)) if c is not object]
    for klass in mro:
        slots = vars(klass).get("__slots__", ())
        if isinstance(slots, str):
            slots = (slots,)
        for name in slots:
            if name in seen or name in ("__dict__", "__weakref__"):
                continue
            try:
                out.append((name, getattr(obj, name)))
            except AttributeError:
                continue
            except Exception as error:
                out.append((name, "<error: %s>" % _describe_error(error)))
            seen.add(name)
    for klass in mro:
        if not klass.__flags__ & _HEAP_TYPE:   # C types: their class attributes are not state
            continue
        for name, value in list(vars(klass).items()):
            if name in seen or name.startswith("__") or not _is_data(value):
                continue
            out.append((name, value))
            seen.add(name)
    return out


def _is_data(value: Any) -> bool:
    if isinstance(value, _OPAQUE) or callable(value):
        return False
    cls = type(value)
    return not (hasattr(cls, "__get__") or hasattr(cls, "__set__"))


def stack_trace(error: BaseException) -> List[Dict[str, Any]]:
    """Java-style frames of ``error``, innermost first: its traceback, then the frames above the outermost
    traceback entry (the callers at the time it was caught)."""
    from . import is_engine_frame
    entries = []
    tb = error.__traceback__
    outermost = None
    while tb is not None and len(entries) < MAX_STACK_FRAMES:
        if outermost is None:
            outermost = tb.tb_frame
        entries.append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    entries.reverse()
    frame = outermost.f_back if outermost is not None else None
    while frame is not None and len(entries) < MAX_STACK_FRAMES:
        entries.append((frame, frame.f_lineno))
        frame = frame.f_back
    return [frame_element(frame, line) for frame, line in entries if not is_engine_frame(frame)]


def frame_element(frame: types.FrameType, line: Optional[int] = None) -> Dict[str, Any]:
    """A Java StackTraceElement for a Python frame: className is the module, plus the class for methods."""
    code = frame.f_code
    return {"className": frame_class_name(frame), "methodName": code.co_name,
            "fileName": os.path.basename(code.co_filename), "lineNumber": line if line is not None else
            (frame.f_lineno or -1), "nativeMethod": False}


def frame_class_name(frame: types.FrameType) -> str:
    code = frame.f_code
    module = frame.f_globals.get("__name__", "?") if isinstance(frame.f_globals, dict) else "?"
    qualname = getattr(code, "co_qualname", None)
    if qualname is None:
        owner = _owner_class_name(frame)
        return "%s.%s" % (module, owner) if owner else module
    parts = qualname.split(".")[:-1]
    parts = [p for p in parts if p != "<locals>"]
    return ".".join([module] + parts) if parts else module


def _owner_class_name(frame: types.FrameType) -> Optional[str]:
    """Before 3.11 code objects have no qualname: guess from ``self``/``cls`` (first argument)."""
    code = frame.f_code
    if code.co_argcount == 0:
        return None
    first = code.co_varnames[0]
    if first not in ("self", "cls"):
        return None
    try:
        value = frame.f_locals.get(first)
    except Exception:
        return None
    cls = value if isinstance(value, type) else type(value)
    for klass in getattr(cls, "__mro__", ()):
        if code.co_name in vars(klass):
            return klass.__qualname__
    return cls.__qualname__
