"""The agent's own threads: every one is a daemon, named ``pyarthas-*``, and known by ident so that hooks
and samplers can skip them (the agent never observes itself)."""
import threading
from typing import Callable, Set

AGENT_THREAD_IDS: Set[int] = set()
THREAD_PREFIX = "pyarthas-"


def spawn(name: str, target: Callable[[], None]) -> threading.Thread:
    """Start a daemon agent thread running ``target``."""

    def run() -> None:
        ident = threading.get_ident()
        AGENT_THREAD_IDS.add(ident)
        try:
            target()
        finally:
            AGENT_THREAD_IDS.discard(ident)

    thread = threading.Thread(target=run, name=THREAD_PREFIX + name, daemon=True)
    thread.start()
    return thread


def is_agent_thread(ident: int = None) -> bool:
    return (threading.get_ident() if ident is None else ident) in AGENT_THREAD_IDS
