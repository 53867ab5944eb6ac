"""The profiler's engines behind one interface, and the chooser that records why it chose.

- ``PySpyEngine``: py-spy in a child process (``pyspy``), unbiased by the GIL; the first choice for cpu/wall.
- ``SamplerEngine``: the in-process sampler (``sampler``), where py-spy cannot run (not installed, ptrace
  refused, an interpreter py-spy does not know).
- ``AllocEngine`` (``alloc``): allocation profiling with tracemalloc.
Each gives its stacks named (``Frame`` tuples, outermost first) with counts, and a one-line description of
what it is and how its samples are biased, which ``profiler status`` shows.
"""
import threading
from typing import Callable, Dict, List, Optional, Tuple

from ..util import threads
from .frames import Frame
from .profile import Stack
from .pyspy import IDLE_DETECTION_WITHOUT_PAUSE, FrameNamer, PySpyRecorder, PySpyUnavailable, version
from .sampler import OTHER_CODE, OTHER_STACKS, TRUNCATED, Sampler

ENGINE_CHOICES = ("auto", "py-spy", "sampler")

SAMPLER_BIAS = {
    "cpu": "a thread counts when the kernel shows it running or handing over the GIL after using CPU; "
           "stacks are read when the sampler gets the GIL (switch interval lowered while sampling), so "
           "code that never releases the GIL is seen at its next switch point",
    "wall": "every thread counts every sample; stacks are read when the sampler gets the GIL (switch "
            "interval lowered while sampling)",
}
PYSPY_BIAS = {
    "cpu": "reads stacks from outside without the GIL; a thread counts when it is on CPU (py-spy's idle "
           "detection), whatever the GIL",
    "wall": "reads stacks from outside without the GIL; every thread counts every sample (--idle)",
}
PYSPY_ASKED_GIL = ("reads stacks from outside; cpu counts the thread holding the GIL (--gil): computing in C "
                   "without the GIL is not counted")
PYSPY_GIL_BIAS = ("reads stacks from outside; before Python 3.11 py-spy cannot tell idle threads without "
                  "pausing them, so cpu counts the thread holding the GIL (--gil): computing in C without "
                  "the GIL is not counted")


class Engine:
    """What the controller needs of an engine. ``on_deadline(engine)`` is called on an agent thread once a
    ``-d`` duration has elapsed and sampling has stopped."""

    name = "engine"
    unit = "samples"

    def __init__(self, mode: str, interval: float, per_thread: bool,
                 on_deadline: Optional[Callable[["Engine"], None]] = None):
        self.mode = mode
        self.interval = interval
        self.per_thread = per_thread
        self.on_deadline = on_deadline
        self.note = ""    # why this engine was chosen over a better one (status shows it)

    def start(self, duration: Optional[float] = None) -> None:
        raise NotImplementedError

    def request_stop(self) -> None:
        raise NotImplementedError

    def join(self, timeout: float = 5.0) -> None:
        pass

    @property
    def running(self) -> bool:
        raise NotImplementedError

    def samples(self) -> int:
        raise NotImplementedError

    def stacks(self) -> List[Tuple[Stack, int]]:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def memory(self) -> Dict[str, int]:
        """Bytes held, by part (``profiler meminfo``)."""
        return {}

    def close(self) -> None:
        """Free what the engine holds outside its counts (files, child processes)."""


class SamplerEngine(Engine):
    name = "in-process sampler"

    def __init__(self, mode, interval, per_thread, on_deadline=None):
        super().__init__(mode, interval, per_thread, on_deadline)
        self.sampler = Sampler(mode, interval, per_thread, on_deadline=lambda _: self._deadline_reached())

    def _deadline_reached(self) -> None:
        if self.on_deadline is not None:
            self.on_deadline(self)

    def start(self, duration=None):
        self.sampler.start(duration)

    def request_stop(self):
        self.sampler.request_stop()

    def join(self, timeout=5.0):
        self.sampler.join(timeout)

    @property
    def running(self):
        return self.sampler.running

    def samples(self):
        return self.sampler.samples

    def stacks(self):
        sampler = self.sampler
        counts = sampler.snapshot_counts()
        names: Dict[int, Frame] = {}

        def frame(index: int) -> Frame:
            found = names.get(index)
            if found is None:
                found = names[index] = _sampler_frame(sampler, index)
            return found

        return [(tuple(frame(i) for i in reversed(key)), count) for key, count in counts.items()]

    def describe(self):
        return "%s (%s)" % (self.name, SAMPLER_BIAS[self.mode])

    def memory(self):
        sampler = self.sampler
        return {"Call trace storage": _dict_bytes(sampler.counts) + sum(40 + 8 * len(k) for k in sampler.counts),
                "Dictionaries": _dict_bytes(sampler.frames.index_of_id) + 120 * len(sampler.frames)}


def _sampler_frame(sampler: Sampler, index: int) -> Frame:
    if index == TRUNCATED:
        return Frame("[truncated]", "", 0)
    if index == OTHER_STACKS:
        return Frame("[other stacks]", "", 0)
    if index == OTHER_CODE:
        return Frame("[other code]", "", 0)
    if index < 0:
        return Frame(sampler.thread_names.get(index, "[thread]"), "", 0)
    return sampler.frames.frame(index)


class PySpyEngine(Engine):
    def __init__(self, mode, interval, per_thread, on_deadline=None, executable: Optional[str] = None,
                 gil: bool = False):
        super().__init__(mode, interval, per_thread, on_deadline)
        self.recorder = PySpyRecorder(mode, interval, executable, gil)
        self.name = version(self.recorder.executable)
        self._stopped = threading.Event()
        self._stopped.set()

    def start(self, duration=None):
        self.recorder.begin()   # raises PySpyUnavailable: the chooser falls back
        stopped = self._stopped = threading.Event()
        if duration:
            threads.spawn("profiler-deadline", lambda: self._wait_deadline(stopped, duration))

    def _wait_deadline(self, stopped: threading.Event, duration: float) -> None:
        if stopped.wait(duration):
            return
        self.request_stop()
        if self.on_deadline is not None:
            self.on_deadline(self)

    def request_stop(self):
        self._stopped.set()
        self.recorder.end()

    @property
    def running(self):
        return not self._stopped.is_set() and self.recorder.alive

    def samples(self):
        if self.running:
            self.recorder.rotate(min_age=1.0)
        return self.recorder.samples

    def stacks(self):
        if self.running:
            self.recorder.rotate()
        namer = FrameNamer()   # named at each write: modules loaded since the last one get their names
        result = []
        for key, count in list(self.recorder.counts.items()):
            frames = tuple(namer.frame(text) for text in key[1:])
            if self.per_thread:
                frames = (Frame(key[0], "", 0),) + frames
            result.append((frames, count))   # without --threads, the threads' stacks add up when written
        return result

    def describe(self):
        if self.mode == "cpu" and self.recorder.gil:
            return "%s (%s)" % (self.name, PYSPY_GIL_BIAS if not IDLE_DETECTION_WITHOUT_PAUSE else PYSPY_ASKED_GIL)
        return "%s (%s)" % (self.name, PYSPY_BIAS[self.mode])

    def memory(self):
        counts = self.recorder.counts
        return {"Call trace storage": _dict_bytes(counts) + sum(60 * len(k) for k in counts)}

    def close(self):
        self.recorder.close()


def _dict_bytes(mapping) -> int:
    return 100 + 100 * len(mapping)


def choose_engine(engine: str, mode: str, interval: float, per_thread: bool, on_deadline,
                  duration: Optional[float], executable: Optional[str] = None, gil: bool = False) -> Engine:
    """Start the engine asked for (``auto``: py-spy, else the in-process sampler, noting why)."""
    if mode == "alloc":
        from .alloc import AllocEngine
        chosen: Engine = AllocEngine(mode, interval, per_thread, on_deadline)
        chosen.start(duration)
        return chosen
    reason = ""
    if engine in ("auto", "py-spy"):
        try:
            spy = PySpyEngine(mode, interval, per_thread, on_deadline, executable, gil)
            try:
                spy.start(duration)
            except PySpyUnavailable:
                spy.close()
                raise
            return spy
        except PySpyUnavailable as exc:
            if engine == "py-spy":
                raise
            reason = str(exc)
    sampler = SamplerEngine(mode, interval, per_thread, on_deadline)
    sampler.note = reason
    sampler.start(duration)
    return sampler

