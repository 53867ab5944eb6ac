"""The flight recorder of one agent: the event sources, switched on while a recording runs.

Sources, and what each costs the target while it is on:
- stack samples: one agent thread wakes every ``interval`` (20 ms, 10 ms with ``--settings profile``),
  reads ``sys._current_frames()`` and keeps the stack of each thread that ran since the previous sample
  (its top frame moved, or its per-thread CPU clock did), as code-object numbers
  (``profiler.frames.FrameTable``); nothing runs on the target's threads, but each wake takes the GIL;
- gc: a ``gc.callbacks`` entry times every collection on the thread that collects (a clock read at start
  and stop); young (generation 0) collections under ``GC_EVENT_PAUSE`` are summed into one event a
  second, the others are events of their own;
- threads: ``threading.Thread._bootstrap_inner`` (where every ``threading`` thread begins and ends its
  life) is wrapped while recording, one event at each end; put back when the last recording stops;
- logging: a handler on the root logger at WARNING;
- ``monitor``: its cycles, published by the command (``publish``).

On the target's threads a source only appends a small tuple, its size estimate included, to one bounded
deque (``deque.append`` is atomic: no lock, no formatting beyond the log record's own message); the
sampler's thread hands what piled up to the recordings (``flush``), so the target never waits for a
recording's lock, and a gc callback that runs inside the recorder's own work (any allocation can
collect) never waits for anything.

The last recording to stop takes every source away again.
"""
import collections
import gc
import logging
import sys
import threading
import time
import types
from typing import Any, Callable, Deque, Dict, List, Optional

from ..inspect.threads import cpu_time_ns
from ..profiler.frames import FrameTable
from ..util import threads
from .recording import EVENT_BYTES, STRING_BYTES, TUPLE_BYTES, Event, Recording, sized

INTERVALS = {"default": 0.02, "profile": 0.01}
GC_EVENT_PAUSE = 0.001
MAX_DEPTH = 128
MAX_LOG_MESSAGE = 2000
MAX_PENDING_EVENTS = 10_000  # events of one sampling interval waiting for the sampler's thread
_SAMPLE_BYTES = EVENT_BYTES + STRING_BYTES + TUPLE_BYTES  # and the name's characters, 8 a frame
_LOG_BYTES = EVENT_BYTES + 3 * STRING_BYTES  # and the characters of the level, logger and message
_THREAD_BYTES = EVENT_BYTES + STRING_BYTES  # and the name's characters
IDLE_CPU_NS = 50_000  # a thread that used less CPU than this since the last sample was not running

_active: Optional["FlightRecorder"] = None  # the recorder whose sources are on, for ``publish``


def publish(kind: str, *fields) -> None:
    """Add an event from elsewhere in the agent (a ``monitor`` cycle); nothing when no recording runs."""
    recorder = _active
    if recorder is not None:
        recorder.emit(sized((kind, time.time()) + fields))


class FlightRecorder:
    def __init__(self, scheduler) -> None:
        self.scheduler = scheduler
        self.frames = FrameTable()
        self._recordings: Dict[int, Recording] = {}
        self._running: List[Recording] = []
        self._next_id = 1
        self._lock = threading.Lock()
        self._sampler: Optional[_Sampler] = None
        self._log_handler: Optional[logging.Handler] = None
        self._gc_started = 0.0
        self._young = [0, 0.0, 0.0]  # count, total pause, longest pause of the young collections summed
        # events made on the target's threads, each with its size, waiting for the sampler's thread
        self._pending: Deque[Event] = collections.deque(maxlen=MAX_PENDING_EVENTS)
        self._timers: Dict[int, Any] = {}  # recording id -> its scheduler entry (delay or duration)

    # ---- recordings ----

    def new_recording(self, **settings) -> Recording:
        with self._lock:
            recording = Recording(self._next_id, **settings)
            self._next_id += 1
            self._recordings[recording.id] = recording
        return recording

    def get(self, recording_id: int) -> Optional[Recording]:
        return self._recordings.get(recording_id)

    def remove(self, recording_id: int) -> Optional[Recording]:
        with self._lock:
            return self._recordings.pop(recording_id, None)

    def all(self) -> List[Recording]:
        return list(self._recordings.values())

    def start(self, recording: Recording, delay: Optional[float] = None,
              on_duration_end: Optional[Callable[[Recording], None]] = None) -> None:
        if delay:
            recording.state = "delayed"
            self._timers[recording.id] = self.scheduler.call_later(
                delay, lambda: self.start(recording, None, on_duration_end))
            return
        with self._lock:
            if recording.state not in ("new", "delayed"):
                return
            recording.state = "running"
            recording.start_time = time.time()
            self._running.append(recording)
            if len(self._running) == 1:
                self._switch_sources_on()
            elif self._sampler is not None:
                self._sampler.interval = min(self._sampler.interval, INTERVALS[recording.settings])
        if recording.duration:
            def end() -> None:
                self.stop(recording)
                if on_duration_end is not None:
                    on_duration_end(recording)
            self._timers[recording.id] = self.scheduler.call_later(recording.duration, end)

    def stop(self, recording: Recording) -> None:
        timer = self._timers.pop(recording.id, None)
        if timer is not None:
            timer.cancel()
        self.flush()  # what happened before the stop belongs to the recording
        with self._lock:
            if recording in self._running:
                self._running.remove(recording)
                if not self._running:
                    self._switch_sources_off()
            if recording.state in ("new", "delayed", "running"):
                recording.state = "stopped"
                recording.stop_time = time.time()

    def close(self) -> None:
        """The agent stops: every recording stops, every source is taken away."""
        for recording in self.all():
            self.stop(recording)
            recording.state = "closed"

    def emit(self, event: Event) -> None:
        """Queue an event (ending with its size) for the running recordings: from any thread, no lock."""
        self._pending.append(event)

    def flush(self, samples: Optional[List[Event]] = None) -> None:
        """Hand the events queued so far, then ``samples``, to the running recordings (on the sampler's
        thread, and on a command's that is about to read a recording)."""
        batch: List[Event] = []
        take, keep = self._pending.popleft, batch.append
        try:
            for _ in range(len(self._pending)):
                keep(take())
        except IndexError:  # another thread took the last ones
            pass
        if samples:
            batch += samples
        if batch:
            for recording in list(self._running):
                recording.add_all(batch)

    # ---- sources ----

    def _switch_sources_on(self) -> None:
        global _active
        interval = min(INTERVALS[r.settings] for r in self._running)
        self._sampler = _Sampler(self, interval)
        gc.callbacks.append(self._on_gc)
        self._log_handler = _LogHandler(self._pending.append)
        logging.getLogger().addHandler(self._log_handler)
        _watch_thread_lives()
        _active = self
        self._sampler.start()

    def _switch_sources_off(self) -> None:
        global _active
        _active = None
        _unwatch_thread_lives()
        if self._sampler is not None:
            self._sampler.stop()
            self._sampler = None
        try:
            gc.callbacks.remove(self._on_gc)
        except ValueError:
            pass
        if self._log_handler is not None:
            logging.getLogger().removeHandler(self._log_handler)
            self._log_handler = None
        self.flush()

    def _on_gc(self, phase: str, info: dict, clock=time.perf_counter) -> None:
        # runs on the target's thread that collects: two clock reads, and an event only for a real pause
        try:
            if phase == "start":
                self._gc_started = clock()
                return
            pause = clock() - self._gc_started
            generation = info["generation"]
            if generation == 0 and pause < GC_EVENT_PAUSE:
                young = self._young
                young[0] += 1
                young[1] += pause
                if pause > young[2]:
                    young[2] = pause
                return
            self._pending.append(("gc", time.time(), generation, pause, info.get("collected", 0),
                                  info.get("uncollectable", 0), EVENT_BYTES))
        except Exception:  # never into the target's collection
            pass

    def young_collections(self) -> Optional[Event]:
        """The young collections summed since the last call, as one event (None when there were none)."""
        young, self._young = self._young, [0, 0.0, 0.0]
        count, total, longest = young
        return ("gc-summary", time.time(), 0, count, total, longest, EVENT_BYTES) if count else None


class _LogHandler(logging.Handler):
    """Keeps WARNING and above; ``handle`` is replaced whole: the record's message is made on the logging
    thread (its arguments may change later), the rest waits for the sampler's thread."""

    def __init__(self, append: Callable[[Event], None]):
        super().__init__(logging.WARNING)
        self.append = append

    def handle(self, record: logging.LogRecord) -> bool:
        try:
            try:
                message = record.getMessage()
            except Exception:
                message = str(record.msg)
            message, level, logger = message[:MAX_LOG_MESSAGE], record.levelname, record.name
            self.append(("log", record.created, level, logger, message, record.thread or 0,
                         _LOG_BYTES + len(level) + len(logger) + len(message)))
        except Exception:  # a record we cannot keep is not the application's problem
            pass
        return True

    def emit(self, record: logging.LogRecord) -> None:
        self.handle(record)


class _Sampler:
    """The agent thread that samples stacks and hands the queued events to the recordings.

    Each wake takes the GIL from the target (a forced switch when it computes), and what the sampler
    first touches of the target's threads is cold in its CPU's cache: a wake reads as little as it can.
    A thread whose top frame moved since the previous sample ran; only one that stands where it stood is
    asked for its CPU clock (a system call) to tell a long C call from a wait (so a thread that has just
    stopped moving is sampled once more, against the clock it showed when it last stood). The samples and the
    queued events are handed to the recordings together every ``DELIVERY`` seconds, in one batch."""

    DELIVERY = 0.1

    def __init__(self, recorder: FlightRecorder, interval: float):
        self.recorder = recorder
        self.interval = interval
        self._stop = threading.Lock()   # held while running: one C call waits for the next sample or the stop
        self._stop.acquire()
        self._stopped = False
        self._cpu: Dict[int, int] = {}  # ident -> the thread's CPU time (ns) when last read
        self._where: Dict[int, tuple] = {}  # ident -> (id of its top frame, its instruction) at the previous sample
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        self._thread = threads.spawn("jfr", self._loop)

    def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            self._stop.release()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        recorder = self.recorder
        samples: List[Event] = []
        next_delivery = time.monotonic() + self.DELIVERY
        next_summary = time.monotonic() + 1.0
        while not self._stop.acquire(timeout=self.interval):
            try:
                self._sample(samples)
                now = time.monotonic()
                if now >= next_delivery:
                    next_delivery = now + self.DELIVERY
                    if now >= next_summary:
                        next_summary = now + 1.0
                        young = recorder.young_collections()
                        if young is not None:
                            samples.append(young)
                    recorder.flush(samples)
                    samples = []
            except Exception:  # a sample lost is better than a recorder gone
                samples = []
        young = recorder.young_collections()
        if young is not None:
            samples.append(young)
        recorder.flush(samples)

    def _sample(self, samples: List[Event]) -> None:
        now = time.time()
        frames = sys._current_frames()
        table = self.recorder.frames
        index_of = table.index_of_id
        known = threading._active  # type: ignore[attr-defined]  # ident -> Thread, read without its lock: a stale name costs nothing
        is_agent_thread = threads.is_agent_thread
        cpu, where = self._cpu, self._where
        for ident in [ident for ident in where if ident not in frames]:
            del where[ident]     # the thread has ended
            cpu.pop(ident, None)
        for ident, top in frames.items():
            thread = known.get(ident)
            name = thread.name if thread is not None else ""
            if is_agent_thread(ident, name):
                continue
            here = (id(top), top.f_lasti)
            if where.get(ident) == here and not self._ran(ident, thread):
                continue
            where[ident] = here
            stack: List[int] = []
            frame: Optional[types.FrameType] = top
            while frame is not None and len(stack) < MAX_DEPTH:
                code = frame.f_code
                index = index_of.get(id(code))
                if index is None:
                    index = table.register(code, frame.f_globals)
                stack.append(index)
                frame = frame.f_back
            samples.append(("sample", now, ident, name, tuple(stack), _SAMPLE_BYTES + len(name) + 8 * len(stack)))

    def _ran(self, ident: int, thread: Optional[threading.Thread]) -> bool:
        """Whether a thread found where it stood used CPU since its clock was last read (True where its
        clock cannot be read)."""
        used = cpu_time_ns(getattr(thread, "native_id", None) or 0)
        if used is None:
            return True
        before = self._cpu.get(ident)
        self._cpu[ident] = used
        return before is None or used - before >= IDLE_CPU_NS


_original_bootstrap = None


def _watch_thread_lives() -> None:
    global _original_bootstrap
    if _original_bootstrap is not None:
        return
    original = _original_bootstrap = threading.Thread._bootstrap_inner  # type: ignore[attr-defined]

    def _bootstrap_inner(thread) -> None:
        _note_thread("thread-start", thread)
        try:
            original(thread)
        finally:
            _note_thread("thread-end", thread)

    threading.Thread._bootstrap_inner = _bootstrap_inner  # type: ignore[attr-defined]


def _unwatch_thread_lives() -> None:
    global _original_bootstrap
    if _original_bootstrap is not None:
        threading.Thread._bootstrap_inner = _original_bootstrap  # type: ignore[attr-defined]
        _original_bootstrap = None


def _note_thread(kind: str, thread: threading.Thread) -> None:
    # on the target's new (or ending) thread: one append, never an exception into it
    try:
        recorder = _active
        name = thread.name
        if recorder is not None and not name.startswith(threads.THREAD_PREFIX):
            recorder._pending.append((kind, time.time(), thread.ident or 0, name,
                                      getattr(thread, "native_id", 0) or 0, _THREAD_BYTES + len(name)))
    except Exception:
        pass
