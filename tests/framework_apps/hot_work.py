"""The known-hot work of the framework apps: each request spends most of its CPU in ``burn``, so a profiler
can be checked against a known share."""
import time

REQUEST_SECONDS = 0.002


def burn(seconds: float = REQUEST_SECONDS) -> int:
    """Spin on the CPU for ``seconds`` (the handler's own work)."""
    end = time.perf_counter() + seconds
    spins = 0
    while time.perf_counter() < end:
        spins += 1
    return spins


def answer() -> str:
    """What the apps' /answer route returns: a redefine test changes it in every worker."""
    return "v1"


def nap(seconds: float = 0.02) -> float:
    """Wait without the CPU: calls from many threads overlap (tt's exact -n is checked on them)."""
    time.sleep(seconds)
    return seconds
