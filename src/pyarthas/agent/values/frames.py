"""Python frames as Java's ``StackTraceElement`` (the form Arthas sends in ``stack``, ``thread`` and exception
values, see ``java.lang.StackTraceElement``): ``{"className", "methodName", "fileName", "lineNumber",
"nativeMethod": false}``.

- ``className`` is the module, plus the classes the function is defined in (``demo.MathGame``); a nested
  function counts its enclosing function as a class, as Java names inner classes after their outer one.
- ``fileName`` is the file's base name (``demo.py``), as Java's is the source file name.
- ``lineNumber`` is -1 when unknown, as Java's.

Frames a hidden-frame test accepts (the enhancement engine registers its wrapper and hook frames) are left
out of every walk: ``stack``, ``thread`` and exception values show the target's frames only.
"""
import collections
import os
import types
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

MAX_STACK_FRAMES = 256
_CACHE_SIZE = 1024

_hidden_tests: List[Callable[[types.FrameType], bool]] = []
_owner_cache: "collections.OrderedDict[types.CodeType, Optional[str]]" = collections.OrderedDict()


def hide_frames_where(test: Callable[[types.FrameType], bool]) -> None:
    """Leave the frames ``test`` accepts out of every stack from now on."""
    if test not in _hidden_tests:
        _hidden_tests.append(test)


def is_hidden(frame: types.FrameType) -> bool:
    for test in _hidden_tests:
        try:
            if test(frame):
                return True
        except Exception:
            continue
    return False


def frame_element(frame: types.FrameType, line: Optional[int] = None) -> Dict[str, Any]:
    """The StackTraceElement of ``frame``, at ``line`` (a traceback's line) or where the frame stands."""
    code = frame.f_code
    if line is None:
        line = frame.f_lineno
    return {"className": class_name(frame), "methodName": code.co_name,
            "fileName": os.path.basename(code.co_filename), "lineNumber": line if line else -1,
            "nativeMethod": False}


def outward(frame: Optional[types.FrameType], limit: int = MAX_STACK_FRAMES) -> Iterator[types.FrameType]:
    """``frame`` and its callers, innermost first, without hidden frames; at most ``limit`` (all when 0)."""
    count = 0
    while frame is not None and (limit <= 0 or count < limit):
        if not is_hidden(frame):
            yield frame
            count += 1
        frame = frame.f_back


def traceback_elements(error: BaseException) -> List[Dict[str, Any]]:
    """Java-style frames of ``error``, innermost first: its traceback, then the frames above the outermost
    traceback entry (the callers at the time it was caught), as Java's stack trace holds the whole stack."""
    entries: List[Tuple[types.FrameType, int]] = []
    tb = BaseException.__dict__["__traceback__"].__get__(error)  # the slot, whatever the class overrides
    outermost = tb.tb_frame if tb is not None else None
    while tb is not None and len(entries) < MAX_STACK_FRAMES:
        entries.append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    entries.reverse()
    if outermost is not None:
        entries.extend((frame, frame.f_lineno) for frame in outward(outermost.f_back,
                                                                     MAX_STACK_FRAMES - len(entries)))
    return [frame_element(frame, line) for frame, line in entries if not is_hidden(frame)]


def class_name(frame: types.FrameType) -> str:
    """The module, plus the class (or enclosing function) the frame's function is defined in."""
    code = frame.f_code
    module_globals = frame.f_globals
    module = module_globals.get("__name__") if isinstance(module_globals, dict) else None
    module = module if isinstance(module, str) and module else "?"
    qualname = getattr(code, "co_qualname", None)   # 3.11+
    owner: Optional[str]
    if qualname is not None:
        owner = ".".join(part for part in qualname.split(".")[:-1] if part != "<locals>")
    else:
        owner = _owner_before_311(frame)
    return module + "." + owner if owner else module


def _owner_before_311(frame: types.FrameType) -> Optional[str]:
    """Code objects carry no qualname before 3.11: the module-level class whose attribute runs this code
    (cached per code object), else the class of ``self``/``cls`` that defines it."""
    code = frame.f_code
    if code in _owner_cache:
        return _owner_cache[code]
    owner = _module_class_defining(code, frame.f_globals)
    if owner is None and code.co_argcount and code.co_varnames[0] in ("self", "cls"):
        return _receiver_class_defining(frame, code)   # depends on the call: not cached
    _owner_cache[code] = owner
    if len(_owner_cache) > _CACHE_SIZE:
        _owner_cache.popitem(last=False)
    return owner


def _module_class_defining(code: types.CodeType, module_globals: Any) -> Optional[str]:
    if not isinstance(module_globals, dict):
        return None
    for value in list(module_globals.values()):
        if isinstance(value, type) and _defines(value, code):
            return value.__qualname__
    return None


def _receiver_class_defining(frame: types.FrameType, code: types.CodeType) -> Optional[str]:
    try:
        receiver = frame.f_locals.get(code.co_varnames[0])
    except Exception:
        return None
    cls = receiver if isinstance(receiver, type) else type(receiver)
    for klass in type.__dict__["__mro__"].__get__(cls):
        if _defines(klass, code):
            return klass.__qualname__
    return cls.__qualname__


def _defines(klass: type, code: types.CodeType) -> bool:
    member = type.__dict__["__dict__"].__get__(klass).get(code.co_name)
    member = getattr(member, "__func__", member)     # staticmethod, classmethod
    member = getattr(member, "fget", member)         # property
    return getattr(member, "__code__", None) is code
