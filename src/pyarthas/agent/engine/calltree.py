"""Timing of the direct child calls of a traced function: the mechanism behind ``trace``.

A ``Recording`` is one outermost call of a traced function. ``TIMER.begin(code, owner)`` starts one on the
calling (target) thread just before the traced code runs; ``TIMER.finish(rec, raised)`` ends it right after.
In between, only the events of that call are seen, only on its own thread:

- CPython 3.9-3.11: a per-thread ``sys.setprofile`` function, switched on at entry and off at exit. Events
  of grandchildren reach it too (a profile function cannot be limited to one frame) and are dropped after
  two dictionary look-ups. A profile function already installed on the thread is chained and restored.
- CPython 3.12+: ``sys.monitoring`` *local* events on the traced code objects only (a free tool id):
  CALL opens a child; an INSTRUCTION event at the instruction a call returns to closes it, and one at an
  exception handler's entry closes it as raised (every other instruction location is disabled after its
  first event, so it costs nothing afterwards). PY_YIELD/PY_RESUME mark where a coroutine was suspended.

Repeated calls from the same call site are merged (times, min, max, total), as Arthas merges identical
invocations. Coroutines: a child awaited directly (``await child()``) is timed until the await completes,
so its cost is wall time across suspensions; each suspension of the traced frame is recorded at its
line, on the child being awaited, or as a ``suspend`` node when the frame awaited something that is not a
call (a future, a bare ``yield``).

Nothing here may raise into the target: every callback catches its own errors and turns the recording
off. ``build_method_node`` turns a finished recording into Arthas's trace node dictionaries; it runs on an
agent thread (at serialization).
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


# The calls made from one call site of the traced frame (merged repeats) are a list, not an object:
# creating and updating it is the per-child cost, and a list literal is several times cheaper.
SITE, CALLEE, KIND, TIMES, TOTAL, MIN, MAX, LAST, THROWS, SUSPENSIONS, SUSPENDED, NESTED = range(12)


def new_child_call(site: int, callee: Any, kind: int) -> list:
    return [site, callee, kind, 0, 0, _NO_COST, 0, 0, 0, 0, 0, None]


def _add_cost(node: list, cost: int, raised: bool) -> None:
    node[TIMES] += 1
    node[TOTAL] += cost
    node[LAST] = cost
    if cost < node[MIN]:
        node[MIN] = cost
    if cost > node[MAX]:
        node[MAX] = cost
    if raised:
        node[THROWS] += 1


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
    """One outermost call of a traced function and its direct children. Fields that rarely change are
    class-level defaults: a recording is created per traced call."""

    frame = None
    end = 0
    open_node: Optional[list] = None       # the child call in progress (a child-call list)
    open_start = 0
    open_frame = None                      # 3.9-3.11: the frame of the open Python child
    suspend_start = 0                      # when the traced frame suspended (0: running)
    suspend_site = -1
    suspend_what = None
    raised = False
    ended = False
    failed = False
    parent: Optional["Recording"] = None   # the enclosing recording of a sub-recording (trace -p)
    parent_node: Optional[list] = None
    dropped = 0
    thread_state = None
    await_resume = False
    sticky = False

    def __init__(self, code: types.CodeType, owner: Any):
        self.code = code
        self.owner = owner
        self.thread_ident = _get_ident()
        self.children: Dict[Any, Any] = {}     # site key -> child-call list, Suspension or Recording
        self.returns = self.handlers = _NO_OFFSETS
        self.start = perf_counter_ns()

    @property
    def cost_ns(self) -> int:
        return (self.end or perf_counter_ns()) - self.start


# ---------------------------------------------------------------------------------------------------
# The hot path shared by both mechanisms (kept small: every statement here is paid per child call).

def _open_child(rec: Recording, site: int, callee: Any, kind: int, now: int) -> None:
    children = rec.children
    node = children.get(site)
    if node is None or node[CALLEE] is not callee:
        node = _node_for_new_callee(rec, site, callee, kind)
    rec.open_node = node
    rec.open_start = now


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
    else:
        rec.dropped += 1
    return node


def _close_child(rec: Recording, now: int, raised: bool) -> None:
    node = rec.open_node
    rec.open_node = None
    rec.open_frame = None
    _add_cost(node, now - rec.open_start, raised)


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
        point = Suspension(rec.suspend_site, _describe_awaited(rec.suspend_what))
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
    if value is None:
        return "yield"
    kind = type(value)
    return "%s.%s" % (kind.__module__, kind.__qualname__)


_FUNCTION_TYPES = (types.FunctionType, types.MethodType)
_C_CALLABLE_TYPES = (types.BuiltinFunctionType, types.MethodDescriptorType, types.WrapperDescriptorType,
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
    if kind in _C_CALLABLE_TYPES:
        return callee.__qualname__
    return kind


# ---------------------------------------------------------------------------------------------------
# Per-thread bookkeeping shared by both mechanisms.

class _ThreadState:
    __slots__ = ("ident", "pending", "running", "live", "sticky", "profiler", "installed", "prev_profile")

    def __init__(self, ident: int):
        self.ident = ident
        self.pending: Optional[Recording] = None   # begun, its frame not started yet
        self.running: List[Recording] = []         # bound and not suspended, innermost last
        self.live = 0                              # recordings begun and not finished
        self.sticky = 0                            # suspended with no way to learn of their resumption
        self.profiler = None
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

    def running_recording(self, owner: Any) -> Optional[Recording]:
        """The innermost recording of ``owner`` running (not suspended) on this thread, if any."""
        state = self.threads.get(_get_ident())
        if state is None:
            return None
        for rec in reversed(state.running):
            if rec.owner is owner:
                return rec
        return None

    def begin(self, code: types.CodeType, owner: Any) -> Optional[Recording]:
        """Start recording the call of ``code`` about to run on this thread. Returns None when it cannot
        be recorded: a call of the same code already recorded by ``owner`` on this thread (recursion), or
        a recording that has not started its frame yet. A call of another traced code made while one of
        the owner's recordings runs is recorded as a sub-tree of that recording (``trace -p``)."""
        try:
            state = self._thread_state()
            if state.pending is not None:
                return None
            outer = None
            for rec in reversed(state.running):
                if rec.owner is owner:
                    outer = rec
                    break
            if outer is not None and (outer.code is code or _within(outer, code)):
                return None
            rec = Recording(code, owner)
            rec.thread_state = state
            if outer is not None:
                rec.parent = outer
                rec.parent_node = outer.open_node
            if not self._arm(rec, state):
                return None
            state.pending = rec
            state.live += 1
            return rec
        except Exception:
            return None

    def finish(self, rec: Recording, raised: bool) -> Recording:
        """End ``rec`` (on the thread that began it, after the traced code returned or raised)."""
        try:
            now = perf_counter_ns()
            self._release(rec)      # first: the profiler (3.9-3.11) goes off before our own bookkeeping
            rec.end = now
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
        if running and running[-1] is rec:
            running.pop()
        elif rec in running:
            running.remove(rec)
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

    def _mark_suspended(self, rec: Recording) -> None:
        running = rec.thread_state.running
        if rec in running:
            running.remove(rec)

    def _mark_resumed(self, rec: Recording) -> None:
        if rec.sticky:
            rec.sticky = False
            rec.thread_state.sticky -= 1
        running = rec.thread_state.running
        if rec not in running:
            running.append(rec)

    # mechanism-specific
    def _arm(self, rec: Recording, state: _ThreadState) -> bool:
        raise NotImplementedError

    def _disarm(self, rec: Recording, state: _ThreadState) -> None:
        raise NotImplementedError

    def watch(self, code: types.CodeType) -> None:
        """Prepare ``code`` for recording (3.12+: local events). Reference-counted."""

    def unwatch(self, code: types.CodeType) -> None:
        """Undo one ``watch``."""


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
_COROUTINE_FLAGS = 0x80 | 0x100   # CO_COROUTINE | CO_ITERABLE_COROUTINE


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
    def _arm(self, rec: Recording, state: _ThreadState) -> bool:
        if state.installed:
            return True
        prev = sys.getprofile()
        if prev is not None and not isinstance(prev, (types.FunctionType, types.MethodType)):
            return False   # a C-level profiler (cProfile) owns this thread: never displace it
        if state.profiler is None:
            state.profiler = self._make_profiler(state)
        state.prev_profile = prev
        state.installed = True
        sys.setprofile(state.profiler)
        return True

    def _disarm(self, rec: Recording, state: _ThreadState) -> None:
        """Off when nothing of this thread needs it (a recording suspended with no way to learn of its
        resumption, a generator's ``yield``, keeps it on)."""
        if state.installed and not state.running and state.pending is None and not state.sticky:
            self._uninstall(state)

    def _uninstall(self, state: _ThreadState) -> None:
        state.installed = False
        prev = state.prev_profile
        state.prev_profile = None
        if sys.getprofile() is state.profiler:
            sys.setprofile(prev)

    def _make_profiler(self, state: _ThreadState):
        """The profile function of one thread. Hot: every statement is paid per event; grandchildren's
        events leave after two dictionary look-ups."""
        by_frame_get = self.by_frame.get
        timer = self
        perf = perf_counter_ns
        new_callee = _node_for_new_callee
        return_value, yield_value, yield_from = _RETURN_VALUE, _YIELD_VALUE, _YIELD_FROM

        def profile(frame, event, arg):
            prev = state.prev_profile
            if prev is not None:
                _chain(prev, state, frame, event, arg)
            pending = state.pending
            if pending is not None and event == "call" and frame.f_code is pending.code:
                timer._bind(pending, frame)
            rec = by_frame_get(frame)
            if rec is None:
                back = frame.f_back
                rec = by_frame_get(back)
                if rec is None:
                    return
                # a Python child of the traced frame (or a grandchild run by a C child: ignored)
                try:
                    if event == "call":
                        if rec.open_node is None:
                            site = back.f_lasti
                            code = frame.f_code
                            node = rec.children.get(site)
                            if node is None or node[1] is not code:
                                node = new_callee(rec, site, code, _PY)
                            rec.open_node = node
                            rec.open_frame = frame
                            rec.open_start = perf()
                    elif event == "return" and rec.open_frame is frame:
                        now = perf()
                        lasti = frame.f_lasti
                        code = frame.f_code.co_code
                        op = code[lasti]
                        if op == return_value:
                            raised = False
                        elif op == yield_value or (yield_from is not None and lasti + 2 < len(code)
                                                   and code[lasti + 2] == yield_from):
                            if _awaiting(back):
                                return          # an awaited child suspends: still open (wall time)
                            raised = False      # one step of a generator
                        else:
                            raised = True
                        node = rec.open_node
                        rec.open_node = None
                        rec.open_frame = None
                        cost = now - rec.open_start
                        node[3] += 1                   # TIMES, TOTAL, LAST, MIN, MAX, THROWS inline
                        node[4] += cost
                        node[7] = cost
                        if cost < node[5]:
                            node[5] = cost
                        if cost > node[6]:
                            node[6] = cost
                        if raised:
                            node[8] += 1
                except Exception:
                    timer._fail(rec)
                return
            # an event of the traced frame itself
            try:
                if event == "c_call":
                    if rec.open_node is None:
                        site = frame.f_lasti
                        node = rec.children.get(site)
                        if node is None or node[1] is not arg:
                            node = new_callee(rec, site, arg, _C)
                        rec.open_node = node
                        rec.open_start = perf()
                elif event == "c_return" or event == "c_exception":
                    if rec.open_node is not None and rec.open_frame is None:
                        _close_child(rec, perf(), event == "c_exception")
                elif event == "return":
                    if _frame_suspends(frame):
                        timer._suspended(rec, frame, arg)
                elif event == "call" and rec.suspend_start:
                    _resume(rec, perf())
                    timer._mark_resumed(rec)
            except Exception:
                timer._fail(rec)

        return profile

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
            state = rec.thread_state
            if not state.running and state.pending is None:
                self._uninstall(state)

    def _resumed_soon(self, rec: Recording) -> None:
        """The awaited future is done: the traced frame resumes next on this thread; watch it again."""
        try:
            if rec.ended or rec.frame is None:
                return
            rec.await_resume = False
            state = rec.thread_state
            if state.installed or rec.thread_ident != _get_ident():
                return
            prev = sys.getprofile()
            if prev is not None and not isinstance(prev, (types.FunctionType, types.MethodType)):
                return
            state.prev_profile = prev
            state.installed = True
            sys.setprofile(state.profiler)
        except Exception:
            pass

    def _fail(self, rec: Recording) -> None:
        """Our own bug must not reach the target: stop recording this call."""
        rec.failed = True
        try:
            self.by_frame.pop(rec.frame, None)
        except Exception:
            pass


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

    def _arm(self, rec: Recording, state: _ThreadState) -> bool:
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
                sys.monitoring.set_local_events(
                    self.tool, code,
                    ev.PY_START | ev.CALL | ev.INSTRUCTION | ev.PY_YIELD | ev.PY_RESUME)
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
        mon.register_callback(self.tool, ev.PY_START, self._on_start)
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
            for event in (ev.PY_START, ev.CALL, ev.INSTRUCTION, ev.PY_YIELD, ev.PY_RESUME):
                mon.register_callback(tool, event, None)
            mon.free_tool_id(tool)
        except Exception:
            pass

    def _on_start(self, code, offset):
        try:
            state = self.threads.get(_get_ident())
            if state is not None:
                rec = state.pending
                if rec is not None and rec.code is code:
                    self._bind(rec, _getframe(1))
        except Exception:
            pass

    def _bind(self, rec: Recording, frame) -> None:
        rec.returns, rec.handlers = self.points.get(id(rec.code), _NO_POINTS)
        super()._bind(rec, frame)

    def _make_on_call(self):
        """CALL in a traced frame: the previous child (if still open) ended, a new one starts. Hot."""
        by_frame_get = self.by_frame.get
        perf = perf_counter_ns
        new_callee = _node_for_new_callee

        def on_call(code, offset, callee, arg0):
            rec = by_frame_get(_getframe(1))
            if rec is None:
                return
            try:
                now = perf()
                if rec.suspend_start:
                    _resume(rec, now)
                if rec.open_node is not None:
                    _close_child(rec, now, False)
                node = rec.children.get(offset)
                if node is None or node[1] is not callee:
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
                node[3] += 1                           # TIMES, TOTAL, LAST, MIN, MAX, THROWS inline
                node[4] += cost
                node[7] = cost
                if cost < node[5]:
                    node[5] = cost
                if cost > node[6]:
                    node[6] = cost
                if raised:
                    node[8] += 1
            return None

        return on_instruction

    def _on_yield(self, code, offset, value):
        try:
            rec = self.by_frame.get(_getframe(1))
            if rec is not None:
                _suspend(rec, offset, value if rec.open_node is None else None, perf_counter_ns())
                self._mark_suspended(rec)
        except Exception:
            pass

    def _on_resume(self, code, offset):
        try:
            rec = self.by_frame.get(_getframe(1))
            if rec is not None and rec.suspend_start:
                _resume(rec, perf_counter_ns())
                self._mark_resumed(rec)
        except Exception:
            pass

    def _fail(self, rec: Recording) -> None:
        rec.failed = True
        try:
            self.by_frame.pop(rec.frame, None)
        except Exception:
            pass


TIMER: _Timer = MonitoringTimer() if USES_MONITORING else ProfileTimer()


# ---------------------------------------------------------------------------------------------------
# From a finished recording to Arthas's trace nodes (agent thread, at serialization).

def _line_table(code: types.CodeType):
    cached = _LINES.get(code)
    if cached is None:
        starts = sorted((offset, line) for offset, line in dis.findlinestarts(code) if line is not None)
        cached = _LINES[code] = starts
        if len(_LINES) > 4096:
            _LINES.clear()
    return cached


_LINES: Dict[types.CodeType, list] = {}


def line_at(code: types.CodeType, offset: int) -> int:
    """The source line of the instruction at ``offset`` (-1 when unknown)."""
    line = -1
    for start, number in _line_table(code):
        if start > offset:
            break
        line = number
    return line


def describe_callee(callee: Any):
    """(className, methodName) of a child call as Arthas shows it: the defining class or module and the
    function's name; C functions by their type or module (``builtins.list``, ``append``)."""
    if isinstance(callee, types.CodeType):
        module = _module_of_code(callee)
        owner, _, name = _qualname_of_code(callee, module).rpartition(".")
        owner = owner.replace(".<locals>", "")
        return (module + "." + owner if owner else module), name
    kind = type(callee)
    if kind is types.MethodType:
        callee = callee.__func__
        kind = type(callee)
    if kind is types.FunctionType:
        module = callee.__module__ or _module_of_code(callee.__code__)
        owner, _, name = callee.__qualname__.rpartition(".")
        owner = owner.replace(".<locals>", "")
        return (module + "." + owner if owner else module), name
    if isinstance(callee, type):
        return _qualified(callee), "__init__"
    if kind in _C_CALLABLE_TYPES:
        name = callee.__name__
        owner = getattr(callee, "__objclass__", None)
        if owner is None:
            bound = callee.__self__
            if bound is None or isinstance(bound, types.ModuleType):
                return (getattr(bound, "__name__", None) or callee.__module__ or "builtins"), name
            owner = bound if isinstance(bound, type) else type(bound)
        return _qualified(owner), name
    return _qualified(kind), "__call__"


def _qualified(kind: type) -> str:
    module = getattr(kind, "__module__", None) or "builtins"
    return "%s.%s" % (module, getattr(kind, "__qualname__", kind.__name__))


def _module_of_code(code: types.CodeType) -> str:
    filename = code.co_filename
    name = _MODULE_BY_FILE.get(filename)
    if name is None:
        for module_name, module in list(sys.modules.items()):
            if getattr(module, "__file__", None) == filename:
                name = module_name
                break
        else:
            base = filename.replace("\\", "/").rsplit("/", 1)[-1]
            name = base[:-3] if base.endswith(".py") else base
        _MODULE_BY_FILE[filename] = name
    return name


_MODULE_BY_FILE: Dict[str, str] = {}


def _qualname_of_code(code: types.CodeType, module_name: str) -> str:
    """``co_qualname`` where it exists (3.11+); before, the function holding ``code`` is looked up in
    its module's classes (one level of nesting), else the bare name."""
    qualname = getattr(code, "co_qualname", None)
    if qualname:
        return qualname
    module = sys.modules.get(module_name)
    for value in list(vars(module).values()) if module is not None else ():
        found = _find_code_in(value, code, 2)
        if found:
            return found
    return code.co_name


def _find_code_in(value: Any, code: types.CodeType, depth: int) -> Optional[str]:
    func = getattr(value, "__func__", None) if isinstance(value, (staticmethod, classmethod)) else value
    if isinstance(value, property):
        func = value.fget
    if isinstance(func, types.FunctionType) and func.__code__ is code:
        return func.__qualname__
    if isinstance(value, type) and depth > 0:
        for member in list(vars(value).values()):
            found = _find_code_in(member, code, depth - 1)
            if found:
                return found
    return None


def _method_node(class_name, method_name, line, times, cost, min_cost, max_cost, total, throws,
                 invoking=True) -> Dict[str, Any]:
    node = {"type": "method", "className": class_name, "methodName": method_name, "lineNumber": line,
            "invoking": invoking, "cost": cost, "minCost": min_cost, "maxCost": max_cost,
            "totalCost": total, "times": times}
    if throws:
        node["throw"] = True
        node["mark"] = "throws Exception"
    return node


def build_method_node(rec: Recording, class_name: str, method_name: str, skip_builtins: bool = False,
                      exception: Optional[BaseException] = None, counter: Optional[list] = None):
    """The traced call as Arthas's method node (``invoking: false``, ``lineNumber: -1``) with its children
    and, when it raised, a ``throw`` node. ``counter[0]`` accumulates the number of nodes."""
    counter = counter if counter is not None else [0]
    cost = rec.cost_ns
    root = _method_node(class_name, method_name, -1, 1, cost, cost, cost, cost, rec.raised, invoking=False)
    counter[0] += 1
    children = _child_nodes(rec, skip_builtins, counter)
    if rec.raised and exception is not None:
        children.append(throw_node(exception, rec.code))
        counter[0] += 1
        root["mark"] = "throws Exception"
    if children:
        root["children"] = children
    return root


def merge_recordings(recs: List[Recording], class_name: str, method_name: str, skip_builtins: bool,
                     counter: list) -> Dict[str, Any]:
    """Several sub-recordings of one traced function under the same call node: one merged node."""
    nodes = [build_method_node(r, class_name, method_name, skip_builtins, counter=counter) for r in recs]
    merged = nodes[0]
    if len(nodes) > 1:
        costs = [n["cost"] for n in nodes]
        merged.update(times=len(nodes), minCost=min(costs), maxCost=max(costs), totalCost=sum(costs),
                      cost=costs[-1])
        children = []
        for n in nodes:
            children.extend(n.get("children", ()))
        merged["children"] = _merge_same(children)
    return merged


def _merge_same(nodes: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    out: Dict[Any, Dict[str, Any]] = {}
    for node in nodes:
        key = (node.get("type"), node.get("className"), node.get("methodName"), node.get("lineNumber"),
               node.get("exception"))
        have = out.get(key)
        if have is None or node.get("type") != "method":
            out[key if have is None else (key, id(node))] = node
            continue
        have["times"] += node["times"]
        have["totalCost"] += node["totalCost"]
        have["minCost"] = min(have["minCost"], node["minCost"])
        have["maxCost"] = max(have["maxCost"], node["maxCost"])
        have["cost"] = node["cost"]
        if node.get("throw"):
            have["throw"] = True
            have["mark"] = "throws Exception"
        if node.get("children"):
            have["children"] = _merge_same(have.get("children", []) + node["children"])
    return list(out.values())


def _child_nodes(rec: Recording, skip_builtins: bool, counter: list) -> List[Dict[str, Any]]:
    merged: Dict[Any, Dict[str, Any]] = {}
    for item in list(rec.children.values()):
        if isinstance(item, Recording):
            class_name, method_name = describe_callee(item.code)
            node = build_method_node(item, class_name, method_name, skip_builtins, counter=counter)
            merged[("nested", id(item))] = node
            continue
        if isinstance(item, Suspension):
            if item.times:
                line = line_at(rec.code, item.site)
                merged[("suspend", line, item.awaiting)] = {
                    "type": "suspend", "awaiting": item.awaiting, "lineNumber": line, "times": item.times,
                    "cost": item.last, "minCost": item.min, "maxCost": item.max, "totalCost": item.total}
                counter[0] += 1
            continue
        if not item[TIMES]:
            continue
        if skip_builtins and _is_builtin(item[CALLEE]) and not item[NESTED]:
            continue
        line = line_at(rec.code, item[SITE])
        class_name, method_name = describe_callee(item[CALLEE])
        key = (class_name, method_name, line)
        node = merged.get(key)
        if node is None:
            node = merged[key] = _method_node(class_name, method_name, line, 0, 0, item[MIN], item[MAX], 0, 0)
            counter[0] += 1
        _add_stats(node, item)
        if item[NESTED]:
            by_code: Dict[int, List[Recording]] = {}
            for sub in item[NESTED]:
                by_code.setdefault(id(sub.code), []).append(sub)
            subs = node.setdefault("children", [])
            for recs in by_code.values():
                sub_class, sub_method = describe_callee(recs[0].code)
                subs.append(merge_recordings(recs, sub_class, sub_method, skip_builtins, counter))
    return list(merged.values())


def _add_stats(node: Dict[str, Any], item: list) -> None:
    first = node["times"] == 0
    node["times"] += item[TIMES]
    node["totalCost"] += item[TOTAL]
    node["cost"] = item[LAST]
    node["minCost"] = item[MIN] if first else min(node["minCost"], item[MIN])
    node["maxCost"] = item[MAX] if first else max(node["maxCost"], item[MAX])
    if item[THROWS]:
        node["throw"] = True
        node["mark"] = "throws Exception"
    if item[SUSPENSIONS]:
        node["suspensions"] = node.get("suspensions", 0) + item[SUSPENSIONS]
        node["suspendedCost"] = node.get("suspendedCost", 0) + item[SUSPENDED]


def _is_builtin(callee: Any) -> bool:
    """``--skip-builtins``: calls into C (builtins, C methods, C types) and into the standard library."""
    if isinstance(callee, types.CodeType):
        return _is_stdlib_file(callee.co_filename)
    func = getattr(callee, "__func__", callee)
    code = getattr(func, "__code__", None)
    if code is not None:
        return _is_stdlib_file(code.co_filename)
    return True


_STDLIB_PREFIXES = tuple({p for p in (getattr(sys, "base_prefix", None), getattr(sys, "prefix", None)) if p})


def _is_stdlib_file(filename: str) -> bool:
    if filename.startswith("<frozen"):
        return True
    if "site-packages" in filename or "dist-packages" in filename:
        return False
    return filename.startswith(_STDLIB_PREFIXES) and "/lib/python" in filename


def throw_node(exception: BaseException, code: Optional[types.CodeType] = None) -> Dict[str, Any]:
    """Arthas's throw node: the exception's class, message and the line of ``code`` it passed."""
    line = -1
    tb = exception.__traceback__
    while tb is not None:
        if code is None or tb.tb_frame.f_code is code:
            line = tb.tb_lineno
        tb = tb.tb_next
    kind = type(exception)
    module = kind.__module__
    return {"type": "throw", "exception": kind.__qualname__ if module == "builtins" else
            "%s.%s" % (module, kind.__qualname__), "message": _message(exception), "lineNumber": line}


def _message(exception: BaseException) -> Optional[str]:
    try:
        return str(exception) if exception.args else None
    except Exception:
        return None
