"""The base of the enhancing commands (watch, trace, stack, monitor, tt) and of their listeners, as Arthas's
``EnhancerCommand`` and ``AdviceListenerAdapter``:

- ``EnhancerCommand``: the options they share, the listener each one makes (``new_listener``), enhancing
  what the patterns match or failing as Arthas does (``enhance``), then waiting for the listener to finish;
- ``AdviceListener``: the condition per call, the ``-n`` count, failures that end the job, and the job's
  thread waiting for one of those;
- the helpers their commands share (arguments, the limit check, the calling thread's fields, the global
  ``object-size-limit``).
"""
import itertools
import re
import threading
import weakref
from time import perf_counter_ns
from typing import Any, ClassVar, Dict, List, Optional, Type

from ..command.base import Command, CommandError
from ..command.options import Argument, Option
from ..engine import Listener, NothingMatched
from ..engine.express import ExpressionError, compile_expression, cost_range_ns
from ..inspect.threads import THREAD_IDS, thread_id
from ..model import EnhancerAffect, EnhancerModel, ResultModel, TerminalMessageModel
from ..util.threads import Signal
from ..values import DEFAULT_SIZE_LIMIT


class AdviceListener(Listener):
    """A listener with an optional condition and a ``-n`` limit. Subclasses call ``holds(...)`` on the
    target thread, then ``count_and_emit(model)``. A condition that raises ends the job (the failure
    names the expression); the job waits, holding no thread, in ``run_until_done``."""

    command_name = "advice"
    failure_status = -1

    def __init__(self, process, condition: Optional[str], limit: int, verbose: bool = False):
        # Weak: a listener may outlive its job (a hook still running, a reference cycle of its hooks) and
        # must not keep the job, its session and their results alive.
        self.process = weakref.proxy(process)
        self.condition_text = condition
        self.condition = compile_expression(condition) if condition else None
        # a condition on #cost alone is compared as the costs in ns it admits, without the expression (not
        # with -v, which prints each result); the whole range without one
        bound = self.condition.cost_bound if self.condition is not None and not verbose else None
        self.cost_range = cost_range_ns(bound)
        self.evaluates = self.condition is not None and bound is None   # the expression runs per call
        self.limit = limit
        self.verbose = verbose
        self.active = False                 # set once the enhancer result is out
        self.active_since_ns = 0            # perf_counter_ns() then (a call ended before is not reported)
        self.done = Signal()                # limit reached, failure, reset, or job ended
        self.failure: Optional[str] = None
        self.limit_reached = False
        self._count = itertools.count(1)
        self._evaluators: Dict[Any, Any] = {}

    def after_return(self, call, state, value) -> None:
        self.call_ended(call, state, value, None)

    def after_throw(self, call, state, error) -> None:
        self.call_ended(call, state, None, error)

    def call_ended(self, call, state, value, error) -> None:
        """One call ended, by returning ``value`` or raising ``error`` (None for the other); ``state`` is
        what ``before`` returned for it."""

    def holds(self, call, result, error, is_before: bool, is_return: bool, is_throw: bool) -> bool:
        """The condition for this call (True without one). False, and the job ends, if it raises."""
        if self.condition is None:
            return True
        site = call[0]
        evaluator = self._evaluators.get(site)
        if evaluator is None:
            evaluator = self._evaluators[site] = self.condition.bind(
                getattr(site.function, "__globals__", None), site.has_self)
        try:
            matched = bool(evaluator(call, result, error, is_before, is_return, is_throw))
        except Exception as failure:
            self.fail("%s failed, condition is: %s, %s: %s" % (self.command_name, self.condition_text,
                                                               type(failure).__name__, failure))
            return False
        if self.verbose:
            self.process.emit(TerminalMessageModel(message="Condition express: %s , result: %s"
                                                   % (self.condition_text, matched)))
        return matched

    def count_and_emit(self, model: ResultModel) -> None:
        count = next(self._count)
        if count > self.limit:
            return
        self.process.emit(model)
        if count == self.limit:
            self.limit_reached = True
            self.done.set()

    def fail(self, message: str) -> None:
        if self.failure is None:
            self.failure = message
        self.done.set()

    def removed(self) -> None:
        self.done.set()

    def run_until_done(self, process) -> None:
        """Leave the job running, holding no thread, until the limit, a failure, a reset or the job's end;
        then end it as Arthas does."""
        process.on_end(self.done.set)
        self.active_since_ns = perf_counter_ns()
        self.active = True
        process.resume_when(self.done, lambda: self._finish(process))

    def _finish(self, process) -> None:
        if process.ended:
            return
        if self.failure is not None:
            raise CommandError(self.failure_status, self.failure)
        if self.limit_reached:
            process.emit(TerminalMessageModel(message="Command execution times exceed limit: %d, so command will exit. "
                                              "You can set it with -n option." % self.limit))


def enhancer_options() -> List[Option]:
    """The options every enhancing command shares (Arthas's ``EnhancerCommand`` and its subclasses)."""
    return [
        Option("regex", "E", flag=True, help="Enable regular expression to match (wildcard matching by default)"),
        Option("limits", "n", type=int, default=100, help="Threshold of execution times"),
        Option("maxMatch", "m", type=int, default=50, help="The maximum of matched class."),
        Option("exclude-class-pattern", dest="exclude_class_pattern",
               help="exclude class name pattern, use either '.' or '/' as separator"),
        Option("timeout", type=int, help="Timeout value in seconds for the command to exit"),
        Option("listenerId", type=int, help="The special listenerId"),
        Option("verbose", "v", flag=True, help="Enables print verbose information, default value false."),
        Option("classloader", "c",
               help="The hash code of the special class's classLoader (ignored: Python has one loader)"),
        Option("lazy", "L", flag=True, help="Enable lazy mode (ignored: only loaded modules are searched)"),
    ]


ADVICE_ARGUMENTS = [
    Argument("class-pattern", required=True, help="Class name pattern (or module, for functions)"),
    Argument("method-pattern", required=True, help="Method name pattern"),
    Argument("condition-express", help="Conditional expression in Python, '#cost' is the call's cost in ms"),
]


class EnhancerCommand(Command):
    """A command that enhances the functions its patterns match with a listener of its own. ``run`` is
    Arthas's ``EnhancerCommand.process``: check the options, make the listener (``new_listener``, Arthas's
    ``getAdviceListener``), enhance (or fail with the ``enhancer`` result and Arthas's hint), then wait
    for the listener to finish (``follow``)."""

    # The kind of listener ``--listenerId N`` may join (Arthas's dynamic trace, which its page says watch,
    # tt and monitor share): the command's own listener class.
    listener_type: ClassVar[Type[AdviceListener]] = AdviceListener

    def new_listener(self, process, args) -> AdviceListener:
        """This command's listener; may raise ``ExpressionError`` for an expression that does not compile."""
        raise NotImplementedError

    def check(self, args) -> None:
        """Refuse bad options before anything is made."""
        check_limit(args)

    def method_pattern(self, args) -> Optional[str]:
        return getattr(args, "method_pattern", None)

    def expression_failure(self, args, error: ExpressionError) -> str:
        return "%s failed, condition is: %s, %s" % (self.name, args.condition_express or None, error)

    def follow(self, process, args, listener: AdviceListener) -> None:
        """Keep the job until the listener is done; end it as Arthas does."""
        listener.run_until_done(process)

    def run(self, process, args) -> None:
        self.check(args)
        running = self.listener_to_join(process, args)
        if running is not None:
            self.enhance(process, args, running, joins=True)
            return
        listener = self.listener_for(process, args)
        self.enhance(process, args, listener)
        self.follow(process, args, listener)

    def listener_to_join(self, process, args) -> Optional[Listener]:
        """``--listenerId N`` naming a running listener of this command's kind: what the patterns match
        joins it, and its results go to that listener's job (Arthas's dynamic trace). This job then ends,
        while the functions it added stay with listener N until N's own job ends (Arthas keeps the adding
        job open until Q; nothing shows in it). An id no listener has gives a new listener, as Arthas's
        ``getAdviceListenerWithId``."""
        listener_id = getattr(args, "listenerId", None)
        if not listener_id or listener_id <= 0:
            return None
        running = process.agent.engine.listener(listener_id)
        if running is None:
            return None
        if not isinstance(running, self.listener_type):
            raise CommandError(-1, "listener %d belongs to %s, not to %s: --listenerId joins a listener of "
                                   "the same command" % (listener_id, getattr(running, "command_name", "?"),
                                                         self.name))
        return running

    def listener_for(self, process, args) -> AdviceListener:
        """``new_listener``; an expression that does not compile is the command's failure."""
        try:
            return self.new_listener(process, args)
        except ExpressionError as error:
            raise CommandError(-1, self.expression_failure(args, error)) from error

    def enhance(self, process, args, listener: Listener, joins: bool = False) -> EnhancerAffect:
        """Enhance what ``args.class_pattern`` and ``method_pattern(args)`` match for ``listener``; emit the
        ``enhancer`` result; remove the listener when the job ends (unless it ``joins`` a running listener,
        which its own job removes). Nothing matched: the failed ``enhancer`` result, then status -1 with
        Arthas's hint (raised as ``CommandError``)."""
        engine = process.agent.engine
        try:
            affect = engine.enhance(args.class_pattern, self.method_pattern(args), None if joins else listener,
                                    regex=args.regex, exclude_class_pattern=args.exclude_class_pattern,
                                    max_match=args.maxMatch, listener_id=listener.id if joins else None)
        except NothingMatched as nothing:
            process.emit(EnhancerModel(success=False, message=nothing.message, effect=nothing.affect))
            raise CommandError(-1, nothing.hint) from nothing
        except re.error as error:
            raise CommandError(-1, "Invalid regular expression: %s" % error) from error
        except KeyError as error:
            raise CommandError(-1, str(error.args[0]) if error.args else "listener not found") from error
        if not joins:
            process.on_end(lambda: engine.remove(listener.id))
        affect = self.enhance_more(process, args, affect)
        self.describe_effect(engine, affect)
        process.emit(EnhancerModel(success=True, effect=affect))
        return affect

    def enhance_more(self, process, args, affect: EnhancerAffect) -> EnhancerAffect:
        """More functions for the listener ``affect`` names, enhanced before the job's one ``enhancer``
        result (its banner prints once); the affect of all of them."""
        return affect

    def describe_effect(self, engine, affect: EnhancerAffect) -> None:
        """Add what this command says about the functions it enhanced to ``affect`` (trace: how each is
        timed)."""


def check_limit(args) -> None:
    if args.limits is not None and args.limits <= 0:
        raise CommandError(-1, "limits must be greater than 0.")


def global_size_limit(process) -> int:
    """``options object-size-limit`` (Arthas's default when unset or not positive)."""
    try:
        value = int(process.agent.options.get("object-size-limit"))
        return value if value > 0 else DEFAULT_SIZE_LIMIT
    except Exception:
        return DEFAULT_SIZE_LIMIT


def running_thread(ident: int) -> Optional[threading.Thread]:
    """The Thread object of the thread whose id is ``ident`` (never creates a dummy Thread object)."""
    return threading._active.get(ident)  # type: ignore[attr-defined]  # private: no dummy Thread made


def thread_fields(ident: int, thread: Any = None) -> Dict[str, Any]:
    """Arthas's thread description of the calling thread; the id is the small one ``thread`` shows.
    ``thread``: its Thread object when the caller took it already (``running_thread``)."""
    thread = thread or running_thread(ident)
    if thread is None:
        return {"threadName": "Thread-%d" % ident, "threadId": thread_id(ident), "daemon": False, "priority": 5}
    return {"threadName": thread.name, "threadId": THREAD_IDS.of_thread(thread), "daemon": bool(thread.daemon),
            "priority": 5}


def loader_text(function: Any) -> str:
    """Arthas's ``classloader``/TCCL: the loader of the function's module, ``<type>@<hex id>``."""
    from ..inspect.finder import loader_of
    chain, hash_text = loader_of(function)
    return "%s@%s" % (chain[0], hash_text) if chain else "null"
