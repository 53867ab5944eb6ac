"""memory, heapdump and vmtool: the process's memory from the OS and the gc, object histograms,
tracemalloc, and the live instances of a class.

Nothing keeps running after a command ends unless the user asked for it: ``memory --trace start`` starts
tracemalloc (stopped by ``memory --trace stop`` or when the agent stops); everything else is a snapshot.
"""
import dataclasses
import gc
import json
import os
import random
import sys
import time
from typing import Any, ClassVar, Dict, List, Optional

from ..command.base import Command, CommandError, register
from ..command.options import Argument, Option
from ..engine.express import evaluate_standalone
from ..inspect import finder, heap, importsys, memory
from ..model import MessageModel, ResultModel, TerminalMessageModel
from ..values import to_json_value

_AGENT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclasses.dataclass
class MemoryModel(ResultModel):
    type: ClassVar[str] = "memory"
    memoryInfo: Optional[Dict[str, Any]] = None
    process: Optional[Dict[str, int]] = None
    gc: Optional[Dict[str, Any]] = None
    gcInfos: Optional[List[Dict[str, Any]]] = None
    tracemalloc: Optional[Dict[str, Any]] = None
    topTypes: Optional[List[Dict[str, Any]]] = None
    objectCount: Optional[int] = None
    objectBytes: Optional[int] = None
    traceTop: Optional[List[Dict[str, Any]]] = None
    traceDiff: Optional[List[Dict[str, Any]]] = None


class _Tracing:
    """tracemalloc as started by ``memory --trace start``: the last snapshot (for the diff) and whether
    the agent must stop tracemalloc when it stops."""

    last_snapshot = None
    stop_registered = False

    @classmethod
    def start(cls, agent, frames: int) -> str:
        import tracemalloc
        if tracemalloc.is_tracing():
            return "tracemalloc is already tracing (%d frame(s))." % tracemalloc.get_traceback_limit()
        tracemalloc.start(frames)
        if not cls.stop_registered:
            agent.on_stop(cls.stop)
            cls.stop_registered = True
        return "tracemalloc started, %d frame(s) per allocation." % frames

    @classmethod
    def stop(cls) -> str:
        cls.last_snapshot = None
        tracemalloc = sys.modules.get("tracemalloc")
        if tracemalloc is None or not tracemalloc.is_tracing():
            return "tracemalloc is not tracing."
        tracemalloc.stop()
        return "tracemalloc stopped."

    @classmethod
    def snapshot(cls, top: int):
        """(top allocation sites, diff against the previous snapshot or None)."""
        tracemalloc = sys.modules.get("tracemalloc")
        if tracemalloc is None or not tracemalloc.is_tracing():
            raise CommandError(-1, "tracemalloc is not tracing, run 'memory --trace start' first.")
        snapshot = tracemalloc.take_snapshot().filter_traces((
            tracemalloc.Filter(False, tracemalloc.__file__),
            tracemalloc.Filter(False, os.path.join(_AGENT_DIR, "*")),
        ))
        sites = [_site(stat) for stat in snapshot.statistics("lineno")[:top]]
        diff = None
        if cls.last_snapshot is not None:
            diff = [_site(stat) for stat in snapshot.compare_to(cls.last_snapshot, "lineno")[:top]]
        cls.last_snapshot = snapshot
        return sites, diff


def _site(stat) -> Dict[str, Any]:
    frame = stat.traceback[0]
    site = {"fileName": frame.filename, "lineNumber": frame.lineno, "size": stat.size, "count": stat.count}
    if hasattr(stat, "size_diff"):
        site["sizeDiff"] = stat.size_diff
        site["countDiff"] = stat.count_diff
    return site


@register
class MemoryCommand(Command):
    name = "memory"
    summary = "Display the process's memory: RSS, gc, object histogram, tracemalloc"
    description = ("memory: RSS and peaks from the OS, gc generations and stats, tracemalloc status. "
                   "memory --top 20: the types holding the most objects (gc-tracked objects; --sort bytes). "
                   "memory --trace start|snapshot|stop: drive tracemalloc; snapshot shows the top allocation "
                   "sites and the difference from the previous snapshot.")
    options = [
        Option("top", type=int, help="the N types holding the most objects"),
        Option("sort", choices=("count", "bytes"), default="count", help="rank --top by count or bytes"),
        Option("live", flag=True, help="collect garbage before counting (--top)"),
        Option("trace", choices=("start", "stop", "snapshot"), help="start, snapshot or stop tracemalloc"),
        Option("frames", type=int, default=1, help="frames kept per allocation by --trace start (default 1)"),
        Option("limit", "n", type=int, default=10, help="allocation sites shown by --trace snapshot (default 10)"),
    ]

    def run(self, process, args):
        if args.trace:
            self._trace(process, args)
            return
        model = MemoryModel(memoryInfo=memory.memory_info(), process=memory.process_memory(),
                            gc=memory.gc_summary(), gcInfos=memory.gc_infos(),
                            tracemalloc=memory.tracemalloc_status())
        if args.top is not None:
            histogram = memory.type_histogram(args.top, live=args.live, sort_by=args.sort)
            model.topTypes = histogram["entries"]
            model.objectCount = histogram["totalCount"]
            model.objectBytes = histogram["totalBytes"]
        process.emit(model)

    def _trace(self, process, args):
        if args.trace == "start":
            if not 1 <= args.frames <= 100:
                raise CommandError(-1, "--frames must be between 1 and 100.")
            process.emit(MessageModel(message=_Tracing.start(process.agent, args.frames)))
        elif args.trace == "stop":
            process.emit(MessageModel(message=_Tracing.stop()))
        else:
            sites, diff = _Tracing.snapshot(max(args.limit, 1))
            process.emit(MemoryModel(tracemalloc=memory.tracemalloc_status(), traceTop=sites, traceDiff=diff))


# ---------------------------------------------------------------- heapdump


@dataclasses.dataclass
class HeapDumpModel(ResultModel):
    type: ClassVar[str] = "heapdump"
    dumpFile: str = ""
    live: bool = False
    traceFile: Optional[str] = None


def _dump_path(output_dir: str, requested: Optional[str], live: bool) -> str:
    if requested:      # as Arthas's (a java.io.File): a relative path is relative to the working directory
        return os.path.abspath(requested)
    stamp = time.strftime("%Y-%m-%d-%H-%M-%S")
    return os.path.join(output_dir, "heapdump%s%s-%d.json" % (stamp, "-live" if live else "",
                                                              random.randint(1000, 9999)))


def write_heap_dump(path: str, live: bool) -> Optional[str]:
    """Write the histogram of every gc-tracked type to ``path`` (JSON) and, while tracemalloc traces, its
    snapshot next to it (``.tracemalloc``, loadable with ``tracemalloc.Snapshot.load``); returns that
    snapshot's path or None."""
    histogram = memory.type_histogram(limit=0, live=live)
    body = {"format": "pyarthas-heap-histogram/1", "pid": os.getpid(), "time": time.time(), "live": live,
            "python": sys.version.split()[0], "note": "gc-tracked objects; shallow sizes (sys.getsizeof)",
            "totalCount": histogram["totalCount"], "totalBytes": histogram["totalBytes"],
            "histogram": histogram["entries"]}
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(body, handle, indent=1)
    tracemalloc = sys.modules.get("tracemalloc")
    if tracemalloc is None or not tracemalloc.is_tracing():
        return None
    trace_path = path + ".tracemalloc"
    tracemalloc.take_snapshot().dump(trace_path)
    return trace_path


@register
class HeapDumpCommand(Command):
    name = "heapdump"
    summary = "Dump a histogram of the live objects (and the tracemalloc snapshot when tracing) to a file"
    description = ("Writes a JSON histogram of the gc-tracked objects by type (count, shallow bytes) into the "
                   "agent's output folder (served at /arthas-output/), or to FILE (a relative path is relative to "
                   "the working directory, as Arthas's). Examples: heapdump; heapdump --live; heapdump dump.json")
    options = [Option("live", "l", flag=True, help="collect garbage first, so only reachable objects count")]
    arguments = [Argument("file", help="where to write the dump")]

    def run(self, process, args):
        try:
            path = _dump_path(process.agent.output_dir, args.file, args.live)
            process.emit(MessageModel(message="Dumping heap to %s ..." % path))
            trace_path = write_heap_dump(path, args.live)
        except (OSError, ValueError) as exc:
            raise CommandError(-1, "heap dump error: %s" % exc) from None
        process.emit(MessageModel(message="Heap dump file created"))
        process.emit(HeapDumpModel(dumpFile=path, live=bool(args.live), traceFile=trace_path))


# ---------------------------------------------------------------- vmtool


@dataclasses.dataclass
class VmToolModel(ResultModel):
    type: ClassVar[str] = "vmtool"
    value: Any = None
    expand: Optional[int] = None
    keep_none: ClassVar[tuple] = ("value",)


def find_instances(classes: List[type], limit: int) -> List[Any]:
    """Live gc-tracked instances of ``classes`` and their subclasses, at most ``limit`` (all when < 0)."""
    wanted = set(finder.with_subclasses(classes))
    found = []
    objects = gc.get_objects()
    try:
        for obj in objects:
            if type(obj) in wanted:
                found.append(obj)
                if 0 <= limit <= len(found):
                    break
    finally:
        del objects
    return found


ACTIONS = ("getInstances", "forceGc", "heapAnalyze", "referenceAnalyze")


@register
class VmToolCommand(Command):
    name = "vmtool"
    summary = "Find the live instances of a class, analyze the heap, force a garbage collection"
    description = ("vmtool --action getInstances --className demo.MathGame [--limit 10] [-x 1] [--express EXPR] "
                   "(EXPR is a Python expression, as ognl's, that sees the list as 'instances'); "
                   "vmtool --action heapAnalyze --classNum 20 --objectNum 20 (classes by bytes, the largest objects "
                   "and the referrers that hold them); vmtool --action referenceAnalyze --className demo.MathGame "
                   "--objectNum 5 --backtraceNum 3; vmtool --action forceGc")
    options = [
        Option("action", "a", choices=ACTIONS, help=", ".join(ACTIONS)),
        Option("className", help="the class (qualified name, '*' wildcards)"),
        Option("limit", "l", type=int, default=10, help="at most this many instances (default 10, -1: all)"),
        Option("expand", "x", type=int, default=1, help="depth to expand the values (default 1)"),
        Option("express", help="a Python expression evaluated with 'instances' bound"),
        Option("classNum", type=int, default=20, help="heapAnalyze: the classes shown (default 20)"),
        Option("objectNum", type=int, default=20, help="heapAnalyze, referenceAnalyze: the objects shown (default 20)"),
        Option("backtraceNum", type=int, default=2,
               help="referenceAnalyze: referrer steps shown (default 2, -1: to a root, 0: none)"),
        Option("classLoaderHash", "c", help="only classes of the loader with this hash (as classloader shows it)"),
        Option("classLoaderClass", help="only classes of loaders of this class (FileFinder, BuiltinImporter...)"),
    ]

    def run(self, process, args):
        if args.action is None:
            raise CommandError(-1, "vmtool: --action is required (%s)" % ", ".join(ACTIONS))
        if args.action == "forceGc":
            gc.collect()
            return
        if args.action == "heapAnalyze":
            _check_counts(args)
            # Arthas's vmtool writes this analysis as terminal text, not as a result model
            process.emit(TerminalMessageModel(message=heap.heap_analyze(args.classNum, args.objectNum)))
            return
        if not args.className:
            raise CommandError(-1, "vmtool %s: --className is required" % args.action)
        classes = [cls for cls in finder.find_classes(args.className, modules=False)
                   if importsys.loaded_by(cls, args.classLoaderHash, args.classLoaderClass)]
        if not classes:
            raise CommandError(-1, "Can not find class by class name: %s." % args.className)
        if args.action == "referenceAnalyze":
            _check_counts(args)
            if args.backtraceNum < -1:
                raise CommandError(-1, "backtraceNum must be greater than or equal to -1.")
            process.emit(TerminalMessageModel(message=heap.reference_analyze(
                finder.with_subclasses(classes), args.objectNum, args.backtraceNum)))
            return
        self._instances(process, args, classes)

    @staticmethod
    def _instances(process, args, classes: List[type]) -> None:
        instances = find_instances(classes, args.limit)
        value: Any = instances
        if args.express:
            try:
                value = evaluate_standalone(args.express, extra={"instances": instances})
            except Exception as exc:
                raise CommandError(-1, "Failed to execute express, exception message: %s: %s"
                                   % (type(exc).__name__, exc)) from None
        size_limit = process.agent.options.get("object-size-limit")
        process.emit(VmToolModel(value=to_json_value(value, args.expand, size_limit), expand=args.expand))


def _check_counts(args) -> None:
    if args.classNum <= 0 or args.objectNum <= 0:
        raise CommandError(-1, "classNum and objectNum must be greater than 0.")
