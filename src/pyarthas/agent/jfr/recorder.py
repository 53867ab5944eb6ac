"""The flight recorder of one agent: the event sources, switched on while a recording runs.

Sources, and what each costs the target while it is on:
- stack samples: one agent thread wakes every ``interval`` (20 ms, 10 ms with ``--settings profile``),
  reads ``sys._current_frames()`` and keeps the stack of each thread that used CPU since the previous
  sample (its per-thread CPU clock moved), as code-object numbers (``profiler.frames.FrameTable``);
  nothing runs on the target's threads;
- gc: a ``gc.callbacks`` entry times every collection on the thread that collects (a clock read at start
  and stop); young (generation 0) collections under ``GC_EVENT_PAUSE`` are summed into one event a
  second, the others are events of their own;
- threads: ``threading.Thread._bootstrap_inner`` (where every ``threading`` thread begins and ends its
  life) is wrapped while recording, one event at each end; put back when the last recording stops;
- logging: a handler on the root logger at WARNING;
- ``monitor``: its cycles, published by the command (``publish``).

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
from .recording import Event, Recording

INTERVALS = {"default": 0.02, "profile": 0.01}
GC_EVENT_PAUSE = 0.001
MAX_DEPTH = 128
MAX_LOG_MESSAGE = 2000
MAX_PENDING_COLLECTIONS = 1000  # collections of one sampling interval kept for the recordings
IDLE_CPU_NS = 50_000  # a thread that used less CPU than this since the last sample was not running

_active: Optional["FlightRecorder"] = None  # the recorder whose sources are on, for ``publish``


def publish(kind: str, *fields) -> None:
    """Add an event from elsewhere in the agent (a ``monitor`` cycle); nothing when no recording runs."""
    recorder = _active
    if recorder is not None:
        recorder.emit((kind, time.time()) + fields)


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
        # collections timed one by one, waiting for the sampler's thread: a gc callback may run inside
        # ``Recording.add`` on the same thread (any allocation can collect), so it never takes a lock
        self._collections: Deque[Event] = collections.deque(maxlen=MAX_PENDING_COLLECTIONS)
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
        for recording in list(self._running):
            recording.add(event)

    # ---- sources ----

    def _switch_sources_on(self) -> None:
        global _active
        interval = min(INTERVALS[r.settings] for r in self._running)
        self._sampler = _Sampler(self, interval)
        gc.callbacks.append(self._on_gc)
        self._log_handler = _LogHandler(self)
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

    def _on_gc(self, phase: str, info: dict) -> None:
        # runs on the target's thread that collects: two clock reads, and an event only for a real pause
        try:
            if phase == "start":
                self._gc_started = time.perf_counter()
                return
            pause = time.perf_counter() - self._gc_started
            generation = info.get("generation", 0)
            if generation == 0 and pause < GC_EVENT_PAUSE:
                young = self._young
                young[0] += 1
                young[1] += pause
                if pause > young[2]:
                    young[2] = pause
                return
            self._collections.append(("gc", time.time(), generation, pause, info.get("collected", 0),
                                      info.get("uncollectable", 0)))
        except Exception:  # never into the target's collection
            pass

    def flush_collections(self) -> None:
        """Hand the collections timed since the last call to the recordings (on the sampler's thread)."""
        pending = self._collections
        while pending:
            self.emit(pending.popleft())

    def flush_young_collections(self) -> None:
        count, total, longest = self._young
        if count:
            self._young = [0, 0.0, 0.0]
            self.emit(("gc-summary", time.time(), 0, count, total, longest))


class _LogHandler(logging.Handler):
    def __init__(self, recorder: FlightRecorder):
        super().__init__(logging.WARNING)
        self.recorder = recorder

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        self.recorder.emit(("log", record.created, record.levelname, record.name, message[:MAX_LOG_MESSAGE],
                            record.thread or 0))

    def handleError(self, record: logging.LogRecord) -> None:
        pass  # a record we cannot keep is not the application's problem


class _Sampler:
    """The agent thread that samples stacks and watches threads come and go."""

    def __init__(self, recorder: FlightRecorder, interval: float):
        self.recorder = recorder
        self.interval = interval
        self._stop = threading.Event()
        self._cpu: Dict[int, int] = {}  # ident -> the thread's CPU time (ns) at the previous sample
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        self._thread = threads.spawn("jfr", self._loop)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        next_flush = time.monotonic() + 1.0
        while not self._stop.wait(self.interval):
            try:
                self._sample()
                self.recorder.flush_collections()
                if time.monotonic() >= next_flush:
                    next_flush = time.monotonic() + 1.0
                    self.recorder.flush_young_collections()
            except Exception:  # a sample lost is better than a recorder gone
                pass
        self.recorder.flush_collections()
        self.recorder.flush_young_collections()

    def _sample(self) -> None:
        now = time.time()
        frames = sys._current_frames()
        table = self.recorder.frames
        index_of = table.index_of_id
        known = threading._active  # type: ignore[attr-defined]  # ident -> Thread, read without its lock: a stale name costs nothing
        for ident in list(self._cpu):
            if ident not in frames:
                del self._cpu[ident]     # the thread has ended
        for ident, top in frames.items():
            thread = known.get(ident)
            if threads.is_agent_thread(ident) or not self._ran(ident, thread):
                continue
            stack = []
            depth = 0
            frame: Optional[types.FrameType] = top
            while frame is not None and depth < MAX_DEPTH:
                code = frame.f_code
                index = index_of.get(id(code))
                if index is None:
                    index = table.register(code, frame.f_globals)
                stack.append(index)
                frame = frame.f_back
                depth += 1
            self.recorder.emit(("sample", now, ident, thread.name if thread is not None else "", tuple(stack)))
        del frames

    def _ran(self, ident: int, thread: Optional[threading.Thread]) -> bool:
        """Whether the thread used CPU since the previous sample (True where its CPU time cannot be read)."""
        now = cpu_time_ns(getattr(thread, "native_id", None) or 0)
        if now is None:
            return True
        before = self._cpu.get(ident)
        self._cpu[ident] = now
        return before is None or now - before >= IDLE_CPU_NS


_original_bootstrap = None


def _watch_thread_lives() -> None:
    global _original_bootstrap
    if _original_bootstrap is not None:
        return
    original = _original_bootstrap = threading.Thread._bootstrap_inner  # type: ignore[attr-defined]

    def _bootstrap_inner(thread) -> None:
        _thread_event("thread-start", thread)
        try:
            original(thread)
        finally:
            _thread_event("thread-end", thread)

    threading.Thread._bootstrap_inner = _bootstrap_inner  # type: ignore[attr-defined]


def _unwatch_thread_lives() -> None:
    global _original_bootstrap
    if _original_bootstrap is not None:
        threading.Thread._bootstrap_inner = _original_bootstrap  # type: ignore[attr-defined]
        _original_bootstrap = None


def _thread_event(kind: str, thread: threading.Thread) -> None:
    # on the target's new (or ending) thread: never raise into it
    try:
        recorder = _active
        if recorder is not None and not thread.name.startswith(threads.THREAD_PREFIX):
            recorder.emit((kind, time.time(), thread.ident or 0, thread.name, getattr(thread, "native_id", 0) or 0))
    except Exception:
        pass
