"""The MCP tools: named and shaped as Arthas's (``core/.../mcp/tool/function``: the same tool names and
parameter names, so prompts written for Arthas work), plus Python's own (``tasks``, ``logger``, and
``memory``/``profiler`` with Python's options).

A tool is declared once: its parameters (JSON schema with descriptions and examples), how they become a
command line, whether it streams (watch, trace, monitor, stack, tt record, dashboard), and whether a call
changes the target (``write_reason``): such calls run only when the agent allows writes.
"""
from typing import Any, Callable, Dict, List, Optional

from .safety import write_reason as expression_write_reason

DEFAULT_COUNT = 1            # Arthas's MCP tools stop after one capture unless told otherwise
DEFAULT_TIMEOUT = 30         # seconds, as Arthas's StreamableToolUtils.DEFAULT_TIMEOUT_MS
MAX_COUNT = 100
MAX_TIMEOUT = 600
EXEC_TIMEOUT = 30.0          # seconds a one-shot command may run before it is interrupted

Arguments = Dict[str, Any]


class ToolInputError(ValueError):
    """The arguments do not fit the tool; the message tells the assistant what to fix."""


class Param:
    def __init__(self, name: str, kind: str, description: str, *, required: bool = False,
                 flag: Optional[str] = None, example: Any = None, default: Any = None,
                 enum: Optional[List[str]] = None, expression: bool = False, positional: bool = False):
        self.name = name
        self.kind = kind                  # JSON schema type: string, integer, boolean
        self.description = description
        self.required = required
        self.flag = flag                  # the command's option (-n, --timeout); None for positionals
        self.example = example
        self.default = default
        self.enum = enum
        self.expression = expression      # Python evaluated in the target: checked by safety.write_reason
        self.positional = positional

    def schema(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"type": self.kind, "description": self.description}
        if self.example is not None:
            out["examples"] = [self.example]
        if self.default is not None:
            out["default"] = self.default
        if self.enum:
            out["enum"] = list(self.enum)
        if self.kind == "integer" and self.name in ("numberOfExecutions", "limit", "expandLevel"):
            out["minimum"] = 1 if self.name == "numberOfExecutions" else 0
        return out

    def check(self, value: Any) -> Any:
        expected = {"string": str, "integer": int, "boolean": bool}[self.kind]
        if self.kind == "integer" and isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ToolInputError("'%s' must be a %s, not %s" % (self.name, self.kind, _json_type(value)))
        if self.enum and value not in self.enum:
            raise ToolInputError("'%s' must be one of %s, not %r" % (self.name, ", ".join(self.enum), value))
        return value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
            dict: "object"}.get(type(value), type(value).__name__)


class Tool:
    def __init__(self, name: str, title: str, description: str, params: List[Param], *, command: str = "",
                 streaming: bool = False, writes: bool = False, mixed: bool = False,
                 build: Optional[Callable[[Arguments], List[str]]] = None,
                 write_check: Optional[Callable[[Arguments], Optional[str]]] = None,
                 destructive: bool = False, read_only: bool = True):
        self.name = name
        self.title = title
        self.description = description
        self.params = params
        self.command = command or name
        self.streaming = streaming
        self.writes = writes              # every call changes the target
        self.write_check = write_check    # some calls do (a logger level, a forceGc...)
        self.destructive = destructive
        self.read_only = read_only and not writes and write_check is None
        self._build = build

    def input_schema(self) -> Dict[str, Any]:
        schema: Dict[str, Any] = {"type": "object",
                                  "properties": {p.name: p.schema() for p in self.params},
                                  "additionalProperties": False}
        required = [p.name for p in self.params if p.required]
        if required:
            schema["required"] = required
        return schema

    def annotations(self) -> Dict[str, Any]:
        return {"title": self.title, "readOnlyHint": self.read_only,
                "destructiveHint": self.destructive, "idempotentHint": self.read_only and not self.streaming,
                "openWorldHint": False}

    def describe(self, writes_allowed: bool) -> Dict[str, Any]:
        description = self.description
        if self.writes and not writes_allowed:
            description = "[disabled: changes the target; the agent allows it with --mcp-allow-writes] " + description
        return {"name": self.name, "title": self.title, "description": description,
                "inputSchema": self.input_schema(), "annotations": self.annotations()}

    def arguments(self, raw: Any) -> Arguments:
        """The checked arguments, defaults applied; ToolInputError names what is wrong."""
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise ToolInputError("the arguments must be an object")
        known = {p.name: p for p in self.params}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            raise ToolInputError("unknown argument(s) %s; '%s' takes %s" % (
                ", ".join(unknown), self.name, ", ".join(known) or "none"))
        args: Arguments = {}
        for param in self.params:
            value = raw.get(param.name)
            if value is None:
                if param.required:
                    raise ToolInputError("'%s' is required (%s)" % (param.name, param.description))
                if param.default is not None:
                    args[param.name] = param.default
                continue
            args[param.name] = param.check(value)
        if self.streaming:
            _clamp(args, "numberOfExecutions", 1, MAX_COUNT)
            _clamp(args, "timeout", 1, MAX_TIMEOUT)
        return args

    def write_reason(self, args: Arguments) -> Optional[str]:
        """Why this call changes the target, or None when it only looks."""
        if self.writes:
            return "'%s' changes the target process" % self.name
        if self.write_check is not None:
            reason = self.write_check(args)
            if reason:
                return reason
        for param in self.params:
            if param.expression:
                reason = expression_write_reason(args.get(param.name))
                if reason:
                    return "%s ('%s')" % (reason, param.name)
        return None

    def words(self, args: Arguments) -> List[str]:
        if self._build is not None:
            return self._build(args)
        return generic_words(self.command, self.params, args)

    def wait_seconds(self, args: Arguments) -> float:
        """How long a call may take before it is interrupted."""
        if self.streaming:
            return float(args.get("timeout", DEFAULT_TIMEOUT)) + 5.0
        if self.name == "dashboard":
            return args["numberOfExecutions"] * args["intervalMs"] / 1000.0 + 5.0
        return EXEC_TIMEOUT


def _clamp(args: Arguments, name: str, low: int, high: int) -> None:
    if name in args:
        args[name] = max(low, min(high, args[name]))


def generic_words(command: str, params: List[Param], args: Arguments) -> List[str]:
    words = [command]
    for param in params:
        value = args.get(param.name)
        if value is None or param.positional or param.flag is None:
            continue
        if param.kind == "boolean":
            if value:
                words.append(param.flag)
        else:
            words.extend([param.flag, str(value)])
    words.extend(str(args[p.name]) for p in params if p.positional and args.get(p.name) is not None)
    return words


# ---- shared parameters ----

def class_pattern(required: bool = True) -> Param:
    return Param("classPattern", "string", "Class or module name pattern, wildcards (*) allowed, e.g. demo.MathGame",
                 required=required, example="demo.MathGame", positional=True)


def method_pattern() -> Param:
    return Param("methodPattern", "string", "Method or function name pattern, wildcards (*) allowed, e.g. "
                 "primeFactors (default *)", example="primeFactors", default="*", positional=True)


def condition() -> Param:
    return Param("condition", "string", "Python condition; only calls for which it is true are captured, e.g. "
                 "params[0] < 0 ('#cost > 10' for calls slower than 10 ms)", example="params[0] < 0",
                 expression=True, positional=True)


REGEX = Param("regex", "boolean", "Patterns are regular expressions instead of wildcards (default false)", flag="-E")
MAX_MATCH = Param("maxMatchCount", "integer", "At most this many classes are matched (default 50)", flag="-m")
COUNT = Param("numberOfExecutions", "integer", "Stop after this many captures (default %d, at most %d)"
              % (DEFAULT_COUNT, MAX_COUNT), flag="-n", default=DEFAULT_COUNT, example=1)
TIMEOUT = Param("timeout", "integer", "Stop after this many seconds (default %d, at most %d)"
                % (DEFAULT_TIMEOUT, MAX_TIMEOUT), flag="--timeout", default=DEFAULT_TIMEOUT, example=10)
EXPAND = Param("expandLevel", "integer", "Depth to which objects are expanded (default 1, at most 4)", flag="-x")
SIZE_LIMIT = Param("sizeLimit", "integer", "Upper size in bytes of one result (default 10 MiB)", flag="-M")
LOADER_HASH = Param("classLoaderHash", "string", "Accepted for Arthas compatibility (Python has no class loaders)")
LOADER_CLASS = Param("classLoaderClass", "string", "Accepted for Arthas compatibility (Python has no class loaders)")


def _advice_words(command: str, params: List[Param]) -> Callable[[Arguments], List[str]]:
    """watch/trace/stack: options, then class, method, [express], [condition] (Arthas's order)."""
    def build(args: Arguments) -> List[str]:
        words = generic_words(command, [p for p in params if not p.positional], args)
        words.extend([args["classPattern"], args.get("methodPattern") or "*"])
        if "express" in args or command == "watch":
            words.append(args.get("express") or WATCH_EXPRESS)
        if args.get("condition"):
            words.append(args["condition"])
        return words
    return build


WATCH_EXPRESS = "{params, target, returnObj}"


def _watch() -> Tool:
    params = [class_pattern(), method_pattern(),
              Param("express", "string", "What to observe, a Python expression over params, target, returnObj, "
                    "throwExp, cost (default %s)" % WATCH_EXPRESS, example="{params, returnObj, throwExp}",
                    expression=True, positional=True),
              condition(),
              Param("beforeMethod", "boolean", "Observe before the call (-b), default false", flag="-b"),
              Param("exceptionOnly", "boolean", "Observe only calls that raise (-e), default false", flag="-e"),
              Param("successOnly", "boolean", "Observe only calls that return (-s), default false", flag="-s"),
              COUNT, REGEX, MAX_MATCH, EXPAND, SIZE_LIMIT, TIMEOUT]
    return Tool("watch", "Watch calls", "Watch the calls of a function or method: arguments, return value, "
                "exception, cost. Streams each capture; stops after numberOfExecutions captures or timeout "
                "seconds. Arthas's watch command.", params, streaming=True,
                build=_advice_words("watch", params))


def _trace() -> Tool:
    params = [class_pattern(), method_pattern(), condition(), COUNT, REGEX, MAX_MATCH, TIMEOUT,
              Param("skipBuiltins", "boolean", "Leave builtin calls out of the tree (default true)",
                    flag="--skip-builtins")]

    def build(args: Arguments) -> List[str]:
        words = _advice_words("trace", [p for p in params if p.name != "skipBuiltins"])(args)
        if args.get("skipBuiltins") is False:
            words[1:1] = ["--skip-builtins", "false"]
        return words
    return Tool("trace", "Trace calls", "Trace the calls a function makes, with the time each took, as a tree. "
                "Streams each traced call; stops after numberOfExecutions calls or timeout seconds. Arthas's "
                "trace command.", params, streaming=True, build=build)


def _stack() -> Tool:
    params = [class_pattern(), method_pattern(), condition(), COUNT, REGEX, MAX_MATCH, TIMEOUT]
    return Tool("stack", "Call paths", "Print the call stack that led to each call of a function. Streams each "
                "call; stops after numberOfExecutions calls or timeout seconds. Arthas's stack command.", params,
                streaming=True, build=_advice_words("stack", params))


def _monitor() -> Tool:
    params = [class_pattern(), method_pattern(), condition(),
              Param("intervalMs", "integer", "Length of one statistics cycle in ms (default 3000, whole seconds)",
                    default=3000, example=3000),
              Param("numberOfExecutions", "integer", "Stop after this many cycles (default 1, at most %d)"
                    % MAX_COUNT, default=DEFAULT_COUNT, example=1),
              REGEX, Param("maxMatch", "integer", "At most this many classes are matched (default 50)", flag="-m"),
              TIMEOUT]

    def build(args: Arguments) -> List[str]:
        cycle = max(1, round(args["intervalMs"] / 1000.0))
        words = ["monitor", "-c", str(cycle), "-n", str(args["numberOfExecutions"]),
                 "--timeout", str(args["timeout"])]
        words += generic_words("", [REGEX, params[6]], args)[1:]
        words += [args["classPattern"], args.get("methodPattern") or "*"]
        if args.get("condition"):
            words.append(args["condition"])
        return words
    return Tool("monitor", "Call statistics", "Count the calls of a function per cycle: total, successes, "
                "failures, average cost, failure rate. Streams each cycle. Arthas's monitor command.", params,
                streaming=True, build=build)


def _tt() -> Tool:
    actions = ["record", "t", "list", "l", "search", "s", "info", "i", "replay", "p", "delete", "d",
               "deleteAll", "da"]
    params = [Param("action", "string", "record/t (record calls), list/l, search/s, info/i, replay/p (calls the "
                    "function again: a write), delete/d, deleteAll/da; default record", default="record",
                    enum=actions),
              class_pattern(required=False), Param("methodPattern", "string", "Method name pattern (record)",
                                                   example="primeFactors", positional=True),
              condition(), COUNT, REGEX,
              Param("index", "integer", "Index of a record (info, replay, delete)", example=1000),
              Param("searchExpression", "string", "Python expression to select records (search), e.g. "
                    "method.__name__ == 'primeFactors'", expression=True),
              Param("maxMatchCount", "integer", "At most this many classes are matched (default 50)"),
              SIZE_LIMIT, TIMEOUT]
    normal = {"t": "record", "l": "list", "s": "search", "i": "info", "p": "replay", "d": "delete",
              "da": "deleteAll"}

    def build(args: Arguments) -> List[str]:
        action = normal.get(args["action"], args["action"])
        index = args.get("index")
        if action in ("info", "replay", "delete") and index is None:
            raise ToolInputError("'index' is required for tt %s" % action)
        if action == "record":
            if not args.get("classPattern") or not args.get("methodPattern"):
                raise ToolInputError("'classPattern' and 'methodPattern' are required to record")
            words = ["tt", "-t", "-n", str(args["numberOfExecutions"]), "--timeout", str(args["timeout"])]
            words += generic_words("", [REGEX, SIZE_LIMIT], args)[1:]
            if args.get("maxMatchCount"):
                words += ["-m", str(args["maxMatchCount"])]
            words += [args["classPattern"], args["methodPattern"]]
            return words + ([args["condition"]] if args.get("condition") else [])
        if action == "list":
            return ["tt", "-l"]
        if action == "search":
            if not args.get("searchExpression"):
                raise ToolInputError("'searchExpression' is required for tt search")
            return ["tt", "-s", args["searchExpression"]]
        if action == "info":
            return ["tt", "-i", str(index)]
        if action == "replay":
            return ["tt", "-i", str(index), "-p"]
        if action == "delete":
            return ["tt", "-d", "-i", str(index)]
        return ["tt", "--delete-all"]

    def writes(args: Arguments) -> Optional[str]:
        if args["action"] in ("replay", "p"):
            return "tt replay calls the recorded function again"
        return None
    return Tool("tt", "Time tunnel", "Record calls of a function (arguments, result, exception) and list, "
                "search, inspect or replay them later. Recording streams each call. Arthas's tt command.",
                params, streaming=True, build=build, write_check=writes)


def _profiler() -> Tool:
    params = [Param("action", "string", "start, stop (writes the flame graph and returns the top frames), "
                    "dump (same, keeps sampling), status, resume, meminfo, getSamples, list", required=True,
                    example="start", enum=["start", "stop", "dump", "status", "resume", "meminfo", "getSamples",
                                           "list", "actions", "version"],
                    positional=True),
              Param("event", "string", "cpu (threads on CPU), wall (all threads) or alloc (allocated bytes); "
                    "default cpu", flag="-e", enum=["cpu", "wall", "alloc"]),
              Param("interval", "string", "Sampling interval in ms or with a unit (500us, 2ms); default 10ms",
                    flag="-i", example="10ms"),
              Param("duration", "integer", "With start: stop by itself after this many seconds", flag="-d"),
              Param("format", "string", "Output format of stop/dump: html (flame graph, default), flamegraph "
                    "(the same), svg, collapsed, speedscope, md (a Markdown report of the top frames)", flag="-o",
                    enum=["html", "flamegraph", "svg", "collapsed", "speedscope", "md"]),
              Param("file", "string", "Output file (relative to the output folder)", flag="-f"),
              Param("threads", "boolean", "One root frame per thread", flag="--threads"),
              Param("include", "string", "Keep only stacks with a frame matching this pattern", flag="-I"),
              Param("exclude", "string", "Drop stacks with a frame matching this pattern", flag="-X"),
              Param("engine", "string", "auto (py-spy when it can run, else in-process), py-spy or sampler",
                    flag="--engine", enum=["auto", "py-spy", "sampler"])]
    return Tool("profiler", "Sampling profiler", "Sample the Python threads' stacks: start, then stop to get the "
                "flame graph's URL and the top frames as text. Arthas's profiler command, on py-spy (from "
                "outside, unbiased by the GIL) or Python's own sampler.", params, read_only=False)


def _dashboard() -> Tool:
    params = [Param("intervalMs", "integer", "Interval between outputs in ms (default 3000)", default=3000),
              Param("numberOfExecutions", "integer", "Number of outputs (default 1, at most 10)", default=1)]

    def build(args: Arguments) -> List[str]:
        args["numberOfExecutions"] = max(1, min(10, args["numberOfExecutions"]))
        args["intervalMs"] = max(100, min(60000, args["intervalMs"]))
        return ["dashboard", "-i", str(args["intervalMs"]), "-n", str(args["numberOfExecutions"])]
    return Tool("dashboard", "Dashboard", "Overview of the process: threads, memory, gc, runtime. Arthas's "
                "dashboard command.", params, build=build)


def _vmtool() -> Tool:
    params = [Param("action", "string", "getInstances (live instances of a class) or forceGc (a write)",
                    required=True, enum=["getInstances", "forceGc"], example="getInstances", flag="--action"),
              LOADER_HASH, LOADER_CLASS,
              Param("className", "string", "The class, qualified (getInstances)", example="demo.MathGame",
                    flag="--className"),
              Param("limit", "integer", "At most this many instances (default 10)", flag="--limit"),
              Param("expandLevel", "integer", "Depth to expand the values (default 1)", flag="-x"),
              Param("express", "string", "Python expression over 'instances'", flag="--express",
                    example="len(instances)", expression=True)]

    def writes(args: Arguments) -> Optional[str]:
        return "vmtool forceGc collects garbage in the target" if args["action"] == "forceGc" else None
    return Tool("vmtool", "Live objects", "Find the live instances of a class, or force a garbage collection. "
                "Arthas's vmtool command.", params, write_check=writes)


def _logger() -> Tool:
    params = [Param("name", "string", "The logger's name (root: the root logger)", flag="-n", example="root"),
              Param("level", "string", "Set the logger's level (a write): DEBUG, INFO, WARNING, ERROR, CRITICAL",
                    flag="-l", enum=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "NOTSET"]),
              Param("includeNoHandlers", "boolean", "Include loggers without handlers",
                    flag="--include-no-handlers")]

    def writes(args: Arguments) -> Optional[str]:
        return "setting a logger's level changes the target" if args.get("level") else None
    return Tool("logger", "Loggers", "List the logging module's loggers with their levels and handlers, or "
                "change one logger's level. Arthas's logger command on Python's logging.", params,
                write_check=writes)


def _setter(name: str, title: str, description: str, key: Param, value: Param) -> Tool:
    def writes(args: Arguments) -> Optional[str]:
        return "%s with a value changes the target" % name if args.get(value.name) is not None else None
    return Tool(name, title, description, [key, value], write_check=writes)


def _tools() -> List[Tool]:
    positional: Dict[str, Any] = {"positional": True}
    return [
        _dashboard(),
        Tool("thread", "Threads", "Threads and their stacks: the N busiest (topN), one thread (threadId), or "
             "the one blocking others. Arthas's thread command.",
             [Param("threadId", "integer", "A thread's id as listed (main is 1), or its Python ident or native id",
                    positional=True),
              Param("topN", "integer", "The N busiest threads with their stacks", flag="-n", example=3),
              Param("blocking", "boolean", "Find the thread holding a lock others wait for", flag="-b"),
              Param("all", "boolean", "Include the agent's own threads", flag="--all"),
              Param("state", "string", "Only threads in this state", flag="--state",
                    enum=["RUNNABLE", "BLOCKED", "WAITING", "TIMED_WAITING"])]),
        Tool("memory", "Memory", "Memory of the process: RSS, gc generations, the types holding the most "
             "objects (top) and tracemalloc allocation sites (trace start, snapshot, stop). Arthas's memory "
             "command, with Python's own options.",
             [Param("top", "integer", "The N types holding the most objects", flag="--top", example=10),
              Param("sort", "string", "Rank top by count or bytes", flag="--sort", enum=["count", "bytes"]),
              Param("live", "boolean", "Collect garbage before counting top", flag="--live"),
              Param("trace", "string", "tracemalloc: start, snapshot or stop", flag="--trace",
                    enum=["start", "snapshot", "stop"]),
              Param("limit", "integer", "Allocation sites shown by trace snapshot (default 10)", flag="-n")]),
        Tool("tasks", "Asyncio tasks", "The asyncio tasks of every running event loop and what each awaits.",
             [Param("number", "integer", "At most this many tasks (default all)", flag="-n")]),
        Tool("heapdump", "Heap histogram dump", "Write a histogram of the live objects (and the tracemalloc "
             "snapshot when tracing) to a file in the output folder. Arthas's heapdump command.",
             [Param("live", "boolean", "Collect garbage first", flag="--live"),
              Param("filePath", "string", "Where to write the dump (default: the output folder)", **positional)],
             read_only=False),
        Tool("jvm", "Runtime", "The interpreter's runtime information. Arthas's jvm command.", []),
        Tool("version", "Version", "The pyarthas agent's version.", []),
        Tool("sysenv", "Environment", "Environment variables of the process, or one of them.",
             [Param("envName", "string", "A variable's name (default all)", example="PATH", **positional)]),
        _setter("sysprop", "Interpreter properties", "The interpreter's properties (sys, platform); with a "
                "value, set one (a write).",
                Param("propertyName", "string", "A property's name", example="sys.version", **positional),
                Param("propertyValue", "string", "A new value (a write)", **positional)),
        _setter("vmoption", "Interpreter tunables", "The interpreter's tunables (switch interval, recursion "
                "limit, gc thresholds); with a value, update one (a write).",
                Param("key", "string", "The option's name", example="recursionlimit", **positional),
                Param("value", "string", "A new value (a write)", **positional)),
        _setter("options", "Agent options", "The agent's global options; with a value, change one (a write).",
                Param("name", "string", "The option's name", example="json-format", **positional),
                Param("value", "string", "A new value (a write)", **positional)),
        Tool("getstatic", "Class attribute", "The value of a class or module attribute. Arthas's getstatic.",
             [LOADER_HASH, LOADER_CLASS, class_pattern(),
              Param("fieldName", "string", "The attribute's name", required=True, example="random",
                    **positional),
              Param("ognlExpression", "string", "Python expression applied to the value, named 'value'",
                    expression=True, **positional),
              Param("expandLevel", "integer", "Depth to expand the value (default 1)", flag="-x")]),
        Tool("ognl", "Evaluate an expression", "Evaluate a Python expression in the target (Arthas's ognl). "
             "Expressions that only read (names, attributes, subscripts, operators, a few pure builtins) run "
             "by default; any other call needs the agent's write permission.",
             [Param("expression", "string", "The Python expression", required=True,
                    example="sys.modules['demo'].MathGame", expression=True, **positional),
              LOADER_HASH, LOADER_CLASS,
              Param("expandLevel", "integer", "Depth to expand the result (default 1)", flag="-x")], read_only=False),
        Tool("sc", "Search classes", "Search the classes and modules loaded by the interpreter. Arthas's sc.",
             [class_pattern(),
              Param("detail", "boolean", "Details of each class (default true)", flag="-d", default=True),
              Param("field", "boolean", "Class attributes with their values", flag="-f"),
              REGEX, LOADER_HASH, LOADER_CLASS,
              Param("expand", "integer", "Depth to expand attribute values", flag="-x"),
              Param("limit", "integer", "At most this many classes with details (default 100)", flag="-n")]),
        Tool("sm", "Search methods", "Search the functions and methods of loaded classes and modules. Arthas's sm.",
             [class_pattern(), method_pattern(),
              Param("detail", "boolean", "Details of each method (default true)", flag="-d", default=True),
              REGEX, LOADER_HASH, LOADER_CLASS,
              Param("limit", "integer", "At most this many classes (default 100)", flag="-n")]),
        Tool("jad", "Source", "The source of a class, module or function as loaded. Arthas's jad.",
             [class_pattern(),
              Param("methodName", "string", "A function within the class or module", example="primeFactors",
                    positional=True),
              LOADER_HASH, LOADER_CLASS,
              Param("sourceOnly", "boolean", "Only the source", flag="--source-only"),
              Param("useRegex", "boolean", "Patterns are regular expressions", flag="-E")]),
        _watch(), _trace(), _stack(), _monitor(), _tt(), _profiler(), _vmtool(), _logger(),
        Tool("redefine", "Redefine code", "Replace the code of loaded functions with code compiled from Python "
             "source files. Arthas's redefine.",
             [Param("classFilePaths", "string", "Python source files, separated by spaces", required=True),
              LOADER_HASH, LOADER_CLASS], writes=True, destructive=True,
             build=lambda args: ["redefine"] + args["classFilePaths"].split()),
        Tool("stop", "Stop the agent", "Stop the agent: every enhancement is undone and no tool answers "
             "afterwards.", [Param("delayMs", "integer", "Accepted for Arthas compatibility")], writes=True,
             destructive=True, build=lambda args: ["stop"]),
    ]


TOOLS: Dict[str, Tool] = {tool.name: tool for tool in _tools()}
