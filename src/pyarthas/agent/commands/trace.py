"""``trace``: where the time inside a function goes, as a tree of its direct child calls
(Arthas: https://arthas.aliyun.com/en/doc/trace.html).

``trace [-n 100] [-E] [-v] [-m 50] [--skip-builtins true|false] [-p PATTERN]... [--exclude-class-pattern p]
[--timeout s] [--listenerId N] class-pattern method-pattern [condition-express]``

One ``trace`` result per outermost call whose condition holds (``#cost`` is the whole call in ms): the
thread node, the traced function's node and one node per call site of its direct children, repeats merged
(``times``, ``minCost``, ``maxCost``, ``totalCost``, costs in ns). How the children are timed is
``engine/calltree``.
"""
import sys
import threading
import time
from functools import partial
from time import perf_counter_ns
from typing import Any, Callable, Dict, Optional, Tuple, Union

from ..command.base import CommandError, register
from ..command.options import Option
from ..engine import calltree, trace_tree
from ..engine.calltree.recording import new_buffer
from ..engine.calltree.state import stamped_recording
from ..engine.hooks import HOOK_THREADS, StampedEntry
from ..model import EnhancerAffect, MessageModel, ResultModel
from ..util.drain import Drain
from .enhancer import (
    ADVICE_ARGUMENTS,
    AdviceListener,
    EnhancerCommand,
    enhancer_options,
    loader_text,
    running_thread,
    thread_fields,
)

TIMER = calltree.TIMER
REPORTS_CAPACITY = 1000   # calls to report a traced thread may hand over before the oldest are dropped


def _wall_clock_offset_ms() -> float:
    """What turns a ``perf_counter_ns`` stamp into the wall clock's time in ms (a result's timestamp is its
    call's start): read once per batch of results."""
    return time.time() * 1000 - perf_counter_ns() / 1e6


class TraceModel(ResultModel):
    """One traced call. The tree is built from the recording when a consumer first takes it (agent
    thread): calls reported faster than they are read, dropped by full queues, never cost it."""

    type = "trace"
    defer_json = True      # the session serializes it when a consumer takes it (see session/distribution)

    def __init__(self, rec: Union[calltree.Recording, Callable[[], calltree.Recording]], site,
                 thread: Tuple[int, Any], ts: int, skip_builtins: bool, error: Optional[BaseException]):
        self._rec: Any = rec       # the recording, or what makes it (a stamped wrapper's call: made here)
        self._site = site
        self._thread = thread      # (ident, Thread object or None): its fields are read when built
        self._ts = ts
        self._skip_builtins = skip_builtins
        self._error = error
        self._built: Optional[Dict[str, Any]] = None

    def fields(self) -> Dict[str, Any]:
        built = self._built
        if built is None:
            rec, error = self._rec, self._error
            if rec is None:                  # another consumer's thread built it meanwhile
                return self._built  # type: ignore[return-value]  # set before the parts are dropped
            if type(rec) is not calltree.Recording:
                rec = rec()
            counter = [1]
            method = trace_tree.build_method_node(rec, self._site.class_name, self._site.method_name,
                                                  self._skip_builtins, error, counter)
            thread = dict(type="thread", classloader=loader_text(self._site.function), timestamp=self._ts,
                          **thread_fields(*self._thread))
            thread["children"] = [method]
            built = self._built = {"nodeCount": counter[0], "root": thread}
            self._rec = self._error = None   # keep no reference to the target's objects once built
        return built

    def item_count(self) -> int:
        return 1


class TraceListener(AdviceListener):
    wants_before = True
    command_name = "trace"
    failure_status = 1

    def __init__(self, process, condition: Optional[str], limit: int, verbose: bool, skip_builtins: bool):
        super().__init__(process, condition, limit, verbose)
        self.skip_builtins = skip_builtins
        self.engine = process.agent.engine
        self._codes: Dict[Any, Any] = {}     # site -> (code the call runs, the engine's clone, how timed)
        # where calls to report go when there is nothing to evaluate on their thread: a stamped function's
        # site -> its drain; None -> the drain of recordings finished on their thread
        self._drains: Dict[Any, Drain] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._warned = False
        self._told_dropped = False

    def before(self, call):
        watched = self._codes.get(call[0])
        if watched is None:
            watched = self._watch(call[0])
            if watched is None:
                return None
        rec = TIMER.begin(watched[0], self)
        if rec is None:
            self._warn_if_blocked(call[4])
        return rec

    def _warn_if_blocked(self, thread_id: int) -> None:
        if not self._warned and TIMER.blocked_by_other_profiler():
            self._warned = True
            self.process.emit(MessageModel(message=(
                "trace: calls on thread %s are not traced: another profiler (%s) is active on it"
                % (thread_fields(thread_id)["threadName"], type(sys.getprofile()).__name__))))

    def quick_entry(self, site, code, clone):
        """The engine's path when this trace is a function's only listener: the function is watched now;
        its calls begin their recordings without building the call (see ``Listener.quick_entry``); while
        it is the only function this trace observes, and its copy is rewritten, its wrapper times its
        calls itself (``StampedEntry``) and a recording is made only for a call to report."""
        watched = self._watch(site, code, clone)
        if watched is None:
            return None
        rewritten = TIMER.rewritten.get(id(code))
        if rewritten is not None and len(self._codes) == 1:   # nothing can nest in its calls
            return self._stamped_entry(site, rewritten)
        return TIMER.starter(code, self) or partial(self._enter_profiled, code)

    def _stamped_entry(self, site, rewritten) -> Optional[StampedEntry]:
        """Without a condition to evaluate on the calling thread (none, or one on ``#cost`` alone), the
        calls to report are handed to a drain, whose thread makes their results: the traced thread pays
        one append per reported call."""
        low, high = self.cost_range
        if self.evaluates:
            return StampedEntry(rewritten.waiting, new_buffer, low, high,
                                partial(self._report_stamped, site, rewritten))
        drain = self._drain(site, partial(self._emit_stamped, site, rewritten))
        if drain is None:
            return None
        return StampedEntry(rewritten.waiting, new_buffer, low, high, drain.put, drain)

    def _drain(self, key, handle) -> Optional[Drain]:
        """The drain for ``key`` (a stamped function's site, or None: recordings finished on their thread),
        made at its first use; None once the job ended."""
        with self._lock:
            if self._closed:
                return None
            drain = self._drains.get(key)
            if drain is None:
                drain = self._drains[key] = Drain("trace-reports", handle, REPORTS_CAPACITY)
            return drain

    def _enter_profiled(self, code, thread_id):
        rec = TIMER.begin(code, self)
        if rec is None:
            try:
                self._warn_if_blocked(thread_id)
            except Exception:
                pass
        return rec

    def _watch(self, site, code=None, clone=None):
        with self._lock:
            if self._closed:
                return None
            watched = self._codes.get(site)
            if watched is None:
                code = code or self.engine.original_code(site.function)
                clone = clone or self.engine.clone_of(site)
                watched = self._codes[site] = (code, clone, TIMER.watch(code, clone))
            return watched

    def watch_all(self) -> Dict[str, str]:
        """Prepare every function this trace observes now (rather than at its first call); how each is
        timed, by ``class#method``."""
        modes = {}
        for site in self.engine.sites_of(self):
            watched = self._watch(site)
            if watched is not None:
                modes["%s#%s" % (site.class_name, site.method_name)] = watched[2]
        if len(modes) > 1:   # calls of one may nest in another's: none is entered alone any more
            self.engine.refresh_quick_entries(self)
        return modes

    def after_return(self, call, rec, value) -> None:
        if rec is not None:
            self.exit_quickly(call[0], rec, call[1], call[4], value, None)

    def after_throw(self, call, rec, error) -> None:
        if rec is not None:
            self.exit_quickly(call[0], rec, call[1], call[4], None, error)

    def exit_quickly(self, site, rec, values, thread_id, value, error) -> None:
        """A recorded call ended (on its thread): report it when its condition holds."""
        try:
            rec = TIMER.finish(rec, error is not None)
            if rec.parent is not None or not self.active or rec.failed:
                return   # a sub-tree of an enclosing traced call (-p), or not yet started
            cost_ns = rec.end - rec.start    # rec ended: no property call
            low, high = self.cost_range
            if not low <= cost_ns <= high:
                return
            if not self.evaluates:           # nothing to evaluate here: a drain reports it
                drain = self._drains.get(None) or self._drain(None, self._emit_finished)
                if drain is not None:
                    drain.offer((site, rec, thread_id, error))
                return
            self._report(site, rec, rec.start, values, thread_id, value, error, cost_ns)
        except Exception:
            self.errors += 1

    def _report_stamped(self, site, rewritten, call: tuple) -> None:
        """A call the stamped wrapper timed, its cost within the bound (``StampedEntry.report``), to report
        if the condition holds."""
        try:
            start, cost_ns, stamps, values, thread_id, value, error = call
            if self.active:   # the recording is made when a consumer takes the result (agent thread)
                recording = partial(stamped_recording, rewritten, self, start, cost_ns, stamps, error is not None)
                self._report(site, recording, start, values, thread_id, value, error, cost_ns)
        except Exception:
            self.errors += 1

    def _emit_stamped(self, site, rewritten, calls: list) -> None:
        """The drain's thread: calls the stamped wrapper timed, to report (no condition to evaluate)."""
        self._emit_all(len(calls), ((site, partial(stamped_recording, rewritten, self, start, cost_ns, stamps,
                                                   error is not None), start, start + cost_ns, thread_id, error)
                                    for start, cost_ns, stamps, _values, thread_id, _value, error in calls))

    def _emit_finished(self, calls: list) -> None:
        """The drain's thread: recordings finished on their thread, to report (no condition to evaluate)."""
        self._emit_all(len(calls), ((site, rec, rec.start, rec.end, thread_id, error)
                                    for site, rec, thread_id, error in calls))

    def _emit_all(self, count: int, calls) -> None:
        """The drain's thread: a batch of calls to report, in order (what is checked once per batch is)."""
        if count >= REPORTS_CAPACITY and not self._told_dropped:   # the drain was full: it dropped the oldest
            self._told_dropped = True
            self.process.emit(MessageModel(message=(
                "trace: calls ended faster than their results could be made; some were not reported")))
        if self.done.is_set() or not self.active:
            return
        since, skip_builtins, count_and_emit = self.active_since_ns, self.skip_builtins, self.count_and_emit
        wall_ms = _wall_clock_offset_ms()
        for site, rec, start, end, thread_id, error in calls:
            if end < since:
                continue     # ended before the enhancer result was out: not reported (as on the thread)
            try:
                count_and_emit(TraceModel(rec, site, (thread_id, running_thread(thread_id)), int(wall_ms + start / 1e6),
                                          skip_builtins, error))
            except Exception:
                self.errors += 1
            if self.limit_reached:
                return

    def _report(self, site, rec, start_ns: int, values, thread_id, value, error, cost_ns: int) -> None:
        """On the calling thread: report the call if the condition holds."""
        # the condition and emitting may call observed functions (the after hooks are guarded already)
        guard = thread_id not in HOOK_THREADS
        if guard:
            HOOK_THREADS.add(thread_id)
        try:
            call = (site, values, start_ns / 1e9, cost_ns / 1e6, thread_id)
            if self.holds(call, value, error, False, error is None, error is not None):
                self._emit(site, rec, thread_id, start_ns, error)
        finally:
            if guard:
                HOOK_THREADS.discard(thread_id)

    def _emit(self, site, rec, thread_id: int, start_ns: int, error: Optional[BaseException]) -> None:
        ts = int(_wall_clock_offset_ms() + start_ns / 1e6)
        self.count_and_emit(TraceModel(rec, site, (thread_id, running_thread(thread_id)), ts, self.skip_builtins,
                                       error))

    def close(self) -> None:
        """The job ended: stop watching the code objects (the engine restores the functions)."""
        with self._lock:
            self._closed = True
            watched = list(self._codes.values())
            self._codes.clear()
            drains, self._drains = list(self._drains.values()), {}
        for drain in drains:
            drain.close()
        for code, clone, _mode in watched:
            try:
                TIMER.unwatch(code, clone)
            except Exception:
                pass


@register
class TraceCommand(EnhancerCommand):
    name = "trace"
    summary = "Trace the execution time of specified method invocation."
    description = (
        "Times every direct child call of the matched functions (Python functions, and builtins/C functions "
        "unless --skip-builtins is true, the default): call-site line, cost, and count/min/max/total for "
        "repeated calls; exceptions as throw nodes. Coroutines: costs are wall time across awaits and the "
        "tree shows where the coroutine was suspended. Only the traced call pays, on its own thread.\n"
        "Examples:\n  trace demo.MathGame run\n  trace demo.MathGame run '#cost > 10'\n"
        "  trace demo.MathGame run --skip-builtins false\n"
        "  trace -E demo.MathGame 'run|primeFactors'\n  trace demo.MathGame run -p demo.MathGame.primeFactors\n"
        "  trace demo.MathGame primeFactors --listenerId 1")
    options = [
        Option("skip-builtins", dest="skip_builtins", type=bool, default=True, aliases=("skipJDKMethod",),
               help="Skip calls into builtins, C functions and the standard library (default true)"),
        Option("path", "p", multi=True,
               help="Also trace these functions (class.method, wildcards or -E regex), nested in the tree"),
    ] + enhancer_options()
    arguments = ADVICE_ARGUMENTS

    listener_type = TraceListener

    def new_listener(self, process, args) -> TraceListener:
        listener = TraceListener(process, args.condition_express or None, args.limits, args.verbose,
                                 args.skip_builtins)
        process.on_end(listener.close)
        return listener

    def describe_effect(self, engine, affect) -> None:
        listener = engine.listener(affect.listenerId)
        if isinstance(listener, TraceListener):
            affect.traceModes = listener.watch_all()

    def enhance_more(self, process, args, affect: EnhancerAffect) -> EnhancerAffect:
        for path in args.path:
            _enhance_path(process, args, affect, path)
        return affect


def _enhance_path(process, args, affect: EnhancerAffect, path: str) -> None:
    """``-p class.method`` (or ``class#method``): one more function for this trace (the listener ``affect``
    names), counted in ``affect``; its calls made inside a traced call nest in that call's tree."""
    class_pattern, _, method_pattern = path.rpartition("#" if "#" in path else ".")
    if not class_pattern:
        raise CommandError(-1, "path must be class-pattern.method-pattern: %s" % path)
    engine = process.agent.engine
    try:
        more = engine.enhance(class_pattern, method_pattern, None, regex=args.regex,
                              exclude_class_pattern=args.exclude_class_pattern, max_match=args.maxMatch,
                              listener_id=affect.listenerId)
    except Exception as error:
        process.emit(MessageModel(message="path %s: %s" % (path, getattr(error, "message", error))))
        return
    affect.classCount += more.classCount
    affect.methodCount += more.methodCount
    affect.cost += max(more.cost, 0)
    if more.methods:
        affect.methods = (affect.methods or []) + more.methods
