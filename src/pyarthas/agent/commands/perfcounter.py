"""perfcounter: the interpreter's counters, as Arthas shows the JVM's performance counters (name, value,
and with ``-d`` units and variability in Arthas's words: units None/Bytes/Events/String/Seconds,
variability Constant/Monotonic/Variable). Each counter is read only where the running Python has it
(3.9-3.14 differ: ``sys._is_gil_enabled`` from 3.13, the JIT from 3.14...)."""
import dataclasses
import gc
import os
import sys
import threading
import time
from typing import Any, Callable, ClassVar, Dict, List, Optional

from ..command.base import Command, register
from ..command.options import Option
from ..model import ResultModel


@dataclasses.dataclass
class PerfCounterModel(ResultModel):
    type: ClassVar[str] = "perfcounter"
    perfCounters: Optional[List[Dict[str, Any]]] = None
    details: bool = False


def _gc_counters() -> List[tuple]:
    counters: List[tuple] = [("python.gc.enabled", gc.isenabled, "String", "Variable")]
    for generation, stats in enumerate(gc.get_stats()):
        for key, label in (("collections", "collections"), ("collected", "collected"),
                           ("uncollectable", "uncollectable")):
            counters.append(("python.gc.gen%d.%s" % (generation, label),
                             lambda s=stats, k=key: s.get(k, 0), "Events", "Monotonic"))
    for generation in range(len(gc.get_count())):
        counters.append(("python.gc.gen%d.count" % generation,
                         lambda g=generation: gc.get_count()[g], "Events", "Variable"))
    for generation in range(len(gc.get_threshold())):
        counters.append(("python.gc.gen%d.threshold" % generation,
                         lambda g=generation: gc.get_threshold()[g], "Events", "Variable"))
    counters.append(("python.gc.frozen", gc.get_freeze_count, "Events", "Variable"))
    return counters


def _optional(owner: Any, name: str) -> Optional[Callable[[], Any]]:
    function = getattr(owner, name, None)
    return function if callable(function) else None


def _jit_enabled() -> Optional[Callable[[], Any]]:
    jit = getattr(sys, "_jit", None)            # 3.14
    return _optional(jit, "is_enabled") if jit is not None else None


def counters() -> List[tuple]:
    """(name, read, units, variability) of every counter this interpreter has."""
    found = _gc_counters() + [
        ("python.mem.allocatedBlocks", sys.getallocatedblocks, "Events", "Variable"),
        ("python.threads.live", threading.active_count, "Events", "Variable"),
        ("python.threads.switchInterval", sys.getswitchinterval, "Seconds", "Variable"),
        ("python.interp.recursionLimit", sys.getrecursionlimit, "Events", "Variable"),
        ("python.interp.version", lambda: sys.version.split()[0], "String", "Constant"),
        ("python.interp.implementation", lambda: sys.implementation.name, "String", "Constant"),
        ("python.interp.modules", lambda: len(sys.modules), "Events", "Variable"),
        ("python.process.pid", os.getpid, "None", "Constant"),
        ("python.process.cpuTime", time.process_time, "Seconds", "Monotonic"),
    ]
    optional = [
        ("python.interp.intMaxStrDigits", _optional(sys, "get_int_max_str_digits"), "Events", "Variable"),
        ("python.interp.internedStrings.size", _optional(sys, "getunicodeinternedsize"), "Events", "Variable"),
        ("python.interp.totalRefCount", _optional(sys, "gettotalrefcount"), "Events", "Variable"),
        ("python.interp.gilEnabled", _optional(sys, "_is_gil_enabled"), "String", "Variable"),
        ("python.interp.jitEnabled", _jit_enabled(), "String", "Constant"),
    ]
    found.extend(counter for counter in optional if counter[1] is not None)
    return found


def counter_vos(details: bool) -> List[Dict[str, Any]]:
    vos = []
    for name, read, units, variability in counters():
        try:
            value = read()
        except Exception as exc:      # a counter this build cannot read says why rather than failing the rest
            value = "<%s>" % type(exc).__name__
        if isinstance(value, bool):     # a JVM counter holds a long or a string: a flag is a String counter
            value = "true" if value else "false"
        vo: Dict[str, Any] = {"name": name, "value": value}
        if details:
            vo.update(units=units, variability=variability)
        vos.append(vo)
    return vos


@register
class PerfCounterCommand(Command):
    name = "perfcounter"
    summary = "Display the interpreter's counters: gc, allocated blocks, threads, switch interval"
    description = "Examples: perfcounter; perfcounter -d (with units and variability)"
    options = [Option("details", "d", flag=True, help="print all perf counter details")]

    def run(self, process, args):
        details = bool(args.details)
        process.emit(PerfCounterModel(perfCounters=counter_vos(details), details=details))
