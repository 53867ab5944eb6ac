"""The pyarthas agent: the part that runs inside the target process.

Rules for everything under this package: stdlib only, CPython 3.9+, relative imports only (``attach``
loads this package under a private name, so ``import pyarthas`` must never appear here), every thread a
daemon started through ``util.threads.spawn``, every queue bounded, no exception of ours reaches the
target's code.

``start()``, ``stop()`` and ``current()`` (the agent of this process) live in ``runtime``; they are
reached from here without importing it until one is used, so importing the package stays cheap. Nothing
inside the package imports this module.
"""
from .version import VERSION

_RUNTIME_NAMES = ("start", "stop", "current")


def __getattr__(name: str):
    if name in _RUNTIME_NAMES:
        from . import runtime
        return getattr(runtime, name)
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


__all__ = ["VERSION", "start", "stop", "current"]
