"""Which timer records traced calls on this interpreter, and why (as coverage.py's ``core.py`` picks its
tracer): the one place that knows which CPython offers what."""
import sys

from .state import Timer


class Core:
    """The timer in use: ``name`` (``sys.monitoring`` or ``sys.setprofile``), ``reason`` (a sentence),
    ``timer``."""

    def __init__(self, version=sys.version_info):
        if version >= (3, 12):
            from .monitoring import MonitoringTimer
            self.name = "sys.monitoring"
            self.reason = ("CPython %d.%d: the traced code's own call sites timed in a rewritten copy of it; "
                           "generators and coroutines by sys.monitoring (PEP 669) local events on their code "
                           "objects only, nothing else on the thread pays" % tuple(version[:2]))
            self.timer: Timer = MonitoringTimer()
        else:
            from .setprofile import ProfileTimer
            self.name = "sys.setprofile"
            self.reason = ("CPython %d.%d has no sys.monitoring (3.12+): the traced code's own call sites timed "
                           "in a rewritten copy of it; generators and coroutines by a profile function on the "
                           "traced call's thread, on only while the call runs" % tuple(version[:2]))
            self.timer = ProfileTimer()
