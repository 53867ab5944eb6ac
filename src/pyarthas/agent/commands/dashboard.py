"""dashboard: threads, memory, gc and runtime, every interval until interrupted or ``-n`` is reached."""
import dataclasses
import os
import platform
import sys
import time
from typing import Any, ClassVar, Dict, List

from ..command.base import Command, register
from ..command.options import Option
from ..inspect.memory import gc_infos, memory_info
from ..inspect.process import process_start_time
from ..inspect.threads import thread_snapshot
from ..model import ResultModel

THREAD_SAMPLE_SECONDS = 0.1
MAX_THREADS_SHOWN = 50


@dataclasses.dataclass
class DashboardModel(ResultModel):
    type: ClassVar[str] = "dashboard"
    threads: List[Dict[str, Any]] = dataclasses.field(default_factory=list)
    memoryInfo: Dict[str, Any] = dataclasses.field(default_factory=dict)
    gcInfos: List[Dict[str, Any]] = dataclasses.field(default_factory=list)
    runtimeInfo: Dict[str, Any] = dataclasses.field(default_factory=dict)


def runtime_info(start_time: float) -> Dict[str, Any]:
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = -1.0
    return {
        "osName": platform.system(),
        "osVersion": platform.release(),
        "javaVersion": platform.python_version(),
        "javaHome": sys.prefix,
        "pythonVersion": platform.python_version(),
        "pythonImplementation": platform.python_implementation(),
        "pythonHome": sys.prefix,
        "systemLoadAverage": round(load, 2),
        "processors": os.cpu_count() or 1,
        "uptime": int(time.time() - process_start_time(start_time)),
        "timestamp": int(time.time() * 1000),
    }


@register
class DashboardCommand(Command):
    name = "dashboard"
    summary = "Overview of the target process: threads, memory, gc, runtime"
    description = "Emits at once, then every interval, until interrupted (Ctrl-C / q) or -n outputs."
    options = [
        Option("interval", "i", type=int, default=5000, help="the interval between outputs, in ms (default 5000)"),
        Option("number-of-execution", "n", type=int, help="how many outputs (default: until interrupted)"),
    ]

    def run(self, process, args):
        interval = max(args.interval, 100) / 1000.0
        limit = args.number_of_execution
        done = 0
        while True:
            process.emit(self._snapshot(process))
            done += 1
            if process.wait(interval):
                return
            if limit is not None and done >= limit:
                process.end(0, "Process ends after %d time(s)." % done)
                return

    def _snapshot(self, process) -> DashboardModel:
        threads = thread_snapshot(THREAD_SAMPLE_SECONDS, wait=process.wait)[:MAX_THREADS_SHOWN]
        return DashboardModel(threads=threads, memoryInfo=memory_info(), gcInfos=gc_infos(),
                              runtimeInfo=runtime_info(process.agent.start_time))
