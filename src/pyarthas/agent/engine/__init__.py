"""The enhancement engine: find functions by pattern, hook them, call listeners, restore them.

Technique: the enhanced function object keeps its identity; its ``__code__`` is swapped for a generated
wrapper code with the same parameters, flags and free variables that forwards to a clone of the original
and reports the call inline (see ``weaver.py``). Every reference to the function sees the hooks; nothing
else in the process slows down. Restoring puts the original code object back.

API (stable; other commands build on it)
----------------------------------------
``engine = process.agent.engine`` (an ``Engine``), then::

    affect = engine.enhance(class_pattern, method_pattern, listener, regex=False,
                            exclude_class_pattern=None, max_match=50, listener_id=None)
    # -> model.EnhancerAffect (cost ms, classCount, methodCount, listenerId); listener.id is set.
    # raises NothingMatched (e.affect, e.message: "No class or method is affected", e.hint: Arthas's
    # multi-line hint for the status -1) and re.error for a bad -E regex.
    # listener_id=N: attach the functions matched now to the existing listener N (trace --listenerId);
    # ``listener`` may then be None.
    engine.remove(listener_id)          # detach; functions left without listeners are restored
    engine.reset(class_pattern=None, regex=False) -> EnhancerAffect   # restore matching (all if None);
                                                 # listeners left without functions get ``removed()``
    engine.reset_all() -> EnhancerAffect
    engine.original_code(func)                   # the code func runs, under any enhancement
    engine.replace_original_code(func, new_code) # for redefine: func runs new_code from now on and stays
                                                 # enhanced; reset restores new_code, not the stale one
    engine.sites_of(listener), engine.clone_of(site) # what a listener observes; the clone a wrapper calls
                                                 # (trace may give the clone a timed copy of its code)

``commands/enhancer.py`` has it ready for every enhancing command: ``EnhancerCommand`` (the shared
options -E -n -m --exclude-class-pattern --timeout --listenerId -v, then ``new_listener``, ``enhance``,
``follow``) and ``AdviceListener``. By hand::

    try:
        affect = engine.enhance(args.class_pattern, args.method_pattern, listener, ...)
    except NothingMatched as e:
        process.emit(EnhancerModel(success=False, message=e.message, effect=e.affect))
        raise CommandError(-1, e.hint)
    process.on_end(lambda: engine.remove(listener.id))
    process.emit(EnhancerModel(success=True, effect=affect))

Listeners (``hooks.Listener``) get, on the target's thread, for each call of an enhanced function:
``before(call) -> state`` (only when ``wants_before = True``), then ``after_return(call, state, value)`` or
``after_throw(call, state, error)``; ``state`` is None when ``before`` did not run for that call (listener
attached mid-call, or a listener without ``wants_before`` next to one with it). A listener removed while a
call runs still gets that call's after hook once its before hook ran. ``call`` is the plain tuple
``(site, values, start, cost, thread_id)``; ``hooks.Invocation.of(call)`` names its parts: ``target``
(self/cls or None), ``clazz`` (class, or module for module functions), ``method`` (the function),
``class_name``, ``method_name``, ``params`` (list, parameter order, without self/cls; ``*args`` as a tuple
and ``**kw`` as a dict, one entry each), ``args``, ``kwargs``, ``values`` (raw tuple incl. self), ``start``
(``perf_counter()`` at entry, taken after the before hooks ran), ``cost`` (ms, set before the after hooks),
``thread_id``. Per-call state goes from ``before`` to the after hook through ``state``. Hooks must be quick
and must not block; exceptions they raise are swallowed. The agent's threads and threads already inside a
hook are never observed (a watched function called from an expression or the serializer is not
reported). Generators, coroutines and async generators report one call from the first step to exhaustion.

Frames: the wrapper is a real frame between a caller and the original function (same name, line of the
``def``). ``is_engine_frame(frame)`` is true for wrapper frames and for the engine's hook frames;
``wrapper_frame()`` (called from inside a hook) returns the wrapper frame of the call being reported, whose
``f_back`` is the caller. Values and frames: the ``values`` package above (``values.to_json_value``).
Expressions: ``express.compile_expression(text)`` then ``.bind(function_globals, has_self)``.
"""
import itertools
import sys
import threading
import time
import types
from typing import Any, Dict, List, Optional, Set, Tuple

from ..model import EnhancerAffect
from ..values import hide_frames_where
from . import matcher, weaver
from .hooks import Enhancement, Invocation, Listener, Site

__all__ = ["Engine", "Listener", "Invocation", "NothingMatched", "is_engine_frame", "wrapper_frame",
           "NO_MATCH_MESSAGE"]

NO_MATCH_MESSAGE = "No class or method is affected"


def _green(text: str) -> str:
    return "\x1b[32m%s\x1b[m" % text


def no_match_hint() -> str:
    """Arthas's status message when nothing was enhanced (with its ANSI colours)."""
    return ("No class or method is affected, try:\n"
            "1. Execute `%s` to make sure the method you are tracing actually exists "
            "(it might be in your parent class).\n"
            "2. Execute `%s`, if you want to enhance the agent's own modules.\n"
            "3. Builtins and C functions (`%s`) cannot be enhanced; watch the Python function that calls them.\n"
            "4. Match the constructor, use `__init__` (or `<init>`), for example: `watch demo.MathGame __init__`\n"
            "5. Module-level functions are matched by module name, for example: `watch json.decoder JSONDecoder*`\n"
            "6. Visit %s for more details."
            % (_green("sm CLASS_NAME METHOD_NAME"), _green("options unsafe true"), _green("len, dict.get"),
               _green("https://github.com/alibaba/arthas/issues/47")))


class NothingMatched(Exception):
    """No function was enhanced. ``message`` goes in the failed ``enhancer`` result, ``hint`` in the
    status -1 that follows."""

    def __init__(self, affect: EnhancerAffect, detail: str = ""):
        super().__init__(NO_MATCH_MESSAGE)
        self.message = NO_MATCH_MESSAGE
        self.affect = affect
        self.detail = detail
        hint = no_match_hint()
        if affect.overLimitMsg:
            hint = affect.overLimitMsg + "\n" + hint
        if detail:
            hint = detail + "\n" + hint
        self.hint = hint


class Engine:
    def __init__(self, agent: Any = None):
        self.agent = agent
        self._lock = threading.RLock()
        self._enhancements: Dict[types.FunctionType, Enhancement] = {}
        self._listeners: Dict[int, Listener] = {}
        self._listener_ids = itertools.count(1)

    # ---- enhancing ----

    def enhance(self, class_pattern: str, method_pattern: Optional[str], listener: Optional[Listener], *,
                regex: bool = False, exclude_class_pattern: Optional[str] = None, max_match: int = 50,
                listener_id: Optional[int] = None) -> EnhancerAffect:
        started = time.perf_counter()
        search = self._search(class_pattern, method_pattern, regex, exclude_class_pattern)
        with self._lock:
            listener = self._register(listener, listener_id)
            affect = EnhancerAffect(cost=0, listenerId=listener.id)
            if len(search.owners) > max_match:
                affect.overLimitMsg = ("The number of matched classes is %d, greater than the limit value %d. "
                                       "Try to change the limit with option '-m <arg>'."
                                       % (len(search.owners), max_match))
                self._forget_if_unused(listener)
                raise NothingMatched(affect)
            methods: List[str] = []
            classes = 0
            for owner_name, (_owner, candidates) in search.owners.items():
                added = 0
                for candidate in candidates:
                    if self._attach(candidate, listener):
                        added += 1
                        methods.append("%s#%s" % (owner_name, candidate.name))
                classes += 1 if added else 0
            affect.classCount = classes
            affect.methodCount = len(methods)
            affect.cost = int((time.perf_counter() - started) * 1000)
            if self._verbose():
                affect.methods = methods
            if not methods:
                self._forget_if_unused(listener)
                detail = ""
                if search.not_enhanceable:
                    detail = "Builtin or C functions cannot be enhanced: %s" % ", ".join(search.not_enhanceable[:10])
                raise NothingMatched(affect, detail)
            return affect

    def _search(self, class_pattern, method_pattern, regex, exclude_class_pattern) -> matcher.Search:
        class_match = matcher.name_matcher(class_pattern, regex)
        method_match = matcher.method_matcher(method_pattern, regex)
        exclude = (matcher.name_matcher(exclude_class_pattern, regex) if exclude_class_pattern
                   else (lambda name: False))
        search = matcher.Search()
        subclasses = not self._option("disable-sub-class", False)
        for owner_name, owner in matcher.owners(class_match, exclude, subclasses, self._option("unsafe", False)):
            found = matcher.functions_of(owner, owner_name, method_match, search)
            if found:
                search.add_owner(owner_name, owner).extend(found)
        return search

    def _register(self, listener: Optional[Listener], listener_id: Optional[int]) -> Listener:
        if listener_id is not None and listener_id > 0:
            existing = self._listeners.get(listener_id)
            if existing is None:
                raise KeyError("listener %d does not exist" % listener_id)
            return existing
        if listener is None:
            raise ValueError("a listener is required")
        if listener.id is None or listener.id <= 0 or self._listeners.get(listener.id) is not listener:
            listener.id = next(self._listener_ids)
            self._listeners[listener.id] = listener
        return listener

    def _forget_if_unused(self, listener: Listener) -> None:
        if not any(listener in e.listeners for e in self._enhancements.values()):
            self._listeners.pop(listener.id, None)

    def _attach(self, candidate: matcher.Candidate, listener: Listener) -> bool:
        function = candidate.function
        enhancement = self._enhancements.get(function)
        if enhancement is None:
            try:
                enhancement = self._install(candidate, function.__code__, (listener,))
            except (TypeError, ValueError, SyntaxError, RecursionError):
                return False
            self._enhancements[function] = enhancement
            return True
        if listener in enhancement.listeners:
            return False
        self._set_listeners(enhancement, enhancement.listeners + (listener,))
        return True

    def _install(self, candidate: matcher.Candidate, code: types.CodeType,
                 listeners: Tuple[Listener, ...]) -> Enhancement:
        function = candidate.function
        signature = weaver.Signature(code)
        site = Site(function, candidate.owner, candidate.owner_name, candidate.name, candidate.has_self,
                    signature.layout(), signature.names())
        enhancement = Enhancement(function, site)
        enhancement.original_code = code
        enhancement.clone = weaver.clone_function(function, code)
        self._set_listeners(enhancement, listeners)
        return enhancement

    def _set_listeners(self, enhancement: Enhancement, listeners: Tuple[Listener, ...]) -> None:
        """Give ``enhancement`` its listeners and the wrapper variant they need (``weaver.variant_for``)."""
        enhancement.set_listeners(listeners)
        variant = weaver.variant_for(enhancement.original_code,
                                     any(listener.wants_before for listener in listeners),
                                     enhancement.quick)
        # the stamped wrapper holds its entry as constants: a new entry, a new wrapper
        if enhancement.wrapper_code is None or variant != enhancement.variant or variant == weaver.STAMPED:
            code = weaver.wrapper_code(enhancement.original_code, enhancement, variant,
                                       enhancement.wrapper_constants(variant))
            enhancement.wrapper_code = code
            enhancement.variant = variant
            enhancement.function.__code__ = code

    def refresh_quick_entries(self, listener: Listener) -> None:
        """Ask ``listener`` again for the starters of the functions it observes alone (its answer to
        ``quick_entry`` changed)."""
        with self._lock:
            for enhancement in list(self._enhancements.values()):
                if enhancement.listeners == (listener,):
                    self._set_listeners(enhancement, enhancement.listeners)

    # ---- removing ----

    def remove(self, listener_id: int) -> None:
        """Detach listener ``listener_id`` everywhere; restore functions left without listeners."""
        with self._lock:
            listener = self._listeners.pop(listener_id, None)
            if listener is None:
                return
            for function, enhancement in list(self._enhancements.items()):
                if listener in enhancement.listeners:
                    remaining = tuple(other for other in enhancement.listeners if other is not listener)
                    if remaining:
                        self._set_listeners(enhancement, remaining)
                    else:
                        self._restore(function, enhancement)

    def reset(self, class_pattern: Optional[str] = None, regex: bool = False) -> EnhancerAffect:
        """Restore every enhanced function whose class (or module) name matches ``class_pattern``."""
        started = time.perf_counter()
        class_match = matcher.name_matcher(class_pattern, regex)
        with self._lock:
            classes = set()
            methods = 0
            for function, enhancement in list(self._enhancements.items()):
                if class_match(enhancement.site.class_name):
                    classes.add(enhancement.site.class_name)
                    methods += 1
                    self._restore(function, enhancement)
            used: Set[int] = set()
            for enhancement in self._enhancements.values():
                used.update(id(kept) for kept in enhancement.listeners)
            dropped = [listener for listener in self._listeners.values() if id(listener) not in used]
            for listener in dropped:
                del self._listeners[listener.id]
        for listener in dropped:     # Arthas's reset removes their listeners: the jobs they feed end
            try:
                listener.removed()
            except Exception:
                pass
        return EnhancerAffect(cost=int((time.perf_counter() - started) * 1000), classCount=len(classes),
                              methodCount=methods, listenerId=-1)

    def reset_all(self) -> EnhancerAffect:
        return self.reset(None)

    def _restore(self, function: types.FunctionType, enhancement: Enhancement) -> None:
        enhancement.set_listeners(())
        if function.__code__ is enhancement.wrapper_code:
            function.__code__ = enhancement.original_code
        self._enhancements.pop(function, None)

    # ---- introspection and redefine support ----

    def listener(self, listener_id: int) -> Optional[Listener]:
        return self._listeners.get(listener_id)

    def original_code(self, function: types.FunctionType) -> types.CodeType:
        enhancement = self._enhancements.get(function)
        return enhancement.original_code if enhancement is not None else function.__code__

    def clone_of(self, site: Site) -> Optional[types.FunctionType]:
        """The clone the wrapper of ``site``'s function forwards to (a function of the engine's own, running
        the original code), while ``site`` is the function's current enhancement."""
        enhancement = self._enhancements.get(site.function)
        return enhancement.clone if enhancement is not None and enhancement.site is site else None

    def sites_of(self, listener: Listener) -> List[Site]:
        """The sites of the functions ``listener`` observes."""
        with self._lock:
            return [e.site for e in self._enhancements.values() if listener in e.listeners]

    def replace_original_code(self, function: types.FunctionType, new_code: types.CodeType) -> None:
        """Make ``function`` run ``new_code`` (redefine), keeping its listeners. Raises ValueError when the
        code does not fit the function (free variables)."""
        with self._lock:
            enhancement = self._enhancements.get(function)
            if enhancement is None:
                function.__code__ = new_code
                return
            site = enhancement.site
            candidate = matcher.Candidate(function, site.clazz, site.class_name, site.method_name, site.has_self)
            if len(new_code.co_freevars) != len(function.__closure__ or ()):
                raise ValueError("%s() requires a code object with %d free vars, not %d" % (
                    function.__name__, len(function.__closure__ or ()), len(new_code.co_freevars)))
            # A fresh Enhancement: calls running the old wrapper keep forwarding to the old clone.
            replacement = self._install(candidate, new_code, enhancement.listeners)
            enhancement.set_listeners(())
            self._enhancements[function] = replacement

    # ---- helpers ----

    def _option(self, name: str, default: Any) -> Any:
        try:
            return self.agent.options.get(name)
        except Exception:
            return default

    def _verbose(self) -> bool:
        return bool(self._option("verbose", False))


def is_engine_frame(frame: types.FrameType) -> bool:
    """True for the wrapper frames the engine adds and for its hook frames."""
    code = frame.f_code
    if code in _HOOK_CODES:
        return True
    return any(type(const) is Enhancement for const in code.co_consts)


def wrapper_frame(frame: Optional[types.FrameType] = None) -> Optional[types.FrameType]:
    """From inside a hook: the wrapper frame of the call being reported (its ``f_back`` is the caller)."""
    frame = frame or sys._getframe(1)
    while frame is not None:
        if any(type(const) is Enhancement for const in frame.f_code.co_consts):
            return frame
        frame = frame.f_back
    return None


_HOOK_CODES = frozenset(f.__code__ for f in (Enhancement.enter, Enhancement.returned, Enhancement.thrown))
hide_frames_where(is_engine_frame)   # stacks and exception values show the target's frames only
