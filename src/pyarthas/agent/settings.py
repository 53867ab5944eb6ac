"""Agent settings: the global options users change with ``options NAME VALUE`` (Arthas's GlobalOptions),
and the timeouts of sessions and consumers, which tests shorten through environment variables."""
import os
import re
import threading
from typing import Any, Callable, Dict, List, Optional, Tuple

from .values import secrets
from .values.limits import DEFAULT_SIZE_LIMIT


class GlobalOption:
    def __init__(self, name: str, value: Any, summary: str, description: str = "", level: int = 1,
                 parse: Optional[Callable[[str], Any]] = None, apply: Optional[Callable[[Any], None]] = None):
        self.name = name
        self.value = value
        self.summary = summary
        self.description = description or summary
        self.level = level
        self.parse = parse or _parser_for(value)
        self.apply = apply      # makes a value take effect where it is read outside the store

    def to_json(self) -> Dict[str, Any]:
        return {"level": self.level, "type": _java_type(self.value), "name": self.name,
                "value": _text(self.value), "summary": self.summary, "description": self.description}


def _java_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "int"
    return "String"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _parser_for(value: Any) -> Callable[[str], Any]:
    if isinstance(value, bool):
        def parse_bool(raw: str) -> bool:
            if raw.lower() not in ("true", "false"):
                raise ValueError(raw)
            return raw.lower() == "true"
        return parse_bool
    if isinstance(value, int):
        return int
    return str


_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")


def parse_duration(text: str) -> float:
    """Arthas's job-timeout syntax: a number with unit s/m/h/d; a plain number is seconds."""
    match = _DURATION.match(text or "")
    if not match:
        raise ValueError(text)
    return int(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]


class GlobalOptions:
    """Thread-safe store of the options. ``get(name)`` is cheap enough for hot paths."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._options: Dict[str, GlobalOption] = {}
        for option in _defaults():
            self._options[option.name] = option
            if option.apply is not None:
                option.apply(option.value)

    def get(self, name: str) -> Any:
        return self._options[name].value

    def all(self) -> List[GlobalOption]:
        return list(self._options.values())

    def find(self, name: str) -> Optional[GlobalOption]:
        return self._options.get(name)

    def set(self, name: str, raw: str) -> Tuple[Any, Any]:
        """Returns (before, after); raises KeyError for an unknown name, ValueError for a bad value."""
        with self._lock:
            option = self._options[name]
            new_value = option.parse(raw)
            before = option.value
            option.value = new_value
            if option.apply is not None:
                option.apply(new_value)
            return before, new_value


def _defaults() -> List[GlobalOption]:
    return [
        GlobalOption("unsafe", False, "Option to support system-level class",
                     "Enhancing the interpreter's own modules (builtins, the agent) is refused unless true."),
        GlobalOption("dump", False, "Option to dump the enhanced classes"),
        GlobalOption("batch-re-transform", True, "Option to support batch reTransform Class"),
        GlobalOption("json-format", False, "Option to support JSON format of object output"),
        GlobalOption("disable-sub-class", False, "Option to control include sub class when class matching"),
        GlobalOption("support-default-method", True, "Option to control include default method in interface"),
        GlobalOption("save-result", False, "Option to print command's result to log file"),
        GlobalOption("job-timeout", "1d", "Option to job timeout",
                     "Every job is terminated after this long; a number with unit s/m/h/d (plain number: seconds).",
                     parse=_checked_duration),
        GlobalOption("print-parent-fields", True, "Option to print all fields in parent class"),
        GlobalOption("verbose", False, "Option to print verbose information"),
        GlobalOption("strict", True, "Option to strict mode"),
        GlobalOption("object-size-limit", DEFAULT_SIZE_LIMIT,
                     "Option to control the limit size of the object output, unit: bytes"),
        GlobalOption("wire-format", "seed",
                     "Option to choose how the HTTP API writes results: seed or arthas4",
                     "seed (the default): times as epoch milliseconds and values as structured JSON, as "
                     "Arthas's HTTP API documentation shows; arthas4: times as 'yyyy-MM-dd HH:mm:ss.SSS' "
                     "and values as Arthas's display text (@list[...]), as Arthas 4 sends them. The "
                     "agent's --wire-format flag starts it with either.",
                     parse=_wire_format),
        GlobalOption("mask-secrets", True, "Option to mask credentials and the environment in values",
                     "When true (the default), values kept under names that look like credentials (*PASSWORD*, "
                     "*SECRET*, *TOKEN*, *KEY*, Authorization, Cookie...) are masked in every value (watch, tt, "
                     "ognl, getstatic, vmtool, sc -f, thread locals) and in sysenv, and the process environment "
                     "(os.environ, and the entries of a mapping that repeat it) is shown by sysenv only.",
                     apply=secrets.set_masking),
        GlobalOption("mcp-allow-writes", os.environ.get("PYARTHAS_MCP_ALLOW_WRITES", "") in ("1", "true"),
                     "Option to let MCP clients run the tools that change the process",
                     "When false (the default), the /mcp tools that change the target (redefine, stop, "
                     "options/sysprop/vmoption/logger changes, vmtool forceGc, tt replay, and expressions "
                     "that call more than a few pure builtins) refuse. $PYARTHAS_MCP_ALLOW_WRITES=1 or the "
                     "CLI's --mcp-allow-writes start the agent with true."),
    ]


WIRE_FORMATS = ("seed", "arthas4")


def _wire_format(raw: str) -> str:
    if raw not in WIRE_FORMATS:
        raise ValueError(raw)
    return raw


def _checked_duration(raw: str) -> str:
    parse_duration(raw)
    return raw


def _env_seconds(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


class Timeouts:
    """Protocol timeouts (seconds). Environment variables exist so tests can shorten them."""

    def __init__(self) -> None:
        self.session = _env_seconds("PYARTHAS_SESSION_TIMEOUT", 3 * 3600)
        self.consumer = _env_seconds("PYARTHAS_CONSUMER_TIMEOUT", 300)
        self.reaper_interval = _env_seconds("PYARTHAS_REAPER_INTERVAL", 60)
        self.poll_wait = _env_seconds("PYARTHAS_POLL_WAIT", 2.0)
        self.poll_flush = 0.1
        self.consumer_healthy_window = 1.0


class Limits:
    """What one request, and all requests together, may cost the target (connections, threads, bytes).
    Arthas's Netty server has no such limits; a diagnostic agent inside a production process needs them.
    Environment variables exist so tests and operators can change them."""

    def __init__(self) -> None:
        self.head_timeout = _env_seconds("PYARTHAS_HEAD_TIMEOUT", 5.0)  # the whole request line and headers
        self.body_timeout = _env_seconds("PYARTHAS_BODY_TIMEOUT", 10.0)  # the whole body
        self.keepalive_timeout = _env_seconds("PYARTHAS_KEEPALIVE_TIMEOUT", 15.0)  # idle between requests
        self.write_timeout = _env_seconds("PYARTHAS_WRITE_TIMEOUT", 30.0)  # the whole answer
        self.max_connections = int(_env_seconds("PYARTHAS_MAX_CONNECTIONS", 256))
        self.max_workers = int(_env_seconds("PYARTHAS_MAX_WORKERS", 128))  # requests being answered at once
        self.max_long_polls = int(_env_seconds("PYARTHAS_MAX_LONG_POLLS", 64))  # of those, pull_results waits
        self.max_body = int(_env_seconds("PYARTHAS_MAX_BODY", 10 * 1024 * 1024))
        self.max_buffered_bodies = int(_env_seconds("PYARTHAS_MAX_BUFFERED_BODIES", 32 * 1024 * 1024))
        self.max_discard = 64 * 1024 * 1024  # read and thrown away so that a refused client sees the answer
        self.max_head = 32 * 1024
        self.max_headers = 100


# Arthas's shell reads lines of any length; a line is kept in the history and echoed to every consumer,
# so a sane bound keeps one request from inflating the target (the longest real OGNL line is far shorter).
MAX_COMMAND_LENGTH = 64 * 1024
