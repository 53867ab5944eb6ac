"""A hand-over from any thread to one agent thread that never blocks the giver and sleeps when idle.

Givers put an item in a bounded deque (full: the oldest is dropped) and wake the thread only if it said it
sleeps: ``drain.put(item)`` then ``if drain.sleeping: drain.wake(True)``, two calls of C functions and no
frame of ours, which a generated wrapper can inline (``offer`` is the same for Python callers). The thread
says it sleeps before it looks at the deque a last time, so an item is never left behind. After a burst it
stays awake a moment (``linger``), so that the items that follow do not each wake it (a system call on the
giver's thread, paid per item).
"""
import collections
import queue
import time
from typing import Any, Callable, Deque, List, Optional

from . import threads

LINGER_SECONDS = 0.002


class Drain:
    def __init__(self, name: str, handle: Callable[[List[Any]], None], capacity: int,
                 when_idle: Optional[Callable[[], None]] = None, linger: float = LINGER_SECONDS):
        """``handle(batch)`` runs on the thread for what was there (in order); ``when_idle()`` before it
        sleeps."""
        self.items: Deque[Any] = collections.deque(maxlen=capacity)
        self.put = self.items.append
        self.sleeping = False
        self.closed = False
        self._wakeup: "queue.SimpleQueue[bool]" = queue.SimpleQueue()
        self.wake = self._wakeup.put
        self._handle = handle
        self._when_idle = when_idle
        self._linger = linger
        self._thread = threads.spawn(name, self._loop)

    def offer(self, item: Any) -> bool:
        """Put ``item`` (waking the thread if it sleeps); False when that pushed the oldest item out."""
        items = self.items
        room = len(items) < items.maxlen   # type: ignore[operator]  # always bounded
        self.put(item)
        if self.sleeping:
            self.wake(True)
        return room

    def close(self) -> None:
        """The thread ends soon, handling nothing more; what is queued is dropped."""
        self.closed = True
        self.wake(False)
        self.items.clear()

    def _loop(self) -> None:
        items = self.items
        while not self.closed:
            handled = bool(items)
            while items and not self.closed:
                try:
                    self._handle(self._take())
                except Exception:   # a handler's failure loses its batch, never the thread
                    pass
            if handled and not self.closed:
                time.sleep(self._linger)
                if items:
                    continue
            if self._when_idle is not None:
                self._when_idle()
            self.sleeping = True
            if not items and not self.closed:
                self._wakeup.get()
            self.sleeping = False

    def _take(self) -> List[Any]:
        popleft = self.items.popleft
        batch = []
        try:
            for _ in range(len(self.items)):   # givers only append: these many are there, unless closed
                batch.append(popleft())
        except IndexError:
            pass
        return batch
