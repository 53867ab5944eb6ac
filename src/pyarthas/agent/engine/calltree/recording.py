"""A recording: one outermost call of a traced function and the direct child calls it made, with the
helpers both timers run per child call (kept small and flat: every statement is paid per child call).

Repeated calls from the same call site are merged (times, min, max, total), as Arthas merges identical
invocations. Coroutines: a child awaited directly (``await child()``) is timed until the await completes,
so its cost is wall time across suspensions; each suspension of the traced frame is recorded at its
line, on the child being awaited, or as a ``suspend`` node when the frame awaited something that is not a
call (a future, a bare ``yield``). ``trace_tree.build_method_node`` turns a finished recording into
Arthas's trace nodes.
"""
import types
from collections import deque
from functools import partial
from time import perf_counter_ns
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional

if TYPE_CHECKING:
    from .state import ThreadState

MAX_CHILD_SITES = 2000   # distinct call sites kept per recording (a bound on memory per traced call)
MAX_RAW_EVENTS = 1 << 17  # raw timings kept per rewritten call (the latest; about 7 MB at most)

PY_KIND, C_KIND = 0, 1
NO_COST = 1 << 62   # min of a node with no call yet
NO_OFFSETS: frozenset = frozenset()
NO_POINTS = (NO_OFFSETS, NO_OFFSETS)
COROUTINE_FLAGS = 0x80 | 0x100 | 0x200   # CO_COROUTINE | CO_ITERABLE_COROUTINE | CO_ASYNC_GENERATOR


# a bounded deque of raw timings (a partial with positional arguments: no Python frame and no keyword
# dictionary per traced call)
new_buffer: Callable[[], deque] = partial(deque, (), MAX_RAW_EVENTS)


# The calls made from one call site of the traced frame (merged repeats) are a list, not an object:
# creating and updating it is the per-child cost, and a list literal is several times cheaper.
SITE, CALLEE, KIND, TIMES, TOTAL, MIN, MAX, LAST, THROWS, SUSPENSIONS, SUSPENDED, NESTED = range(12)


def new_child_call(site: int, callee: Any, kind: int) -> list:
    return [site, callee, kind, 0, 0, NO_COST, 0, 0, 0, 0, 0, None]


class Suspension:
    """Where the traced frame itself waited without a child call open (a future, a bare yield)."""

    __slots__ = ("site", "awaiting", "times", "total", "min", "max", "last")

    def __init__(self, site: int, awaiting: str):
        self.site = site
        self.awaiting = awaiting
        self.times = 0
        self.total = 0
        self.min = 0
        self.max = 0
        self.last = 0


class Recording:
    """One outermost call of a traced function and its direct children. The fields read on every event
    are slots, set in ``__init__``; the rarely used ones are class-level defaults (``__dict__`` slot), so
    that making a recording, once per traced call, stays cheap on 3.9/3.10 where slot stores are slow."""

    __slots__ = ("code", "owners", "children", "returns", "handlers", "start", "frame", "end", "open_node",
                 "open_start", "open_frame", "suspend_start", "thread_state", "buffer", "ended", "raised",
                 "rewritten", "__dict__")

    failed = False
    parent: Optional["Recording"] = None   # the enclosing recording of a sub-recording (trace -p)
    parent_node: Optional[list] = None     # the child call of the parent it hangs under
    suspend_site = -1                      # where the traced frame last suspended, and on what
    suspend_what = None
    await_resume = sticky = is_suspended = False
    thread_state: "ThreadState"            # set at begin (None only for a stamped wrapper's recording)
    rewritten: Any                         # a rewritten code's: its ``state.Rewritten``

    def __init__(self, code: types.CodeType, owner: Any):
        self.code = code
        self.owners = [owner]                  # the listeners sharing this recording
        self.children: Dict[Any, Any] = {}     # site key -> child-call list, Suspension or Recording
        self.returns = self.handlers = NO_OFFSETS
        self.frame = self.thread_state = None  # type: ignore[assignment]  # see thread_state above
        self.end = self.open_start = self.suspend_start = 0   # suspend_start: 0 while running
        # the child call in progress (a child-call list); Any: the hot paths index it without a None check,
        # as a child call is open whenever they run
        self.open_node: Any = None
        self.open_frame = None                 # 3.9-3.11: the frame of the open Python child
        # 3.9-3.12, a rewritten traced code: its raw timings (``rewrite``), turned into ``children`` only
        # when the call is reported (``materialize``)
        self.buffer: Optional[deque] = None
        self.ended = self.raised = False
        self.start = perf_counter_ns()

    @property
    def cost_ns(self) -> int:
        return (self.end or perf_counter_ns()) - self.start


# The hot path shared by both timers (kept small: every statement here is paid per child call).

def node_for_new_callee(rec: Recording, site: int, callee: Any, kind: int):
    """A site seen for the first time, or one that now calls something else (``handler = table[k]``)."""
    children = rec.children
    node = children.get(site)
    if node is not None:
        identity = _callee_identity(callee)
        if identity == _callee_identity(node[CALLEE]):
            return node
        key = (site, identity)
        node = children.get(key)
        if node is None:
            node = _new_node(rec, key, site, callee, kind)
        return node
    return _new_node(rec, site, site, callee, kind)


def _new_node(rec: Recording, key: Any, site: int, callee: Any, kind: int) -> list:
    node = new_child_call(site, callee, kind)
    if len(rec.children) < MAX_CHILD_SITES:
        rec.children[key] = node
    return node


def close_child(rec: Recording, now: int, raised: bool) -> None:
    """The open child call ended at ``now``: add it to its call site's counts."""
    node = rec.open_node
    rec.open_node = None
    rec.open_frame = None
    cost = now - rec.open_start
    node[TIMES] += 1
    node[TOTAL] += cost
    node[LAST] = cost
    if cost < node[MIN]:
        node[MIN] = cost
    if cost > node[MAX]:
        node[MAX] = cost
    if raised:
        node[THROWS] += 1


def suspend(rec: Recording, site: int, what: Any, now: int) -> None:
    rec.suspend_start = now
    rec.suspend_site = site
    rec.suspend_what = what


def resume(rec: Recording, now: int) -> None:
    waited = now - rec.suspend_start
    rec.suspend_start = 0
    node = rec.open_node
    if node is not None:
        node[SUSPENSIONS] += 1
        node[SUSPENDED] += waited
        return
    key = ("suspend", rec.suspend_site)
    point = rec.children.get(key)
    if point is None:
        awaiting = _describe_awaited(rec.suspend_what) if rec.code.co_flags & COROUTINE_FLAGS else "yield"
        point = Suspension(rec.suspend_site, awaiting)
        if len(rec.children) < MAX_CHILD_SITES:
            rec.children[key] = point
    point.times += 1
    point.total += waited
    point.last = waited
    if point.times == 1 or waited < point.min:
        point.min = waited
    if waited > point.max:
        point.max = waited


def _describe_awaited(value: Any) -> str:
    kind = type(value)
    if value is None or kind.__name__ == "async_generator_wrapped_value":   # a bare yield, an async yield
        return "yield"
    return "%s.%s" % (kind.__module__, kind.__qualname__)


C_CALLABLE_TYPES = (types.BuiltinFunctionType, types.MethodDescriptorType, types.WrapperDescriptorType,
                     types.MethodWrapperType, getattr(types, "ClassMethodDescriptorType", types.BuiltinFunctionType))


def _callee_identity(callee: Any) -> Any:
    """What makes two callees the same function: a code object, a C function's qualified name, or the
    type of any other callable. Reads only attributes of interpreter types (never user descriptors)."""
    if isinstance(callee, types.CodeType):
        return callee
    kind = type(callee)
    if kind is types.MethodType:
        callee = callee.__func__
        kind = type(callee)
    if kind is types.FunctionType:
        return callee.__code__
    if kind in C_CALLABLE_TYPES:
        return callee.__qualname__
    return kind


# ---- raw timings of a rewritten code (3.9-3.12) ----

def materialize(rec: Recording) -> None:
    """Turn the raw timings of a finished rewritten call into its child nodes (on the agent's thread,
    only for a call that is reported). Entries: ``(callee, site, start)`` opens a child call, ``end``
    closes it, ``-end`` closes it as raised (and means nothing with no child open), a ``Recording`` is a
    traced call made inside (``trace -p``)."""
    buffer = rec.buffer
    if buffer is None:
        return
    rec.buffer = None
    children = rec.children = {}
    rec.open_node = None
    for entry in list(buffer):
        kind = type(entry)
        if kind is tuple:
            callee, site, start = entry
            node = children.get(site)
            if node is None or node[CALLEE] is not callee:
                node = node_for_new_callee(rec, site, callee, C_KIND)
            rec.open_node = node
            rec.open_start = start
        elif kind is int:
            if rec.open_node is not None:
                close_child(rec, entry if entry > 0 else -entry, entry < 0)
        elif kind is Recording:
            entry.parent_node = rec.open_node
            attach_to_parent(entry)
    if rec.open_node is not None:            # the traced call raised out of a child call
        close_child(rec, rec.end or perf_counter_ns(), True)


# ---- sub-recordings (trace -p) ----

def within(rec: Recording, code) -> bool:
    parent = rec.parent
    while parent is not None:
        if parent.code is code:
            return True
        parent = parent.parent
    return False


def attach_to_parent(rec: Recording) -> None:
    """A sub-recording (another traced function called inside a recorded one) hangs under the child call
    of its parent that was open when it began, else under the parent's root."""
    node = rec.parent_node
    holder: Any = node if node is not None else rec.parent   # a child-call list or a Recording
    if isinstance(holder, list):
        if holder[NESTED] is None:
            holder[NESTED] = []
        if len(holder[NESTED]) < MAX_CHILD_SITES:
            holder[NESTED].append(rec)
    else:
        key = ("nested", id(rec))
        if len(holder.children) < MAX_CHILD_SITES:
            holder.children[key] = rec
