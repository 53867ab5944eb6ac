"""Timing of the direct child calls of a traced function: the mechanism behind ``trace``.

A ``Recording`` is one outermost call of a traced function. ``TIMER.begin(code, owner)`` starts one on the
calling (target) thread just before the traced code runs; ``TIMER.finish(rec, raised)`` ends it right after.
In between, only the events of that call are seen, only on its own thread. ``TIMER.watch(code)`` /
``unwatch(code)`` prepare a code object for recording and undo it (reference-counted; given the engine's
clone running it, ``watch(code, clone)`` may give the clone a rewritten copy, and says how calls are timed).

- ``recording``: the recording, its child-call nodes, and the helpers run per child call;
- ``state``: the per-thread state and the ``Timer`` base both mechanisms share (begin/finish rules);
- ``rewrite``: every CPython here, a copy of the traced code with timing around its own call instructions,
  which the engine's clone runs (``state.Rewritten``; preferred wherever the code can be rewritten);
- ``setprofile``: CPython 3.9-3.11, for the codes not rewritten (generators, coroutines) a per-thread
  profile function on only while a recording runs;
- ``monitoring``: CPython 3.12+, ``sys.monitoring`` local events on the traced code objects only (those
  not rewritten);
- ``core``: which of the two runs here and why (``CORE.name``, ``CORE.reason``).

Nothing here may raise into the target: every callback catches its own errors and turns the recording
off. ``trace_tree.build_method_node`` turns a finished recording into Arthas's trace nodes.
"""
from .core import Core
from .recording import Recording

__all__ = ["CORE", "TIMER", "Recording"]

CORE = Core()
TIMER = CORE.timer
