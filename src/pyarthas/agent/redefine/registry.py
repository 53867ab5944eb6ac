"""Applying a plan (all or nothing), and the registry of what was redefined: what ``-l`` lists and what
``--restore`` puts back."""
import itertools
import threading
import time
import types
from typing import Any, Dict, List, Optional, Tuple

from ..model import format_time
from .plan import Change, running_code
from .source import RedefineError


class Entry:
    """A redefined function: what ``-l`` lists and what ``--restore`` puts back."""

    def __init__(self, entry_id: int, change: Change, original: types.CodeType):
        self.id = entry_id
        self.function = change.function
        self.class_name = change.owner_name
        self.method_name = change.name
        self.original = original
        self.file = change.path
        self.count = 0
        self.time = 0.0

    def to_json(self) -> Dict[str, Any]:
        return {"id": self.id, "className": self.class_name, "methodName": self.method_name, "file": self.file,
                "redefinitionCount": self.count, "time": format_time(self.time)}


class Registry:
    """Every function redefined in this process (module state: it outlives a restarted agent)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: Dict[types.FunctionType, Entry] = {}
        self._ids = itertools.count(1)

    def in_order(self) -> List[Entry]:
        """The entries, oldest first (``-l``)."""
        return sorted(self.entries.values(), key=lambda e: e.id)

    def record(self, change: Change, previous: types.CodeType) -> Entry:
        entry = self.entries.get(change.function)
        if entry is None:
            entry = self.entries[change.function] = Entry(next(self._ids), change, previous)
        entry.file = change.path
        entry.count += 1
        entry.time = time.time()
        return entry


REGISTRY = Registry()


def install(function: types.FunctionType, code: types.CodeType, engine) -> None:
    """Give ``function`` new code, through the engine when it exists (it keeps enhancements on)."""
    if engine is not None:
        engine.replace_original_code(function, code)
    else:
        function.__code__ = code


def apply(changes: List[Change], engine) -> List[Entry]:
    """All or nothing: on a failure half way, the functions already changed get their code back."""
    done: List[Tuple[Change, types.CodeType]] = []
    try:
        for change in changes:
            previous = running_code(change.function, engine)
            install(change.function, change.code, engine)
            done.append((change, previous))
    except Exception as exc:
        for change, previous in reversed(done):
            install(change.function, previous, engine)
        raise RedefineError("redefine error! %s: %s (nothing was changed)" % (type(exc).__name__, exc)) from exc
    return [REGISTRY.record(change, previous) for change, previous in done]


def restore(target: Optional[str], engine, entry_id: Optional[int] = None) -> List[Entry]:
    """Put the original code back into every redefined function (those of ``target`` and its members
    when given, the one entry ``entry_id`` when given), oldest redefinition first; they leave the registry."""
    restored = []
    for function, entry in sorted(REGISTRY.entries.items(), key=lambda item: item[1].id):
        if target and not (entry.class_name == target or entry.class_name.startswith(target + ".")):
            continue
        if entry_id is not None and entry.id != entry_id:
            continue
        install(function, entry.original, engine)
        del REGISTRY.entries[function]
        restored.append(entry)
    return restored
