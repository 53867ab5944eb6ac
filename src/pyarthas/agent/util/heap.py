"""Giving the C heap back after ``stop``: the agent's threads allocate in glibc arenas of their own, and
glibc keeps the free pages of an arena whose threads are gone until ``malloc_trim`` asks for them. Python's
own allocator returns its empty arenas by itself. The modules the agent imported stay: Python cannot unload
a module (bench/bench_rss.py --stop measures both)."""
import sys
import threading
from typing import Callable

from .threads import AGENT_THREAD_IDS, spawn

THREADS_END_S = 5.0     # how long the trim waits for the agent's threads to end


def trim_when_threads_end(stopped: Callable[[], bool]) -> None:
    """Once every other agent thread has ended (or after ``THREADS_END_S``), trim the C heap, unless a new
    agent started meanwhile (``stopped()`` false). On a thread of its own: the caller does not wait."""
    if not sys.platform.startswith("linux"):
        return

    def trim() -> None:
        me = threading.get_ident()
        for thread in [t for t in threading.enumerate() if t.ident in AGENT_THREAD_IDS and t.ident != me]:
            thread.join(THREADS_END_S)
        if stopped():
            malloc_trim()

    spawn("heap-trim", trim)


def malloc_trim() -> bool:
    """glibc's ``malloc_trim(0)`` (it releases the GIL while it runs); False where there is none (musl...)."""
    try:
        import ctypes
        libc = ctypes.CDLL(None)
        function = getattr(libc, "malloc_trim", None)
        if function is None:
            return False
        function.argtypes = [ctypes.c_size_t]
        function(0)
        return True
    except Exception:
        return False
