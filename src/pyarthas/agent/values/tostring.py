"""``str(obj)`` of a target object within a deadline: the one place the serializer runs the target's code.

Arthas calls an object's ``toString()`` where it shows an object it does not expand; pyarthas calls
``str()`` there and nowhere else (fields are read without running properties or ``__getattr__``). A
``__str__``/``__repr__`` written in Python may loop, sleep or query a database, so it runs on a worker thread
and the caller waits only until the deadline of the result it serializes:

- Types whose text cannot run Python code (``object``'s default, numbers, dates...) are converted inline.
- A call that outlives the deadline is abandoned: its text becomes the default ``<module.Class object at
  0x...>`` plus a marker, an exception is raised in the worker to stop a looping ``__str__`` (a sleeping one
  ends when its sleep does), and its type is remembered so its objects are not tried again while the
  agent runs.
- While an abandoned call still runs, no other is started: at most one worker is ever stuck.
The worker is an agent thread (hooks do not observe it); it exits after a few idle seconds.
"""
import datetime
import queue
import threading
import time
import types
from typing import Any, Dict, Optional

from ..util.lifetime import at_agent_stop
from ..util.threads import spawn

IDLE_EXIT_S = 5.0
STUCK_GRACE_S = 0.1   # how long a caller waits for an interrupted call to unwind
MAX_SLOW_TYPES = 256
SLOW_MARKER = " ... str() did not finish within the serialization time budget"
SKIPPED_MARKER = " ... str() not called: the serialization time budget is spent"
BUSY_MARKER = " ... str() not called: an earlier str() of the target is still running"

# Exact types whose str() cannot call back into the target's objects (not bound methods: their repr
# shows their receiver's).
_PLAIN_TYPES = frozenset((int, float, complex, bool, str, bytes, bytearray, type(None), range,
                          datetime.date, datetime.datetime, datetime.time, datetime.timedelta,
                          datetime.timezone, types.FunctionType,
                          types.BuiltinFunctionType, types.ModuleType, types.CodeType,
                          types.FrameType, types.TracebackType, types.GeneratorType, types.CoroutineType,
                          types.AsyncGeneratorType, types.MethodWrapperType, types.WrapperDescriptorType,
                          types.MethodDescriptorType, types.GetSetDescriptorType, types.MemberDescriptorType,
                          type))
_SCALARS = (int, float, complex, bool, str, bytes, type(None))
_slow_types: Dict[type, None] = {}
at_agent_stop(_slow_types.clear)   # a new agent tries every type again


def default_text(obj: Any) -> str:
    """``object.__repr__``: names the type and the address, runs no code of the target."""
    return object.__repr__(obj)


def text_of(obj: Any, deadline: float) -> str:
    """``str(obj)``, or the default text plus a marker when it cannot be had by ``deadline``
    (``time.monotonic()``); when ``str()`` raises, the default text."""
    cls = type(obj)
    if _runs_no_target_code(obj, cls):
        return _str_inline(obj)
    if cls in _slow_types:
        return default_text(obj) + SLOW_MARKER
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return default_text(obj) + SKIPPED_MARKER
    return _WORKER.call(obj, remaining)


def describe_error(error: BaseException) -> str:
    """``Type: message`` of an exception raised by the target's code, without calling its ``__str__``."""
    args = BaseException.__dict__["args"].__get__(error)
    message = args[0] if len(args) == 1 and type(args[0]) is str else ""
    return "%s: %s" % (type(error).__name__, message) if message else type(error).__name__


def _runs_no_target_code(obj: Any, cls: type) -> bool:
    if cls in _PLAIN_TYPES:
        return True
    if _lookup(cls, "__str__") is object.__str__ and _lookup(cls, "__repr__") is object.__repr__:
        return True
    if issubclass(cls, BaseException) and _lookup(cls, "__str__") is BaseException.__str__:
        args = BaseException.__dict__["args"].__get__(obj)
        return all(type(arg) in _SCALARS for arg in args)
    return False


def _lookup(cls: type, name: str) -> Any:
    """What ``cls.name`` resolves to, read from the class dictionaries (no metaclass code runs)."""
    for klass in type.__dict__["__mro__"].__get__(cls):
        found = type.__dict__["__dict__"].__get__(klass).get(name)
        if found is not None:
            return found
    return None


def _str_inline(obj: Any) -> str:
    try:
        return str(obj)
    except Exception:        # as Arthas's view, an object whose toString() fails shows its identity
        return default_text(obj)


def _remember_slow(cls: type) -> None:
    if len(_slow_types) >= MAX_SLOW_TYPES:
        _slow_types.pop(next(iter(_slow_types)))
    _slow_types[cls] = None


class _Abandoned(BaseException):
    """Raised in the worker to stop a ``str()`` its caller stopped waiting for (a BaseException, so an
    ``except Exception`` in the target's ``__str__`` does not swallow it)."""


class _Task:
    __slots__ = ("obj", "done", "text", "started", "abandoned")

    def __init__(self, obj: Any) -> None:
        self.obj = obj
        self.done = threading.Event()
        self.text = ""
        self.started = False
        self.abandoned = False


class _Worker:
    """One agent thread that runs the ``str()`` calls handed to it, one at a time. The worker takes no lock
    while a call may be interrupted except ``_state`` in ``with`` blocks, which release it whatever is
    raised inside."""

    def __init__(self) -> None:
        self._state = threading.Lock()
        self._inbox: "queue.SimpleQueue[_Task]" = queue.SimpleQueue()
        self._alive = False
        self._thread_id: Optional[int] = None
        self._stuck: Optional[_Task] = None     # an abandoned call that still runs

    def call(self, obj: Any, timeout: float) -> str:
        task = _Task(obj)
        stuck = self._stuck
        if stuck is not None and not stuck.done.wait(min(timeout, STUCK_GRACE_S)):
            return default_text(obj) + BUSY_MARKER
        with self._state:
            if self._stuck is not None and not self._stuck.done.is_set():
                return default_text(obj) + BUSY_MARKER
            self._stuck = None
            self._inbox.put(task)
            if not self._alive:
                self._alive = True
                spawn("tostring", self._serve)
        if task.done.wait(timeout):
            return task.text
        with self._state:
            if task.done.is_set():
                return task.text
            task.abandoned = True
            _remember_slow(type(obj))
            if task.started:
                self._stuck = task
                _interrupt(self._thread_id)
        return default_text(obj) + SLOW_MARKER

    def _serve(self) -> None:
        self._thread_id = threading.get_ident()
        task = None
        while True:
            try:
                if task is not None:     # again, when the interrupt came after its call ended
                    task.obj = None
                    task.done.set()
                task = self._next()
                if task is None:
                    return
                task.text = _str_guarded(task.obj)
                task.obj = None
                task.done.set()
                task = None
            except _Abandoned:
                continue

    def _next(self) -> Optional[_Task]:
        while True:
            try:
                task = self._inbox.get(timeout=IDLE_EXIT_S)
            except queue.Empty:
                with self._state:
                    if self._inbox.empty():
                        self._alive = False
                        return None
                continue
            with self._state:
                if task.abandoned:
                    continue
                task.started = True
                return task


def _str_guarded(obj: Any) -> str:
    try:
        return str(obj)
    except _Abandoned:
        return default_text(obj) + SLOW_MARKER
    except Exception:        # as Arthas's view, an object whose toString() fails shows its identity
        return default_text(obj)


def _interrupt(thread_id: Optional[int]) -> None:
    """Raise ``_Abandoned`` in the worker the next time it runs Python code (a looping ``__str__`` stops)."""
    if thread_id is None:
        return
    try:
        import ctypes
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(_Abandoned))
    except Exception:   # no ctypes: an abandoned loop then runs until it ends by itself
        pass


_WORKER = _Worker()
