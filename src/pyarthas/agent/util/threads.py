"""The agent's own threads: every one is a daemon, named ``pyarthas-*``, and known by ident so that hooks
and samplers can skip them (the agent never observes itself)."""
import threading
from typing import Callable, List, Optional, Set

AGENT_THREAD_IDS: Set[int] = set()
THREAD_PREFIX = "pyarthas-"


def spawn(name: str, target: Callable[[], None]) -> threading.Thread:
    """Start a daemon agent thread running ``target``."""
    thread = threading.Thread(target=_run_as_agent, args=(target,), name=THREAD_PREFIX + name, daemon=True)
    thread.start()
    return thread


def _run_as_agent(target: Callable[[], None]) -> None:
    ident = threading.get_ident()
    AGENT_THREAD_IDS.add(ident)
    try:
        target()
    finally:
        AGENT_THREAD_IDS.discard(ident)


# The code at the bottom of every agent thread's stack: tells an agent thread from its frames alone, when
# its ident has already left AGENT_THREAD_IDS (a sampler holding frames taken just before the thread ended).
AGENT_ENTRY_CODE = _run_as_agent.__code__


def is_agent_thread(ident: Optional[int] = None, name: str = "") -> bool:
    """Is the thread ``ident`` (default: this one) the agent's? Known by ident, or by its name: one past its
    own code, ending in threading's cleanup, has left the idents already."""
    return (threading.get_ident() if ident is None else ident) in AGENT_THREAD_IDS or name.startswith(THREAD_PREFIX)


class Signal(threading.Event):
    """An ``Event`` that also runs callbacks once it is set, so that something can follow it without a
    thread blocked in ``wait`` (a job whose listener is done, see ``Job.resume_when``)."""

    def __init__(self) -> None:
        super().__init__()
        self._callbacks_lock = threading.Lock()
        self._callbacks: List[Callable[[], None]] = []

    def set(self) -> None:
        super().set()
        with self._callbacks_lock:
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    def on_set(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the signal is set (at once if it is): on the thread that sets it."""
        with self._callbacks_lock:
            if not self.is_set():
                self._callbacks.append(callback)
                return
        callback()
