"""The hand-over to an agent thread (util/drain.py) that a stamped trace wrapper and the result distributor
use, in process: givers never block, nothing is left behind by the sleep handshake, a full drain drops the
oldest, the thread sleeps when idle and ends when closed."""
import queue
import threading

from pyarthas.agent.util.drain import Drain

WAIT_S = 10.0


class Recorder:
    def __init__(self):
        self.items = []
        self.batches = queue.SimpleQueue()

    def handle(self, batch):
        self.items.extend(batch)
        self.batches.put(len(batch))


def give(drain, item):
    """What a generated wrapper does: the deque's own append, then a wake only if the thread sleeps."""
    drain.put(item)
    if drain.sleeping:
        drain.wake(True)


def test_items_given_from_many_threads_all_reach_the_handler_in_each_givers_order():
    recorder = Recorder()
    drain = Drain("test-drain", recorder.handle, capacity=100000)
    try:
        def giver(name):
            for n in range(2000):
                give(drain, (name, n))
                if n % 97 == 0:
                    threading.Event().wait(0.0005)   # let the drain sleep now and then: the handshake runs

        givers = [threading.Thread(target=giver, args=(name,)) for name in "abcd"]
        for thread in givers:
            thread.start()
        for thread in givers:
            thread.join(WAIT_S)
        marker = threading.Event()
        drain.offer(marker)
        while marker not in recorder.items:      # each get waits at most WAIT_S: a lost item fails here
            recorder.batches.get(timeout=WAIT_S)
        for name in "abcd":
            assert [n for who, n in recorder.items[:-1] if who == name] == list(range(2000))
    finally:
        drain.close()


def test_the_thread_sleeps_when_idle_and_wakes_for_one_item():
    recorder = Recorder()
    idle = threading.Event()
    drain = Drain("test-drain", recorder.handle, capacity=10, when_idle=idle.set)
    try:
        assert idle.wait(WAIT_S)
        idle.clear()
        give(drain, "one")
        assert recorder.batches.get(timeout=WAIT_S) == 1
        assert idle.wait(WAIT_S) and recorder.items == ["one"]
    finally:
        drain.close()


def test_a_full_drain_drops_the_oldest_and_says_so():
    held, release = threading.Event(), threading.Event()
    recorder = Recorder()

    def slow(batch):
        held.set()
        release.wait(WAIT_S)
        recorder.handle(batch)

    drain = Drain("test-drain", slow, capacity=3)
    try:
        assert drain.offer("first")           # taken by the thread, which then holds on to it
        assert held.wait(WAIT_S)
        assert [drain.offer(n) for n in range(5)] == [True, True, True, False, False]
        release.set()
        seen = 0
        while seen < 4:
            seen += recorder.batches.get(timeout=WAIT_S)
        assert recorder.items == ["first", 2, 3, 4]
    finally:
        drain.close()


def test_closing_ends_the_thread_and_drops_what_is_queued():
    drain = Drain("test-drain", lambda batch: None, capacity=10)
    thread = drain._thread
    drain.close()
    thread.join(WAIT_S)
    assert not thread.is_alive()
    drain.offer("late")                       # never blocks, never raises
    assert drain.closed
