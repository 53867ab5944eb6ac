"""CPython 3.9-3.11: the traced code's own call sites timed by a rewritten copy of it (``rewrite``), or,
where it cannot be rewritten (generators, coroutines, a code given without the function that runs it), a
per-thread ``sys.setprofile`` function, switched on at entry and off as soon as the traced frame returns.

A rewritten call needs no profile function: ``begin`` gives the recording a raw buffer, the copy's entry
takes it (``Rewritten.waiting``), and ``recording.materialize`` builds the tree when the call is reported.

Events of grandchildren reach it too (a profile function cannot be limited to one frame) and leave after
two identity comparisons. A Python profile function already installed on the thread is chained and
restored; a C-level one (cProfile) is never displaced: that call is not traced. A coroutine suspended on
an asyncio future turns it off until the future's done callback runs.
"""
import dis
import sys
import threading
import types
from time import perf_counter_ns
from typing import Optional

from .recording import (
    C_KIND,
    COROUTINE_FLAGS,
    MAX_CHILD_SITES,
    NO_COST,
    PY_KIND,
    Recording,
    close_child,
    node_for_new_callee,
    suspend,
)
from .state import ThreadState, Timer, retop

_get_ident = threading.get_ident


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


class ProfileTimer(Timer):
    """The timer of CPython 3.9-3.11: a profile function per thread, on only while a recording of that
    thread runs (or waits with no other way to learn that it resumes)."""

    def _arm(self, rec: Recording, state: ThreadState):
        if state.installed:
            return True
        prev = sys.getprofile()
        if prev is not None and not isinstance(prev, (types.FunctionType, types.MethodType)):
            return False   # a C-level profiler (cProfile) owns this thread: never displace it
        return self._profiler_for(state, prev)

    def _profiler_for(self, state: ThreadState, prev):
        """Our profile function for this thread, to be installed now (made once per thread and kind:
        making the closures costs microseconds on 3.9)."""
        state.prev_profile = prev
        profiler = state.profiler if prev is None else state.chained
        if profiler is None:
            profiler = self._make_profiler(state, after_prev=prev is not None)
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

    def _disarm(self, rec: Recording, state: ThreadState) -> None:
        """Off when nothing of this thread needs it (a recording suspended with no way to learn of its
        resumption, a generator's ``yield``, keeps it on)."""
        if state.installed and not state.running and state.pending is None and not state.sticky:
            self._uninstall(state)

    def _uninstall(self, state: ThreadState) -> None:
        state.installed = False
        prev = state.prev_profile
        state.prev_profile = None
        current = sys.getprofile()
        if current is not None and (current is state.profiler or current is state.chained):
            sys.setprofile(prev)

    def _make_profiler(self, state: ThreadState, after_prev: bool):
        """The profile function of one thread. Hot: every statement is paid per event. It compares the
        event's frame with the traced frame running now (``state.top_frame``) and its parent; any other
        event leaves at once, unless a recording waits for its frame to start or resume."""
        timer = self
        perf = perf_counter_ns
        new_callee = node_for_new_callee
        limit, no_cost = MAX_CHILD_SITES, NO_COST
        return_value, yield_value, yield_from = _RETURN_VALUE, _YIELD_VALUE, _YIELD_FROM
        rec_of = self.by_frame.get
        _end_child = close_child

        def profile(frame, event, arg):
            top = state.top_frame
            try:
                if frame is top:                       # an event of the traced frame itself
                    rec = state.top
                    if event == "c_call":
                        if rec.open_node is not None:
                            return
                        site, callee, kind, child = frame.f_lasti, arg, C_KIND, None
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
                        site, callee, kind, child = top.f_lasti, frame.f_code, PY_KIND, frame
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

        if not after_prev:
            return profile

        def chained(frame, event, arg):
            prev = state.prev_profile
            if prev is not None:
                _chain(prev, state, frame, event, arg)
            profile(frame, event, arg)

        return chained

    def _bind(self, rec: Recording, frame) -> None:
        rec.frame = frame
        self.by_frame[frame] = rec
        state = rec.thread_state
        state.pending = None
        state.running.append(rec)
        retop(state)

    def _frame_starting(self, state: ThreadState, frame) -> None:
        """A frame starts or resumes while a recording waits: bind it, or mark the recording resumed."""
        try:
            pending = state.pending
            if pending is not None and frame.f_code is pending.code and pending.buffer is None:
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
            retop(state)
        self._disarm(rec, state)

    def _suspended(self, rec: Recording, frame, awaited) -> None:
        suspend(rec, frame.f_lasti, awaited if rec.open_node is None else None, perf_counter_ns())
        self._mark_suspended(rec)
        rec.await_resume = bool(rec.code.co_flags & COROUTINE_FLAGS) and \
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
        if rec is None:
            return
        try:
            rec.failed = True
            self.by_frame.pop(rec.frame, None)
            self._frame_returned(rec)
        except Exception:
            pass


def _is_ours(function) -> bool:
    return getattr(function, "__module__", None) == __name__


def _chain(prev, state: ThreadState, frame, event, arg) -> None:
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
