"""Declarative options and arguments: one declaration serves parsing, ``help CMD`` and completion.

A command lists ``Option`` and ``Argument`` objects; ``parse(spec, words)`` gives a ``Namespace`` whose
attributes are the options' ``dest`` names and the arguments' names, or raises ``UsageError`` with the
parser's message (the job then ends with status -10).
"""
from typing import Any, Callable, Dict, List, Optional, Sequence


class UsageError(ValueError):
    pass


class Option:
    """``-s/--long``. ``flag=True`` takes no value (presence means True); otherwise the next word (or
    ``--long=value``) is converted by ``type``. ``multi`` collects repeated values into a list."""

    def __init__(self, long: Optional[str] = None, short: Optional[str] = None, *, dest: Optional[str] = None,
                 type: Callable[[str], Any] = str, default: Any = None, flag: bool = False, multi: bool = False,
                 help: str = "", aliases: Sequence[str] = (), choices: Optional[Sequence[str]] = None):
        name = long or short
        if not name:
            raise ValueError("an option needs a long or a short name")
        self.long = long
        self.short = short
        self.aliases = tuple(aliases)
        self.dest = dest or name.replace("-", "_")
        self.type = bool if flag else type
        self.default: Any = ([] if multi else None) if default is None and not flag else default
        if flag and default is None:
            self.default = False
        self.flag = flag
        self.multi = multi
        self.help = help
        self.choices = tuple(choices) if choices else None

    def names(self) -> List[str]:
        out = []
        if self.short:
            out.append("-" + self.short)
        if self.long:
            out.append("--" + self.long)
        out.extend("--" + a for a in self.aliases)
        return out

    def convert(self, raw: str) -> Any:
        if self.choices and raw not in self.choices:
            raise UsageError("Invalid value '%s' for option '%s', expected one of %s"
                             % (raw, self.display_name(), ", ".join(self.choices)))
        try:
            if self.type is bool:
                return to_bool(raw)
            return self.type(raw)
        except (TypeError, ValueError):
            raise UsageError("Invalid value '%s' for option '%s'" % (raw, self.display_name())) from None

    def display_name(self) -> str:
        return self.long or self.short or ""  # one of them is set (see __init__)

    def to_json(self) -> Dict[str, Any]:
        out = {"description": self.help, "acceptValue": not self.flag}
        if self.long:
            out["longName"] = self.long
        if self.short:
            out["shortName"] = self.short
        return out


class Argument:
    def __init__(self, name: str, *, required: bool = False, multi: bool = False, help: str = "",
                 dest: Optional[str] = None, default: Any = None, type: Callable[[str], Any] = str):
        self.name = name
        self.type = type
        self.dest = dest or name.replace("-", "_")
        self.required = required
        self.multi = multi
        self.help = help
        self.default = [] if multi and default is None else default

    def to_json(self) -> Dict[str, Any]:
        return {"argName": self.name, "required": self.required, "multiValued": self.multi,
                "description": self.help}


class Namespace:
    def __init__(self, values: Dict[str, Any]):
        self.__dict__.update(values)

    def __repr__(self) -> str:
        return "Namespace(%r)" % self.__dict__

    def __getattr__(self, name: str) -> Any:  # only for names never set: tells type checkers the rest are dynamic
        raise AttributeError(name)


HELP_OPTION = Option("help", "h", flag=True, help="this help")


def to_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise ValueError(raw)


def parse(options: Sequence[Option], arguments: Sequence[Argument], words: Sequence[str]) -> Namespace:
    """Parse ``words`` (the command's arguments, without its name)."""
    all_options = list(options) + [HELP_OPTION]
    by_name: Dict[str, Option] = {}
    opt: Optional[Option]
    for opt in all_options:
        for name in opt.names():
            by_name[name] = opt
    values: Dict[str, Any] = {opt.dest: (list(opt.default) if opt.multi else opt.default) for opt in all_options}
    positional: List[str] = []
    i = 0
    only_positional = False
    while i < len(words):
        word = words[i]
        i += 1
        if only_positional or not word.startswith("-") or word == "-" or _is_number(word):
            positional.append(word)
            continue
        if word == "--":
            only_positional = True
            continue
        name, eq, inline = word.partition("=")
        opt = by_name.get(name)
        if opt is None and not name.startswith("--") and len(name) > 2:
            i = _parse_short_cluster(name, by_name, values, words, i)
            continue
        if opt is None:
            raise UsageError("Unexpected option '%s'" % name)
        if opt.flag and not eq:
            _store(values, opt, True)
            continue
        if eq:
            raw = inline
        elif i < len(words):
            raw = words[i]
            i += 1
        else:
            raise UsageError("The option '%s' requires a value" % opt.display_name())
        _store(values, opt, opt.convert(raw))
    if values["help"]:
        return Namespace(values)
    _bind_arguments(arguments, positional, values)
    return Namespace(values)


def _parse_short_cluster(name: str, by_name, values, words, i) -> int:
    """``-bef`` is ``-b -e -f`` when every letter is a flag; ``-n5`` is ``-n 5``."""
    first = by_name.get(name[:2])
    if first is not None and not first.flag:
        _store(values, first, first.convert(name[2:]))
        return i
    for letter in name[1:]:
        opt = by_name.get("-" + letter)
        if opt is None or not opt.flag:
            raise UsageError("Unexpected option '%s'" % name)
        _store(values, opt, True)
    return i


def _store(values: Dict[str, Any], opt: Option, value: Any) -> None:
    if opt.multi:
        values[opt.dest].append(value)
    else:
        values[opt.dest] = value


def _is_number(word: str) -> bool:
    try:
        float(word)
        return True
    except ValueError:
        return False


def _bind_arguments(arguments: Sequence[Argument], positional: List[str], values: Dict[str, Any]) -> None:
    remaining = list(positional)
    for arg in arguments:
        if arg.multi:
            values[arg.dest] = remaining
            remaining = []
        elif remaining:
            values[arg.dest] = _convert_argument(arg, remaining.pop(0))
        else:
            values[arg.dest] = arg.default
        if arg.required and (values[arg.dest] in (None, [])):
            # Arthas's CLI (its MissingValueException) adds the argument's summary
            raise UsageError("The argument '%s' is required" % arg.name
                             + (", description: %s" % arg.help if arg.help else ""))
    if remaining:
        raise UsageError("Too many arguments: %s" % " ".join(remaining))


def _convert_argument(arg: Argument, raw: str) -> Any:
    try:
        return arg.type(raw)
    except (TypeError, ValueError):
        raise UsageError("Invalid value '%s' for argument '%s'" % (raw, arg.name)) from None


def usage(name: str, options: Sequence[Option], arguments: Sequence[Argument]) -> str:
    parts = [name]
    for opt in options:
        label = "-" + opt.short if opt.short else "--" + opt.display_name()
        parts.append("[%s%s]" % (label, "" if opt.flag else " <value>"))
    for arg in arguments:
        label = "<%s>%s" % (arg.name, "..." if arg.multi else "")
        parts.append(label if arg.required else "[%s]" % label)
    return " ".join(parts)
