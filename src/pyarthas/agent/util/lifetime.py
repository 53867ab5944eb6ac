"""Module-level state that must not outlive the agent registers its cleanup here; the agent runs these
when it stops, after its own ``on_stop`` callbacks (for state tied to one agent, see ``runtime.Agent``)."""
from typing import Callable, List

_callbacks: List[Callable[[], object]] = []


def at_agent_stop(callback: Callable[[], object]) -> None:
    """Run ``callback`` whenever an agent stops (registered once, however often this is called)."""
    if callback not in _callbacks:
        _callbacks.append(callback)


def at_agent_stop_callbacks() -> List[Callable[[], object]]:
    return list(_callbacks)
