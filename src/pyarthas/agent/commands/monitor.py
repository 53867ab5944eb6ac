"""``monitor``: calls, successes, failures and cost of matched functions per cycle
(Arthas: https://arthas.aliyun.com/en/doc/monitor.html).

``monitor [-c 60] [-b] [-n 100] [-E] [-v] [-m 50] [--exclude-class-pattern p] [--timeout s] class-pattern
method-pattern [condition-express]``

Every ``-c`` seconds, once a matched function has been called, one ``monitor`` result lists each function
seen with the counts of the cycle that ended (counters reset every cycle); the job ends after ``-n``
cycles. The condition is evaluated after the call (``#cost`` bound) or, with ``-b``, before it.
"""
import threading
import time
from typing import Any, ClassVar, Dict, List

from ..command.base import CommandError, register
from ..command.options import Option
from ..jfr.recorder import publish
from ..model import ResultModel
from .enhancer import ADVICE_ARGUMENTS, AdviceListener, EnhancerCommand, check_limit, enhancer_options


class MonitorModel(ResultModel):
    type: ClassVar[str] = "monitor"

    def __init__(self, data: List[Dict[str, Any]]):
        self.monitorDataList = data

    def fields(self) -> Dict[str, Any]:
        return {"monitorDataList": self.monitorDataList}


class MonitorListener(AdviceListener):
    """Counts on the target threads under a lock held for a few increments; each cycle swaps the counters
    out."""

    command_name = "monitor"

    def __init__(self, process, condition, limit: int, verbose: bool, before: bool):
        super().__init__(process, condition, limit, verbose)
        self.wants_before = before and self.condition is not None
        self._lock = threading.Lock()
        self._counters: Dict[Any, List] = {}    # site -> [total, success, failed, cost ms]

    def before(self, call):
        return self.holds(call, None, None, True, False, False)

    def call_ended(self, call, matched_before, value, error) -> None:
        if not self.active:
            return
        if self.wants_before:
            if not matched_before:
                return
        elif not self.holds(call, value, error, False, error is None, error is not None):
            return
        site = call[0]
        with self._lock:
            counters = self._counters.get(site)
            if counters is None:
                counters = self._counters[site] = [0, 0, 0, 0.0]
            counters[0] += 1
            counters[1 if error is None else 2] += 1
            counters[3] += call[3]

    def take_cycle(self) -> List[Dict[str, Any]]:
        """The counts of the cycle that just ended, one entry per function seen so far; resets them."""
        timestamp = int(time.time() * 1000)
        with self._lock:
            taken = [(site, list(counters)) for site, counters in self._counters.items()]
            for counters in self._counters.values():
                counters[:] = [0, 0, 0, 0.0]
        return [{"className": site.class_name, "methodName": site.method_name, "total": total,
                 "success": success, "failed": failed, "cost": cost, "timestamp": timestamp}
                for site, (total, success, failed, cost) in taken]


@register
class MonitorCommand(EnhancerCommand):
    name = "monitor"
    listener_type = MonitorListener
    summary = "Monitor method execution statistics, e.g. total/success/failure count, average rt, fail rate, etc."
    description = ("Counters are per cycle (-c seconds, default 60) and reset each cycle; -n is the number of "
                   "cycles.\nExamples:\n  monitor demo.MathGame primeFactors\n"
                   "  monitor -c 5 demo.MathGame primeFactors\n"
                   "  monitor -c 5 -b demo.MathGame primeFactors 'params[0] <= 2'")
    options = [
        Option("cycle", "c", type=int, default=60, help="The monitor interval (in seconds), 60 seconds by default"),
        Option("before", "b", flag=True, help="Evaluate the condition-express before method invoke"),
    ] + [o for o in enhancer_options() if o.short != "c"] + [
        Option("classloader", help="The hash code of the special class's classLoader (ignored: Python has one loader)"),
    ]
    arguments = ADVICE_ARGUMENTS

    def check(self, args) -> None:
        if args.cycle is None or args.cycle <= 0:
            raise CommandError(-1, "cycle must be greater than 0.")
        check_limit(args)

    def new_listener(self, process, args) -> MonitorListener:
        return MonitorListener(process, args.condition_express or None, args.limits, args.verbose, args.before)

    def follow(self, process, args, listener: MonitorListener) -> None:  # type: ignore[override]  # its own listener
        """One result per cycle with calls, until ``-n`` cycles, the job's end or a failing condition."""
        process.on_end(listener.done.set)
        listener.active = True
        _every_cycle(process, listener, args.cycle, args.limits)
        process.resume_when(listener.done, lambda: _finish(process, listener))


def _every_cycle(process, listener: MonitorListener, cycle: float, limit: int) -> None:
    """Emit the counts every ``cycle`` seconds from the controller's shared thread (no thread per monitor);
    ``listener.done`` is set after ``limit`` results."""
    scheduler = process.agent.jobs.scheduler
    next_tick = time.monotonic() + cycle
    cycles = 0
    pending = scheduler.call_later(cycle, lambda: tick())

    def tick() -> None:
        nonlocal next_tick, cycles, pending
        if listener.done.is_set():
            return
        next_tick += cycle     # ticks on a fixed grid: cycles do not drift
        data = listener.take_cycle()
        if data:
            process.emit(MonitorModel(data))
            _record_in_flight_recordings(data)
            cycles += 1
            if cycles >= limit:
                listener.done.set()
                return
        pending = scheduler.call_later(max(0.0, next_tick - time.monotonic()), tick)

    process.on_end(lambda: pending.cancel())


def _record_in_flight_recordings(data: List[Dict[str, Any]]) -> None:
    """A cycle is also an event of the running ``jfr`` recordings (slow calls show in their record)."""
    for entry in data:
        total, failed = entry["total"], entry["failed"]
        publish("monitor", entry["className"], entry["methodName"], total, entry["success"], failed,
                round(entry["cost"] / total, 3) if total else 0.0, round(failed / total, 4) if total else 0.0)


def _finish(process, listener: MonitorListener) -> None:
    if listener.failure is not None and not process.ended:
        raise CommandError(listener.failure_status, listener.failure)
