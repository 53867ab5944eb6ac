"""Result distribution (session/distribution.py, after Arthas's SharingResultDistributor), in process: producers
never block, each consumer owns a bounded queue, the history replays to late consumers, a flood interrupts
the foreground job, deferred results are serialized only when taken."""
import dataclasses
import threading
import time
from typing import ClassVar

import pytest

from pyarthas.agent.model import InputStatusModel, MessageModel, ResultModel, StatusModel
from pyarthas.agent.session import distribution
from pyarthas.agent.session.distribution import SharingDistributor
from pyarthas.agent.settings import Timeouts

WAIT_S = 10.0


@dataclasses.dataclass
class Tick(ResultModel):
    type: ClassVar[str] = "tick"
    n: int = 0


class Counted(ResultModel):
    """A deferred model that counts its serializations."""

    type = "counted"
    defer_json = True
    serialized = 0

    def __init__(self, n: int):
        self.n = n

    def fields(self):
        Counted.serialized += 1
        return {"n": self.n}

    def item_count(self) -> int:
        return 1


@pytest.fixture
def make():
    made = []

    def _make(poll_wait: float = 0.3):
        timeouts = Timeouts()
        timeouts.poll_wait = poll_wait
        interrupts = []
        dist = SharingDistributor("0123456789abcdef", timeouts, lambda: interrupts.append(time.monotonic()))
        made.append(dist)
        return dist, interrupts

    yield _make
    for dist in made:
        dist.close()


def pull_all(consumer, count: int):
    """Poll until ``count`` results arrived (each poll bounded by the consumer's own waits)."""
    got = []
    deadline = time.monotonic() + WAIT_S
    while len(got) < count and time.monotonic() < deadline:
        got.extend(consumer.poll())
    return got


def test_results_reach_every_consumer_in_order(make):
    dist, _ = make()
    first, second = dist.add_consumer(False), dist.add_consumer(False)
    assert first.id != second.id
    for n in range(5):
        dist.append(7, Tick(n))
    for consumer in (first, second):
        got = pull_all(consumer, 5)
        assert got == [{"type": "tick", "jobId": 7, "n": n} for n in range(5)]


def test_a_poll_takes_at_most_twenty_results(make):
    dist, _ = make()
    consumer = dist.add_consumer(False)
    for n in range(30):
        dist.append(1, Tick(n))
    dist.flush(WAIT_S)
    first = consumer.poll()
    assert len(first) == distribution.MAX_RESULTS_PER_PULL
    assert [r["n"] for r in first + consumer.poll()] == list(range(30))


def test_an_empty_poll_returns_after_the_idle_wait(make):
    dist, _ = make(poll_wait=0.3)
    consumer = dist.add_consumer(False)
    started = time.monotonic()
    assert consumer.poll() == []
    assert 0.2 <= time.monotonic() - started < WAIT_S


def test_a_late_consumer_gets_the_history_then_the_last_input_status(make):
    dist, _ = make()
    dist.append(1, Tick(1))
    dist.append(1, InputStatusModel(inputStatus="ALLOW_INPUT"))
    dist.append(1, StatusModel(statusCode=0))
    dist.flush(WAIT_S)
    late = dist.add_consumer(True)
    got = [(r["type"], r.get("inputStatus")) for r in pull_all(late, 4)]
    assert got == [("input_status", "DISABLED"), ("tick", None), ("status", None),
                   ("input_status", "ALLOW_INPUT")]
    assert dist.add_consumer(False).poll() == []      # no replay unless asked


def test_the_history_and_a_queue_keep_only_the_newest(make):
    dist, _ = make()
    idle = dist.add_consumer(False)
    total = distribution.HISTORY_CAPACITY + 30
    for n in range(total):
        dist.append(1, Tick(n))
    dist.flush(WAIT_S)
    kept = pull_all(idle, distribution.CONSUMER_CAPACITY)
    assert [r["n"] for r in kept] == list(range(total - distribution.CONSUMER_CAPACITY, total))
    # the replay (an input_status, then the history) goes through the late consumer's bounded queue too
    replayed = [r for r in pull_all(dist.add_consumer(True), distribution.CONSUMER_CAPACITY)
                if r["type"] == "tick"]
    assert [r["n"] for r in replayed] == list(range(total - distribution.HISTORY_CAPACITY, total))


def test_an_evicted_consumer_is_closed_and_its_poll_answers_at_once(make):
    dist, _ = make(poll_wait=30)
    consumer = dist.add_consumer(False)
    dist.evict_consumer(consumer, "go away")   # as Arthas, the message is queued, then the consumer closed
    assert consumer.closed and dist.consumer(consumer.id) is None
    started = time.monotonic()
    assert consumer.poll() == []
    assert time.monotonic() - started < WAIT_S


def test_closing_wakes_a_waiting_poll(make):
    dist, _ = make(poll_wait=30)
    consumer = dist.add_consumer(False)
    answered = []
    poller = threading.Thread(target=lambda: answered.append(consumer.poll()))
    poller.start()
    deadline = time.monotonic() + WAIT_S
    while not consumer.polling and time.monotonic() < deadline:     # the poll is waiting
        time.sleep(0.01)
    dist.close()
    poller.join(WAIT_S)
    assert not poller.is_alive() and answered == [[]]
    dist.append(1, Tick(1))            # appending after close is ignored, never raises


def test_a_flood_is_cut_and_the_foreground_job_interrupted(make):
    dist, interrupts = make()
    consumer = dist.add_consumer(False)
    held = threading.Event()
    released = threading.Event()

    class Slow(ResultModel):
        type = "slow"

        def fields(self):
            held.set()
            released.wait(WAIT_S)
            return {}

    dist.append(1, Slow())            # holds the distributor thread while the buffer overflows
    assert held.wait(WAIT_S)
    for n in range(distribution.PENDING_CAPACITY + 10):
        dist.append(1, Tick(n))        # never blocks
    released.set()
    deadline = time.monotonic() + WAIT_S
    messages = []
    while not messages and time.monotonic() < deadline:
        messages = [r for r in consumer.poll() if r["type"] == "message"]
    assert messages and messages[0]["message"].startswith("result queue is full: %d"
                                                          % distribution.PENDING_CAPACITY)
    assert interrupts


def test_a_deferred_result_is_serialized_once_and_only_when_taken(make):
    dist, _ = make()
    Counted.serialized = 0
    first, second = dist.add_consumer(False), dist.add_consumer(False)
    dist.append(3, Counted(1))
    dist.flush(WAIT_S)
    assert Counted.serialized == 0
    assert pull_all(first, 1) == [{"type": "counted", "jobId": 3, "n": 1}]
    assert pull_all(second, 1) == [{"type": "counted", "jobId": 3, "n": 1}]
    assert Counted.serialized == 1


def test_a_result_that_cannot_be_serialized_becomes_a_message(make):
    dist, _ = make()
    consumer = dist.add_consumer(False)

    class Broken(ResultModel):
        type = "broken"

        def fields(self):
            raise RuntimeError("nope")

    dist.append(4, Broken())
    dist.append(4, MessageModel(message="after"))
    got = pull_all(consumer, 2)
    assert got[0]["type"] == "message" and "broken could not be serialized" in got[0]["message"]
    assert got[1] == {"type": "message", "jobId": 4, "message": "after"}
