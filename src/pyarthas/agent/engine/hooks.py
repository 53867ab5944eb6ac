"""What runs on the target's threads: the per-function ``Enhancement`` the wrapper code calls, the
``Invocation`` that describes one call, and the ``Listener`` base class commands extend.

Rules kept here: nothing raises into the target (every listener call is guarded), the agent's own threads
and a thread already inside a hook are never observed (so watching ``json.dumps`` or calling a watched
function from an expression cannot loop), and the no-listener path stays a handful of instructions.
"""
import threading
import time
import types
from operator import itemgetter
from typing import Any, Callable, Dict, Optional, Set, Tuple

from ..util.threads import AGENT_THREAD_IDS
from .weaver import QUICK, STAMPED

_get_ident = threading.get_ident
_clock = time.perf_counter
_clock_ns = time.perf_counter_ns
_AGENT = AGENT_THREAD_IDS
# Threads running listener code right now: calls they make are not observed (no re-entry).
_IN_HOOK: Set[int] = set()
HOOK_THREADS = _IN_HOOK   # for an ``exit_quickly``, which keeps the rule itself


class Listener:
    """Base of every advice listener (watch, trace, stack, monitor, tt).

    The engine calls, on the target's thread, for every call of an enhanced function:
      ``before(call)`` at entry, only when ``wants_before`` is true; what it returns is the per-call
      ``state`` handed to the after hook of the same call;
      then exactly one of ``after_return(call, state, value)`` / ``after_throw(call, state, error)``.
    ``call`` is the plain tuple ``(site, values, start, cost, thread_id)`` (an ``Invocation`` would cost
    ~150 ns more per call; ``Invocation.of(call)`` wraps it where the names are wanted).
    A listener attached while a call is already running gets nothing for that call; one removed while a
    call runs still gets that call's after hook (so on/off switches stay balanced).
    Exceptions a hook raises are swallowed (counted in ``errors``); hooks must not block.
    ``id`` is set by the engine (Arthas's listenerId).
    """

    wants_before = False
    id = -1
    errors = 0

    def before(self, call: tuple) -> Any:
        return None

    def after_return(self, call: tuple, state: Any, value: Any) -> None:
        pass

    def after_throw(self, call: tuple, state: Any, error: BaseException) -> None:
        pass

    def removed(self) -> None:
        """``reset`` took away every function this listener observed (on the thread running reset)."""

    def quick_entry(self, site: "Site", code: types.CodeType,
                    clone: Optional[types.FunctionType]) -> Optional[Callable[[int], Any]]:
        """A listener whose ``before`` usually needs neither the call nor the re-entry guard (it only does
        the agent's own bookkeeping) may return a starter here: asked once when it becomes a function's
        only listener (``code``: the function's original code; ``clone``: the function the wrapper calls),
        ``starter(thread_id)`` then runs in place of ``before`` on every call, without building the call
        (and must never raise). It returns the call's state, which goes to ``exit_quickly``, or None: the
        call is not observed (no after hook). A plain function's listener may return a ``StampedEntry``
        instead."""
        return None

    def exit_quickly(self, site: "Site", state: Any, values: tuple, thread_id: int, value: Any,
                     error: Optional[BaseException]) -> None:
        """The end of a call whose starter returned ``state`` (``error`` None: it returned ``value``), in
        place of the after hooks. It must not raise, and keeps the re-entry rule itself: around anything
        that may call an observed function (a condition, emitting a result) the thread's id is in
        ``HOOK_THREADS``."""


class StampedEntry:
    """What ``Listener.quick_entry`` may return instead of a starter when the listener needs of a call only
    its start and cost (ns), the raw timings the code it runs stamps (a copy that puts them in the
    ``append`` it finds in ``waiting[thread id]`` at entry) and, when it reports the call, its arguments
    and outcome. The wrapper (variant ``stamped``) then times the call itself, with no frame of ours, and
    only for a call whose cost is within ``low`` and ``high`` (inclusive) calls ``report((start, cost,
    stamps, values, thread_id, value, error))``: the listener's method, which keeps the re-entry rule as
    ``exit_quickly`` does and must not raise, or the ``put`` of its ``drain`` (``util.drain.Drain``), which
    the wrapper then wakes if it sleeps. Only the outermost of recursive calls on a thread is timed
    (``active``)."""

    __slots__ = ("waiting", "active", "new_buffer", "clock", "low", "high", "report", "drain")

    def __init__(self, waiting: Dict[int, Any], new_buffer: Callable[[], Any], low: int, high: int,
                 report: Callable[[tuple], Any], drain: Any = None):
        self.waiting = waiting
        self.active: Dict[int, bool] = {}    # thread id -> a timed call runs on it
        self.new_buffer = new_buffer
        self.clock = _clock_ns
        self.low = low
        self.high = high
        self.report = report
        self.drain = drain if drain is not None else _AWAKE


class _Awake:
    """The drain of a listener that reports on the calling thread: never asleep."""

    sleeping = False

    @staticmethod
    def wake(token: bool) -> None:
        pass


_AWAKE = _Awake()


class Site:
    """Where an enhanced function lives: what the Arthas expression names ``clazz`` and ``method`` and
    the ``className``/``methodName`` of results come from."""

    __slots__ = ("function", "clazz", "class_name", "method_name", "has_self", "n_pos", "varargs_index",
                 "n_kwonly", "has_varkw", "param_names")

    def __init__(self, function: types.FunctionType, clazz: Any, class_name: str, method_name: str,
                 has_self: bool, layout: Tuple[int, int, int, bool, bool], param_names):
        self.function = function
        self.clazz = clazz
        self.class_name = class_name
        self.method_name = method_name
        self.has_self = has_self and layout[0] > 0
        self.n_pos, self.varargs_index, self.n_kwonly, _, self.has_varkw = layout
        self.param_names = list(param_names)


class Invocation(tuple):
    """One call of an enhanced function, by name: the listener's call tuple wrapped (``Invocation.of``)
    where an expression or a ``tt`` record reads it.

    ``values`` holds every parameter's value in parameter order (``*args`` as its tuple, ``**kwargs`` as
    its dict), ``self``/``cls`` included; ``start`` is ``time.perf_counter()`` at entry; ``cost`` (ms) is
    the call's duration (0.0 in ``before``). The object ``before`` gets is not the one the after hook gets.
    """

    __slots__ = ()

    @staticmethod
    def of(raw: tuple) -> "Invocation":
        return raw if type(raw) is Invocation else _new_call(Invocation, raw)

    site = property(itemgetter(0))
    values = property(itemgetter(1))
    start = property(itemgetter(2))
    cost = property(itemgetter(3))
    thread_id = property(itemgetter(4))

    @property
    def target(self) -> Any:
        return self[1][0] if self[0].has_self else None

    @property
    def params(self) -> list:
        """Argument values in parameter order, without ``self``/``cls`` (Arthas's ``params``)."""
        return list(self[1][1:]) if self[0].has_self else list(self[1])

    @property
    def args(self) -> tuple:
        """Positional arguments (without ``self``/``cls``): positional parameters then ``*args``."""
        site = self[0]
        values = self[1]
        positional = values[(1 if site.has_self else 0):site.n_pos]
        if site.varargs_index >= 0:
            positional = positional + tuple(values[site.varargs_index])
        return tuple(positional)

    @property
    def kwargs(self) -> dict:
        """Keyword arguments: keyword-only parameters then ``**kwargs``."""
        site = self[0]
        values = self[1]
        first = site.n_pos + (1 if site.varargs_index >= 0 else 0)
        names = site.param_names[first:first + site.n_kwonly]
        out = dict(zip(names, values[first:first + site.n_kwonly]))
        if site.has_varkw:
            out.update(values[-1])
        return out

    @property
    def clazz(self) -> Any:
        return self[0].clazz

    @property
    def method(self) -> Any:
        return self[0].function

    @property
    def class_name(self) -> str:
        return self[0].class_name

    @property
    def method_name(self) -> str:
        return self[0].method_name


_new_call = tuple.__new__


class Enhancement:
    """One enhanced function: its original code, the clone the wrapper forwards to, and its listeners.

    The wrapper code holds this object as a constant. Without listeners that want ``before`` it takes
    ``clock()`` itself and calls ``returned(start, values, result)`` / ``thrown(start, values, error)``
    (one hook call per call); otherwise ``enter(values)`` then ``returned_entered(entry, result)`` /
    ``thrown_entered(entry, error)``.
    """

    __slots__ = ("function", "original_code", "clone", "wrapper_code", "site", "listeners",
                 "before_listeners", "variant", "clock", "quick_pair", "stamped", "__weakref__")

    def __init__(self, function: types.FunctionType, site: Site):
        self.function = function
        self.site = site
        self.original_code = function.__code__
        self.clone: Optional[types.FunctionType] = None
        self.wrapper_code: Optional[types.CodeType] = None
        self.listeners: Tuple[Listener, ...] = ()
        self.before_listeners = False
        self.variant = ""                     # the wrapper's (``weaver.variant_for``)
        self.clock = _clock
        # the only listener's (starter, exit_quickly), ``_NO_QUICK`` without
        self.quick_pair: Tuple[Callable[[int], Any], Callable[..., None]] = _NO_QUICK
        self.stamped: Optional[StampedEntry] = None   # the only listener's, for the stamped wrapper

    def set_listeners(self, listeners: Tuple[Listener, ...]) -> None:
        listeners = tuple(listeners)
        only = listeners[0] if len(listeners) == 1 else None
        self.before_listeners = any(listener.wants_before for listener in listeners)
        # reset first: a call that sees the new listeners never takes the old listener's starter
        self.quick_pair = _NO_QUICK
        self.stamped = None
        self.listeners = listeners
        if only is not None and only.wants_before:
            try:
                entry = only.quick_entry(self.site, self.original_code, self.clone)
            except Exception:
                entry = None
            if isinstance(entry, StampedEntry):   # (a generator's wrapper enters through ``enter`` still)
                self.stamped = entry
            elif entry is not None:
                self.quick_pair = (entry, only.exit_quickly)

    @property
    def quick(self) -> str:
        """The wrapper variant (``weaver``) of how the only listener enters calls: ``STAMPED`` (it gave a
        ``StampedEntry``), ``QUICK`` (a starter, ``Listener.quick_entry``), or ``""``."""
        if self.stamped is not None:
            return STAMPED
        return QUICK if self.quick_pair is not _NO_QUICK else ""

    def wrapper_constants(self, variant: str) -> Dict[str, Any]:
        """What the placeholder names of the quick and stamped wrappers stand for (``weaver``; the wrapper
        has no globals of ours): the threads whose calls are not observed and, for the stamped wrapper,
        its entry's parts. Constants of its code, not attributes read on every call: a new entry needs a
        new wrapper."""
        constants = {"_pa_thread_ident": _get_ident, "_pa_agent_threads": _AGENT, "_pa_hook_threads": _IN_HOOK}
        entry = self.stamped
        if variant == STAMPED and entry is not None:
            constants.update(_pa_clone=self.clone, _pa_active=entry.active, _pa_new_buffer=entry.new_buffer,
                             _pa_waiting=entry.waiting, _pa_clock=entry.clock, _pa_low=entry.low,
                             _pa_high=entry.high, _pa_report=entry.report, _pa_drain=entry.drain,
                             _pa_wake=entry.drain.wake)
        return constants

    # ---- called by the wrapper code, on the target's thread ----

    # ``returned`` and ``thrown`` are twins on purpose: this is the path of every call of a function
    # enhanced without ``before`` hooks, and one shared helper would add a Python call to each of them.

    def returned(self, start: float, values: tuple, value: Any) -> None:
        try:
            listeners = self.listeners
            if not listeners:
                return
            thread_id = _get_ident()
            if thread_id in _AGENT or thread_id in _IN_HOOK:
                return
            call = (self.site, values, start, (_clock() - start) * 1000.0, thread_id)
            _IN_HOOK.add(thread_id)
            try:
                for listener in listeners:
                    try:
                        listener.after_return(call, None, value)
                    except Exception:
                        listener.errors += 1
            finally:
                _IN_HOOK.discard(thread_id)
        except Exception:
            pass

    def thrown(self, start: float, values: tuple, error: BaseException) -> None:
        try:
            listeners = self.listeners
            if not listeners:
                return
            thread_id = _get_ident()
            if thread_id in _AGENT or thread_id in _IN_HOOK:
                return
            call = (self.site, values, start, (_clock() - start) * 1000.0, thread_id)
            _IN_HOOK.add(thread_id)
            try:
                for listener in listeners:
                    try:
                        listener.after_throw(call, None, error)
                    except Exception:
                        listener.errors += 1
            finally:
                _IN_HOOK.discard(thread_id)
        except Exception:
            pass

    def enter(self, values: tuple) -> Optional[tuple]:
        """Runs the before hooks; returns the entry (listeners, their states, values, thread, start) or
        None when this call is not observed."""
        try:
            thread_id = _get_ident()
            if thread_id in _AGENT or thread_id in _IN_HOOK:
                return None
            quick = self.quick_pair
            if quick is not _NO_QUICK:
                state = quick[0](thread_id)   # the short entry: four items where the usual one has five
                return None if state is None else (quick[1], state, values, thread_id)
            listeners = self.listeners
            if not listeners:
                return None
            states = None
            if self.before_listeners:
                call = (self.site, values, _clock(), 0.0, thread_id)
                _IN_HOOK.add(thread_id)
                try:
                    states = []
                    for listener in listeners:   # a loop, not a comprehension: no frame of its own
                        states.append(_before(listener, call))
                finally:
                    _IN_HOOK.discard(thread_id)
            return listeners, states, values, thread_id, _clock()
        except Exception:
            return None

    def thrown_entered(self, entry: tuple, error: BaseException) -> None:
        self.returned_entered(entry, None, error)

    def returned_entered(self, entry: tuple, value: Any, error: Optional[BaseException] = None) -> None:
        """The after hooks of a call ``enter`` observed: it returned ``value``, or raised ``error``."""
        try:
            if len(entry) == 4:
                exit_quickly, state, values, thread_id = entry
                exit_quickly(self.site, state, values, thread_id, value, error)
                return
            listeners, states, values, thread_id, start = entry
            call = (self.site, values, start, (_clock() - start) * 1000.0, thread_id)
            _IN_HOOK.add(thread_id)
            try:
                if len(listeners) == 1 and states:   # the usual case, without the loop
                    listener = listeners[0]
                    try:
                        if error is not None:
                            listener.after_throw(call, states[0], error)
                        else:
                            listener.after_return(call, states[0], value)
                    except Exception:
                        listener.errors += 1
                    return
                for index, listener in enumerate(listeners):
                    state = states[index] if states else None
                    try:
                        if error is not None:
                            listener.after_throw(call, state, error)
                        else:
                            listener.after_return(call, state, value)
                    except Exception:
                        listener.errors += 1
            finally:
                _IN_HOOK.discard(thread_id)
        except Exception:
            pass


def _never(thread_id: int) -> None:
    return None


def _nothing(*args: Any) -> None:
    return None


_NO_QUICK: Tuple[Callable[[int], Any], Callable[..., None]] = (_never, _nothing)


def _before(listener: Listener, call: tuple) -> Any:
    if not listener.wants_before:
        return None
    try:
        return listener.before(call)
    except Exception:
        listener.errors += 1
        return None


def observing_paused() -> "_Paused":
    """``with observing_paused():`` calls made by this thread inside are not observed (for agent code that
    runs on a target thread)."""
    return _Paused()


class _Paused:
    def __enter__(self):
        self.thread_id = _get_ident()
        self.was_in = self.thread_id in _IN_HOOK
        _IN_HOOK.add(self.thread_id)
        return self

    def __exit__(self, *exc):
        if not self.was_in:
            _IN_HOOK.discard(self.thread_id)
        return False


def is_observed_thread() -> bool:
    """False on the agent's threads and inside hooks."""
    thread_id = _get_ident()
    return thread_id not in _AGENT and thread_id not in _IN_HOOK

