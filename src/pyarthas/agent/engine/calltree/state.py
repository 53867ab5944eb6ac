"""What both timers share: the per-thread state (``ThreadState``) and the ``Timer`` base, which keeps the
recordings by frame and the rules of ``begin`` and ``finish`` (recursion, shared owners, ``trace -p``
sub-recordings); each mechanism supplies how a thread is armed and disarmed."""
import sys
import threading
import types
from time import perf_counter_ns
from typing import Any, Dict, List, Optional

from .recording import Recording, attach_to_parent, close_child, new_buffer, resume, within

_get_ident = threading.get_ident


class ThreadState:
    """One thread's recordings: the one waiting for its frame, the ones running, and (3.9-3.11) whether
    the profile function is installed."""

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


class Timer:
    """What both mechanisms share: recordings by frame, per-thread state, begin/finish rules."""

    def __init__(self):
        self.lock = threading.Lock()
        self.by_frame: Dict[Any, Recording] = {}
        self.threads: Dict[int, ThreadState] = {}
        # 3.9-3.11: id(original code) -> its rewritten copy and the clones running it (``setprofile.Rewritten``)
        self.rewritten: Dict[int, Any] = {}

    def _thread_state(self) -> ThreadState:
        ident = _get_ident()
        state = self.threads.get(ident)
        if state is None:
            self._forget_idle()
            state = self.threads[ident] = ThreadState(ident)
        return state

    def begin(self, code: types.CodeType, owner: Any) -> Optional[Recording]:
        """Start recording the call of ``code`` about to run on this thread. Returns None when it cannot
        be recorded: a call of the same code already recorded by ``owner`` on this thread (recursion), or
        a recording of another code that has not started its frame yet. Two owners tracing the same
        call share one recording. A call of another traced code made while one of the owner's recordings
        runs is recorded as a sub-tree of that recording (``trace -p``)."""
        try:
            state = self.threads.get(_get_ident()) or self._thread_state()
            pending = state.pending
            if pending is not None:
                if pending.code is code and owner not in pending.owners:
                    pending.owners.append(owner)
                    return pending
                return None
            outer = None
            if state.running:      # nothing of this thread recorded yet is the usual case
                for rec in reversed(state.running):
                    if owner in rec.owners:
                        outer = rec
                        break
                if outer is not None and (outer.code is code or within(outer, code)):
                    return None
            rec = Recording(code, owner)
            rec.thread_state = state
            armed: Any = True
            if id(code) in self.rewritten:   # a rewritten copy runs it: raw timings, nothing to switch on
                rec.buffer = new_buffer()
            else:
                armed = self._arm(rec, state)
                if armed is False:
                    return None
            if outer is not None:
                rec.parent = outer
                rec.parent_node = outer.open_node
                if outer.buffer is not None:     # placed among the outer call's raw timings
                    outer.buffer.append(rec)
            state.pending = rec
            state.live += 1
            if armed is not True:
                sys.setprofile(armed)   # last: every frame of ours that returns after this is an event
            return rec
        except Exception:
            return None

    def finish(self, rec: Recording, raised: bool) -> Recording:
        """End ``rec`` (on the thread that began it, after the traced code returned or raised). A shared
        recording ends at the first of its owners' calls. (One function, paid once per traced call.)"""
        if rec.ended:
            return rec
        try:
            now = perf_counter_ns()
            # first the thread's bookkeeping: the profiler (3.9-3.11) goes off before our own work below
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
                if running:
                    retop(state)
                else:              # the usual case: the thread's only recording ended
                    state.top = state.top_frame = None
            if rec.is_suspended:
                rec.is_suspended = False
                state.suspended -= 1
            state.live -= 1
            if state.installed:            # only a profile function (3.9-3.11) has anything to switch off
                self._disarm(rec, state)
            if rec.frame is not None:
                self.by_frame.pop(rec.frame, None)
                rec.frame = None
            rec.end = rec.end or now
            rec.raised = raised
            if rec.suspend_start:
                resume(rec, now)
            if rec.open_node is not None:
                close_child(rec, now, raised)
            if rec.parent is not None and rec.parent.buffer is None:
                attach_to_parent(rec)
        except Exception:
            rec.failed = True
        finally:
            rec.ended = True
        return rec

    def _forget_idle(self) -> None:
        """Threads come and go: keep no state for idle threads once there are many."""
        if len(self.threads) > 256:
            for ident, other in list(self.threads.items()):
                if other.live <= 0 and not other.installed:
                    self.threads.pop(ident, None)

    def _mark_suspended(self, rec: Recording) -> None:
        state = rec.thread_state
        if rec in state.running:
            state.running.remove(rec)
        if not rec.is_suspended:
            rec.is_suspended = True
            state.suspended += 1
        retop(state)

    def _frame_resumed(self, frame) -> None:
        """A frame resumes: if it is a suspended traced frame, its suspension ends."""
        rec = self.by_frame.get(frame)
        if rec is not None and rec.suspend_start:
            resume(rec, perf_counter_ns())
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
        retop(state)

    # mechanism-specific
    def _arm(self, rec: Recording, state: ThreadState):
        """Can ``rec`` be recorded on this thread? False: no; True: yes; a function: yes, once it is
        installed as the thread's profile function (``begin`` does that last)."""
        raise NotImplementedError

    def _disarm(self, rec: Recording, state: ThreadState) -> None:
        raise NotImplementedError

    def blocked_by_other_profiler(self) -> bool:
        return False

    def watch(self, code: types.CodeType, clone: Optional[types.FunctionType] = None) -> str:
        """Prepare ``code`` for recording (3.12+: local events; 3.9-3.11: ``clone``, the function the
        engine runs ``code`` in, gets a rewritten copy where it can). Reference-counted. Returns how its
        calls are timed."""
        return self.name

    def unwatch(self, code: types.CodeType, clone: Optional[types.FunctionType] = None) -> None:
        """Undo one ``watch``."""

    name = "sys.setprofile"


def retop(state: ThreadState) -> None:
    top = state.running[-1] if state.running else None
    state.top = top
    state.top_frame = top.frame if top is not None else None
