"""``stack``: the calling stack of each matched call
(Arthas: https://arthas.aliyun.com/en/doc/stack.html).

``stack [-n 100] [-E] [-v] [-m 50] [--exclude-class-pattern p] [--timeout s] class-pattern [method-pattern]
[condition-express]``

Emitted when the call ends (return or throw) and the condition holds. The first frame is the matched
function, then its callers; the engine's wrapper frames are left out. For a coroutine, the tasks awaiting
the running task follow in ``awaitingTasks`` (innermost first), each with its coroutine chain.
"""
import sys
import time
from typing import Any, ClassVar, Dict, List, Optional

from ..command.base import register
from ..command.options import Argument
from ..engine import is_engine_frame, wrapper_frame
from ..model import ResultModel
from ..values import frame_element
from .enhancer import AdviceListener, EnhancerCommand, enhancer_options, loader_text, thread_fields

MAX_FRAMES = 256
MAX_AWAITING_TASKS = 16


class StackModel(ResultModel):
    type: ClassVar[str] = "stack"

    def __init__(self, ts: int, thread: Dict[str, Any], classloader: str, stack_trace: List[Dict[str, Any]],
                 awaiting: Optional[List[Dict[str, Any]]]):
        self.ts = ts
        self.cost = 0.0              # Arthas never sets it
        self.threadName = thread["threadName"]
        self.threadId = str(thread["threadId"])
        self.daemon = thread["daemon"]
        self.priority = thread["priority"]
        self.classloader = classloader
        self.stackTrace = stack_trace
        self.awaitingTasks = awaiting

    def fields(self) -> Dict[str, Any]:
        return dict(vars(self))

    def item_count(self) -> int:
        return 1


def call_stack(site) -> List[Dict[str, Any]]:
    """From inside a hook: the matched function, then its callers, innermost first."""
    wrapper = wrapper_frame(sys._getframe(1))
    if wrapper is None:
        return []
    first = frame_element(wrapper)
    first["className"] = site.class_name
    first["methodName"] = site.method_name
    elements = [first]
    frame = wrapper.f_back
    while frame is not None and len(elements) < MAX_FRAMES:
        if not is_engine_frame(frame):
            elements.append(frame_element(frame))
        frame = frame.f_back
    return elements


def awaiting_tasks() -> Optional[List[Dict[str, Any]]]:
    """When running inside an asyncio task: the chain of tasks awaiting it (the current task first)."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:
        return None
    try:
        asyncio.get_running_loop()
        task = asyncio.current_task()
    except RuntimeError:
        return None
    if task is None:
        return None
    from ..inspect.tasks import awaiting_task, coroutine_chain
    chain: List[Dict[str, Any]] = []
    others = list(asyncio.all_tasks())
    while task is not None and len(chain) < MAX_AWAITING_TASKS:
        chain.append({"taskName": task.get_name(), "stackTrace": coroutine_chain(task.get_coro())})
        task = awaiting_task(task, others, asyncio)
    return chain


class StackListener(AdviceListener):
    command_name = "stack"

    def call_ended(self, call, state, value, error) -> None:
        if not self.active or not self.holds(call, value, error, False, error is None, error is not None):
            return
        site = call[0]
        self.count_and_emit(StackModel(int(time.time() * 1000), thread_fields(call[4]),
                                       loader_text(site.function), call_stack(site), awaiting_tasks()))


@register
class StackCommand(EnhancerCommand):
    name = "stack"
    listener_type = StackListener
    summary = "Display the stack trace for the specified class and method"
    description = ("The first frame is the matched function, then its callers (innermost first). Coroutines "
                   "also show the chain of asyncio tasks awaiting the running one.\n"
                   "Examples:\n  stack demo.MathGame primeFactors\n"
                   "  stack demo.MathGame primeFactors 'params[0] < 0' -n 2\n"
                   "  stack demo.MathGame primeFactors '#cost > 0.5'")
    options = enhancer_options()
    arguments = [
        Argument("class-pattern", required=True, help="Path and classname of Pattern Matching"),
        Argument("method-pattern", default="*", help="Method of Pattern Matching"),
        Argument("condition-express", help="Conditional expression in Python, '#cost' is the call's cost in ms"),
    ]

    def new_listener(self, process, args) -> StackListener:
        return StackListener(process, args.condition_express or None, args.limits, args.verbose)

    def method_pattern(self, args) -> str:
        return args.method_pattern or "*"
