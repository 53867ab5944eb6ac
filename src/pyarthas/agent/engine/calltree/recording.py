"""Timing of the direct child calls of a traced function: the mechanism behind ``trace``.

A ``Recording`` is one outermost call of a traced function. ``TIMER.begin(code, owner)`` starts one on the
calling (target) thread just before the traced code runs; ``TIMER.finish(rec, raised)`` ends it right after.
In between, only the events of that call are seen, only on its own thread:

- CPython 3.9-3.11: a per-thread ``sys.setprofile`` function, switched on at entry and off as soon as the
  traced frame returns. Events of grandchildren reach it too (a profile function cannot be limited to one
  frame) and leave after two identity comparisons. A Python profile function already installed on the
  thread is chained and restored; a C-level one (cProfile) is never displaced: that call is not traced.
  A coroutine suspended on an asyncio future turns it off until the future's done callback runs.
- CPython 3.12+: ``sys.monitoring`` *local* events on the traced code objects only (a free tool id):
  CALL opens a child (the first one binds the recording to its frame); an INSTRUCTION event at the instruction a call returns to closes it, and one at an
  exception handler's entry closes it as raised (every other instruction location is disabled after its
  first event, so it costs nothing afterwards). PY_YIELD/PY_RESUME mark where a coroutine was suspended.

Repeated calls from the same call site are merged (times, min, max, total), as Arthas merges identical
invocations. Coroutines: a child awaited directly (``await child()``) is timed until the await completes,
so its cost is wall time across suspensions; each suspension of the traced frame is recorded at its
line, on the child being awaited, or as a ``suspend`` node when the frame awaited something that is not a
call (a future, a bare ``yield``).

Nothing here may raise into the target: every callback catches its own errors and turns the recording
off. ``trace_tree.build_method_node`` turns a finished recording into Arthas's trace nodes.
"""
import dis
import sys
import threading
import types
from time import perf_counter_ns
from typing import Any, Dict, List, Optional

_getframe = sys._getframe
_get_ident = threading.get_ident

USES_MONITORING = sys.version_info >= (3, 12)
MAX_CHILD_SITES = 2000   # distinct call sites kept per recording (a bound on memory per traced call)

_PY, _C = 0, 1
_NO_COST = 1 << 62   # min of a node with no call yet
_NO_OFFSETS: frozenset = frozenset()
_NO_POINTS = (_NO_OFFSETS, _NO_OFFSETS)
_COROUTINE_FLAGS = 0x80 | 0x100 | 0x200   # CO_COROUTINE | CO_ITERABLE_COROUTINE | CO_ASYNC_GENERATOR


# The calls made from one call site of the traced frame (merged repeats) are a list, not an object:
# creating and updating it is the per-child cost, and a list literal is several times cheaper.
SITE, CALLEE, KIND, TIMES, TOTAL, MIN, MAX, LAST, THROWS, SUSPENSIONS, SUSPENDED, NESTED = range(12)


def new_child_call(site: int, callee: Any, kind: int) -> list:
    return [site, callee, kind, 0, 0, _NO_COST, 0, 0, 0, 0, 0, None]


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
                 "open_start", "open_frame", "suspend_start", "thread_state", "__dict__")

    raised = ended = failed = False
    parent: Optional["Recording"] = None   # the enclosing recording of a sub-recording (trace -p)
    parent_node: Optional[list] = None     # the child call of the parent it hangs under
    suspend_site = -1                      # where the traced frame last suspended, and on what
    suspend_what = None
    await_resume = sticky = is_suspended = False

    def __init__(self, code: types.CodeType, owner: Any):
        self.code = code
        self.owners = [owner]                  # the listeners sharing this recording
        self.children: Dict[Any, Any] = {}     # site key -> child-call list, Suspension or Recording
        self.returns = self.handlers = _NO_OFFSETS
        self.frame = self.thread_state = None
        self.end = self.open_start = self.suspend_start = 0   # suspend_start: 0 while running
        self.open_node: Optional[list] = None  # the child call in progress (a child-call list)
        self.open_frame = None                 # 3.9-3.11: the frame of the open Python child
        self.start = perf_counter_ns()

    @property
    def cost_ns(self) -> int:
        return (self.end or perf_counter_ns()) - self.start


# ---------------------------------------------------------------------------------------------------
# The hot path shared by both mechanisms (kept small: every statement here is paid per child call).

def _node_for_new_callee(rec: Recording, site: int, callee: Any, kind: int):
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


def _close_child(rec: Recording, now: int, raised: bool) -> None:
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


def _suspend(rec: Recording, site: int, what: Any, now: int) -> None:
    rec.suspend_start = now
    rec.suspend_site = site
    rec.suspend_what = what


def _resume(rec: Recording, now: int) -> None:
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
        awaiting = _describe_awaited(rec.suspend_what) if rec.code.co_flags & _COROUTINE_FLAGS else "yield"
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


# ---------------------------------------------------------------------------------------------------
# Per-thread bookkeeping shared by both mechanisms.

class _ThreadState:
    __slots__ = ("ident", "pending", "running", "top", "top_frame", "suspended", "live", "sticky", "profiler",
                 "chained", "installed", "prev_profile")

    def __init__(self, ident: int):
        self.ident = ident
        self.pending: Optional[Recording] = None   # begun, its frame not started yet
        self.running: List[Recording] = []         # bound and not suspended, innermost last
        self.top: Optional[Recording] = None       # running[-1]: the traced frame executing now
        self.top_frame = None                      # its frame (what the profile function compares to)
        self.suspended = 0                         # bound recordings whose frame is suspended
        self.live = 0                              # recordings begun and not finished
        self.sticky = 0                            # suspended with no way to learn of their resumption
        self.profiler = self.chained = None        # our profile functions, without and with a previous one
        self.installed = False
        self.prev_profile = None


class _Timer:
    """What both mechanisms share: recordings by frame, per-thread state, begin/finish rules."""

    def __init__(self):
        self.lock = threading.Lock()
        self.by_frame: Dict[Any, Recording] = {}
        self.threads: Dict[int, _ThreadState] = {}

    def _thread_state(self) -> _ThreadState:
        ident = _get_ident()
        state = self.threads.get(ident)
        if state is None:
            self._forget_idle()
            state = self.threads[ident] = _ThreadState(ident)
        return state

    def begin(self, code: types.CodeType, owner: Any) -> Optional[Recording]:
        """Start recording the call of ``code`` about to run on this thread. Returns None when it cannot
        be recorded: a call of the same code already recorded by ``owner`` on this thread (recursion), or
        a recording of another code that has not started its frame yet. Two owners tracing the same
        call share one recording. A call of another traced code made while one of the owner's recordings
        runs is recorded as a sub-tree of that recording (``trace -p``)."""
        try:
            state = self._thread_state()
            pending = state.pending
            if pending is not None:
                if pending.code is code and owner not in pending.owners:
                    pending.owners.append(owner)
                    return pending
                return None
            outer = None
            for rec in reversed(state.running):
                if owner in rec.owners:
                    outer = rec
                    break
            if outer is not None and (outer.code is code or _within(outer, code)):
                return None
            rec = Recording(code, owner)
            rec.thread_state = state
            if outer is not None:
                rec.parent = outer
                rec.parent_node = outer.open_node
            armed = self._arm(rec, state)
            if armed is False:
                return None
            state.pending = rec
            state.live += 1
            if armed is not True:
                sys.setprofile(armed)   # last: every frame of ours that returns after this is an event
            return rec
        except Exception:
            return None

    def finish(self, rec: Recording, raised: bool) -> Recording:
        """End ``rec`` (on the thread that began it, after the traced code returned or raised). A shared
        recording ends at the first of its owners' calls."""
        if rec.ended:
            return rec
        try:
            now = perf_counter_ns()
            self._release(rec)      # first: the profiler (3.9-3.11) goes off before our own bookkeeping
            rec.end = rec.end or now
            rec.raised = raised
            if rec.suspend_start:
                _resume(rec, now)
            if rec.open_node is not None:
                _close_child(rec, now, raised)
            if rec.parent is not None:
                _attach_to_parent(rec)
        except Exception:
            rec.failed = True
        finally:
            rec.ended = True
        return rec

    def _release(self, rec: Recording) -> None:
        state = rec.thread_state
        if state.pending is rec:
            state.pending = None
        if rec.sticky:
            rec.sticky = False
            state.sticky -= 1
        running = state.running
        if running:
            if running[-1] is rec:
                running.pop()
            elif rec in running:
                running.remove(rec)
            _retop(state)
        if rec.is_suspended:
            rec.is_suspended = False
            state.suspended -= 1
        state.live -= 1
        self._disarm(rec, state)
        if rec.frame is not None:
            self.by_frame.pop(rec.frame, None)
        rec.frame = None

    def _forget_idle(self) -> None:
        """Threads come and go: keep no state for idle threads once there are many."""
        if len(self.threads) > 256:
            for ident, other in list(self.threads.items()):
                if other.live <= 0 and not other.installed:
                    self.threads.pop(ident, None)

    def _bind(self, rec: Recording, frame) -> None:
        rec.frame = frame
        self.by_frame[frame] = rec
        state = rec.thread_state
        state.pending = None
        state.running.append(rec)
        _retop(state)

    def _mark_suspended(self, rec: Recording) -> None:
        state = rec.thread_state
        if rec in state.running:
            state.running.remove(rec)
        if not rec.is_suspended:
            rec.is_suspended = True
            state.suspended += 1
        _retop(state)

    def _frame_resumed(self, frame) -> None:
        """A frame resumes: if it is a suspended traced frame, its suspension ends."""
        rec = self.by_frame.get(frame)
        if rec is not None and rec.suspend_start:
            _resume(rec, perf_counter_ns())
            self._mark_resumed(rec)

    def _mark_resumed(self, rec: Recording) -> None:
        state = rec.thread_state
        if rec.sticky:
            rec.sticky = False
            state.sticky -= 1
        if rec.is_suspended:
            rec.is_suspended = False
            state.suspended -= 1
        if rec not in state.running:
            state.running.append(rec)
        _retop(state)

    # mechanism-specific
    def _arm(self, rec: Recording, state: _ThreadState):
        """Can ``rec`` be recorded on this thread? False: no; True: yes; a function: yes, once it is
        installed as the thread's profile function (``begin`` does that last)."""
        raise NotImplementedError

    def _disarm(self, rec: Recording, state: _ThreadState) -> None:
        raise NotImplementedError

    def blocked_by_other_profiler(self) -> bool:
        return False

    def watch(self, code: types.CodeType) -> None:
        """Prepare ``code`` for recording (3.12+: local events). Reference-counted."""

    def unwatch(self, code: types.CodeType) -> None:
        """Undo one ``watch``."""


def _retop(state: _ThreadState) -> None:
    top = state.running[-1] if state.running else None
    state.top = top
    state.top_frame = top.frame if top is not None else None


def _within(rec: Recording, code) -> bool:
    parent = rec.parent
    while parent is not None:
        if parent.code is code:
            return True
        parent = parent.parent
    return False


def _attach_to_parent(rec: Recording) -> None:
    """A sub-recording (another traced function called inside a recorded one) hangs under the child call
    of its parent that was open when it began, else under the parent's root."""
    node = rec.parent_node
    holder = node if node is not None else rec.parent
    if isinstance(holder, list):
        if holder[NESTED] is None:
            holder[NESTED] = []
        if len(holder[NESTED]) < MAX_CHILD_SITES:
            holder[NESTED].append(rec)
    else:
        key = ("nested", id(rec))
        if len(holder.children) < MAX_CHILD_SITES:
            holder.children[key] = rec


# ---------------------------------------------------------------------------------------------------
# CPython 3.9-3.11: a profile function per thread, on only while a recording of that thread runs.

def _opcode_sets():
    names = dis.opmap
    return names.get("RETURN_VALUE"), names.get("YIELD_VALUE"), names.get("YIELD_FROM")


_RETURN_VALUE, _YIELD_VALUE, _YIELD_FROM = _opcode_sets()
_AWAIT_OPS = frozenset(op for op in (_YIELD_FROM, dis.opmap.get("SEND")) if op is not None)


def _awaiting(frame) -> bool:
    """Is ``frame`` (the traced frame) in the middle of an ``await`` / ``yield from``?"""
    lasti = frame.f_lasti
    return lasti >= 0 and frame.f_code.co_code[lasti] in _AWAIT_OPS


def _frame_suspends(frame) -> bool:
    """At a 'return' profile event: is the frame suspending (yield / await) rather than finishing?"""
    code = frame.f_code.co_code
    lasti = frame.f_lasti
    if lasti < 0:
        return False
    op = code[lasti]
    if op == _YIELD_VALUE:
        return True
    return _YIELD_FROM is not None and lasti + 2 < len(code) and code[lasti + 2] == _YIELD_FROM


class ProfileTimer(_Timer):
    def _arm(self, rec: Recording, state: _ThreadState):
        if state.installed:
            return True
        prev = sys.getprofile()
        if prev is not None and not isinstance(prev, (types.FunctionType, types.MethodType)):
            return False   # a C-level profiler (cProfile) owns this thread: never displace it
        return self._profiler_for(state, prev)

    def _profiler_for(self, state: _ThreadState, prev):
        """Our profile function for this thread, to be installed now (made once per thread and kind:
        making the closures costs microseconds on 3.9)."""
        state.prev_profile = prev
        profiler = state.profiler if prev is None else state.chained
        if profiler is None:
            profiler = self._make_profiler(state, chained=prev is not None)
            if prev is None:
                state.profiler = profiler
            else:
                state.chained = profiler
        state.installed = True
        return profiler

    def blocked_by_other_profiler(self) -> bool:
        """Is this thread's profile function a C-level profiler (cProfile) that tracing must not displace?"""
        prev = sys.getprofile()
        return prev is not None and not isinstance(prev, (types.FunctionType, types.MethodType)) and \
            not _is_ours(prev)

    def _disarm(self, rec: Recording, state: _ThreadState) -> None:
        """Off when nothing of this thread needs it (a recording suspended with no way to learn of its
        resumption, a generator's ``yield``, keeps it on)."""
        if state.installed and not state.running and state.pending is None and not state.sticky:
            self._uninstall(state)

    def _uninstall(self, state: _ThreadState) -> None:
        state.installed = False
        prev = state.prev_profile
        state.prev_profile = None
        current = sys.getprofile()
        if current is not None and (current is state.profiler or current is state.chained):
            sys.setprofile(prev)

    def _make_profiler(self, state: _ThreadState, chained: bool):
        """The profile function of one thread. Hot: every statement is paid per event. It compares the
        event's frame with the traced frame running now (``state.top_frame``) and its parent; any other
        event leaves at once, unless a recording waits for its frame to start or resume."""
        timer = self
        perf = perf_counter_ns
        new_callee = _node_for_new_callee
        limit, no_cost = MAX_CHILD_SITES, _NO_COST
        return_value, yield_value, yield_from = _RETURN_VALUE, _YIELD_VALUE, _YIELD_FROM
        rec_of = self.by_frame.get
        _end_child = _close_child

        def profile(frame, event, arg):
            top = state.top_frame
            try:
                if frame is top:                       # an event of the traced frame itself
                    rec = state.top
                    if event == "c_call":
                        if rec.open_node is not None:
                            return
                        site, callee, kind, child = frame.f_lasti, arg, _C, None
                    elif event == "return":
                        if _frame_suspends(frame):
                            timer._suspended(rec, frame, arg)
                        else:
                            timer._frame_returned(rec)
                        return
                    elif rec.open_node is None or rec.open_frame is not None or event == "call":
                        return
                    else:                              # c_return / c_exception of a C child
                        _end_child(rec, perf(), event == "c_exception")
                        return
                elif top is not None and frame.f_back is top:   # a Python child of the traced frame
                    rec = state.top
                    if event == "call":
                        if rec.open_node is not None:
                            return
                        site, callee, kind, child = top.f_lasti, frame.f_code, _PY, frame
                    else:
                        if event != "return" or rec.open_frame is not frame:
                            return
                        now = perf()
                        lasti = frame.f_lasti
                        code = frame.f_code.co_code
                        op = code[lasti]
                        if op == return_value:
                            raised = False
                        elif op == yield_value or (yield_from is not None and lasti + 2 < len(code)
                                                   and code[lasti + 2] == yield_from):
                            if _awaiting(top):
                                return          # an awaited child suspends: still open (wall time)
                            raised = False      # one step of a generator
                        else:
                            raised = True
                        _end_child(rec, now, raised)
                        return
                else:
                    if event == "call" and (state.pending is not None or state.suspended):
                        timer._frame_starting(state, frame)
                    return
                # a child call starts (inlined: this runs once per child call)
                children = rec.children
                node = children.get(site)
                if node is None and len(children) < limit:
                    node = children[site] = [site, callee, kind, 0, 0, no_cost, 0, 0, 0, 0, 0, None]
                elif node is None or node[1] is not callee:
                    node = new_callee(rec, site, callee, kind)
                rec.open_node = node
                rec.open_frame = child
                rec.open_start = perf()
            except Exception:
                timer._fail(state.top or rec_of(frame))

        if not chained:
            return profile

        def chained(frame, event, arg):
            prev = state.prev_profile
            if prev is not None:
                _chain(prev, state, frame, event, arg)
            profile(frame, event, arg)

        return chained

    def _frame_starting(self, state: _ThreadState, frame) -> None:
        """A frame starts or resumes while a recording waits: bind it, or mark the recording resumed."""
        try:
            pending = state.pending
            if pending is not None and frame.f_code is pending.code:
                self._bind(pending, frame)
                return
            self._frame_resumed(frame)
        except Exception:
            pass

    def _frame_returned(self, rec: Recording) -> None:
        """The traced frame returned (or raised): its cost ends here, and the profiler goes off now
        rather than after the engine's hooks (whose calls would all be events)."""
        rec.end = perf_counter_ns()
        state = rec.thread_state
        if rec in state.running:
            state.running.remove(rec)
            _retop(state)
        self._disarm(rec, state)

    def _suspended(self, rec: Recording, frame, awaited) -> None:
        _suspend(rec, frame.f_lasti, awaited if rec.open_node is None else None, perf_counter_ns())
        self._mark_suspended(rec)
        rec.await_resume = bool(rec.code.co_flags & _COROUTINE_FLAGS) and \
            _schedule_resume(lambda: self._resumed_soon(rec), awaited)
        if not rec.await_resume:
            if not rec.sticky:
                rec.sticky = True
                rec.thread_state.sticky += 1
        else:
            self._disarm(rec, rec.thread_state)

    def _resumed_soon(self, rec: Recording) -> None:
        """The awaited future is done: the traced frame resumes next on this thread; watch it again."""
        try:
            if rec.ended or rec.frame is None:
                return
            rec.await_resume = False
            state = rec.thread_state
            if state.installed or state.ident != _get_ident():
                return
            prev = sys.getprofile()
            if prev is not None and not isinstance(prev, (types.FunctionType, types.MethodType)):
                return
            sys.setprofile(self._profiler_for(state, prev))
        except Exception:
            pass

    def _fail(self, rec: Optional[Recording]) -> None:
        """Our own bug must not reach the target: stop recording this call."""
        try:
            rec.failed = True
            self.by_frame.pop(rec.frame, None)
            self._frame_returned(rec)
        except Exception:
            pass


def _is_ours(function) -> bool:
    return getattr(function, "__module__", None) == __name__


def _chain(prev, state: _ThreadState, frame, event, arg) -> None:
    try:
        prev(frame, event, arg)
    except Exception:
        state.prev_profile = None


def _schedule_resume(callback, awaited) -> bool:
    """asyncio only: learn when a suspended coroutine is about to resume, so that the profiler can be
    off while it waits. A future's done callbacks run on the loop thread just before the task steps."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:
        return False
    try:
        if awaited is not None and asyncio.isfuture(awaited):
            awaited.add_done_callback(lambda _future: callback())
            return True
        if awaited is None:
            asyncio.get_running_loop().call_soon(callback)
            return True
    except Exception:
        pass
    return False


# ---------------------------------------------------------------------------------------------------
# CPython 3.12+: sys.monitoring local events on the traced code objects.

_CALL_OPS = ("CALL", "CALL_FUNCTION_EX", "CALL_KW")


def _instruction_points(code: types.CodeType):
    """(return points, handler entries) of ``code``: where each call returns to (for a call awaited at
    once, where the await completes) and where exception handlers start."""
    instructions = list(dis.get_instructions(code))
    returns = set()
    for i, ins in enumerate(instructions):
        if ins.opname not in _CALL_OPS or i + 1 >= len(instructions):
            continue
        after = instructions[i + 1]
        if after.opname == "GET_AWAITABLE":
            for later in instructions[i + 2:]:
                if later.opname == "END_SEND":
                    after = later
                    break
        returns.add(after.offset)
    handlers = {entry.target for entry in dis.Bytecode(code).exception_entries}
    return frozenset(returns), frozenset(handlers)


class MonitoringTimer(_Timer):
    TOOL_NAME = "pyarthas-trace"

    def __init__(self):
        super().__init__()
        self.tool = None
        # Keyed by id(code): hashing a code object hashes its whole content, far too slow per event.
        self.watched: Dict[int, list] = {}     # id(code) -> [code, watch count]
        self.points: Dict[int, Any] = {}       # id(code) -> (return points, handler entries)

    def _arm(self, rec: Recording, state: _ThreadState):
        return id(rec.code) in self.watched

    def _disarm(self, rec: Recording, state: _ThreadState) -> None:
        pass

    def watch(self, code: types.CodeType) -> None:
        with self.lock:
            if self.tool is None:
                self._acquire_tool()
            entry = self.watched.get(id(code))
            if entry is None:
                self.points[id(code)] = _instruction_points(code)
                ev = sys.monitoring.events
                sys.monitoring.set_local_events(self.tool, code,
                                                ev.CALL | ev.INSTRUCTION | ev.PY_YIELD | ev.PY_RESUME)
                entry = self.watched[id(code)] = [code, 0]
            entry[1] += 1

    def unwatch(self, code: types.CodeType) -> None:
        with self.lock:
            entry = self.watched.get(id(code))
            if entry is None:
                return
            entry[1] -= 1
            if entry[1] > 0:
                return
            del self.watched[id(code)]
            self.points.pop(id(code), None)
            if self.tool is not None:
                try:
                    sys.monitoring.set_local_events(self.tool, code, 0)
                except Exception:
                    pass
            if not self.watched:
                self._release_tool()

    def _acquire_tool(self) -> None:
        mon = sys.monitoring
        for tool in (4, 3, 1, 0, 2, 5):
            if mon.get_tool(tool) is None:
                try:
                    mon.use_tool_id(tool, self.TOOL_NAME)
                except ValueError:
                    continue
                self.tool = tool
                break
        else:
            raise RuntimeError("no free sys.monitoring tool id (all 6 are in use by other tools)")
        ev = mon.events
        mon.register_callback(self.tool, ev.CALL, self._make_on_call())
        mon.register_callback(self.tool, ev.INSTRUCTION, self._make_on_instruction())
        mon.register_callback(self.tool, ev.PY_YIELD, self._on_yield)
        mon.register_callback(self.tool, ev.PY_RESUME, self._on_resume)

    def _release_tool(self) -> None:
        tool = self.tool
        self.tool = None
        if tool is None:
            return
        mon = sys.monitoring
        try:
            ev = mon.events
            for event in (ev.CALL, ev.INSTRUCTION, ev.PY_YIELD, ev.PY_RESUME):
                mon.register_callback(tool, event, None)
            mon.free_tool_id(tool)
        except Exception:
            pass

    def _bind_pending(self, code, frame) -> Optional[Recording]:
        """The first event of a traced frame (a CALL, or a PY_YIELD before any call): the recording
        this thread began for ``code``, now bound to ``frame``. Binding on the first event rather than on
        PY_START saves an event per traced call (a call without children needs no binding)."""
        state = self.threads.get(_get_ident())
        if state is None:
            return None
        rec = state.pending
        if rec is None or rec.code is not code:
            return None
        rec.returns, rec.handlers = self.points.get(id(code), _NO_POINTS)
        rec.frame = frame
        self.by_frame[frame] = rec
        state.pending = None
        state.running.append(rec)
        state.top = rec
        state.top_frame = frame
        return rec

    def _make_on_call(self):
        """CALL in a traced frame: the previous child (if still open) ended, a new one starts. Hot."""
        by_frame_get = self.by_frame.get
        perf = perf_counter_ns
        new_callee = _node_for_new_callee
        limit, no_cost = MAX_CHILD_SITES, _NO_COST

        bind_pending = self._bind_pending

        def on_call(code, offset, callee, arg0):
            try:
                frame = _getframe(1)
                rec = by_frame_get(frame)
                if rec is None:
                    rec = bind_pending(code, frame)
                    if rec is None:
                        return
            except Exception:
                return
            try:
                now = perf()
                if rec.suspend_start:
                    _resume(rec, now)
                if rec.open_node is not None:
                    _close_child(rec, now, False)
                children = rec.children
                node = children.get(offset)
                if node is None and len(children) < limit:    # a new site: the list made inline (hot)
                    node = children[offset] = [offset, callee, _C, 0, 0, no_cost, 0, 0, 0, 0, 0, None]
                elif node is None or node[1] is not callee:
                    node = new_callee(rec, offset, callee, _C)
                rec.open_node = node
                rec.open_start = now
            except Exception:
                self._fail(rec)

        return on_call

    def _make_on_instruction(self):
        """INSTRUCTION at a return point or a handler entry of a traced frame closes the open child;
        every other location is disabled at its first event. Hot."""
        by_frame_get = self.by_frame.get
        points_get = self.points.get
        perf = perf_counter_ns
        disable = sys.monitoring.DISABLE

        def on_instruction(code, offset):
            try:                     # free on 3.12+ (zero-cost exceptions); nothing may reach the target
                rec = by_frame_get(_getframe(1))
                if rec is None:
                    returns, handlers = points_get(id(code), _NO_POINTS)
                    if offset not in returns and offset not in handlers:
                        return disable
                    return None
                node = rec.open_node
                if offset in rec.returns:
                    raised = False
                elif offset in rec.handlers:
                    raised = True
                else:
                    return disable
                if node is not None:
                    cost = perf() - rec.open_start
                    rec.open_node = None
                    node[3] += 1     # _close_child inlined (one call less per child): TIMES, TOTAL,
                    node[4] += cost  # LAST, MIN, MAX, THROWS
                    node[7] = cost
                    if cost < node[5]:
                        node[5] = cost
                    if cost > node[6]:
                        node[6] = cost
                    if raised:
                        node[8] += 1
            except Exception:
                pass
            return None

        return on_instruction

    def _on_yield(self, code, offset, value):
        try:
            frame = _getframe(1)
            rec = self.by_frame.get(frame) or self._bind_pending(code, frame)
            if rec is not None:
                _suspend(rec, offset, value if rec.open_node is None else None, perf_counter_ns())
                self._mark_suspended(rec)
        except Exception:
            pass

    def _on_resume(self, code, offset):
        try:
            self._frame_resumed(_getframe(1))
        except Exception:
            pass

    def _fail(self, rec: Recording) -> None:
        rec.failed = True
        try:
            self.by_frame.pop(rec.frame, None)
        except Exception:
            pass


TIMER: _Timer = MonitoringTimer() if USES_MONITORING else ProfileTimer()
