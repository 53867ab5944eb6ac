"""The sampling loop: one agent thread reads every thread's stack at a fixed interval and counts them.

Cost model: each sample takes the GIL once, calls ``sys._current_frames()`` and walks each target
thread's frames with one dict lookup per frame (``FrameTable``); stacks are tuples of small ints, counted
in a dict. A thread whose CPU clock did not move since the last sample is not walked again (it cannot
have changed its stack), so idle threads cost one clock read. Nothing runs on the target's threads; the
cost grows with the number of threads (about 1.5 us per thread and 0.4 us per frame walked, 3.12).

Bias, and what reduces it: a stack is read when the sampler holds the GIL, and a thread that computes
hands the GIL over only at its switch points, after the switch interval (5 ms by default). A 2 ms request
handler would then be seen only once it has finished and waits on its socket. While sampling, the sampler
lowers the switch interval to 0.05-0.1 ms (a hundredth of its interval; the target's value comes back
when the last sampler stops), so a sample lands within a tenth of a millisecond of its time. (0.5 ms was
measured too: the sample then still landed mostly where the thread blocked.) The cost: threads that compete
for the GIL switch that often while sampling. Left: on a machine where threads wait for a CPU, the sampler
thread itself tends to run when a busy thread blocks, and samples gather there.

Weights are in units of the interval, so counts stay comparable when a sample comes late:
- ``wall``: every thread gets the wall time elapsed since the previous sample.
- ``cpu``: a thread gets the CPU time it used since the previous sample (its per-thread CPU clock, Linux),
  but only when it is on CPU at the sample: the kernel does not show it blocked in anything but a futex
  (``/proc/self/task/<tid>/wchan``: a thread that handed the GIL to the sampler waits on a futex, a thread
  in ``select``, ``recv`` or ``sleep`` waits elsewhere). So the CPU a request handler used is not credited
  to the socket call where it waits afterwards, and a thread that only wakes now and then weighs what it
  used. Threads whose clock cannot be read (other platforms, threads unknown to ``threading``) fall back
  to the wall weight.
"""
import os
import sys
import threading
import time
from typing import Callable, Dict, List, Optional, Tuple

from ..util import threads
from .frames import FrameTable

MAX_DEPTH = 512          # deeper stacks keep their innermost frames under a "[truncated]" root
MAX_STACKS = 200000      # distinct stacks kept; later new stacks count under "[other stacks]"
MAX_CODES = 100000       # code objects numbered; later new ones (generated code) share one pseudo frame
TRUNCATED = -1           # pseudo frame ids, named by the profile (thread roots are -4 and below)
OTHER_STACKS = -2
OTHER_CODE = -3
SHORT_WAIT = 0.05        # intervals up to this long sleep between samples instead of waiting on an Event
SWITCH_INTERVAL_SHARE = 100     # the switch interval while sampling: the sampling interval over this
MIN_SWITCH_INTERVAL = 0.00005
MAX_SWITCH_INTERVAL = 0.0001

MODES = ("cpu", "wall")


class _ThreadState:
    """What the sampler remembers about one thread between samples."""

    __slots__ = ("thread", "clock", "last_cpu", "carry", "root", "ran", "last_key", "wchan", "wchan_tried")

    def __init__(self, thread, clock: Optional[int], root: int):
        self.thread = thread
        self.clock = clock
        self.last_cpu = _read_clock(clock)
        self.carry = 0.0
        self.root = root
        self.ran = True          # whether the thread may have run since the last sample (stack changed)
        self.last_key: Optional[Tuple[int, ...]] = None
        self.wchan: Optional[int] = None     # file descriptor of /proc/self/task/<tid>/wchan, opened once
        self.wchan_tried = False

    def close(self) -> None:
        if self.wchan is not None:
            try:
                os.close(self.wchan)
            except OSError:
                pass
            self.wchan = None

    def blocked(self) -> bool:
        """Whether the kernel shows the thread waiting for something other than a futex (the GIL's)."""
        if not self.wchan_tried:
            self.wchan_tried = True
            self.wchan = _open_wchan(self.thread)
        if self.wchan is None:
            return False
        try:
            where = os.pread(self.wchan, 64, 0)
        except OSError:
            return False
        return where not in (b"", b"0") and not where.startswith(b"futex")


class Sampler:
    """Counts stacks until stopped. ``counts`` maps a stack (frame ids, innermost first) to a weight in
    samples; with ``per_thread`` each stack ends with the thread's pseudo frame id (-4 and below)."""

    def __init__(self, mode: str = "cpu", interval: float = 0.01, per_thread: bool = False, on_deadline=None):
        if mode not in MODES:
            raise ValueError(mode)
        self.mode = mode
        self.interval = interval
        self.per_thread = per_thread
        self.frames = FrameTable()
        self.counts: Dict[Tuple[int, ...], int] = {}
        self.thread_names: Dict[int, str] = {}   # pseudo frame id -> "[name tid=N]"
        self.samples = 0
        self.ticks = 0
        self._threads: Dict[int, _ThreadState] = {}
        self._stopped = threading.Event()
        self._deadline: Optional[float] = None
        self._on_deadline = on_deadline   # called with the sampler, on its thread, once -d has elapsed
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()   # held while sampling; writers take it to copy the counts

    # ---- life cycle ----

    def start(self, duration: Optional[float] = None) -> None:
        """Start (or resume: the counts are kept) sampling, for ``duration`` seconds if given."""
        self._deadline = time.monotonic() + duration if duration else None
        self._threads = {}   # CPU used while paused must not be credited to the first samples
        stopped = self._stopped = threading.Event()  # a fresh one: a loop still winding down stays stopped
        self._thread = threads.spawn("profiler", lambda: self._loop(stopped))

    def request_stop(self) -> None:
        """Stop sampling; returns at once (a sample in progress still completes)."""
        self._stopped.set()

    def join(self, timeout: float = 5.0) -> None:
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stopped.is_set()

    def snapshot_counts(self) -> Dict[Tuple[int, ...], int]:
        with self._lock:
            return dict(self.counts)

    def _loop(self, stopped: threading.Event) -> None:
        interval = self.interval
        last = time.monotonic()
        next_at = last + interval
        # Short waits sleep and then look at the flag: Event.wait costs the sampler 6-14 us more of GIL
        # time per sample, and a stop is still seen within SHORT_WAIT.

        def sleep_then_look(delay: float) -> bool:
            time.sleep(delay)
            return stopped.is_set()

        wait: Callable[[float], bool] = sleep_then_look if interval <= SHORT_WAIT else stopped.wait
        switch = min(max(interval / SWITCH_INTERVAL_SHARE, MIN_SWITCH_INTERVAL), MAX_SWITCH_INTERVAL)
        states = self._threads   # this run's; a resumed run starts its own
        SWITCH_INTERVAL.lower(switch)
        try:
            self._run(stopped, wait, last, next_at)
        finally:
            SWITCH_INTERVAL.restore(switch)
            with self._lock:
                for state in states.values():
                    state.close()

    def _run(self, stopped: threading.Event, wait: Callable[[float], bool], last: float, next_at: float) -> None:
        interval = self.interval
        while True:
            delay = next_at - time.monotonic()
            if wait(delay if delay > 0 else 0):
                return
            now = time.monotonic()
            # A late sample is weighted by the time it covers; the schedule restarts from now rather
            # than firing a burst of samples to catch up.
            next_at = max(next_at + interval, now + interval / 2)
            try:
                with self._lock:
                    self._sample((now - last) / interval)
            except Exception as exc:  # a sampling bug stops the profiler, never the target
                sys.stderr.write("pyarthas: profiler stopped, a sample failed: %r\n" % (exc,))
                stopped.set()
                return
            last = now
            if self._deadline is not None and now >= self._deadline:
                stopped.set()
                if self._on_deadline is not None:
                    self._on_deadline(self)
                return

    # ---- one sample ----

    def _sample(self, elapsed_ticks: float) -> None:
        frames = sys._current_frames()
        active = threading._active  # type: ignore[attr-defined]  # ident -> Thread, for names and native ids
        counts = self.counts
        cpu_mode = self.mode == "cpu"
        self.ticks += 1
        is_agent_thread = threads.is_agent_thread
        for ident, frame in frames.items():
            thread = active.get(ident)
            if is_agent_thread(ident, thread.name if thread is not None else ""):
                continue
            state = self._thread_state(ident, thread)
            weight = self._cpu_weight(state, elapsed_ticks) if cpu_mode else self._wall_weight(
                state, elapsed_ticks)
            if weight <= 0:
                continue
            if state.ran or state.last_key is None:
                state.last_key = self._stack_key(frame, state.root)
            key = state.last_key
            if key is None:
                continue   # an agent thread that ended (and left the idents) since the frames were taken
            if key not in counts and len(counts) >= MAX_STACKS:
                key = (OTHER_STACKS, state.root) if self.per_thread else (OTHER_STACKS,)
            counts[key] = counts.get(key, 0) + weight
            self.samples += weight
        if self.ticks % 512 == 0:
            self._forget_dead_threads(frames)
        del frames

    def _stack_key(self, frame, root: int) -> Optional[Tuple[int, ...]]:
        """The stack's key, innermost frame first; None for an agent thread's."""
        agent_entry = threads.AGENT_ENTRY_CODE
        index_of_id = self.frames.index_of_id
        register = self.frames.register
        stack: List[int] = []
        append = stack.append
        depth = 0
        while frame is not None:
            if depth == MAX_DEPTH:
                append(TRUNCATED)
                break
            code = frame.f_code
            if code is agent_entry:
                return None
            index = index_of_id.get(id(code))
            if index is None:
                index = register(code, frame.f_globals) if len(index_of_id) < MAX_CODES else OTHER_CODE
            append(index)
            frame = frame.f_back
            depth += 1
        if self.per_thread:
            append(root)
        return tuple(stack)

    def _wall_weight(self, state: _ThreadState, elapsed_ticks: float) -> int:
        if state.clock is not None:
            # A thread that used no CPU at all since the last sample cannot have changed its stack: the
            # stack read then is reused (idle threads with deep stacks cost one clock read, no walk).
            cpu = _read_clock(state.clock)
            state.ran = cpu is None or cpu != state.last_cpu
            state.last_cpu = cpu
        state.carry += elapsed_ticks
        whole = int(state.carry)
        state.carry -= whole
        return whole

    def _cpu_weight(self, state: _ThreadState, elapsed_ticks: float) -> int:
        if state.clock is None:
            return self._wall_weight(state, elapsed_ticks)
        cpu = _read_clock(state.clock)
        if cpu is None or state.last_cpu is None:
            return 0
        used = (cpu - state.last_cpu) / self.interval
        state.last_cpu = cpu
        state.ran = used > 0
        if used <= 0 or state.blocked():
            state.carry = 0.0
            return 0
        state.carry += used
        whole = int(state.carry)
        state.carry -= whole
        return whole

    def _thread_state(self, ident: int, thread) -> _ThreadState:
        state = self._threads.get(ident)
        if state is None or state.thread is not thread:   # new thread, or an ident reused
            if state is not None:
                state.close()
            root = self._thread_root(ident, thread)
            state = _ThreadState(thread, _cpu_clock(thread), root)
            self._threads[ident] = state
        return state

    def _thread_root(self, ident: int, thread) -> int:
        if not self.per_thread:
            return 0
        native = getattr(thread, "native_id", None)
        name = "[%s tid=%s]" % (getattr(thread, "name", None) or "Thread", native or ident)
        for root, known in self.thread_names.items():
            if known == name:
                return root
        root = -4 - len(self.thread_names)
        self.thread_names[root] = name
        return root

    def _forget_dead_threads(self, frames) -> None:
        for ident in [i for i in self._threads if i not in frames]:
            self._threads.pop(ident).close()


class _SwitchInterval:
    """``sys.setswitchinterval`` shared by the samplers running at once: the smallest value asked for while
    any runs; the target's own value back when the last one stops (unless the target changed it since)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._asked: List[float] = []
        self._original: Optional[float] = None
        self._set: Optional[float] = None

    def lower(self, value: float) -> None:
        with self._lock:
            if not self._asked:
                self._original = sys.getswitchinterval()
            self._asked.append(value)
            self._apply()

    def restore(self, value: float) -> None:
        with self._lock:
            if value in self._asked:
                self._asked.remove(value)
            if self._asked:
                self._apply()
            elif self._original is not None and sys.getswitchinterval() == self._set:
                sys.setswitchinterval(self._original)
                self._original = self._set = None

    def _apply(self) -> None:
        assert self._original is not None
        wanted = min(min(self._asked), self._original)
        if self._set is None or sys.getswitchinterval() == self._set:
            sys.setswitchinterval(wanted)
            self._set = sys.getswitchinterval()


SWITCH_INTERVAL = _SwitchInterval()


def _cpu_clock(thread) -> Optional[int]:
    """The clock id of a thread's CPU time, from its kernel thread id (Linux's MAKE_THREAD_CPUCLOCK:
    ``~tid << 3 | CPUCLOCK_PERTHREAD | CPUCLOCK_SCHED``). Computed rather than asked of
    ``pthread_getcpuclockid``, which would touch the pthread of a thread that may have just exited; a
    stale clock id only makes ``clock_gettime`` fail."""
    native = getattr(thread, "native_id", None)
    if not sys.platform.startswith("linux") or not native:
        return None
    clock = (~native << 3) | 6
    return clock if _read_clock(clock) is not None else None


def _open_wchan(thread) -> Optional[int]:
    native = getattr(thread, "native_id", None)
    if not native:
        return None
    try:
        return os.open("/proc/self/task/%d/wchan" % native, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None


def _read_clock(clock: Optional[int]) -> Optional[float]:
    if clock is None:
        return None
    try:
        return time.clock_gettime(clock)
    except (OSError, OverflowError, ValueError):
        return None
