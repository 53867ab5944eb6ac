"""Result distribution of a session (Arthas's SharingResultDistributor and ResultConsumer).

Producers (jobs, possibly hooks on the target's threads) append to a bounded pending buffer and never
block. One distributor thread per session serializes each model to JSON (so serialization never runs on
the target's threads), keeps it in a bounded history (replayed to consumers that join later) and hands it
to every consumer's bounded queue (drop-oldest). Consumers long-poll their queue.
"""
import collections
import threading
import time
from typing import Any, Callable, Deque, Dict, List, Optional, Sequence, Tuple, Union

from ..model import InputStatusModel, MessageModel, ResultModel, to_json_or_message
from ..util.drain import Drain
from ..util.ids import random_hex32

PENDING_CAPACITY = 1000
HISTORY_CAPACITY = 50
CONSUMER_CAPACITY = 50
MAX_RESULTS_PER_PULL = 20
FLUSH_ITEM_COUNT = 100

Entry = Tuple[int, Union[Dict[str, Any], "_Deferred"]]  # (item count, serialized result or one to make)


class Consumer:
    def __init__(self, consumer_id: str, timeouts):
        self.id = consumer_id
        self._timeouts = timeouts
        self._queue: Deque[Entry] = collections.deque(maxlen=CONSUMER_CAPACITY)
        self._cond = threading.Condition()
        self._poll_lock = threading.Lock()
        self.polling = False
        self.closed = False
        self.last_access = time.monotonic()

    def append(self, entry: Entry) -> None:
        self.extend((entry,))

    def extend(self, entries: Sequence[Entry]) -> None:
        with self._cond:
            self._queue.extend(entries)  # a full deque drops its oldest entries
            self._cond.notify_all()

    def is_healthy(self) -> bool:
        return (self.polling or len(self._queue) < CONSUMER_CAPACITY
                or time.monotonic() - self.last_access < self._timeouts.consumer_healthy_window)

    def idle_seconds(self) -> float:
        return 0.0 if self.polling else time.monotonic() - self.last_access

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def poll(self, forever: bool = False) -> List[Dict[str, Any]]:
        """Long poll: at most 20 results; returns about 100 ms after the first one, or empty after the
        idle wait (about 2 s; never with ``forever``: the agent's own shell waits without waking up);
        at once with what it has when the consumer closes."""
        self.last_access = time.monotonic()
        if not self._poll_lock.acquire(timeout=0.5):
            return []
        self.polling = True
        try:
            return self._collect(forever)
        finally:
            self.polling = False
            self.last_access = time.monotonic()
            self._poll_lock.release()

    def _collect(self, forever: bool = False) -> List[Dict[str, Any]]:
        batch: List[Union[Dict[str, Any], _Deferred]] = []
        items = 0
        started = time.monotonic()
        first_at: Optional[float] = None
        with self._cond:
            while not self.closed and len(batch) < MAX_RESULTS_PER_PULL and items < FLUSH_ITEM_COUNT:
                if self._queue:
                    count, result = self._queue.popleft()
                    batch.append(result)
                    items += count
                    if first_at is None:
                        first_at = time.monotonic()
                    continue
                if first_at is None and forever:
                    self._cond.wait()
                    continue
                deadline = (first_at + self._timeouts.poll_flush if first_at is not None
                            else started + self._timeouts.poll_wait)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
        return [_resolved(result) for result in batch]


class SharingDistributor:
    def __init__(self, session_id: str, timeouts, interrupt_foreground: Callable[[], None]):
        self._session_id = session_id
        self._timeouts = timeouts
        self._interrupt_foreground = interrupt_foreground
        self._overflowed = False
        self._lock = threading.Lock()
        self._history: Deque[Entry] = collections.deque(maxlen=HISTORY_CAPACITY)
        self._last_input_status: Optional[Entry] = None
        self._consumers: Dict[str, Consumer] = {}
        self._consumer_seq = 0
        self._unhealthy_flagged = False
        self._unhealthy_to_tell = False
        self._closed = False
        self._drain = Drain("distributor-" + session_id[:8], self._distribute, PENDING_CAPACITY, self._when_idle)

    # ---- producers (any thread, never blocks) ----

    def append(self, job_id: int, model: ResultModel) -> None:
        if self._closed:
            return
        if not self._drain.offer((job_id, model)):
            self._overflowed = True  # the oldest was dropped; the distributor reports it

    # ---- consumers ----

    def add_consumer(self, replay_history: bool) -> Consumer:
        with self._lock:
            self._consumer_seq += 1
            consumer = Consumer("%s_%d" % (random_hex32(), self._consumer_seq), self._timeouts)
            if replay_history:
                consumer.append(_serialize(0, InputStatusModel(inputStatus="DISABLED")))
                for entry in self._history:
                    consumer.append(entry)
                if self._last_input_status is not None:
                    consumer.append(self._last_input_status)
            self._consumers[consumer.id] = consumer
            return consumer

    def consumer(self, consumer_id: str) -> Optional[Consumer]:
        return self._consumers.get(consumer_id)

    def remove_consumer(self, consumer_id: str) -> None:
        with self._lock:
            consumer = self._consumers.pop(consumer_id, None)
        if consumer is not None:
            consumer.close()

    def evict_consumer(self, consumer: Consumer, message: str) -> None:
        """Tell the consumer why, then drop it (Arthas does both, so the message is never read)."""
        consumer.append(_serialize(0, MessageModel(message=message)))
        self.remove_consumer(consumer.id)

    def consumers(self) -> List[Consumer]:
        return list(self._consumers.values())

    def close(self) -> None:
        """Stop distributing and drop what is held (history, queued results): consumers still polling get
        what they had taken. The session it reported to is no longer referenced."""
        self._closed = True
        self._drain.close()
        self._interrupt_foreground = _nothing
        with self._lock:
            consumers, self._consumers = list(self._consumers.values()), {}
            self._history.clear()
            self._last_input_status = None
        for consumer in consumers:
            consumer.close()

    def flush(self, timeout: float = 1.0) -> None:
        """Wait until what is pending now has been distributed (used before closing a session)."""
        done = threading.Event()
        self._drain.offer((0, _Marker(done)))
        done.wait(timeout)

    # ---- the distributor thread ----

    def _when_idle(self) -> None:
        if self._overflowed:
            self._overflowed = False
            self._report_overflow()
        if self._unhealthy_to_tell:
            # after the interrupted job's queued results: a full consumer queue keeps its newest
            # entries, so said earlier the message would be pushed out by them
            self._unhealthy_to_tell = False
            self._broadcast(MessageModel(message="all consumers are unhealthy, current job was interrupted."))

    def _distribute(self, batch: List[Tuple[int, ResultModel]]) -> None:
        """Hand a batch of results to the history and the consumers: one lock and one wake-up of each
        consumer per batch, not per result (a hot traced function reports thousands per second, and this
        thread shares the interpreter lock with the target's)."""
        entries: List[Entry] = []      # for the consumers, in order
        kept: List[Entry] = []         # for the history: all but the input statuses (the last is kept apart)
        markers = []
        input_status = None
        for job_id, model in batch:
            if type(model) is _Marker:
                markers.append(model)
                continue
            entry = _serialize(job_id, model)
            entries.append(entry)
            if model.type == "input_status":
                input_status = entry
            else:
                kept.append(entry)
        with self._lock:
            if input_status is not None:
                self._last_input_status = input_status
            self._history.extend(kept)
            consumers = list(self._consumers.values())
            healthy = sum(1 for c in consumers if c.is_healthy())
            for consumer in consumers:
                consumer.extend(entries)
        for marker in markers:   # what came before each marker is distributed
            marker.done.set()
        if not consumers:
            return
        if healthy == 0 and not self._unhealthy_flagged:
            self._unhealthy_flagged = True
            self._interrupt_foreground()
            self._unhealthy_to_tell = True
        elif healthy and not self._drain.items:
            self._unhealthy_flagged = False

    def _report_overflow(self) -> None:
        self._interrupt_foreground()
        self._broadcast(MessageModel(message="result queue is full: %d, current job was interrupted."
                                     % PENDING_CAPACITY))

    def _broadcast(self, model: ResultModel) -> None:
        entry = _serialize(0, model)
        with self._lock:
            self._history.append(entry)
            for consumer in self._consumers.values():
                consumer.append(entry)


def _nothing() -> None:
    pass


class _Marker(ResultModel):
    type = "marker"

    def __init__(self, done: threading.Event):
        self.done = done


class _Deferred:
    """A result serialized when a consumer first takes it, for models with ``defer_json = True`` (watch
    results, made at the rate of the watched function): those dropped by full queues never cost their
    serialization, so a flood cannot keep the distributor busy."""

    __slots__ = ("job_id", "model", "json")

    def __init__(self, job_id: int, model: ResultModel):
        self.job_id = job_id
        self.model: Optional[ResultModel] = model
        self.json: Optional[Dict[str, Any]] = None

    def resolve(self) -> Dict[str, Any]:
        result = self.json
        if result is None:
            model = self.model
            result = self.json        # another consumer may have serialized it in the meantime
            if result is None:
                assert model is not None, "json is set before the model is dropped"
                result = _serialize_now(self.job_id, model)[1]
                self.json = result
                self.model = None
        return result


def _resolved(result: Any) -> Dict[str, Any]:
    return result.resolve() if type(result) is _Deferred else result


def _serialize(job_id: int, model: ResultModel, defer: bool = True) -> Entry:
    if defer and getattr(model, "defer_json", False):
        return model.item_count(), _Deferred(job_id, model)
    return _serialize_now(job_id, model)


def _serialize_now(job_id: int, model: ResultModel) -> Tuple[int, Dict[str, Any]]:
    try:
        count = model.item_count()
    except Exception:  # counting only paces the long poll; a broken model counts as one
        count = 1
    return count, to_json_or_message(model, job_id)
