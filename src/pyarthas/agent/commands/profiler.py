"""``profiler``: Arthas's profiler command on the agent's profiler (``agent/profiler/``): py-spy when it can
run, else the in-process sampler; tracemalloc for ``-e alloc``.

``profiler start [-e cpu|wall|alloc] [-i interval] [-d seconds] [--threads] [-I pattern] [-X pattern]
[--engine auto|py-spy|sampler] [--py-spy PATH]``, ``status``, ``stop [-f file] [-o html|flamegraph|svg|
collapsed|speedscope|md[=N]]`` (``%t`` and ``%p`` in a file name: time and pid), ``dump`` (write without
stopping), ``resume``, ``meminfo``, ``list``, ``getSamples``, ``actions``, ``version``. ``md`` answers with
the Markdown report itself (written to a file only with ``-f``), as Arthas. Results are ``profiler`` models
(``{action, actionArg?, format?, executeResult, outputFile?, duration?}``); errors end with status 1 and
``AsyncProfiler error: ...`` as in Arthas, so scripts written for Arthas still recognise them.

``-i`` is milliseconds (``10``, ``0.5``) or carries a unit (``500us``, ``2ms``, ``1000000ns``); a plain
number of 100000 or more is read as nanoseconds, Arthas's unit, so ``-i 1000000`` pasted from Arthas
means 1 ms here too.
"""
import dataclasses
import re
from typing import ClassVar, List, Optional

from ..command.base import Command, CommandError, register
from ..command.options import Argument, Option, to_bool
from ..model import ResultModel
from ..profiler.controller import FORMATS, Filters, ProfilerError, Settings, Written, parse_format, profiler_for
from ..profiler.engines import ENGINE_CHOICES
from ..version import VERSION

ACTIONS = ("start", "resume", "stop", "dump", "status", "meminfo", "list", "getSamples", "actions", "version")
EVENTS = ("cpu", "alloc", "wall")
EVENT_ALIASES = {"cpu": "cpu", "itimer": "cpu", "ctimer": "cpu", "wall": "wall", "alloc": "alloc"}
DEFAULT_INTERVAL = 0.010
MIN_INTERVAL = 0.0001
MAX_INTERVAL = 10.0
_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ns|us|ms|s)?\s*$")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


@dataclasses.dataclass
class ProfilerModel(ResultModel):
    type: ClassVar[str] = "profiler"
    action: str = ""
    actionArg: Optional[str] = None
    format: Optional[str] = None
    executeResult: Optional[str] = None
    outputFile: Optional[str] = None
    duration: Optional[int] = None
    supportedActions: Optional[List[str]] = None


def parse_interval(text: str) -> float:
    """Seconds from ``-i``: milliseconds by default, or with a unit; Arthas's nanoseconds when huge."""
    match = _INTERVAL.match(text or "")
    if not match:
        raise CommandError(1, "AsyncProfiler error: invalid interval '%s' (milliseconds, or with a unit: "
                              "500us, 2ms, 1000000ns)" % text)
    value, unit = float(match.group(1)), match.group(2)
    if unit is None:
        unit = "ns" if value >= 100000 else "ms"
    seconds = value * _UNIT_SECONDS[unit]
    if not MIN_INTERVAL <= seconds <= MAX_INTERVAL:
        raise CommandError(1, "AsyncProfiler error: interval must be between %g ms and %g s"
                              % (MIN_INTERVAL * 1000, MAX_INTERVAL))
    return seconds


@register
class ProfilerCommand(Command):
    name = "profiler"
    summary = ("Sampling profiler of the Python threads (py-spy, else in-process): flame graphs, collapsed stacks, "
               "speedscope, Markdown; allocations with tracemalloc")
    description = ("Samples every Python thread's stack (the agent's own threads never appear). '-e cpu' counts\n"
                   "threads while they are on CPU, '-e wall' every thread all the time, '-e alloc' the memory\n"
                   "allocated by each stack. py-spy samples from outside without waiting for the GIL when it is\n"
                   "installed and may trace this process; otherwise the in-process sampler does ('profiler\n"
                   "status' names the engine and its bias). Files go to the agent's output folder, served at\n"
                   "/arthas-output/.\n"
                   "Examples:\n"
                   "  profiler start\n"
                   "  profiler start -e wall -i 5ms --threads\n"
                   "  profiler start -d 30 -f hot.html          (stops and writes by itself after 30 s)\n"
                   "  profiler status\n"
                   "  profiler dump -o collapsed                (a snapshot; sampling goes on)\n"
                   "  profiler stop -o speedscope\n"
                   "  profiler stop --format md=5                (top 5 as Markdown tables)\n"
                   "  profiler start -e alloc\n"
                   "  profiler stop -f /tmp/result-%t.html\n"
                   "  profiler stop --include '*MathGame*'")
    options = [
        Option("event", "e", default="cpu",
               help="cpu (threads on CPU), wall (all threads) or alloc (allocated bytes, tracemalloc)"),
        Option("interval", "i", help="sampling interval in ms, or with a unit: 500us, 2ms (default 10ms)"),
        Option("duration", "d", type=int, help="run profiling for this many seconds, then write the file"),
        Option("file", "f", help="output file (relative to the output folder); its extension implies the format"),
        Option("format", "o", help="output format: " + ", ".join(FORMATS) + ", flamegraph (html), md=N (top N)"),
        Option("threads", flag=True, help="profile threads separately (one root frame per thread)"),
        Option("include", "I", multi=True, help="keep only stacks with a frame matching this pattern (* wildcards)"),
        Option("exclude", "X", multi=True, help="drop stacks with a frame matching this pattern (* wildcards)"),
        Option("engine", default="auto", help="auto (py-spy, else in-process), py-spy or sampler (in-process)"),
        Option("py-spy", help="the py-spy executable (default: beside this interpreter, then PATH)"),
        Option("gil", type=to_bool, default=True,
               help="py-spy cpu mode: count the thread holding the GIL (default true; false: py-spy's idle "
                    "detection, which also counts threads computing in C without the GIL, and threads that "
                    "just woke up and wait for the GIL or a CPU)"),
    ]
    arguments = [
        Argument("action", required=True, help="action to execute: " + ", ".join(ACTIONS)),
        Argument("actionArg", help="action argument"),
    ]

    def run(self, process, args):
        if args.action not in ACTIONS:
            raise CommandError(1, "AsyncProfiler error: unknown action '%s', expected one of: %s"
                                  % (args.action, ", ".join(ACTIONS)))
        if args.engine not in ENGINE_CHOICES:
            raise CommandError(1, "AsyncProfiler error: unknown engine '%s', expected one of: %s"
                                  % (args.engine, ", ".join(ENGINE_CHOICES)))
        if args.duration is not None and args.duration <= 0:
            raise CommandError(1, "AsyncProfiler error: duration must be a positive number of seconds")
        profiler = profiler_for(process.agent)
        model = ProfilerModel(action=args.action, actionArg=args.actionArg, format=args.format)
        try:
            parse_format(args.format)
            getattr(self, "_" + args.action)(profiler, args, model)
        except ProfilerError as exc:
            raise CommandError(1, "AsyncProfiler error: %s" % exc) from None
        process.emit(model)

    # ---- actions ----

    def _start(self, profiler, args, model: ProfilerModel) -> None:
        planned = profiler.start(_settings(args), args.duration, args.file, args.format)
        model.executeResult = "Started [%s] profiling\n" % profiler.mode
        _describe_plan(profiler, planned, args.duration, model)

    def _resume(self, profiler, args, model: ProfilerModel) -> None:
        planned = profiler.resume(args.duration, args.file, args.format, settings=_settings(args))
        model.executeResult = "Started [%s] profiling\n" % profiler.mode
        _describe_plan(profiler, planned, args.duration, model)

    def _stop(self, profiler, args, model: ProfilerModel) -> None:
        _describe_written(profiler.stop(args.file, args.format, _filters(args)), model)

    def _dump(self, profiler, args, model: ProfilerModel) -> None:
        _describe_written(profiler.dump(args.file, args.format, _filters(args)), model)

    def _status(self, profiler, args, model: ProfilerModel) -> None:
        model.executeResult = profiler.status()

    def _meminfo(self, profiler, args, model: ProfilerModel) -> None:
        model.executeResult = profiler.meminfo()

    def _getSamples(self, profiler, args, model: ProfilerModel) -> None:
        model.executeResult = "%d\n" % profiler.samples()

    def _list(self, profiler, args, model: ProfilerModel) -> None:
        model.executeResult = ("Basic events:\n" + "".join("  %s\n" % event for event in EVENTS)
                               + "Actions:\n" + "".join("  %s\n" % action for action in ACTIONS)
                               + "Output formats:\n" + "".join("  %s\n" % name for name in FORMATS))

    def _actions(self, profiler, args, model: ProfilerModel) -> None:
        model.supportedActions = list(ACTIONS)

    def _version(self, profiler, args, model: ProfilerModel) -> None:
        model.executeResult = "pyarthas profiler %s\nengine: %s\n" % (VERSION, profiler.engine_name())


def _settings(args) -> Settings:
    mode = EVENT_ALIASES.get(args.event)
    if mode is None:
        raise CommandError(1, "AsyncProfiler error: unsupported event '%s', expected one of: %s"
                              % (args.event, ", ".join(EVENTS)))
    interval = parse_interval(args.interval) if args.interval else DEFAULT_INTERVAL
    return Settings(mode, interval, args.threads, _filters(args), args.engine, args.py_spy, args.gil)


def _filters(args) -> Filters:
    return Filters(args.include, args.exclude)


def _describe_plan(profiler, planned, duration: Optional[int], model: ProfilerModel) -> None:
    """A -d run: the file it will write (the console adds Arthas's "will silent stop" lines)."""
    if planned is None:
        return
    path, format = planned
    model.outputFile, model.format, model.duration = path, format, duration
    model.executeResult = (model.executeResult or "") + _url_line(profiler.url_of(path))


def _describe_written(written: Written, model: ProfilerModel) -> None:
    model.outputFile = written.path
    model.format = model.format or written.format
    if written.format == "md":   # as Arthas: the report is the result
        model.executeResult = written.text
        return
    model.executeResult = "OK\n" + _url_line(written.url)


def _url_line(url: Optional[str]) -> str:
    """Where the agent serves the file (relative to its HTTP address; None when outside the output folder)."""
    return "profiler output url: %s\n" % url if url else ""
