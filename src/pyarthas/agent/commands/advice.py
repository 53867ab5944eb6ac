"""What the listeners of watch, trace, stack, monitor and tt share: the condition per call, the ``-n``
count, failures that end the job, and the job's thread waiting for one of those (``AdviceListener``); plus
the helpers their commands share (arguments, the limit check, the calling thread's fields)."""
import itertools
import threading
import weakref
from typing import Any, Dict, Optional

from ..command.base import CommandError
from ..command.options import Argument
from ..engine import Listener
from ..engine.express import ExpressionError, compile_expression
from ..model import MessageModel, ResultModel
from ..util.threads import Signal


class AdviceListener(Listener):
    """A listener with an optional condition and a ``-n`` limit. Subclasses call ``holds(...)`` on the
    target thread, then ``count_and_emit(model)``. A condition that raises ends the job (the failure
    names the expression); the command's thread waits in ``run_until_done``."""

    command_name = "advice"
    failure_status = -1
    raw_call = True     # hooks get the engine's tuple (site, values, start, cost ms, thread id)

    def __init__(self, process, condition: Optional[str], limit: int, verbose: bool = False):
        # Weak: a listener may outlive its job (a hook still running, a reference cycle of its hooks) and
        # must not keep the job, its session and their results alive.
        self.process = weakref.proxy(process)
        self.condition_text = condition
        self.condition = compile_expression(condition) if condition else None
        self.limit = limit
        self.verbose = verbose
        self.active = False                 # set once the enhancer result is out
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
            self.process.emit(MessageModel(message="Condition express: %s , result: %s"
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
        self.active = True
        process.resume_when(self.done, lambda: self._finish(process))

    def _finish(self, process) -> None:
        if process.ended:
            return
        if self.failure is not None:
            raise CommandError(self.failure_status, self.failure)
        if self.limit_reached:
            process.emit(MessageModel(message="Command execution times exceed limit: %d, so command will exit. "
                                              "You can set it with -n option." % self.limit))


ADVICE_ARGUMENTS = [
    Argument("class-pattern", required=True, help="Class name pattern (or module, for functions)"),
    Argument("method-pattern", required=True, help="Method name pattern"),
    Argument("condition-express", help="Conditional expression in Python, '#cost' is the call's cost in ms"),
]


def compiled_listener(factory, command_name: str, condition: Optional[str]):
    """Build a listener; a condition that does not compile is the command's failure."""
    try:
        return factory()
    except ExpressionError as error:
        raise CommandError(-1, "%s failed, condition is: %s, %s" % (command_name, condition, error))


def check_limit(args) -> None:
    if args.limits is not None and args.limits <= 0:
        raise CommandError(-1, "limits must be greater than 0.")


def thread_fields(ident: int) -> Dict[str, Any]:
    """Arthas's thread description of the calling thread (never creates a dummy Thread object)."""
    thread = threading._active.get(ident)
    return {"threadName": thread.name if thread is not None else "Thread-%d" % ident,
            "threadId": ident, "daemon": bool(thread.daemon) if thread is not None else False,
            "priority": 5}


def loader_text(function: Any) -> str:
    """Arthas's ``classloader``/TCCL: the loader of the function's module, ``<type>@<hex id>``."""
    from ..inspect.finder import loader_of
    chain, hash_text = loader_of(function)
    return "%s@%s" % (chain[0], hash_text) if chain else "null"
