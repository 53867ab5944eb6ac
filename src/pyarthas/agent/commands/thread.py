"""thread: the process's threads with CPU %, states and stacks (Arthas's ``thread``).

``thread`` lists every thread (pyarthas's own only with ``--all``), ``thread ID`` shows one with its stack
(ID is the small id the list shows, as Java's: the main thread is 1; the Python ident or native id work
too), ``-n N`` the N busiest with stacks, ``-b`` the thread holding the lock others are blocked on,
``--locals`` adds each frame's local variables.
"""
import dataclasses
from typing import Any, ClassVar, Dict, List, Optional

from ..command.base import Command, CommandError, register
from ..command.options import Argument, Option
from ..inspect import threads
from ..model import ResultModel


@dataclasses.dataclass
class ThreadModel(ResultModel):
    type: ClassVar[str] = "thread"
    all: bool = False     # Arthas's ThreadModel sends it with every form of the command
    threadStateCount: Optional[Dict[str, int]] = None
    threadStats: Optional[List[Dict[str, Any]]] = None
    threadInfo: Optional[Dict[str, Any]] = None
    busyThreads: Optional[List[Dict[str, Any]]] = None
    blockingLockInfo: Optional[Dict[str, Any]] = None
    unknownLockOwners: Optional[List[Dict[str, Any]]] = None


def _sample_wait(process):
    """Wait between the two CPU readings; an interrupted job ends the wait at once."""
    return lambda seconds: process.wait(seconds)


@register
class ThreadCommand(Command):
    name = "thread"
    summary = "Display thread info, thread stack"
    description = ("Threads of the target with CPU % over the sample interval (per-thread CPU clocks) and a "
                   "state inferred from where each thread stands (lock acquire, sleep, select, socket, "
                   "queue). Ids are small and stable as Java's (the main thread is 1, never reused), with the OS "
                   "(nativeId) and Python (pythonId) ids beside. Examples: thread; thread -n 3; thread 1; thread -b; "
                   "thread --state BLOCKED")
    options = [
        Option("number", "n", type=int, help="the N busiest threads with their stacks (-1: all)"),
        Option("interval", "i", type=int, default=200, help="the CPU sample interval in ms (default 200)"),
        Option("include-blocking-thread", "b", dest="blocking", flag=True,
               help="find the thread holding the lock that blocks others"),
        Option("state", type=str, help="only threads in this state (RUNNABLE, BLOCKED, WAITING, TIMED_WAITING)"),
        Option("all", flag=True, help="include pyarthas's own threads and OS threads without Python code"),
        Option("locals", flag=True, help="add each frame's local variables"),
        Option("expand", "x", type=int, default=1, help="depth to expand local values (default 1)"),
        Option("depth", "d", type=int, default=0, help="at most this many frames per stack (0: all)"),
        Option("lockedMonitors", flag=True, help="accepted for Arthas compatibility (Python keeps no list)"),
        Option("lockedSynchronizers", flag=True, help="accepted for Arthas compatibility"),
    ]
    arguments = [Argument("id", help="the thread's id (as listed), or its Python ident or native id")]

    def run(self, process, args):
        if args.interval <= 0:
            raise CommandError(-1, "Illegal argument, -i should be greater than 0")
        state = _checked_state(args.state)
        size_limit = process.agent.options.get("object-size-limit")
        if args.id is not None:
            self._one(process, args, size_limit)
        elif args.blocking:
            self._blocking(process, args)
        elif args.number is not None:
            busy = threads.busy_threads(args.number, args.interval / 1000.0, _sample_wait(process),
                                        include_agent=args.all, with_locals=args.locals, expand=args.expand,
                                        size_limit=size_limit, depth=args.depth, state=state)
            process.emit(ThreadModel(busyThreads=busy))
        else:
            vos = threads.thread_snapshot(args.interval / 1000.0, _sample_wait(process), include_agent=args.all,
                                          include_native=args.all)
            counts = threads.state_counts(vos)
            if state:
                vos = [vo for vo in vos if vo["state"] == state]
            process.emit(ThreadModel(all=bool(args.all), threadStateCount=counts, threadStats=vos))

    def _one(self, process, args, size_limit):
        try:
            ident = int(args.id)
        except ValueError:
            raise CommandError(1, "thread do not exist! id: %s" % args.id) from None
        info = threads.thread_info(ident, with_locals=args.locals, expand=args.expand, size_limit=size_limit,
                                   depth=args.depth)
        if info is None:
            raise CommandError(1, "thread do not exist! id: %s" % args.id)
        process.emit(ThreadModel(threadInfo=info))

    def _blocking(self, process, args):
        found, unknown = threads.blocking_lock_info(include_agent=args.all)
        if found is None:
            message = "No most blocking thread found!"
            if unknown:
                names = ", ".join("%s (%s)" % (u["threadName"], u["lockName"] or "unknown lock") for u in unknown)
                message += (" %d thread(s) are blocked on locks whose owner Python cannot tell (threading.Lock "
                            "and Semaphore keep no owner; RLock does): %s" % (len(unknown), names))
                process.emit(ThreadModel(unknownLockOwners=unknown))
            raise CommandError(1, message)
        process.emit(ThreadModel(blockingLockInfo=found, unknownLockOwners=unknown or None))


def _checked_state(state: Optional[str]) -> Optional[str]:
    if not state:
        return None
    upper = state.upper()
    if upper not in threads.STATES:
        raise CommandError(1, "Illegal argument, state should be one of [%s]" % ", ".join(threads.STATES))
    return upper
