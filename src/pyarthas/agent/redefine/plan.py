"""``redefine``: replace the code of loaded functions with code compiled from new source (hot fix).

``redefine [-c class-or-module] FILE.py...`` compiles each file (nothing in it runs) and, for every
function and method it defines, finds the loaded function of the same qualified name and gives it the
new ``__code__``. The function objects stay the same, so every reference (imports, bound methods,
callbacks, enhancements) runs the new code from its next call; a call already running finishes its old
code. Watches, traces and the like on a redefined function keep working (the engine re-wraps the new
code). ``redefine -l`` lists what was redefined; ``redefine --restore [-c name]`` puts the original code
back.

Which loaded namespace a file maps to: ``-c`` names a module or a class (the file's top-level
definitions go into it; a class of that name at the top of the file is looked through); without ``-c``,
the module whose ``__file__`` is that file, else the one loaded module whose name (or file name) the
file's name matches.

All or nothing: before anything changes every replacement is checked, and any of these refuses the whole
command with a list of reasons: a function or class the loaded module does not have (redefine replaces
code, it does not add), a changed signature, kind (generator, coroutine) or closure (free variables,
including ``super()``'s ``__class__``), a global name the loaded module does not define, a class whose
``__slots__`` or set of attributes grows, a name bound to a builtin or C function. Functions the file
does not define keep their code; default values and decorators belong to the function object and are kept.
Redefinitions stay when the agent stops, as in Arthas (``--restore`` undoes them).
"""
import builtins
import dataclasses
import dis
import inspect
import itertools
import os
import sys
import threading
import time
import types
from typing import Any, ClassVar, Dict, List, Optional, Tuple

from ..command.base import Command, CommandError, register
from ..command.options import Argument, Option
from ..inspect import finder
from ..model import ResultModel, format_time

MAX_FILE_SIZE = 10 * 1024 * 1024
KIND_FLAGS = (inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR
              | inspect.CO_ITERABLE_COROUTINE)
_PARAMETER_FLAGS = inspect.CO_VARARGS | inspect.CO_VARKEYWORDS
_GLOBAL_LOADS = ("LOAD_GLOBAL",)
_SLOTS_BUILDERS = ("BUILD_LIST", "LIST_EXTEND", "LIST_TO_TUPLE", "BUILD_SET", "SET_UPDATE",
                   "CALL_INTRINSIC_1")


@dataclasses.dataclass
class RedefineModel(ResultModel):
    type: ClassVar[str] = "redefine"
    redefinitionCount: Optional[int] = None
    redefinedClasses: Optional[List[str]] = None
    redefinedMethods: Optional[List[Dict[str, Any]]] = None
    redefineEntries: Optional[List[Dict[str, Any]]] = None
    restoredCount: Optional[int] = None
    restoredMethods: Optional[List[Dict[str, Any]]] = None


class Refused(Exception):
    """One reason the redefinition cannot be applied safely."""


# ---- what the new source defines ----

class Definition:
    """A function the new source defines: where (class path inside the namespace), its name and code."""

    def __init__(self, classes: Tuple[str, ...], name: str, code: types.CodeType):
        self.classes = classes
        self.name = name
        self.code = code

    @property
    def qualname(self) -> str:
        return ".".join(self.classes + (self.name,))


class Source:
    """A compiled file: its functions (in source order) and class bodies, found without running it."""

    def __init__(self, path: str, code: types.CodeType):
        self.path = path
        self.functions: List[Definition] = []
        self.class_bodies: Dict[Tuple[str, ...], types.CodeType] = {}
        self._collect(code, ())

    def _collect(self, code: types.CodeType, classes: Tuple[str, ...]) -> None:
        for const in code.co_consts:
            if not isinstance(const, types.CodeType) or _is_synthetic(const.co_name):
                continue
            if const.co_flags & inspect.CO_NEWLOCALS:       # a function (its nested ones come with it)
                self.functions.append(Definition(classes, const.co_name, const))
            else:                                           # a class body
                path = classes + (const.co_name,)
                self.class_bodies[path] = const
                self._collect(const, path)

    def looked_through(self, class_name: str) -> "Source":
        """With ``-c pkg.Cls`` and a file that defines ``class Cls:``: the definitions inside it."""
        if (class_name,) not in self.class_bodies or any(not d.classes for d in self.functions):
            return self
        inner = Source.__new__(Source)
        inner.path = self.path
        inner.functions = [Definition(d.classes[1:], d.name, d.code) for d in self.functions
                           if d.classes[:1] == (class_name,)]
        inner.class_bodies = {path[1:]: body for path, body in self.class_bodies.items()
                              if path[:1] == (class_name,) and len(path) > 1}
        return inner


def _is_synthetic(name: str) -> bool:
    """Comprehensions, lambdas, generic parameter scopes and annotation functions: never replaced alone."""
    return name.startswith("<") or name.startswith("__annotate")


def compile_file(path: str) -> Source:
    if not os.path.isfile(path):
        raise CommandError(-1, "file does not exist, path: %s" % path)
    size = os.path.getsize(path)
    if size >= MAX_FILE_SIZE:
        raise CommandError(-1, "file size: %d >= %d, path: %s" % (size, MAX_FILE_SIZE, path))
    with open(path, "rb") as stream:
        text = stream.read()
    try:
        code = compile(text, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        raise CommandError(-1, "redefine error! %s: %s" % (type(exc).__name__, exc)) from None
    return Source(path, code)


# ---- where it goes ----

def resolve_name(name: str) -> Tuple[str, Any]:
    """The loaded module or class called ``name`` (``pkg.mod``, ``pkg.mod.Cls``, ``__main__``)."""
    owner = finder.resolve(name)
    if not isinstance(owner, (types.ModuleType, type)):
        raise CommandError(-1, "redefine error! no loaded module or class named %s" % name)
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
        raise CommandError(-1, "redefine error! no loaded module matches %s; name it with -c <module-or-class>"
                               % path)
    raise CommandError(-1, "redefine error! several loaded modules match %s (%s); name one with -c"
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


def plan(source: Source, owner_name: str, owner: Any, engine) -> Tuple[List[Change], List[str]]:
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
        if isinstance(value, types.FunctionType) and _running_code(value, engine).co_name == name:
            return value
        wrapped = getattr(value, "__wrapped__", None) if not isinstance(value, type) else None
        if wrapped is value:
            return None
        value = wrapped
    return None


def _running_code(function: types.FunctionType, engine) -> types.CodeType:
    """The code the function runs (under an enhancement, the engine's copy of the original)."""
    return engine.original_code(function) if engine is not None else function.__code__


def _check_function(function: types.FunctionType, qualified: str, new: types.CodeType, engine) -> None:
    old = _running_code(function, engine)
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


# ---- applying, listing, restoring ----

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
            previous = _running_code(change.function, engine)
            install(change.function, change.code, engine)
            done.append((change, previous))
    except Exception as exc:
        for change, previous in reversed(done):
            install(change.function, previous, engine)
        raise CommandError(-1, "redefine error! %s: %s (nothing was changed)" % (type(exc).__name__, exc))
    return [REGISTRY.record(change, previous) for change, previous in done]


@register
class RedefineCommand(Command):
    name = "redefine"
    summary = "Replace the code of loaded functions with code compiled from new source files"
    description = ("Compiles each file (nothing in it runs) and gives every loaded function or method it defines\n"
                   "(same qualified name) the new code; the function objects stay the same. All or nothing: a\n"
                   "change that cannot be applied safely (new functions or attributes, another signature,\n"
                   "closure or __slots__, C functions) refuses the whole command.\n"
                   "Examples:\n"
                   "  redefine /tmp/demo.py                     (the loaded module demo, by file name)\n"
                   "  redefine -c demo.MathGame /tmp/fix.py     (the file's functions are MathGame's methods)\n"
                   "  redefine -l\n"
                   "  redefine --restore [-c demo]")
    options = [
        Option("class", "c", dest="target", help="module or class (qualified name) the files' definitions belong to"),
        Option("list", "l", flag=True, help="list the functions redefined so far"),
        Option("restore", flag=True, help="put back the original code of redefined functions (all, or -c's)"),
    ]
    arguments = [Argument("files", multi=True, help="Python source files (.py)")]

    def run(self, process, args):
        engine = process.agent.engine
        with REGISTRY.lock:
            if args.list:
                entries = sorted(REGISTRY.entries.values(), key=lambda e: e.id)
                process.emit(RedefineModel(redefineEntries=[e.to_json() for e in entries]))
            elif args.restore:
                process.emit(_restore(args.target, engine))
            elif not args.files:
                raise CommandError(-1, "paths is empty.")
            else:
                process.emit(_redefine(args.files, args.target, engine, _unsafe(process)))


def _redefine(files: List[str], target: Optional[str], engine, unsafe: bool) -> RedefineModel:
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
        if not unsafe and _is_agent_module(owner.__name__ if isinstance(owner, types.ModuleType) else owner.__module__):
            raise CommandError(-1, "redefine error! %s is part of pyarthas; run `options unsafe true` to "
                                   "redefine the agent itself" % owner_name)
        file_changes, file_problems = plan(source, owner_name, owner, engine)
        changes.extend(file_changes)
        problems.extend(file_problems)
    seen: Dict[types.FunctionType, str] = {}
    for change in changes:
        if change.function in seen:
            problems.append("%s.%s is defined in both %s and %s" % (change.owner_name, change.name,
                                                                   seen[change.function], change.path))
        seen[change.function] = change.path
    if problems:
        raise CommandError(-1, "redefine error! nothing was changed:\n" + "\n".join("  " + p for p in problems))
    if not changes:
        raise CommandError(-1, "redefine error! the files define no function to redefine")
    entries = apply(changes, engine)
    return RedefineModel(
        redefinitionCount=len(entries),
        redefinedClasses=sorted({e.class_name for e in entries}),
        redefinedMethods=[dict(e.to_json(), lineNumber=c.code.co_firstlineno) for e, c in zip(entries, changes)])


_AGENT_PACKAGE = __name__.rsplit(".", 2)[0]          # the agent's (possibly private) package name


def _is_agent_module(module_name: str) -> bool:
    return module_name == _AGENT_PACKAGE or module_name.startswith(_AGENT_PACKAGE + ".")


def _unsafe(process) -> bool:
    try:
        return bool(process.agent.options.get("unsafe"))
    except Exception:
        return False


def _restore(target: Optional[str], engine) -> RedefineModel:
    restored = []
    for function, entry in sorted(REGISTRY.entries.items(), key=lambda item: item[1].id):
        if target and not (entry.class_name == target or entry.class_name.startswith(target + ".")):
            continue
        install(function, entry.original, engine)
        del REGISTRY.entries[function]
        restored.append(entry.to_json())
    return RedefineModel(restoredCount=len(restored), restoredMethods=restored)
