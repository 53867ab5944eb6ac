"""CPython 3.12+: ``sys.monitoring`` *local* events on the traced code objects only (a free tool id), for
the codes that are not rewritten (``rewrite``): generators and coroutines, and a code another monitoring
tool watches (its events would not fire in a copy).

CALL opens a child (the first one binds the recording to its frame); an INSTRUCTION event at the
instruction a call returns to closes it, and one at an exception handler's entry closes it as raised
(every other instruction location is disabled after its first event, so it costs nothing afterwards).
PY_YIELD/PY_RESUME mark where a coroutine was suspended.
"""
import dis
import sys
import threading
import types
from time import perf_counter_ns
from typing import Any, Dict, Optional

from .recording import (
    C_KIND,
    MAX_CHILD_SITES,
    NO_COST,
    NO_POINTS,
    Recording,
    close_child,
    node_for_new_callee,
    resume,
    suspend,
)
from .state import ThreadState, Timer

_getframe = sys._getframe
_get_ident = threading.get_ident


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


class MonitoringTimer(Timer):
    """The timer of CPython 3.12+: events only on the code objects ``watch`` names, under one tool id
    taken while any is watched."""

    TOOL_NAME = "pyarthas-trace"

    def __init__(self):
        super().__init__()
        self.tool = None
        # Keyed by id(code): hashing a code object hashes its whole content, far too slow per event.
        self.watched: Dict[int, list] = {}     # id(code) -> [code, watch count]
        self.points: Dict[int, Any] = {}       # id(code) -> (return points, handler entries)

    def _arm(self, rec: Recording, state: ThreadState):
        return id(rec.code) in self.watched

    def _disarm(self, rec: Recording, state: ThreadState) -> None:
        pass

    name = "sys.monitoring"

    def _not_rewritten(self, code: types.CodeType) -> Optional[str]:
        # another tool's local events on this code (a coverage tool, say) would not fire in a copy
        for tool in range(6):
            if tool != self.tool and sys.monitoring.get_tool(tool) is not None and \
                    sys.monitoring.get_local_events(tool, code):
                return "another sys.monitoring tool watches this code"
        return None

    def _watch_events(self, code: types.CodeType) -> None:
        if self.tool is None:
            self._acquire_tool()
        entry = self.watched.get(id(code))
        if entry is None:
            self.points[id(code)] = _instruction_points(code)
            ev = sys.monitoring.events
            sys.monitoring.set_local_events(self.tool, code, ev.CALL | ev.INSTRUCTION | ev.PY_YIELD | ev.PY_RESUME)
            entry = self.watched[id(code)] = [code, 0]
        entry[1] += 1

    def _unwatch_events(self, code: types.CodeType) -> None:
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
        rec.returns, rec.handlers = self.points.get(id(code), NO_POINTS)
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
        new_callee = node_for_new_callee
        limit, no_cost = MAX_CHILD_SITES, NO_COST

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
                    resume(rec, now)
                if rec.open_node is not None:
                    close_child(rec, now, False)
                children = rec.children
                node = children.get(offset)
                if node is None and len(children) < limit:    # a new site: the list made inline (hot)
                    node = children[offset] = [offset, callee, C_KIND, 0, 0, no_cost, 0, 0, 0, 0, 0, None]
                elif node is None or node[1] is not callee:
                    node = new_callee(rec, offset, callee, C_KIND)
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
                    returns, handlers = points_get(id(code), NO_POINTS)
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
                    node[3] += 1     # close_child inlined (one call less per child): TIMES, TOTAL,
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
                suspend(rec, offset, value if rec.open_node is None else None, perf_counter_ns())
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
