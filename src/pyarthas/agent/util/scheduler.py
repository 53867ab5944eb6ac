"""One agent thread that runs callbacks at deadlines (job timeouts, the session reaper).

It sleeps on a condition until the next deadline, so an idle agent wakes only when something is due.
"""
import heapq
import itertools
import threading
import time
from typing import Callable, List, Optional, Tuple

from . import threads


class Scheduled:
    __slots__ = ("when", "callback", "cancelled", "_scheduler")

    def __init__(self, when: float, callback: Callable[[], None], scheduler: "Scheduler"):
        self.when = when
        self.callback: Optional[Callable[[], None]] = callback
        self.cancelled = False
        self._scheduler = scheduler

    def cancel(self) -> None:
        if not self.cancelled:
            self.cancelled = True
            self.callback = None      # what it would have called (a job, its session) is freed at once
            self._scheduler._note_cancelled()


class Scheduler:
    def __init__(self, name: str = "scheduler"):
        self._name = name
        self._cond = threading.Condition()
        self._heap: List[Tuple[float, int, Scheduled]] = []
        self._counter = itertools.count()
        self._closed = False
        self._cancelled = 0
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        self._thread = threads.spawn(self._name, self._loop)

    def call_later(self, delay: float, callback: Callable[[], None]) -> Scheduled:
        item = Scheduled(time.monotonic() + delay, callback, self)
        with self._cond:
            heapq.heappush(self._heap, (item.when, next(self._counter), item))
            self._cond.notify()
        return item

    def every(self, interval: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` every ``interval`` seconds until the scheduler closes."""

        def tick() -> None:
            try:
                callback()
            finally:
                if not self._closed:
                    self.call_later(interval, tick)

        self.call_later(interval, tick)

    def _note_cancelled(self) -> None:
        """Cancelled items (a job timeout of one day, cancelled when the job ends) would pile up until
        their deadline: compact the heap once they are the majority."""
        with self._cond:
            self._cancelled += 1
            if self._cancelled > 64 and self._cancelled * 2 > len(self._heap):
                self._heap = [entry for entry in self._heap if not entry[2].cancelled]
                heapq.heapify(self._heap)
                self._cancelled = 0

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._heap.clear()
            self._cond.notify()

    def _loop(self) -> None:
        while True:
            with self._cond:
                due = self._next_due()
                if due is None:
                    return
            callback = due.callback
            if not due.cancelled and callback is not None:
                try:
                    callback()
                except Exception:  # a failing task must not stop the others
                    pass
            due = callback = None  # what it referenced is not kept alive while the thread sleeps

    def _next_due(self) -> Optional[Scheduled]:
        """Wait (holding the condition) until an item is due; None once closed."""
        while not self._closed:
            if not self._heap:
                self._cond.wait()
                continue
            when, _, item = self._heap[0]
            delay = when - time.monotonic()
            if delay <= 0:
                heapq.heappop(self._heap)
                if item.cancelled:
                    self._cancelled = max(0, self._cancelled - 1)
                    continue
                return item
            self._cond.wait(delay)
        return None
