"""vmoption: the interpreter's tunables, and ``vmoption NAME VALUE`` to change the writable ones; jvm (alias
runtime): the process at a glance, grouped as Arthas's ``jvm`` groups it."""
import dataclasses
import gc
import os
import platform
import socket
import sys
import threading
import time
from typing import Any, Callable, ClassVar, Dict, List, Optional, Set

from ..command.base import Command, CommandError, register
from ..command.options import Argument, to_bool
from ..inspect import finder, memory
from ..model import MessageModel, ResultModel, format_time
from ..util.threads import is_agent_thread


@dataclasses.dataclass
class VMOptionModel(ResultModel):
    type: ClassVar[str] = "vmoption"
    vmOptions: Optional[List[Dict[str, Any]]] = None
    changeResult: Optional[Dict[str, Any]] = None


class Tunable:
    """One option: how to read it, how to change it (None: read-only), its built-in default."""

    def __init__(self, name: str, read: Callable[[], Any], write: Optional[Callable[[str], None]] = None,
                 default: Any = None, origin: str = "DEFAULT"):
        self.name = name
        self.read = read
        self.write = write
        self.default = default
        self.origin = origin


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return ",".join(str(v) for v in value)
    return str(value)


def _set_gc_enabled(raw: str) -> None:
    (gc.enable if to_bool(raw) else gc.disable)()


def _set_gc_threshold(raw: str) -> None:
    values = [int(v) for v in raw.replace(" ", "").split(",") if v]
    if not 1 <= len(values) <= 3 or any(v < 0 for v in values):
        raise ValueError(raw)
    gc.set_threshold(*values)


def _set_switch_interval(raw: str) -> None:
    sys.setswitchinterval(float(raw))


def _set_recursion_limit(raw: str) -> None:
    sys.setrecursionlimit(int(raw))


def _set_dont_write_bytecode(raw: str) -> None:
    sys.dont_write_bytecode = to_bool(raw)


_GC_DEFAULT_THRESHOLD = (700, 10, 10) if sys.version_info < (3, 13) else (2000, 10, 10)


def tunables() -> List[Tunable]:
    options = [
        Tunable("gc.enabled", gc.isenabled, _set_gc_enabled, True),
        Tunable("gc.threshold", gc.get_threshold, _set_gc_threshold, _GC_DEFAULT_THRESHOLD),
        Tunable("gc.debug", gc.get_debug, lambda raw: gc.set_debug(int(raw, 0)), 0),
        Tunable("sys.switchinterval", sys.getswitchinterval, _set_switch_interval, 0.005),
        Tunable("sys.recursionlimit", sys.getrecursionlimit, _set_recursion_limit, 1000),
        Tunable("sys.dont_write_bytecode", lambda: sys.dont_write_bytecode, _set_dont_write_bytecode),
    ]
    if hasattr(sys, "get_int_max_str_digits"):
        options.append(Tunable("sys.int_max_str_digits", sys.get_int_max_str_digits,
                               lambda raw: sys.set_int_max_str_digits(int(raw)), 4300))
    if hasattr(sys, "_is_gil_enabled"):
        options.append(Tunable("sys.gil_enabled", sys._is_gil_enabled, origin="VM_CREATION"))
    options.append(Tunable("sys.getdefaultencoding", sys.getdefaultencoding, origin="VM_CREATION"))
    options.append(Tunable("sys.getfilesystemencoding", sys.getfilesystemencoding, origin="VM_CREATION"))
    for flag in sorted(n for n in dir(sys.flags) if not n.startswith("_") and
                       not callable(getattr(sys.flags, n)) and n not in ("n_fields", "n_sequence_fields",
                                                                         "n_unnamed_fields")):
        options.append(Tunable("sys.flags." + flag, _flag_reader(flag), origin="VM_CREATION"))
    return options


def _flag_reader(flag: str) -> Callable[[], Any]:
    return lambda: getattr(sys.flags, flag)


_changed_by_us: Set[str] = set()


def option_vo(option: Tunable) -> Dict[str, Any]:
    value = option.read()
    if option.name in _changed_by_us:
        origin = "MANAGEMENT"
    elif option.write is None or option.default is None or value == option.default:
        origin = option.origin
    else:
        origin = "OTHER"
    return {"name": option.name, "value": _text(value), "origin": origin, "writeable": option.write is not None}


@register
class VMOptionCommand(Command):
    name = "vmoption"
    summary = "Display, and update the interpreter's tunables"
    description = ("gc thresholds and enabled, switch interval, recursion limit, int max str digits, sys.flags "
                   "(read-only). Examples: vmoption; vmoption sys.switchinterval; vmoption sys.switchinterval "
                   "0.001; vmoption gc.threshold 1000,10,10")
    arguments = [Argument("name", help="the option"), Argument("value", help="the new value")]

    def run(self, process, args):
        options = {option.name: option for option in tunables()}
        if args.name is None:
            process.emit(VMOptionModel(vmOptions=[option_vo(o) for o in options.values()]))
            return
        option = options.get(args.name)
        if option is None:
            raise CommandError(-1, "vm option %s not found." % args.name)
        if args.value is None:
            process.emit(VMOptionModel(vmOptions=[option_vo(option)]))
            return
        if option.write is None:
            raise CommandError(-1, "vm option %s is not writeable." % args.name)
        before = _text(option.read())
        try:
            option.write(args.value)
        except (ValueError, TypeError, OverflowError, RecursionError) as exc:
            raise CommandError(-1, "Cannot change vm option %s to %r: %s" % (args.name, args.value, exc)) from None
        _changed_by_us.add(option.name)
        process.emit(MessageModel(message="Successfully updated the vm option."))
        process.emit(VMOptionModel(changeResult={"name": option.name, "beforeValue": before,
                                                 "afterValue": _text(option.read())}))


# ---------------------------------------------------------------- jvm


@dataclasses.dataclass
class JvmModel(ResultModel):
    type: ClassVar[str] = "jvm"
    jvmInfo: Dict[str, List[Dict[str, Any]]] = dataclasses.field(default_factory=dict)


def _item(name: str, value: Any, desc: Optional[str] = None) -> Dict[str, Any]:
    item = {"name": name, "value": value}
    if desc:
        item["desc"] = desc
    return item


def _process_start() -> float:
    from ..inspect.process import process_start_time
    return process_start_time(time.time())


def jvm_info(agent_start: float, fleet: Any = None) -> Dict[str, List[Dict[str, Any]]]:
    """``fleet``: the agent's fleet link, if any (its id and state are shown among the runtime facts)."""
    started = _process_start()
    threads = threading.enumerate()
    ours = [t for t in threads if is_agent_thread(t.ident, t.name)]
    gc_stats = memory.gc_infos()
    process = memory.process_memory()
    return {
        "RUNTIME": [
            _item("MACHINE-NAME", "%d@%s" % (os.getpid(), socket.gethostname())),
            _item("JVM-START-TIME", format_time(started)),
            _item("UPTIME", "%.0f s" % (time.time() - started)),
            _item("PID", os.getpid()),
            _item("PYTHON-VERSION", sys.version.replace("\n", " ")),
            _item("IMPLEMENTATION", "%s %s" % (platform.python_implementation(), platform.python_version())),
            _item("BUILD", " ".join(platform.python_build())),
            _item("COMPILER", platform.python_compiler()),
            _item("EXECUTABLE", sys.executable),
            _item("INPUT-ARGUMENTS", list(getattr(sys, "orig_argv", sys.argv))),
            _item("ARGV", list(sys.argv)),
            _item("CWD", os.getcwd()),
            _item("PREFIX", sys.prefix),
            _item("SYS-PATH", [p for p in sys.path if isinstance(p, str)]),
            _item("AGENT-START-TIME", format_time(agent_start)),
        ] + ([_item("FLEET-AGENT-ID", fleet.agent_id), _item("FLEET", fleet.status())] if fleet is not None else []),
        "CLASS-LOADING": [
            _item("LOADED-MODULE-COUNT", len(sys.modules)),
            _item("LOADED-CLASS-COUNT", len(finder.all_classes())),
        ],
        "GARBAGE-COLLECTORS": [
            _item(info["name"], "collections: %d, collected: %d, uncollectable: %d, threshold: %d, count: %d" % (
                info["collectionCount"], info["collected"], info["uncollectable"], info["threshold"],
                info["count"])) for info in gc_stats
        ] + [_item("GC-ENABLED", gc.isenabled())],
        "MEMORY": [
            _item("RSS", process["rss"], "resident set size, bytes"),
            _item("RSS-PEAK", process["rssPeak"], "peak resident set size, bytes"),
            _item("VMS", process["vms"], "virtual memory size, bytes"),
            _item("ALLOCATED-BLOCKS", sys.getallocatedblocks(), "blocks allocated by the Python allocator"),
        ],
        "OPERATING-SYSTEM": [
            _item("OS", "%s %s" % (platform.system(), platform.release())),
            _item("ARCH", platform.machine()),
            _item("PROCESSORS-AVAILABLE", os.cpu_count() or 1),
            _item("SYSTEM-LOAD-AVERAGE", _load_average()),
        ],
        "THREAD": [
            _item("COUNT", len(threads) - len(ours)),
            _item("DAEMON-COUNT", sum(1 for t in threads if t.daemon and t not in ours)),
            _item("AGENT-COUNT", len(ours), "threads started by pyarthas"),
            _item("SWITCH-INTERVAL", "%g s" % sys.getswitchinterval()),
        ] + _gil_items(),
        "FILE-DESCRIPTOR": [
            _item("OPEN-FILE-DESCRIPTOR-COUNT", memory.open_fd_count()),
            _item("MAX-FILE-DESCRIPTOR-COUNT", _max_fds()),
        ],
    }


def _gil_items() -> List[Dict[str, Any]]:
    """3.13 and later may run without the GIL (a free-threaded build): say whether this process does."""
    if not hasattr(sys, "_is_gil_enabled"):
        return []
    return [_item("GIL-ENABLED", sys._is_gil_enabled(), "false: free-threaded, threads run Python in parallel")]


def _load_average() -> float:
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return -1.0


def _max_fds() -> int:
    try:
        import resource
        return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):
        return -1


@register
class JvmCommand(Command):
    name = "jvm"
    aliases = ("runtime",)
    summary = "Display the target process's runtime information"
    description = ("Python build and implementation, executable, argv, cwd, pid, start time, uptime, modules "
                   "loaded, threads, gc, memory, open file descriptors.")

    def run(self, process, args):
        process.emit(JvmModel(jvmInfo=jvm_info(process.agent.start_time, getattr(process.agent, "fleet", None))))
