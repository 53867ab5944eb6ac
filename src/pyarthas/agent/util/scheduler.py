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
    __slots__ = ("when", "callback", "cancelled")

    def __init__(self, when: float, callback: Callable[[], None]):
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Scheduler:
    def __init__(self, name: str = "scheduler"):
        self._name = name
        self._cond = threading.Condition()
        self._heap: List[Tuple[float, int, Scheduled]] = []
        self._counter = itertools.count()
        self._closed = False
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        self._thread = threads.spawn(self._name, self._loop)

    def call_later(self, delay: float, callback: Callable[[], None]) -> Scheduled:
        item = Scheduled(time.monotonic() + delay, callback)
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
            if not due.cancelled:
                try:
                    due.callback()
                except Exception:  # a failing task must not stop the others
                    pass

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
                return item
            self._cond.wait(delay)
        return None
