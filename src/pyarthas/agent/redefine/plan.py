"""Planning a redefinition: where a file's definitions go (a loaded module or class), which loaded
function each one replaces, and every reason it cannot be done safely (checked before anything changes)."""
import builtins
import dis
import inspect
import os
import sys
import types
from typing import Any, Dict, List, Optional, Tuple

from ..inspect import finder
from .source import Definition, RedefineError, Source

KIND_FLAGS = (inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR
              | inspect.CO_ITERABLE_COROUTINE)
_PARAMETER_FLAGS = inspect.CO_VARARGS | inspect.CO_VARKEYWORDS
_GLOBAL_LOADS = ("LOAD_GLOBAL",)
_SLOTS_BUILDERS = ("BUILD_LIST", "LIST_EXTEND", "LIST_TO_TUPLE", "BUILD_SET", "SET_UPDATE",
                   "CALL_INTRINSIC_1")


class Refused(Exception):
    """One reason the redefinition cannot be applied safely."""


# ---- where it goes ----

def resolve_name(name: str) -> Tuple[str, Any]:
    """The loaded module or class called ``name`` (``pkg.mod``, ``pkg.mod.Cls``, ``__main__``)."""
    owner = finder.resolve(name)
    if not isinstance(owner, (types.ModuleType, type)):
        raise RedefineError("redefine error! no loaded module or class named %s" % name)
    return name, owner


def module_for_file(path: str) -> Tuple[str, types.ModuleType]:
    real = os.path.realpath(path)
    stem, base = os.path.splitext(os.path.basename(path))[0], os.path.basename(path)
    same_file, same_name = [], []
    for name, module in list(sys.modules.items()):
        loaded = getattr(module, "__file__", None)
        if not isinstance(module, types.ModuleType) or not isinstance(loaded, str):
            continue
        if os.path.realpath(loaded) == real:
            same_file.append((name, module))
        elif name.rsplit(".", 1)[-1] == stem or os.path.basename(loaded) == base:
            same_name.append((name, module))
    found = same_file or same_name
    if len(found) == 1:
        return found[0]
    if not found:
        raise RedefineError("redefine error! no loaded module matches %s; name it with -c <module-or-class>"
                               % path)
    raise RedefineError("redefine error! several loaded modules match %s (%s); name one with -c"
                           % (path, ", ".join(sorted(name for name, _ in found))))


def _own_class(owner: Any, name: str) -> Optional[type]:
    """``owner``'s class attribute ``name`` when it is a class defined there (not one imported)."""
    value = _namespace(owner).get(name)
    if not isinstance(value, type):
        return None
    home = owner.__name__ if isinstance(owner, types.ModuleType) else owner.__module__
    return value if value.__module__ == home else None


def _namespace(owner: Any) -> Dict[str, Any]:
    try:
        return dict(vars(owner))
    except TypeError:
        return {}


# ---- matching and checking ----

class Change:
    """One function to get new code."""

    def __init__(self, function: types.FunctionType, owner_name: str, name: str, code: types.CodeType, path: str):
        self.function = function
        self.owner_name = owner_name
        self.name = name
        self.code = code
        self.path = path


def plan_changes(source: Source, owner_name: str, owner: Any, engine) -> Tuple[List[Change], List[str]]:
    """The changes a file asks for, and the reasons (if any) it cannot be applied."""
    changes: List[Change] = []
    problems: List[str] = []
    for classes, body in sorted(source.class_bodies.items()):
        try:
            _check_class(owner, owner_name, classes, body)
        except Refused as exc:
            problems.append(str(exc))
    by_slot: Dict[Tuple[Tuple[str, ...], str], List[Definition]] = {}
    for definition in source.functions:
        by_slot.setdefault((definition.classes, definition.name), []).append(definition)
    for (classes, name), definitions in by_slot.items():
        try:
            changes.extend(_match(owner, owner_name, classes, name, definitions, source.path, engine))
        except Refused as exc:
            problems.append(str(exc))
    return changes, problems


def _class_at(owner: Any, owner_name: str, classes: Tuple[str, ...]) -> Tuple[Any, str]:
    for name in classes:
        found = _own_class(owner, name)
        if found is None:
            raise Refused("%s has no class %s (redefine replaces code, it does not add classes)"
                          % (owner_name, name))
        owner, owner_name = found, owner_name + "." + name
    return owner, owner_name


def _check_class(owner: Any, owner_name: str, classes: Tuple[str, ...], body: types.CodeType) -> None:
    cls, cls_name = _class_at(owner, owner_name, classes)
    live = _namespace(cls)
    stored = _stored_names(body)
    functions = {c.co_name for c in body.co_consts if isinstance(c, types.CodeType)}  # reported by _match
    added = sorted(n for n in stored if n not in live and n not in functions
                   and not (n.startswith("__") and n.endswith("__")))
    if added:
        raise Refused("class %s would gain %s: its layout cannot change (only the code of existing "
                      "functions is replaced)" % (cls_name, ", ".join(added)))
    if "__slots__" in stored or "__slots__" in live:
        new_slots = _slots_of(body) if "__slots__" in stored else ()
        if new_slots is None or _normal_slots(live.get("__slots__", ())) != new_slots:
            raise Refused("class %s changes its __slots__ (%s -> %s): its layout cannot change" % (
                cls_name, _normal_slots(live.get("__slots__", ())), "?" if new_slots is None else new_slots))


def _stored_names(body: types.CodeType) -> List[str]:
    return [i.argval for i in dis.get_instructions(body) if i.opname == "STORE_NAME"]


def _slots_of(body: types.CodeType) -> Optional[Tuple[str, ...]]:
    """The constant value ``__slots__`` is set to in a class body, None when it is not a constant."""
    instructions = list(dis.get_instructions(body))
    for index, instruction in enumerate(instructions):
        if instruction.opname == "STORE_NAME" and instruction.argval == "__slots__":
            for previous in reversed(instructions[max(0, index - 4):index]):
                if previous.opname == "LOAD_CONST":
                    return _normal_slots(previous.argval)
                if previous.opname not in _SLOTS_BUILDERS:
                    return None
    return None


def _normal_slots(value: Any) -> Optional[Tuple[str, ...]]:
    if isinstance(value, str):
        return (value,)
    try:
        return tuple(value)
    except TypeError:
        return None


def _match(owner: Any, owner_name: str, classes: Tuple[str, ...], name: str, definitions: List[Definition],
           path: str, engine) -> List[Change]:
    namespace_owner, namespace_name = _class_at(owner, owner_name, classes)
    qualified = "%s.%s" % (namespace_name, name)
    value = _namespace(namespace_owner).get(name)
    if value is None:
        raise Refused("%s does not exist in the running process (redefine replaces code, it does not add "
                      "functions)" % qualified)
    functions = _functions_behind(value, name, engine)
    if not functions:
        if callable(value) and not isinstance(value, type):
            raise Refused("%s is a builtin or C function: its code cannot be replaced" % qualified)
        raise Refused("%s is a %s, not a Python function" % (qualified, type(value).__name__))
    if len(functions) != len(definitions):
        raise Refused("%s is defined %d times in %s but is %d function(s) in the running process" % (
            qualified, len(definitions), path, len(functions)))
    changes = []
    for function, definition in zip(functions, definitions):
        _check_function(function, qualified, definition.code, engine)
        changes.append(Change(function, namespace_name, name, definition.code, path))
    return changes


def _functions_behind(value: Any, name: str, engine) -> List[types.FunctionType]:
    """The Python functions a namespace entry stands for: the function itself, through static/class
    methods, a property's getter/setter/deleter (in that order), and decorators that set ``__wrapped__``."""
    if isinstance(value, (staticmethod, classmethod)):
        value = value.__func__
    if isinstance(value, property):
        return [f for f in (_defined_function(v, name, engine) for v in (value.fget, value.fset, value.fdel))
                if f is not None]
    function = _defined_function(value, name, engine)
    return [function] if function is not None else []


def _defined_function(value: Any, name: str, engine) -> Optional[types.FunctionType]:
    """The function whose own code is called ``name``, looking through decorator wrappers."""
    for _ in range(8):
        if value is None:
            return None
        if isinstance(value, types.FunctionType) and running_code(value, engine).co_name == name:
            return value
        wrapped = getattr(value, "__wrapped__", None) if not isinstance(value, type) else None
        if wrapped is value:
            return None
        value = wrapped
    return None


def running_code(function: types.FunctionType, engine) -> types.CodeType:
    """The code the function runs (under an enhancement, the engine's copy of the original)."""
    return engine.original_code(function) if engine is not None else function.__code__


def _check_function(function: types.FunctionType, qualified: str, new: types.CodeType, engine) -> None:
    old = running_code(function, engine)
    if old.co_flags & KIND_FLAGS != new.co_flags & KIND_FLAGS:
        raise Refused("%s changes kind (%s -> %s)" % (qualified, _kind(old), _kind(new)))
    if _signature(old) != _signature(new):
        raise Refused("%s changes its signature (%s) -> (%s); only the body can be redefined" % (
            qualified, ", ".join(_signature(old)[1]), ", ".join(_signature(new)[1])))
    if old.co_freevars != new.co_freevars:
        raise Refused("%s changes its closure: free variables (%s) -> (%s)%s" % (
            qualified, ", ".join(old.co_freevars), ", ".join(new.co_freevars),
            "; '__class__' comes from calling super() without arguments" if "__class__" in
            old.co_freevars + new.co_freevars else ""))
    missing = sorted(n for n in _global_names(new) if n not in function.__globals__ and not hasattr(builtins, n))
    if missing:
        raise Refused("%s uses %s, not defined in module %s (redefine does not run the file's imports or "
                      "assignments)" % (qualified, ", ".join(missing), function.__module__))


def _kind(code: types.CodeType) -> str:
    flags = code.co_flags
    if flags & inspect.CO_ASYNC_GENERATOR:
        return "async generator"
    if flags & inspect.CO_COROUTINE:
        return "coroutine"
    if flags & inspect.CO_GENERATOR:
        return "generator"
    return "function"


def _signature(code: types.CodeType) -> Tuple[Tuple[int, ...], Tuple[str, ...]]:
    count = code.co_argcount + code.co_kwonlyargcount + bool(code.co_flags & inspect.CO_VARARGS) + bool(
        code.co_flags & inspect.CO_VARKEYWORDS)
    shape = (code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount, code.co_flags & _PARAMETER_FLAGS)
    return shape, tuple(code.co_varnames[:count])


def _global_names(code: types.CodeType) -> set:
    names = {i.argval for i in dis.get_instructions(code) if i.opname in _GLOBAL_LOADS}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names
