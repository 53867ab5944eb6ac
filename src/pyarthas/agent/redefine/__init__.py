"""``redefine``'s mechanism: replace the code of loaded functions with code compiled from new source.

The function objects stay the same, so every reference (imports, bound methods, callbacks, enhancements)
runs the new code from its next call; a call already running finishes its old code. Through the engine
(``Engine.replace_original_code``), a watched or traced function stays enhanced around its new code.

- ``source``: compile a file (nothing in it runs) and list what it defines;
- ``plan``: where the definitions go (``-c`` module or class, else the module of that file), which loaded
  function each replaces, and the checks: all or nothing, any of these refuses the whole redefinition with
  its reasons: a function or class the loaded module does not have (redefine replaces code, it does not
  add), a changed signature, kind (generator, coroutine) or closure (free variables, including
  ``super()``'s ``__class__``), a global name the loaded module does not define, a class whose
  ``__slots__`` or set of attributes grows, a name bound to a builtin or C function;
- ``registry``: apply (undone on a failure half way), the redefined functions (``-l``), ``--restore``.

Functions a file does not define keep their code; default values and decorators belong to the function
object and are kept. Redefinitions outlive a stopped agent, as in Arthas (``--restore`` undoes them).
Refusals are ``RedefineError``.
"""
import os
import types
from typing import Dict, List, Optional, Tuple

from .plan import Change, module_for_file, plan_changes, resolve_name
from .registry import REGISTRY, Entry, apply, restore
from .source import RedefineError, compile_file

__all__ = ["REGISTRY", "Entry", "RedefineError", "redefine", "restore"]

_AGENT_PACKAGE = __name__.rsplit(".", 1)[0]          # the agent's (possibly private) package name


def redefine(files: List[str], target: Optional[str], engine, allow_agent: bool) -> List[Tuple[Entry, Change]]:
    """Give the loaded functions the files define their new code; the registry entry and the change of
    each. ``target``: the module or class (qualified name) the files' definitions belong to.
    ``allow_agent``: the agent's own modules may be redefined (``options unsafe true``)."""
    changes: List[Change] = []
    problems: List[str] = []
    for path in (os.path.abspath(f) for f in files):
        source = compile_file(path)
        if target:
            owner_name, owner = resolve_name(target)
            if isinstance(owner, type):
                source = source.looked_through(owner.__name__)
        else:
            owner_name, owner = module_for_file(path)
        if not allow_agent and _is_agent_module(owner.__name__ if isinstance(owner, types.ModuleType)
                                                else owner.__module__):
            raise RedefineError("redefine error! %s is part of pyarthas; run `options unsafe true` to "
                                "redefine the agent itself" % owner_name)
        file_changes, file_problems = plan_changes(source, owner_name, owner, engine)
        changes.extend(file_changes)
        problems.extend(file_problems)
    seen: Dict[types.FunctionType, str] = {}
    for change in changes:
        if change.function in seen:
            problems.append("%s.%s is defined in both %s and %s" % (change.owner_name, change.name,
                                                                   seen[change.function], change.path))
        seen[change.function] = change.path
    if problems:
        raise RedefineError("redefine error! nothing was changed:\n" + "\n".join("  " + p for p in problems))
    if not changes:
        raise RedefineError("redefine error! the files define no function to redefine")
    return list(zip(apply(changes, engine), changes))


def _is_agent_module(module_name: str) -> bool:
    return module_name == _AGENT_PACKAGE or module_name.startswith(_AGENT_PACKAGE + ".")
