"""What both timers share: the per-thread state (``ThreadState``) and the ``Timer`` base, which keeps the
recordings by frame and the rules of ``begin`` and ``finish`` (recursion, shared owners, ``trace -p``
sub-recordings); each mechanism supplies how a thread is armed and disarmed."""
import sys
import threading
import types
from functools import partial
from time import perf_counter_ns
from typing import Any, Callable, Dict, List, Optional

from .recording import Recording, attach_to_parent, close_child, new_buffer, resume, within
from .rewrite import REWRITES, Unsupported, instrument

_get_ident = threading.get_ident
_new_recording = object.__new__


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
        # 3.9-3.12: id(original code) -> its rewritten copy, the clones running it and the buffers waiting
        # for their frame (``Rewritten``)
        self.rewritten: Dict[int, Rewritten] = {}

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
        runs is recorded as a sub-tree of that recording (``trace -p``). (Paid once per traced call.)"""
        try:
            state = self.threads.get(_get_ident()) or self._thread_state()
            pending = state.pending
            if pending is not None:
                return _share(pending, owner) if pending.code is code else None
            rewritten = self.rewritten.get(id(code))
            running = state.running
            outer = None
            if running:      # nothing of this thread recorded yet is the usual case
                if rewritten is not None and state.ident in rewritten.waiting:
                    return _share(running[-1], owner)   # begun for this call, its frame not started
                for rec in reversed(running):
                    if owner in rec.owners:
                        outer = rec
                        break
                if outer is not None and (outer.code is code or within(outer, code)):
                    return None
            if rewritten is not None:   # its copy runs it: raw timings, nothing to switch on
                rec = self._start_rewritten(rewritten, owner, state)
                if outer is not None:
                    _nest(rec, outer)
                return rec
            rec = Recording(code, owner)
            rec.thread_state = state
            armed = self._arm(rec, state)
            if armed is False:
                return None
            if outer is not None:
                _nest(rec, outer)
            state.pending = rec
            state.live += 1
            if armed is not True:
                sys.setprofile(armed)   # last: every frame of ours that returns after this is an event
            return rec
        except Exception:
            return None

    def starter(self, code: types.CodeType, owner: Any) -> Optional[Callable[[int], Optional[Recording]]]:
        """For a rewritten code: what begins ``owner``'s recordings of it on the thread whose id it is
        given, as ``begin`` does, quicker on a thread that records nothing yet (the usual case)."""
        rewritten = self.rewritten.get(id(code))
        if rewritten is None:
            return None
        return partial(self._begin_rewritten, rewritten, owner)

    def _begin_rewritten(self, rewritten: Any, owner: Any, ident: int) -> Optional[Recording]:
        try:
            state = self.threads.get(ident)
            if state is None or state.running or state.pending is not None:
                return self.begin(rewritten.code, owner)
            return self._start_rewritten(rewritten, owner, state)
        except Exception:
            return None

    @staticmethod
    def _start_rewritten(rewritten: Any, owner: Any, state: ThreadState) -> Recording:
        """A recording of a rewritten code, running at once (nothing of this thread can start before its
        frame)."""
        buffer = new_buffer()
        rec = _rewritten_recording(rewritten, owner, state, buffer)
        rewritten.waiting[state.ident] = buffer.append   # for the copy's entry on this thread
        state.running.append(rec)
        state.top, state.top_frame = rec, None
        state.live += 1
        rec.start = perf_counter_ns()
        return rec

    def finish(self, rec: Recording, raised: bool) -> Recording:
        """End ``rec`` (on the thread that began it, after the traced code returned or raised). A shared
        recording ends at the first of its owners' calls. (One function, paid once per traced call.)"""
        if rec.ended:
            return rec
        rec.ended = True
        try:
            now = perf_counter_ns()
            rec.raised = raised
            # first the thread's bookkeeping: the profiler (3.9-3.11) goes off before our own work below
            state = rec.thread_state
            running = state.running
            if running and running[-1] is rec:
                running.pop()
                if running:
                    retop(state)
                else:              # the usual case: the thread's only recording ended
                    state.top = state.top_frame = None
            elif rec in running:
                running.remove(rec)
                retop(state)
            state.live -= 1
            buffer = rec.buffer
            if buffer is None:             # timed by the profile function: its frame, suspensions, child
                self._finish_profiled(rec, state, now, raised)
            else:
                rec.end = now
                if not buffer:             # perhaps its frame never started: its buffer is still waiting
                    rec.rewritten.waiting.pop(state.ident, None)
                if state.installed:        # a profiled recording of this thread may be waiting for this
                    self._disarm(rec, state)
            if rec.parent is not None and rec.parent.buffer is None:
                attach_to_parent(rec)
        except Exception:
            rec.failed = True
        return rec

    def _finish_profiled(self, rec: Recording, state: ThreadState, now: int, raised: bool) -> None:
        rec.end = rec.end or now       # the profile function may have seen the frame return first
        if state.pending is rec:
            state.pending = None
        _no_longer_suspended(rec, state)
        if state.installed:            # only a profile function (3.9-3.11) has anything to switch off
            self._disarm(rec, state)
        if rec.frame is not None:
            self.by_frame.pop(rec.frame, None)
            rec.frame = None
        if rec.suspend_start:
            resume(rec, now)
        if rec.open_node is not None:
            close_child(rec, now, raised)

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
        _no_longer_suspended(rec, state)
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
        """Prepare ``code`` for recording: ``clone``, the function the engine runs ``code`` in, gets a
        rewritten copy where it can (3.9-3.12); otherwise the mechanism's events time it. Reference-counted.
        Returns how its calls are timed."""
        with self.lock:
            why = None
            if clone is not None and REWRITES:
                entry = self.rewritten.get(id(code))
                if entry is None:
                    why = self._not_rewritten(code)
                    if why is None:
                        try:
                            entry = self.rewritten[id(code)] = Rewritten(code)
                        except Unsupported as error:
                            why = str(error)
                if entry is not None:
                    entry.add(clone)
                    return REWRITTEN
            self._watch_events(code)
            return "%s (%s)" % (self.name, why) if why else self.name

    def unwatch(self, code: types.CodeType, clone: Optional[types.FunctionType] = None) -> None:
        """Undo one ``watch``."""
        with self.lock:
            entry = self.rewritten.get(id(code))
            if entry is not None and clone is not None and id(clone) in entry.clones:
                if entry.remove(clone):
                    del self.rewritten[id(code)]
                return
            self._unwatch_events(code)

    def _not_rewritten(self, code: types.CodeType) -> Optional[str]:
        """Why ``code`` keeps its events rather than a rewritten copy (None: it can be rewritten)."""
        return None

    def _watch_events(self, code: types.CodeType) -> None:
        """Under the lock: the mechanism's events will time ``code`` (reference-counted)."""

    def _unwatch_events(self, code: types.CodeType) -> None:
        """Under the lock: undo one ``_watch_events``."""

    name = "sys.setprofile"


REWRITTEN = "bytecode"   # how a rewritten code is timed, as the enhancer result says


class Rewritten:
    """A rewritten code: the copy, and the clones (engine functions) running it, each watch counted.
    ``waiting``: thread id -> the buffer ``append`` of the recording ``begin`` made on that thread for a
    call whose frame has not started yet (the copy takes it out at entry)."""

    def __init__(self, code: types.CodeType):
        self.code = code
        self.waiting: Dict[int, Any] = {}
        self.copy = instrument(code, self.waiting)
        self.clones: Dict[int, list] = {}    # id(clone) -> [clone, watch count]

    def add(self, clone: types.FunctionType) -> None:
        entry = self.clones.setdefault(id(clone), [clone, 0])
        entry[1] += 1
        clone.__code__ = self.copy

    def remove(self, clone: types.FunctionType) -> bool:
        """One watch of ``clone`` less; True when no clone runs the copy any more."""
        entry = self.clones.get(id(clone))
        if entry is not None:
            entry[1] -= 1
            if entry[1] <= 0:
                del self.clones[id(clone)]
                if clone.__code__ is self.copy:
                    clone.__code__ = self.code
        return not self.clones


def _share(rec: Recording, owner: Any) -> Optional[Recording]:
    """Another owner traces the call ``rec`` records: one recording for both (None: ``owner`` has it)."""
    if owner in rec.owners:
        return None
    rec.owners.append(owner)
    return rec


def _rewritten_recording(rewritten: Any, owner: Any, state: Optional[ThreadState], buffer: Any) -> Recording:
    """A recording of a rewritten code, its raw timings in ``buffer``, with the fields ``finish``,
    ``materialize`` and a profile function read, without the cost of calling ``Recording.__init__`` (paid on
    every traced call); its ``start`` is set by the caller, last."""
    rec = _new_recording(Recording)
    rec.code = rewritten.code
    rec.owners = [owner]
    rec.thread_state = state  # type: ignore[assignment]  # None only for a stamped wrapper's recording
    rec.rewritten = rewritten
    rec.frame = None
    rec.ended = False
    rec.buffer = buffer
    return rec


def stamped_recording(rewritten: Any, owner: Any, start: int, cost: int, stamps: Any, raised: bool) -> Recording:
    """The finished recording of a call a stamped wrapper timed (``hooks.StampedEntry``): made only for a
    call that is reported, from its start, cost and the raw timings its rewritten copy stamped (no thread
    state: nothing else to finish)."""
    rec = _rewritten_recording(rewritten, owner, None, stamps)
    rec.ended = True
    rec.raised = raised
    rec.start = start
    rec.end = start + cost
    return rec


def _nest(rec: Recording, outer: Recording) -> None:
    """``rec`` is a sub-recording of ``outer`` (``trace -p``): it hangs under ``outer``'s open child."""
    rec.parent = outer
    if outer.buffer is not None:     # placed among the outer call's raw timings
        outer.buffer.append(rec)
    else:
        rec.parent_node = outer.open_node


def _no_longer_suspended(rec: Recording, state: ThreadState) -> None:
    if rec.sticky:
        rec.sticky = False
        state.sticky -= 1
    if rec.is_suspended:
        rec.is_suspended = False
        state.suspended -= 1


def retop(state: ThreadState) -> None:
    top = state.running[-1] if state.running else None
    state.top = top
    state.top_frame = top.frame if top is not None else None
