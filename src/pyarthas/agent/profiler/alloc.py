"""``-e alloc``: allocation profiling with tracemalloc, sampled in time.

tracemalloc traces every allocation while it is on, which slows a loop that only allocates 9-100 times
(measured here, 3.9-3.12, growing with the frames kept). So it is on only in short windows (``WINDOW``,
5 ms, one every ``interval``, 1 s by default): at the end of each window a snapshot gives the blocks
allocated in it that are still alive, with their stacks; their sizes are added to those stacks' counts
(bytes), and tracing stops until the next window. Blocks freed within the window they were allocated in are
not seen: the profile shows where memory that lives for a while is allocated.
When the target traces with tracemalloc itself, windows only take snapshots (tracing is left as found).

tracemalloc describes frames by file and line; they are named ``module.qualname`` by finding, in the
module of the file, the innermost function whose lines hold that line.
"""
import dis
import os
import threading
import time
import tracemalloc
from typing import Dict, List, Optional, Tuple

from ..util import threads
from .engines import Engine
from .frames import Frame, module_code_index, modules_by_file
from .pyspy import AGENT_DIR
from .sampler import SWITCH_INTERVAL

WINDOW = 0.005            # seconds traced per window
DEFAULT_PERIOD = 1.0      # one window this often unless -i says otherwise
MIN_PERIOD = 0.05
FRAMES = 32               # tracemalloc frames kept per stack
MAX_STACKS = 50000
WINDOW_SWITCH_INTERVAL = 0.0002


class AllocEngine(Engine):
    name = "tracemalloc (sampled windows)"
    unit = "bytes"

    def __init__(self, mode, interval, per_thread, on_deadline=None):
        super().__init__(mode, interval, False, on_deadline)
        self.period = max(interval if interval > 0.02 else DEFAULT_PERIOD, MIN_PERIOD)
        self.counts: Dict[Tuple[Tuple[str, int], ...], int] = {}
        self.allocations = 0
        self._stopped = threading.Event()
        self._stopped.set()
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()

    def start(self, duration=None):
        stopped = self._stopped = threading.Event()
        deadline = time.monotonic() + duration if duration else None
        self._thread = threads.spawn("profiler-alloc", lambda: self._loop(stopped, deadline))

    def _loop(self, stopped: threading.Event, deadline: Optional[float]) -> None:
        try:
            while not stopped.wait(self.period - WINDOW):
                self._window(stopped)
                if deadline is not None and time.monotonic() >= deadline:
                    stopped.set()
                    if self.on_deadline is not None:
                        self.on_deadline(self)
                    return
        except Exception as exc:  # a failing window stops the profiler, never the target
            import sys
            sys.stderr.write("pyarthas: allocation profiler stopped: %r\n" % (exc,))
            stopped.set()

    def _window(self, stopped: threading.Event) -> None:
        ours = not tracemalloc.is_tracing()
        # the window ends when this thread gets the GIL back: within a short switch interval, not 5 ms
        SWITCH_INTERVAL.lower(WINDOW_SWITCH_INTERVAL)
        try:
            if ours:
                tracemalloc.start(FRAMES)
            try:
                stopped.wait(WINDOW)
                snapshot = tracemalloc.take_snapshot()
            finally:
                if ours:
                    tracemalloc.stop()   # frees the traces
        finally:
            SWITCH_INTERVAL.restore(WINDOW_SWITCH_INTERVAL)
        self._add(snapshot)

    def _add(self, snapshot) -> None:
        # The snapshot's raw traces, (domain, size, frames newest first, ...) tuples, summed in one dict:
        # Snapshot.statistics() builds an object per frame and held the GIL 5-30 ms per window here.
        sizes: Dict[Tuple[Tuple[str, int], ...], int] = {}
        for trace in _raw_traces(snapshot):
            sizes[trace[2]] = sizes.get(trace[2], 0) + trace[1]
        with self._lock:
            for newest_first, size in sizes.items():
                if any(name.startswith(AGENT_DIR) for name, _ in newest_first):
                    continue   # the agent's own allocations (this window's snapshot among them)
                key = newest_first[::-1]
                if key not in self.counts and len(self.counts) >= MAX_STACKS:
                    key = (("[other stacks]", 0),)
                self.counts[key] = self.counts.get(key, 0) + size
                self.allocations += 1

    def request_stop(self):
        self._stopped.set()

    def join(self, timeout=5.0):
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def running(self):
        return not self._stopped.is_set()

    def samples(self):
        return self.allocations

    def stacks(self):
        with self._lock:
            counts = dict(self.counts)
        namer = LineNamer()
        return [(tuple(namer.frame(path, line) for path, line in key), size) for key, size in counts.items()]

    def describe(self):
        return ("%s (blocks allocated in %g ms windows every %g ms and alive at the window's end, by "
                "allocating stack, in bytes)" % (self.name, WINDOW * 1000, self.period * 1000))

    def memory(self):
        return {"Call trace storage": 100 * len(self.counts) + sum(16 * len(k) for k in self.counts)}


def _raw_traces(snapshot) -> List[tuple]:
    raw = getattr(getattr(snapshot, "traces", None), "_traces", None)
    if isinstance(raw, list):
        return raw
    return [(0, trace.size, tuple((f.filename, f.lineno) for f in reversed(trace.traceback)))
            for trace in snapshot.traces]


class LineNamer:
    """(file, line) to a ``Frame`` named after the innermost function of the file's module holding the line."""

    def __init__(self) -> None:
        self._modules = modules_by_file()
        self._ranges: Dict[str, List[Tuple[int, int, str]]] = {}
        self._cache: Dict[Tuple[str, int], Frame] = {}

    def frame(self, path: str, line: int) -> Frame:
        key = (path, line)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._name(path, line)
        return found

    def _name(self, path: str, line: int) -> Frame:
        if path == "[other stacks]":
            return Frame(path, "", 0)
        module = self._modules.get(path) or self._modules.get(os.path.realpath(path))
        if module is None:
            return Frame("%s:%d" % (os.path.basename(path), line), path, line)
        ranges = self._ranges.get(module)
        if ranges is None:
            ranges = self._ranges[module] = _line_ranges(module)
        best = None
        for first, last, qualname in ranges:
            if first <= line <= last and (best is None or last - first < best[1] - best[0]):
                best = (first, last, qualname)
        return Frame("%s.%s" % (module, best[2] if best else "<module>"), path, best[0] if best else line)


def _line_ranges(module: str) -> List[Tuple[int, int, str]]:
    ranges = []
    for code, qualname in module_code_index(module).items():
        lines = [line for _, line in dis.findlinestarts(code) if line]
        ranges.append((code.co_firstlineno, max(lines + [code.co_firstlineno]), qualname))
    return ranges
