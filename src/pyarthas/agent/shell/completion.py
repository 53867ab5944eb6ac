"""Tab completion rules, shared by the agent's shell and the external console: command names, options,
pipe stages, and class/module/function names where a command's argument names a class or a method.

A catalog answers what exists: ``builtins`` (the client's own commands, ``{name: summary}``),
``commands()`` (``{name: help summary JSON}``), ``command(name)``, ``classes(prefix)`` and
``methods(class_name, prefix)``. ``LocalCatalog`` answers inside the agent, from the command registry and
the live modules; the console's answers over HTTP.
"""
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

from ..command.base import registered
from ..command.help import command_summary
from ..inspect import finder

NAME_LIMIT = 200


class LocalCatalog:
    """The catalog inside the agent (no job, no session: completing must not disturb anything)."""

    builtins = {"quit": "Close this terminal (the agent keeps running)", "exit": "Close this terminal",
                "cls": "Clear the screen", "jobs": "List the jobs of this session",
                "fg": "Bring a background job to the foreground", "bg": "Run a job in the background",
                "kill": "Terminate a job"}

    def __init__(self):
        self._commands: Optional[Dict[str, Dict[str, Any]]] = None

    def commands(self) -> Dict[str, Dict[str, Any]]:
        if self._commands is None:
            self._commands = {name: command_summary(cls) for name, cls in registered().items() if not cls.hidden}
        return self._commands

    def command(self, name: str) -> Dict[str, Any]:
        return self.commands().get(name) or {}

    def classes(self, prefix: str) -> List[str]:
        names = set()
        for found in finder.find_classes(prefix + "*"):
            name = finder.qualified_name(found)
            if name.startswith(prefix):
                names.add(name)
        return sorted(names)[:NAME_LIMIT]

    def methods(self, class_name: str, prefix: str) -> List[str]:
        owner = finder.resolve(class_name)
        if owner is None:
            return []
        return sorted({name for name, _ in finder.functions_of(owner, prefix + "*")})[:NAME_LIMIT]


def split_words(text: str) -> Optional[List[str]]:
    """The words before the cursor (the last one possibly empty); None inside an open quote."""
    words, current, quote = [], "", ""
    for ch in text:
        if quote:
            if ch == quote:
                quote = ""
            current += ch
        elif ch in "'\"":
            quote = ch
            current += ch
        elif ch in " \t":
            if current:
                words.append(current)
            current = ""
        else:
            current += ch
    if quote:
        return None
    return words + [current]


def suggestions(catalog, text: str) -> Iterable[Tuple[str, str, str]]:
    """``(completion, word being replaced, description)`` for ``text`` (the line up to the cursor)."""
    words = split_words(text)
    if not words:
        return []
    current = words[-1]
    if len(words) == 1:
        names = dict(catalog.builtins)
        names.update({name: c.get("summary", "") for name, c in catalog.commands().items()})
        return [(name, current, summary) for name, summary in sorted(names.items()) if name.startswith(current)]
    if "|" in words[:-1]:
        return [(p, current, "") for p in ("grep", "plaintext", "wc") if p.startswith(current)] \
            if words[-2] == "|" else []
    spec = catalog.command(words[0])
    if current.startswith("-"):
        return list(_option_suggestions(spec, current))
    if words[0] == "help":
        return [(n, current, "") for n in sorted(catalog.commands()) if n.startswith(current)]
    positional = _positional(spec, words[1:-1])
    arguments = spec.get("arguments") or []
    name = arguments[len(positional)].get("argName", "") if len(positional) < len(arguments) else ""
    if "class" in name:
        return [(n, current, "") for n in catalog.classes(current)]
    if "method" in name and positional:
        return [(n, current, "") for n in catalog.methods(positional[-1], current)]
    return []


def _option_suggestions(spec: dict, current: str):
    for option in spec.get("options") or []:
        for prefix, key in (("--", "longName"), ("-", "shortName")):
            if option.get(key):
                name = prefix + option[key]
                if name.startswith(current):
                    yield name, current, option.get("description", "")


def _positional(spec: dict, words: List[str]) -> List[str]:
    """The positional arguments among ``words`` (options and their values removed)."""
    takes_value: Set[str] = set()
    for option in spec.get("options") or []:
        if option.get("acceptValue"):
            takes_value.update(n for n in ("-" + str(option.get("shortName")), "--" + str(option.get("longName"))))
    positional, skip = [], False
    for word in words:
        if skip:
            skip = False
        elif word.startswith("-") and len(word) > 1:
            skip = word in takes_value and "=" not in word
        else:
            positional.append(word.strip("'\""))
    return positional
