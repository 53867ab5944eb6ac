"""``watch``: observe the arguments, result and exception of functions as they are called
(Arthas: https://arthas.aliyun.com/en/doc/watch.html).

``watch [-b -e -s -f] [-n 100] [-x 1] [-M bytes] [-E] [-v] [-m 50] [--exclude-class-pattern p]
[--timeout s] class-pattern method-pattern [express] [condition-express]``
"""
import time
from typing import Any, Dict, Optional

from ..command.base import CommandError, register
from ..command.options import Argument, Option
from ..engine.express import compile_expression
from ..model import MessageModel, ResultModel, TerminalMessageModel
from ..values import MAX_EXPAND, to_json_value
from .enhancer import AdviceListener, EnhancerCommand, check_limit, enhancer_options, global_size_limit

DEFAULT_EXPRESS = "{params, target, returnObj}"
AT_ENTER, AT_EXIT, AT_EXCEPTION_EXIT = "AtEnter", "AtExit", "AtExceptionExit"


class WatchModel(ResultModel):
    """One observed call. The value is turned into JSON when a consumer first serializes the result, on
    an agent thread: results dropped by a full queue never cost the serialization."""

    type = "watch"
    defer_json = True      # the session serializes it when a consumer takes it (see session/distribution)

    def __init__(self, ts: int, cost: float, value: Any, expand: int, size_limit: int, class_name: str,
                 method_name: str, access_point: str):
        self.ts = ts
        self.cost = cost
        self._raw = value
        self._json: Any = _UNSET
        self.expand = expand
        self.sizeLimit = size_limit
        self.className = class_name
        self.methodName = method_name
        self.accessPoint = access_point

    @property
    def value(self) -> Any:
        converted = self._json
        if converted is _UNSET:
            raw = self._raw
            converted = self._json    # another consumer may have converted it in the meantime
            if converted is _UNSET:
                converted = to_json_value(raw, self.expand, self.sizeLimit)
                self._json = converted
                self._raw = None      # keep no reference to the target's objects once converted
        return converted

    def fields(self):
        return {"ts": self.ts, "cost": self.cost, "value": self.value, "expand": self.expand,
                "sizeLimit": self.sizeLimit, "className": self.className, "methodName": self.methodName,
                "accessPoint": self.accessPoint}

    def item_count(self) -> int:
        return 1


_UNSET = object()


def _ignored(call, state=None, outcome=None) -> None:
    """The hook of an access point the watch does not report."""


class WatchListener(AdviceListener):
    """Unlike the other advice listeners, an expression that raises on one call is reported and the watch
    goes on; its hooks are closures per access point (the condition-false path is one call)."""

    def __init__(self, process, express: str, condition: Optional[str], at_before: bool, at_return: bool,
                 at_throw: bool, limit: int, expand: int, size_limit: int, verbose: bool):
        super().__init__(process, condition, limit, verbose)
        self.express_text = express
        self.express = compile_expression(express)
        self.wants_before = at_before
        self.at_return = at_return
        self.at_throw = at_throw
        self.expand = expand
        self.size_limit = size_limit
        self._bound: Dict[Any, Any] = {}      # site -> (condition, express) evaluators for its module
        before = self._hook(AT_ENTER, True, False, False)
        after_return = self._hook(AT_EXIT, False, True, False) if at_return else _ignored
        after_throw = self._hook(AT_EXCEPTION_EXIT, False, False, True) if at_throw else _ignored
        # closures per access point stand in for the listener's methods
        self.before = before  # type: ignore[method-assign]
        self.after_return = after_return  # type: ignore[method-assign, assignment]
        self.after_throw = after_throw  # type: ignore[method-assign, assignment]

    # ---- hooks (target threads) ----

    def _hook(self, access_point: str, is_before: bool, is_return: bool, is_throw: bool):
        """The hook for one access point, as a closure over what it needs: a call whose condition is
        false costs this one function call plus the condition's."""
        evaluators = self._bound
        bind = self._bind
        listener = self

        def hook(call, state=None, outcome=None) -> None:
            if not listener.active:
                return
            site = call[0]
            condition, express = evaluators.get(site) or bind(site)
            result = outcome if is_return else None
            error = outcome if is_throw else None
            try:
                if condition is not None:
                    matched = condition(call, result, error, is_before, is_return, is_throw)
                    if listener.verbose:
                        listener.process.emit(TerminalMessageModel(message="Condition express: %s , result: %s"
                                                           % (listener.condition_text, bool(matched))))
                    if not matched:
                        return
                value = express(call, result, error, is_before, is_return, is_throw)
            except Exception as failure:
                listener._failed(call, failure)
                return
            listener.count_and_emit(WatchModel(int(time.time() * 1000), call[3], value, listener.expand,
                                                listener.size_limit, site.class_name, site.method_name,
                                                access_point))

        return hook

    def _bind(self, site):
        module_globals = getattr(site.function, "__globals__", None)
        evaluators = (self.condition.bind(module_globals, site.has_self) if self.condition else None,
                      self.express.bind(module_globals, site.has_self))
        self._bound[site] = evaluators
        return evaluators

    def _failed(self, call, failure: Exception) -> None:
        """An expression raised on one call: report it (it counts towards -n) and go on."""
        self.count_and_emit(MessageModel(message="watch failed on %s.%s, condition is: %s, express is: %s, %s: %s"
                                          % (call[0].class_name, call[0].method_name, self.condition_text or "null",
                                             self.express_text, type(failure).__name__, failure)))


@register
class WatchCommand(EnhancerCommand):
    name = "watch"
    summary = "Display the input/output parameter, return object, and thrown exception of specified method invocation"
    description = ("The express may be one of the following expression (evaluated dynamically):\n"
                   "  target : the object\n  clazz : the object's class\n  method : the function\n"
                   "  params : the parameters array of method\n  params[0..n] : the element of parameters array\n"
                   "  returnObj : the returned object of method\n  throwExp : the throw exception of method\n"
                   "  isReturn : the method ended by return\n  isThrow : the method ended by throwing exception\n"
                   "  #cost : the execution time in ms of method invocation\n"
                   "Examples:\n  watch demo.MathGame primeFactors\n"
                   "  watch demo.MathGame primeFactors '{params, returnObj, throwExp}' -x 2\n"
                   "  watch demo.MathGame primeFactors 'params[0]' 'params[0] < 0' -b\n"
                   "  watch demo.MathGame primeFactors '#{\"params\": params, \"cost\": #cost}' '#cost > 0.2' -n 3\n"
                   "  watch -E 'json' 'dumps|loads' '{params[0], returnObj}'")
    options = [
        Option("before", "b", flag=True, help="Watch before invocation"),
        Option("exception", "e", flag=True, help="Watch after throw exception"),
        Option("success", "s", flag=True, help="Watch after successful invocation"),
        Option("finish", "f", flag=True, help="Watch after invocation, enable by default"),
        Option("expand", "x", type=int, default=1, help="Expand level of object (1 by default, max %d)" % MAX_EXPAND),
        Option("sizeLimit", "M", type=int,
               help="Upper size limit in bytes for the result (10 * 1024 * 1024 by default)"),
    ] + enhancer_options()
    arguments = [
        Argument("class-pattern", required=True,
                 help="The full qualified class name (or module name) you want to watch"),
        Argument("method-pattern", required=True, help="The method name you want to watch"),
        Argument("express", default=DEFAULT_EXPRESS,
                 help="The content you want to watch, written by Python expression."),
        Argument("condition-express", help="Conditional expression in Python"),
    ]

    listener_type = WatchListener

    def check(self, args) -> None:
        if args.sizeLimit is not None and args.sizeLimit <= 0:
            args.sizeLimit = None    # Arthas 4 draws with the global limit then (normalizeMaxObjectLength)
        check_limit(args)
        if args.expand < 0:
            raise CommandError(-1, "expand must be greater than or equal to 0.")

    def new_listener(self, process, args) -> "WatchListener":
        size_limit = args.sizeLimit if args.sizeLimit is not None else global_size_limit(process)
        finish = args.finish or not (args.before or args.exception or args.success)
        return WatchListener(process, _express(args), args.condition_express or None, args.before,
                             args.success or finish, args.exception or finish, args.limits,
                             min(args.expand, MAX_EXPAND), size_limit, args.verbose)

    def expression_failure(self, args, error) -> str:
        return "watch failed, condition is: %s, express is: %s, %s" % (args.condition_express or "null",
                                                                      _express(args), error)


def _express(args) -> str:
    return args.express if args.express not in (None, "") else DEFAULT_EXPRESS
