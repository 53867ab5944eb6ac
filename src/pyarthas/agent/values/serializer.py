"""Python values to structured JSON, as pyarthas sends expression results (the seed dialect: Arthas 3's
fastjson form of ``watch`` values, https://arthas.aliyun.com/en/doc/http-api.html).

``to_json_value(obj, expand=1, size_limit=DEFAULT_SIZE_LIMIT, deadline=None)``:
- None, bool, int, float, str map to themselves (NaN/Infinity and ints too long for JSON become strings);
  list, tuple, set, frozenset and deque become arrays, dicts objects (keys as strings); bytes become their
  ``repr``. A container takes the depth of where it sits: the value itself and containers in it at
  depth 0, the attributes of an object expanded at depth d at d + 1; past ``expand`` (and below the top)
  a container is the summary ``{"@type": ..., "@value": "isEmpty=false;size=N"}``, as Arthas's view shows
  one. A container shows at most ``MAX_ITEMS`` items, then ``"... N more"`` (a trailing array element, or
  the value of a ``"..."`` key); a string at most ``MAX_STRING`` characters, then ``"... N more chars"``.
- Any other object becomes ``{"@type": "<module>.<qualname>", <attribute>: <value>, ...}`` (instance
  attributes, ``__slots__``, then plain class-level data attributes as Arthas prints static fields) while
  its object depth is below ``expand`` (capped at 4); deeper, and for objects without readable attributes,
  functions, classes and modules, a summary ``{"@type": ..., "@value": str(obj)}``. Enum members give
  ``name`` and ``value``.
- Exceptions: ``{"@type", "message", "localizedMessage", "stackTrace": [StackTraceElement...], "cause"?}``
  (see ``frames.py``), innermost frame first, the frames above the catch point included (as Java's).
- A cycle gives ``{"@type": ..., "@value": "<cycle>"}``; an attribute or ``str()`` that raises gives
  ``"<error: ...>"`` in its place. Past ``size_limit`` characters (about the JSON size) the remaining
  items are replaced by the ``SIZE_MARKER`` text (a trailing array element or a ``"..."`` key).
- Unless ``options mask-secrets`` is false (see ``secrets``): a mapping's value or an object's attribute
  under a name that looks like a credential is ``MASKED``; ``os.environ`` is ``FROM_ENVIRONMENT``, and the
  entries of a mapping that repeat the process environment are left out and counted under ``"..."``
  (``sysenv`` shows the environment). A mapping that is not a dict (headers...) is not summarized by its
  ``str()``, which would show its credentials unmasked.

The target's code runs only where Arthas calls ``toString()``: the ``@value`` summary and the exception
message (``str()``, through ``tostring.text_of``). Fields, slots, container items and enum members are read
without running properties, ``__getattr__``, ``__iter__`` or ``__len__`` overrides. One conversion may take
``TIME_BUDGET_S`` (or until ``deadline``, a ``time.monotonic()`` value shared by the values of one result);
past it the rest is cut with ``TIME_MARKER`` and no more ``str()`` is called. Never raises.
"""
import collections
import collections.abc
import enum
import itertools
import math
import time
import types
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from . import secrets
from .frames import traceback_elements
from .limits import (
    DEFAULT_SIZE_LIMIT,
    ENVIRONMENT_ENTRIES,
    FROM_ENVIRONMENT,
    MAPPING_SUMMARY,
    MASKED,
    MAX_EXPAND,
    MAX_ITEMS,
    MAX_STRING,
    MORE_CHARS_MARKER,
    MORE_MARKER,
    SIZE_MARKER,
    SIZE_SUMMARY,
    TIME_BUDGET_S,
    TIME_MARKER,
)
from .tostring import describe_error, text_of

MAX_NESTING = 64
SUMMARY_LENGTH = 256
MESSAGE_LENGTH = 65536
BYTES_SHOWN = 4096
_CLOCK_EVERY = 256    # spends between two reads of the clock

_HEAP_TYPE = 1 << 9   # Py_TPFLAGS_HEAPTYPE: a class defined in Python
# container base -> how to iterate and measure an instance of it (or of a subclass) without its overrides
_SEQUENCES: Dict[type, Tuple[Callable[[Any], Any], Callable[[Any], int]]] = {
    list: (list.__iter__, list.__len__), tuple: (tuple.__iter__, tuple.__len__),
    set: (set.__iter__, set.__len__), frozenset: (frozenset.__iter__, frozenset.__len__),
    collections.deque: (collections.deque.__iter__, collections.deque.__len__)}
_OPAQUE = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, types.ModuleType, type,
           types.CodeType, types.FrameType, types.TracebackType, types.GeneratorType, types.CoroutineType,
           types.AsyncGeneratorType, types.MethodWrapperType, types.WrapperDescriptorType,
           types.MethodDescriptorType, types.GetSetDescriptorType, types.MemberDescriptorType, property,
           staticmethod, classmethod)
_MRO = type.__dict__["__mro__"].__get__
_CLASS_DICT = type.__dict__["__dict__"].__get__
_TYPE_MODULE = type.__dict__["__module__"].__get__
_TYPE_QUALNAME = type.__dict__["__qualname__"].__get__
_TYPE_FLAGS = type.__dict__["__flags__"].__get__
_ERROR_CAUSE = BaseException.__dict__["__cause__"].__get__
_ERROR_CONTEXT = BaseException.__dict__["__context__"].__get__
_ERROR_SUPPRESS = BaseException.__dict__["__suppress_context__"].__get__


class _Exhausted(Exception):
    pass


def to_json_value(obj: Any, expand: int = 1, size_limit: int = DEFAULT_SIZE_LIMIT,
                  deadline: Optional[float] = None) -> Any:
    try:
        limit = size_limit if size_limit and size_limit > 0 else DEFAULT_SIZE_LIMIT
        if deadline is None:
            deadline = time.monotonic() + TIME_BUDGET_S
        return _Converter(min(max(int(expand), 0), MAX_EXPAND), limit, deadline).top(obj)
    except Exception as error:  # the serializer must never fail a result
        return "<error: %s>" % describe_error(error)


def named_value(name: str, obj: Any, expand: int = 1, size_limit: int = DEFAULT_SIZE_LIMIT) -> Any:
    """``to_json_value(obj)`` of a value shown under ``name`` (a class's field, a frame's local): masked
    when the name looks like a credential."""
    if secrets.masking() and isinstance(name, str) and secrets.looks_secret(name):
        return MASKED
    return to_json_value(obj, expand, size_limit)


def type_name(obj: Any) -> str:
    return _class_name(type(obj))


def _class_name(cls: type) -> str:
    module = _TYPE_MODULE(cls)
    return "%s.%s" % (module if isinstance(module, str) else "builtins", _TYPE_QUALNAME(cls))


class _Converter:
    def __init__(self, expand: int, size_limit: int, deadline: float):
        self.expand = expand
        self.remaining = size_limit
        self.marker = SIZE_MARKER % size_limit
        self.deadline = deadline
        self.until_clock = _CLOCK_EVERY
        self.on_path: Set[int] = set()
        self.masking = secrets.masking()
        self.environment: Optional[Dict[str, str]] = None    # taken when a mapping first needs it

    def top(self, obj: Any) -> Any:
        try:
            return self.convert(obj, 0, 0)
        except _Exhausted:
            return self.marker

    def spend(self, amount: int) -> None:
        self.remaining -= amount
        if self.remaining < 0:
            raise _Exhausted()
        self.until_clock -= 1
        if self.until_clock <= 0:
            self.until_clock = _CLOCK_EVERY
            self.check_clock()

    def check_clock(self) -> None:
        if time.monotonic() > self.deadline:
            self.marker = TIME_MARKER % (TIME_BUDGET_S * 1000)
            self.remaining = -1
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
        if self.masking and secrets.is_environment(obj):
            return self.collapsed(obj, FROM_ENVIRONMENT)
        if issubclass(cls, BaseException):
            return self.guarded(self.exception, obj, depth, nesting)
        if issubclass(cls, enum.Enum):
            return self.guarded(self.enum_member, obj, depth, nesting)
        if issubclass(cls, dict):
            return self.guarded(self.mapping, obj, depth, nesting)
        for base in _SEQUENCES:
            if issubclass(cls, base):
                return self.guarded(self.sequence, obj, depth, nesting, base)
        if issubclass(cls, str):
            return self.string(str.__str__(obj))
        if issubclass(cls, int):
            return self.integer(int.__index__(obj))
        if issubclass(cls, float):
            return self.convert(float.__float__(obj), depth, nesting)
        if issubclass(cls, (bytes, bytearray)):
            return self.string(_bytes_text(obj))
        return self.guarded(self.instance, obj, depth, nesting)

    def guarded(self, convert, obj: Any, depth: int, nesting: int, *extra: Any) -> Any:
        key = id(obj)
        if key in self.on_path:
            return self.collapsed(obj, "<cycle>")
        self.on_path.add(key)
        try:
            return convert(obj, depth, nesting, *extra)
        except _Exhausted:
            raise
        except Exception as error:
            return self.collapsed(obj, "<error: %s>" % describe_error(error))
        finally:
            self.on_path.discard(key)

    def string(self, text: str) -> str:
        if len(text) > MAX_STRING:
            text = text[:MAX_STRING] + MORE_CHARS_MARKER % (len(text) - MAX_STRING)
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

    def text(self, obj: Any, length: int = SUMMARY_LENGTH) -> str:
        """``str(obj)`` (the target's code, within the deadline), shortened."""
        self.check_clock()
        text = text_of(obj, self.deadline)
        return text[:length] + "..." if len(text) > length else text

    def collapsed(self, obj: Any, text: Optional[str] = None) -> Dict[str, Any]:
        name = type_name(obj)
        value = text if text is not None else self.text(obj)
        self.spend(len(name) + len(value) + 24)
        return {"@type": name, "@value": value}

    def sequence(self, obj: Any, depth: int, nesting: int, base: type) -> Any:
        iterate, measure = _SEQUENCES[base]
        size = measure(obj)
        if depth >= max(self.expand, 1):
            return self.collapsed(obj, SIZE_SUMMARY % ("true" if size == 0 else "false", size))
        items = obj[:MAX_ITEMS] if type(obj) in (list, tuple) else self.snapshot(iterate(obj), size)
        out: List[Any] = []
        self.spend(2)
        try:
            for item in items:
                out.append(self.convert(item, depth, nesting + 1))
                self.spend(1)
            if size > len(items):
                out.append(self.string(MORE_MARKER % (size - len(items))))
        except _Exhausted:
            out.append(self.marker)
            self.remaining = -1
        return out

    def mapping(self, obj: dict, depth: int, nesting: int) -> Dict[str, Any]:
        size = dict.__len__(obj)
        if depth >= max(self.expand, 1):
            return self.collapsed(obj, SIZE_SUMMARY % ("true" if size == 0 else "false", size))
        return self.fields(self.snapshot(dict.items(obj), size), {}, depth, nesting, size, True)

    def snapshot(self, iterator: Any, size: int) -> Any:
        """The items to convert: a copy (taken at once, so a target thread cannot change it under us) of
        the first ``MAX_ITEMS``, fewer when the size limit cannot show that many."""
        most = min(self.remaining // 2 + 1, MAX_ITEMS)
        return list(iterator) if size <= most else list(itertools.islice(iterator, most))

    def fields(self, items, out: Dict[str, Any], depth: int, nesting: int, size: int = -1,
               mapping: bool = False) -> Dict[str, Any]:
        """``out`` with ``items`` (name, value) converted; a credential's value masked, and in a mapping
        the entries that repeat the process environment; ``size`` items in all (more are counted)."""
        self.spend(2)
        shown = from_environment = 0
        masking = self.masking
        compare = masking and mapping
        looks_secret = secrets.looks_secret
        try:
            for key, value in items:
                name = key if type(key) is str else self.key_text(key)
                if compare and type(value) is str and self.environment_copy().get(name) == value:
                    from_environment += 1
                    continue
                self.spend(len(name) + 4)
                if masking and looks_secret(name):
                    out[name] = self.string(MASKED)
                else:
                    out[name] = self.convert(value, depth, nesting + 1)
                shown += 1
            markers = [ENVIRONMENT_ENTRIES % from_environment] if from_environment else []
            if size > shown + from_environment:
                markers.append(MORE_MARKER % (size - shown - from_environment))
            if markers:
                out["..."] = self.string(", ".join(markers))
        except _Exhausted:
            out["..."] = self.marker
            self.remaining = -1
        return out

    def environment_copy(self) -> Dict[str, str]:
        """The process environment, copied once per value: mapping entries that repeat it are left out."""
        environment = self.environment
        if environment is None:
            environment = self.environment = secrets.environment()
        return environment

    def mapping_text(self, obj: Any, depth: int) -> Optional[str]:
        """The summary of a mapping that is not a dict (headers, settings...) shown unexpanded: not its
        ``str()``, which would print its credentials unmasked (None: no such mapping, ``str()`` it is)."""
        if not self.masking or not isinstance(obj, collections.abc.Mapping):
            return None
        return MAPPING_SUMMARY % (depth + 2)   # the object, then the dict holding its entries

    def key_text(self, key: Any) -> str:
        if issubclass(type(key), str):
            return str.__str__(key)
        return self.text(key)

    def enum_member(self, obj: enum.Enum, depth: int, nesting: int) -> Dict[str, Any]:
        out = {"@type": type_name(obj)}
        state = _instance_dict(obj) or {}
        return self.fields([("name", state.get("_name_")), ("value", state.get("_value_"))], out,
                           depth + 1, nesting)

    def instance(self, obj: Any, depth: int, nesting: int) -> Dict[str, Any]:
        if depth >= self.expand or issubclass(type(obj), _OPAQUE):
            return self.collapsed(obj, self.mapping_text(obj, depth))
        attributes = _attributes(obj)
        if not attributes:
            return self.collapsed(obj, self.mapping_text(obj, depth))
        out = {"@type": type_name(obj)}
        self.spend(len(out["@type"]) + 12)
        return self.fields(attributes[:MAX_ITEMS], out, depth + 1, nesting, len(attributes))

    def exception(self, error: BaseException, depth: int, nesting: int) -> Dict[str, Any]:
        text = self.text(error, MESSAGE_LENGTH)
        message = text if text else None
        out: Dict[str, Any] = {"@type": type_name(error)}
        out = self.fields([("message", message), ("localizedMessage", message)], out, depth + 1, nesting)
        if "..." in out:
            return out
        out["stackTrace"] = self.convert(traceback_elements(error), 0, nesting + 1)   # frames, at any depth
        cause = _ERROR_CAUSE(error)
        if cause is None and not _ERROR_SUPPRESS(error):
            cause = _ERROR_CONTEXT(error)
        if cause is not None and depth < MAX_EXPAND + 4:
            out["cause"] = self.convert(cause, depth, nesting + 1)
        if depth < self.expand:
            extra = [(k, v) for k, v in _attributes(error) if k not in ("message", "localizedMessage")]
            if extra:
                self.fields(extra, out, depth + 1, nesting)
        return out


def _bytes_text(obj: Any) -> str:
    view = memoryview(obj)
    shown = bytes(view[:BYTES_SHOWN])
    return repr(shown) + ("..." if view.nbytes > BYTES_SHOWN else "")


def _instance_dict(obj: Any) -> Optional[dict]:
    """``obj.__dict__`` when the object has the standard one (a ``__dict__`` property is not called)."""
    for klass in _MRO(type(obj)):
        found = _CLASS_DICT(klass).get("__dict__")
        if found is not None:
            if type(found) is not types.GetSetDescriptorType:
                return None
            value = found.__get__(obj)
            return value if type(value) is dict else None
    return None


def _attributes(obj: Any):
    """(name, value) pairs: instance ``__dict__``, ``__slots__``, then class-level data attributes. Slots
    are read through their member descriptors only, so no property or ``__getattr__`` runs."""
    out = []
    seen = set()
    instance_dict = _instance_dict(obj)
    if instance_dict is not None:
        for name, value in list(dict.items(instance_dict)):
            if type(name) is str:
                out.append((name, value))
                seen.add(name)
    mro = [c for c in _MRO(type(obj)) if c is not object]
    for klass in mro:
        slots = _CLASS_DICT(klass).get("__slots__", ())
        if isinstance(slots, str):
            slots = (slots,)
        for name in slots if isinstance(slots, (tuple, list)) else ():
            if not isinstance(name, str) or name in seen or name in ("__dict__", "__weakref__"):
                continue
            member = _CLASS_DICT(klass).get(_mangled(klass, name))
            if type(member) is not types.MemberDescriptorType:
                continue
            try:
                out.append((name, member.__get__(obj)))
            except AttributeError:    # an empty slot
                continue
            seen.add(name)
    for klass in mro:
        if not _TYPE_FLAGS(klass) & _HEAP_TYPE:   # C types: their class attributes are not state
            continue
        for name, value in list(_CLASS_DICT(klass).items()):
            if name in seen or name.startswith("__") or not _is_data(value):
                continue
            out.append((name, value))
            seen.add(name)
    return out


def _mangled(klass: type, name: str) -> str:
    """A private slot ``__x`` of class ``C`` is stored as ``_C__x``."""
    if name.startswith("__") and not name.endswith("__"):
        return "_%s%s" % (type.__dict__["__name__"].__get__(klass).lstrip("_"), name)
    return name


def _is_data(value: Any) -> bool:
    if issubclass(type(value), _OPAQUE) or callable(value):
        return False
    for klass in _MRO(type(value)):
        own = _CLASS_DICT(klass)
        if "__get__" in own or "__set__" in own:
            return False
    return True
