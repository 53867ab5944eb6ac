"""logger: every ``logging`` logger with its level, effective level, propagation and handlers; change a
level at run time (Arthas's ``logger``; appenders are handlers, additivity is ``propagate``)."""
import dataclasses
import sys
from typing import Any, ClassVar, Dict, Optional

from ..command.base import Command, CommandError, register
from ..command.options import Option
from ..model import ResultModel

ROOT = "root"


def _logging():
    """``logging``, imported when the command runs rather than when the agent starts."""
    import logging
    return logging


@dataclasses.dataclass
class LoggerModel(ResultModel):
    type: ClassVar[str] = "logger"
    loggerInfoMap: Optional[Dict[str, Dict[str, Any]]] = None
    changeResult: Optional[Dict[str, Any]] = None


def _class_name(obj: Any) -> str:
    kind = type(obj)
    return "%s.%s" % (kind.__module__, kind.__qualname__)


def handler_info(handler: Any) -> Dict[str, Any]:
    """Arthas's appender entry for a handler: name, class, level, formatter, and where it writes."""
    logging = _logging()
    info: Dict[str, Any] = {"name": handler.get_name() or "", "class": _class_name(handler),
                            "level": logging.getLevelName(handler.level)}
    formatter = handler.formatter
    if formatter is not None:
        info["formatter"] = _class_name(formatter)
        info["pattern"] = getattr(formatter, "_fmt", None)
    filename = getattr(handler, "baseFilename", None)
    if filename:
        info["file"] = filename
    stream = getattr(handler, "stream", None)
    if stream is not None and not filename:
        info["target"] = _stream_name(stream)
    target = getattr(handler, "target", None)  # MemoryHandler
    if isinstance(target, logging.Handler):
        info["appenderRef"] = [target.get_name() or _class_name(target)]
    if handler.filters:
        info["filters"] = [_class_name(f) for f in handler.filters]
    return info


def _stream_name(stream: Any) -> str:
    for name in ("stdout", "stderr"):
        if stream is getattr(sys, name, None) or stream is getattr(sys, "__%s__" % name, None):
            return "sys." + name
    return getattr(stream, "name", None) or _class_name(stream)


def logger_info(name: str, logger: Any) -> Dict[str, Any]:
    logging = _logging()
    return {
        "name": name,
        "class": _class_name(logger),
        "level": logging.getLevelName(logger.level),
        "effectiveLevel": logging.getLevelName(logger.getEffectiveLevel()),
        "additivity": bool(logger.propagate),
        "disabled": bool(logger.disabled),
        "codeSource": getattr(sys.modules.get(name), "__file__", None),
        "appenders": [handler_info(h) for h in list(logger.handlers)],
    }


def all_loggers() -> Dict[str, Any]:
    """Every real logger by name (placeholders skipped), root first."""
    logging = _logging()
    found = {ROOT: logging.getLogger()}
    for name, logger in sorted(logging.Logger.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):
            found[name] = logger
    return found


def parse_level(text: str) -> int:
    """A level by name (DEBUG, WARN, ...; case-insensitive) or number; Arthas's OFF and ALL are accepted."""
    logging = _logging()
    upper = text.strip().upper()
    if upper.lstrip("-").isdigit():
        return int(upper)
    extra = {"OFF": logging.CRITICAL + 10, "ALL": logging.NOTSET, "TRACE": 5}
    value = logging.getLevelName(upper)
    if isinstance(value, int):
        return value
    if upper in extra:
        return extra[upper]
    raise ValueError(text)


@register
class LoggerCommand(Command):
    name = "logger"
    summary = "Print the loggers' levels and handlers, and change a logger's level"
    description = ("Without -n, the loggers that have handlers (all with --include-no-handlers); -n NAME shows "
                   "one (root for the root logger); -n NAME -l LEVEL changes its level at run time. Examples: "
                   "logger; logger -n app.db; logger -n app.db -l DEBUG")
    options = [
        Option("name", "n", help="the logger's name (root: the root logger)"),
        Option("level", "l", help="set the logger's level (DEBUG, INFO, WARNING, ERROR, CRITICAL, NOTSET)"),
        Option("include-no-handlers", dest="include_no_handlers", flag=True, aliases=("include-no-appender",),
               help="include the loggers without handlers"),
        Option("classLoaderHash", "c", help="accepted for Arthas compatibility (Python has no class loaders)"),
        Option("classLoaderClass", help="accepted for Arthas compatibility"),
    ]

    def run(self, process, args):
        loggers = all_loggers()
        if args.name is not None and args.name not in loggers and args.name.lower() == ROOT:
            args.name = ROOT  # Arthas's pages (logback, log4j) name the root logger ROOT
        if args.level is not None:
            self._change(process, loggers, args.name, args.level)
            return
        if args.name is not None:
            if args.name not in loggers:
                raise CommandError(-1, "Can not find logger by name: %s" % args.name)
            chosen = {args.name: loggers[args.name]}
        elif args.include_no_handlers:
            chosen = loggers
        else:
            chosen = {name: lg for name, lg in loggers.items() if lg.handlers or name == ROOT}
        process.emit(LoggerModel(loggerInfoMap={name: logger_info(name, lg) for name, lg in chosen.items()}))

    def _change(self, process, loggers, name, level_text):
        if name is None:
            raise CommandError(-1, "Please specify the logger name with -n to change its level.")
        logger = loggers.get(name)
        if logger is None:
            raise CommandError(-1, "Can not find logger by name: %s" % name)
        try:
            level = parse_level(level_text)
        except ValueError:
            raise CommandError(-1, "Unknown level: %s (use DEBUG, INFO, WARNING, ERROR, CRITICAL, NOTSET or a "
                                   "number)" % level_text) from None
        logging = _logging()
        before = logging.getLevelName(logger.level)
        logger.setLevel(level)  # also clears the isEnabledFor caches of every logger (3.7+)
        process.emit(LoggerModel(loggerInfoMap={name: logger_info(name, logger)},
                                 changeResult={"name": name, "beforeValue": before,
                                               "afterValue": logging.getLevelName(logger.level)}))
        process.end(0, "Update logger level success.")
