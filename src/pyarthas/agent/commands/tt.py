"""``tt`` (TimeTunnel): record calls, then list, show, search, replay and delete them
(Arthas: https://arthas.aliyun.com/en/doc/tt.html).

``tt -t [-n 100] [-E] [-m 50] class-pattern method-pattern [condition-express]`` records;
``tt -l``, ``tt -i N [-w express]``, ``tt -s search-express [-w express]``, ``tt -i N -p [--replay-times 1]
[--replay-interval 1000]``, ``tt -i N -d``, ``tt --delete-all`` work on the records.

Records are shared by every session (Arthas keeps them in one static map), indexed from 1000 on, and keep
the call's objects by reference (arguments, ``self``, return value or exception), as Arthas does: what they
show is their state now, not at the time of the call. At most ``MAX_RECORDS`` are kept; recording more
drops the oldest, so memory cannot run away.

A record also keeps the call's ``contextvars`` context (a framework's request, such as Flask's, lives in
one) and the event loop that ran it, if any. A replay runs in a copy of that context, so code that reads the
request works after the request ended; a coroutine is replayed on the loop that ran it while that loop
runs (the app's own loop, from the job's thread), else on a new one. The replay result says which context
and loop it used; ``-n`` counts the records exactly, however many threads call at once.
"""
import collections
import contextvars
import itertools
import sys
import threading
import time
import types
from typing import Any, ClassVar, Dict, List, Optional

from ..command.base import CommandError, register
from ..command.options import Argument, Option
from ..engine import Invocation
from ..engine.express import ExpressionError, compile_expression
from ..model import MessageModel, ResultModel, RowAffectModel
from ..util.lifetime import at_agent_stop
from ..values import DEFAULT_SIZE_LIMIT, MAX_EXPAND, to_json_value
from .enhancer import AdviceListener, EnhancerCommand, enhancer_options, global_size_limit

MAX_RECORDS = 1000
FIRST_INDEX = 1000


class TimeFragment:
    """One recorded call: the engine's Invocation (arguments, self, function) and how it ended."""

    __slots__ = ("index", "call", "timestamp", "cost", "is_return", "is_throw", "value", "error", "context",
                 "loop")

    def __init__(self, index: int, call, timestamp: int, value: Any, error: Optional[BaseException],
                 context: Optional[contextvars.Context] = None, loop: Any = None):
        self.index = index
        self.context = context
        self.loop = loop
        self.call = call
        self.timestamp = timestamp
        self.cost = call.cost
        self.is_return = error is None
        self.is_throw = error is not None
        self.value = value
        self.error = error


class TimeTunnelStore:
    """The records, oldest first; bounded by ``MAX_RECORDS`` (oldest dropped). Thread-safe."""

    def __init__(self, capacity: int = MAX_RECORDS):
        self.capacity = capacity
        self._lock = threading.Lock()
        self._records: "collections.OrderedDict[int, TimeFragment]" = collections.OrderedDict()
        self._indexes = itertools.count(FIRST_INDEX)

    def add(self, call, value: Any, error: Optional[BaseException], context: Optional[contextvars.Context] = None,
            loop: Any = None) -> TimeFragment:
        timestamp = int(time.time() * 1000)
        with self._lock:
            record = TimeFragment(next(self._indexes), call, timestamp, value, error, context, loop)
            self._records[record.index] = record
            while len(self._records) > self.capacity:
                self._records.popitem(last=False)
        return record

    def get(self, index: int) -> Optional[TimeFragment]:
        return self._records.get(index)

    def all(self) -> List[TimeFragment]:
        with self._lock:
            return list(self._records.values())

    def delete(self, index: int) -> bool:
        with self._lock:
            return self._records.pop(index, None) is not None

    def clear(self) -> int:
        with self._lock:
            count = len(self._records)
            self._records.clear()
            return count


STORE = TimeTunnelStore()
at_agent_stop(STORE.clear)   # the records hold the target's objects: they go when the agent stops


def fragment_json(record: TimeFragment, expand: int, size_limit: int, ended: Optional[tuple] = None) -> Dict[str, Any]:
    """Arthas's TimeFragmentVO, plus the ``context`` and ``eventLoop`` of the call. ``ended`` = (cost, value,
    error, timestamp, context, loop) of a replay (what the replay used), else the recorded call's."""
    call = record.call
    cost, value, error, timestamp, context, loop = ended if ended is not None else (
        record.cost, record.value, record.error, record.timestamp, recorded_context_text(record),
        loop_text(record.loop))
    target = call.target
    return {
        "context": context, "eventLoop": loop,
        "index": record.index, "timestamp": timestamp, "cost": cost,
        "return": error is None, "throw": error is not None,
        "object": "0x%x" % id(target) if target is not None else "NULL",
        "className": call.site.class_name, "methodName": call.site.method_name,
        "params": [{"expand": expand, "object": to_json_value(p, expand, size_limit)} for p in call.params],
        "returnObj": to_json_value(value, expand, size_limit) if error is None else None,
        "throwExp": to_json_value(error, expand, size_limit) if error is not None else None,
    }


class TimeTunnelModel(ResultModel):
    """Arthas's TimeTunnelModel. Values of the target are turned into JSON when first serialized (agent
    thread); ``parts`` are the fields, with records in place of their VOs."""

    type: ClassVar[str] = "tt"

    def __init__(self, expand: int, size_limit: Optional[int], **parts: Any):
        self._expand = expand
        self._size_limit = size_limit
        self._parts: Optional[Dict[str, Any]] = parts
        self._built: Optional[Dict[str, Any]] = None

    def fields(self) -> Dict[str, Any]:
        built = self._built
        if built is None:
            parts = self._parts
            if parts is None:                # another consumer's thread built it meanwhile
                return self._built  # type: ignore[return-value]  # set before the parts are dropped
            limit = self._size_limit or DEFAULT_SIZE_LIMIT
            out: Dict[str, Any] = {}
            for name, value in parts.items():
                if name == "timeFragmentList":
                    value = [fragment_json(r, self._expand, limit) for r in value]
                elif name == "timeFragment":
                    value = fragment_json(value, self._expand, limit)
                elif name == "replayResult":
                    record, ended = value
                    value = fragment_json(record, self._expand, limit, ended)
                elif name == "watchValue":
                    value = to_json_value(value, self._expand, limit)
                elif name == "watchResults":
                    value = {str(k): to_json_value(v, self._expand, limit) for k, v in value.items()}
                out[name] = value
            out["expand"] = self._expand
            if self._size_limit is not None:
                out["sizeLimit"] = self._size_limit
            built = self._built = out
            self._parts = None               # keep no reference to the target's objects once built
        return built

    def item_count(self) -> int:
        parts = self._parts
        return max(1, len(parts.get("timeFragmentList", ()) if parts is not None else
                          (self._built or {}).get("timeFragmentList", ())))


class TimeTunnelListener(AdviceListener):
    command_name = "tt"
    failure_status = 1

    def __init__(self, process, condition, limit: int, verbose: bool, expand: int, size_limit: Optional[int]):
        super().__init__(process, condition, limit, verbose)
        self.expand = expand
        self.size_limit = size_limit
        self._first = True
        self._recorded = 0
        self._recording = threading.Lock()

    def call_ended(self, call, state, value, error) -> None:
        if not self.active or not self.holds(call, value, error, False, error is None, error is not None):
            return
        with self._recording:      # a slot first: calls ending at once on many threads record -n, not more
            if self._recorded >= self.limit:
                return
            self._recorded += 1
        record = STORE.add(Invocation.of(call), value, error, contextvars.copy_context(), _running_loop())
        first, self._first = self._first, False
        self.count_and_emit(TimeTunnelModel(self.expand, self.size_limit, timeFragmentList=[record], first=first))


def _invalid(message: str) -> CommandError:
    return CommandError(1, "Error during processing the command: java.lang.IllegalArgumentException, message:%s"
                        % message)


class _Evaluators:
    """One expression, compiled once, bound to each recorded function's module globals on demand."""

    def __init__(self, text: str):
        self.text = text
        try:
            self.expression = compile_expression(text)
        except ExpressionError as error:
            raise CommandError(1, "tt failed, express is: %s, %s" % (text, error)) from error
        self._bound: Dict[int, Any] = {}

    def __call__(self, record: TimeFragment) -> Any:
        module_globals = getattr(record.call.site.function, "__globals__", None)
        evaluate = self._bound.get(id(module_globals))
        if evaluate is None:
            evaluate = self._bound[id(module_globals)] = self.expression.bind(
                module_globals, record.call.site.has_self)
        return evaluate(record.call, record.value, record.error, False, record.is_return, record.is_throw)


@register
class TimeTunnelCommand(EnhancerCommand):
    name = "tt"
    listener_type = TimeTunnelListener
    summary = "Time Tunnel"
    description = (
        "Records calls of the matched functions (arguments, self, return value or exception, cost, thread, "
        "time), indexed from %d; keeps the objects by reference, as Arthas does, and at most the last %d "
        "records (older ones are dropped).\n"
        "Examples:\n  tt -t demo.MathGame primeFactors\n  tt -t demo.MathGame primeFactors 'params[0] > 100' -n 5\n"
        "  tt -l\n  tt -i 1000\n  tt -i 1000 -w 'params[0]'\n  tt -s 'method.__name__ == \"primeFactors\"'\n"
        "  tt -i 1000 -p --replay-times 3 --replay-interval 500\n  tt -i 1000 -d\n  tt --delete-all"
        % (FIRST_INDEX, MAX_RECORDS))
    options = [
        Option("time-tunnel", "t", dest="time_tunnel", flag=True,
               help="Record the method invocation within time fragments"),
        Option("list", "l", flag=True, help="List all the time fragments"),
        Option("index", "i", type=int, help="Display the detailed information from specified time fragment"),
        Option("watch-express", "w", dest="watch_express", help="watch the time fragment by Python express"),
        Option("search-express", "s", dest="search_express", help="Search-expression, to find the time fragments"),
        Option("play", "p", flag=True, help="Replay the time fragment specified by index"),
        Option("replay-times", dest="replay_times", type=int, default=1, help="execution times when play tt"),
        Option("replay-interval", dest="replay_interval", type=int, default=1000,
               help="replay interval for play tt with option replay-times, default 1000ms"),
        Option("delete", "d", flag=True, help="Delete time fragment specified by index"),
        Option("delete-all", dest="delete_all", flag=True, help="Delete all the time fragments"),
        Option("expand", "x", type=int, default=1, help="Expand level of object (1 by default, max %d)" % MAX_EXPAND),
        Option("sizeLimit", "M", type=int,
               help="Upper size limit in bytes for the result (10 * 1024 * 1024 by default)"),
    ] + enhancer_options()
    arguments = [
        Argument("class-pattern", help="Path and classname of Pattern Matching"),
        Argument("method-pattern", help="Method of Pattern Matching"),
        Argument("condition-express", help="Conditional expression in Python"),
    ]

    def run(self, process, args) -> None:
        if args.sizeLimit is not None and args.sizeLimit <= 0:
            args.sizeLimit = None    # Arthas 4 draws with the global limit then (normalizeMaxObjectLength)
        expand = _expand(args)
        if args.time_tunnel:
            return self._record(process, args)
        if args.delete_all:
            count = STORE.clear()
            process.emit(MessageModel(message="Time fragments are cleaned."))
            process.emit(RowAffectModel(rowCount=count))
            return None
        if args.list:
            records = STORE.all()
            process.emit(TimeTunnelModel(expand, args.sizeLimit, timeFragmentList=records, first=True))
            process.emit(RowAffectModel(rowCount=len(records)))
            return None
        if args.search_express:
            return self._search(process, args, expand)
        if args.index is not None:
            return self._with_index(process, args, expand)
        if args.play or args.delete or args.watch_express:
            raise _invalid("Time fragment index is expected, please type -i to specify")
        raise _invalid("Argument(s) is/are expected, type 'help tt' to read usage")

    def _record(self, process, args) -> None:
        if not args.class_pattern:
            raise _invalid("Class-pattern is expected, please type the wildcard expression to match")
        if not args.method_pattern:
            raise _invalid("Method-pattern is expected, please type the wildcard expression to match")
        super().run(process, args)

    def new_listener(self, process, args) -> "TimeTunnelListener":
        return TimeTunnelListener(process, args.condition_express or None, args.limits, args.verbose,
                                  _expand(args), args.sizeLimit)

    def _with_index(self, process, args, expand: int) -> None:
        record = STORE.get(args.index)
        if record is None:
            raise CommandError(1, "Time fragment[%d] does not exist." % args.index)
        if args.delete:
            STORE.delete(args.index)
            process.emit(MessageModel(message="Time fragment[%d] successfully deleted." % args.index))
            process.emit(RowAffectModel(rowCount=1))
        elif args.play:
            _replay(process, args, record, expand)
        elif args.watch_express:
            evaluate = _Evaluators(args.watch_express)
            try:
                value = evaluate(record)
            except Exception as error:
                raise CommandError(1, "tt failed, express is: %s, %s: %s"
                                   % (args.watch_express, type(error).__name__, error)) from error
            process.emit(TimeTunnelModel(expand, _size_limit(process, args), watchValue=value))
            process.emit(RowAffectModel(rowCount=1))
        else:
            process.emit(TimeTunnelModel(expand, _size_limit(process, args), timeFragment=record))
            process.emit(RowAffectModel(rowCount=1))

    def _search(self, process, args, expand: int) -> None:
        matches: List[TimeFragment] = []
        watched: Dict[int, Any] = {}
        search = _Evaluators(args.search_express)
        watch = _Evaluators(args.watch_express) if args.watch_express else None
        for record in STORE.all():
            try:
                if not search(record):
                    continue
                if watch is not None:
                    watched[record.index] = watch(record)
            except Exception:
                continue    # an expression that fails on one record does not match it
            matches.append(record)
        if args.watch_express:
            process.emit(TimeTunnelModel(expand, args.sizeLimit, watchResults=watched))
        else:
            process.emit(TimeTunnelModel(expand, args.sizeLimit, timeFragmentList=matches, first=True))
        process.emit(RowAffectModel(rowCount=len(matches)))


def _expand(args) -> int:
    return max(0, min(args.expand, MAX_EXPAND))


def _size_limit(process, args) -> int:
    """What one record shown by index is drawn within (Arthas sends it with ``-i``, ``-M`` or not)."""
    return args.sizeLimit or global_size_limit(process)


def _running_loop() -> Any:
    """The asyncio loop running on this thread, if any (asyncio is not imported for it)."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:
        return None
    try:
        return asyncio._get_running_loop()
    except Exception:
        return None


def loop_text(loop: Any) -> str:
    if loop is None:
        return "none"
    return "%s.%s at 0x%x" % (type(loop).__module__, type(loop).__qualname__, id(loop))


def recorded_context_text(record: TimeFragment) -> str:
    if record.context is None:
        return "none recorded"
    return "recorded with the call (context variables: %d)" % len(record.context)


def _replay(process, args, record: TimeFragment, expand: int) -> None:
    """Call the recorded function again with the recorded arguments (and self), ``--replay-times`` times,
    in a copy of the recorded context; one result per replay. Runs on the job's thread (so the replayed
    call is not recorded again), a coroutine on the loop that ran it while that loop runs."""
    times = max(1, args.replay_times or 1)
    interval = max(0, args.replay_interval or 0) / 1000.0
    for number in range(1, times + 1):
        started = time.perf_counter()
        value, error = None, None
        replay = _Replay(record)
        try:
            value = replay.invoke(process)
        except Exception as raised:
            error = raised
        cost = (time.perf_counter() - started) * 1000.0
        replayed = (cost, value, error, int(time.time() * 1000), replay.context_text, replay.loop_text)
        process.emit(TimeTunnelModel(expand, _size_limit(process, args), replayResult=(record, replayed),
                                     replayNo=number))
        if number < times and process.wait(interval):
            return


class _Replay:
    """One replay of a record, and the context and loop it used (said in its result)."""

    def __init__(self, record: TimeFragment):
        self.record = record
        self.context = record.context.copy() if record.context is not None else contextvars.Context()
        self.context_text = ("a copy of the recorded context (context variables: %d)" % len(self.context)
                             if record.context is not None else "a new empty context (none was recorded)")
        self.loop_text = "none (not a coroutine)"

    def invoke(self, process) -> Any:
        call = self.record.call
        site = call.site
        arguments = ([call.target] if site.has_self else []) + list(call.args)
        result = self.context.run(site.function, *arguments, **call.kwargs)
        if isinstance(result, types.CoroutineType):
            return self.await_(result, process)
        return result

    def await_(self, coroutine, process) -> Any:
        import asyncio  # only a coroutine's replay needs it
        loop = self.record.loop
        if loop is not None and loop.is_running() and not loop.is_closed():
            self.loop_text = "the recorded call's event loop, running (%s)" % loop_text(loop)
            # scheduled from inside the context: the task runs in a copy of it
            future = self.context.run(asyncio.run_coroutine_threadsafe, coroutine, loop)
            settled = threading.Event()
            future.add_done_callback(lambda _: settled.set())
            process.on_end(settled.set)
            settled.wait()
            if not future.done():          # the job ended first (interrupted, timed out)
                future.cancel()
                raise CommandError(1, "tt replay interrupted before the coroutine ended")
            return future.result()
        self.loop_text = "a new event loop (asyncio.run): %s" % (
            "the recorded call's loop is not running" if loop is not None else "none was recorded")
        return self.context.run(asyncio.run, coroutine)
