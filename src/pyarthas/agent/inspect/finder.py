"""Classes, modules and functions of the running process, found by pattern (``sc``, ``sm``, ``jad``,
``vmtool``), and described the way Arthas describes classes and methods.

Patterns follow pyarthas's rule: a class pattern matches the dotted qualified name of a class
(``demo.MathGame``, ``pkg.mod.Outer.Inner``) or of a module; ``*`` is a wildcard, or a regular expression
with ``regex=True``. Method patterns match function names; ``<init>`` stands for ``__init__``.

Every class is reached by walking ``object.__subclasses__()`` (cheap, and it sees classes defined inside
functions too); modules come from ``sys.modules``. Nothing here runs target code: attributes are read
from ``__dict__`` and descriptors are unwrapped, never called.
"""
import inspect
import sys
import types
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from ..engine.matcher import matches_name, method_matcher
from . import importsys


def matcher(pattern: str, regex: bool = False) -> Callable[[str], bool]:
    """A predicate on names for an Arthas pattern: the engine's matcher, so that ``sc``/``sm`` find
    exactly what ``watch`` and ``trace`` would (``<init>`` stands for ``__init__``)."""
    return method_matcher(pattern, regex)


def qualified_name(obj: Any) -> str:
    """``module.qualname`` of a class or function; a module's own name."""
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    module = getattr(obj, "__module__", None) or "builtins"
    return "%s.%s" % (module, getattr(obj, "__qualname__", None) or getattr(obj, "__name__", "?"))


def with_subclasses(roots: List[type]) -> List[type]:
    """``roots`` and every class derived from them (each once), by walking ``__subclasses__``."""
    seen = set()
    found = []
    stack = list(roots)
    while stack:
        cls = stack.pop()
        if id(cls) in seen:
            continue
        seen.add(id(cls))
        found.append(cls)
        try:
            stack.extend(type.__subclasses__(cls))
        except TypeError:
            continue
    return found


def all_classes() -> List[type]:
    """Every class alive in the process (cheap, and it sees classes defined inside functions too)."""
    return with_subclasses([object])


def all_modules() -> List[types.ModuleType]:
    return [m for m in list(sys.modules.values()) if isinstance(m, types.ModuleType)]


def find_classes(pattern: str, regex: bool = False, modules: bool = True) -> List[Any]:
    """Classes (and modules, unless ``modules=False``) whose qualified name matches, sorted by name."""
    match = matcher(pattern, regex)
    found: Dict[str, Any] = {}
    for cls in all_classes():
        name = qualified_name(cls)
        if matches_name(match, name):
            found.setdefault(name, cls)
    if modules:
        for module in all_modules():
            if matches_name(match, module.__name__):
                found.setdefault(module.__name__, module)
    return [found[name] for name in sorted(found)]


# ---------------------------------------------------------------- members


def members(owner: Any) -> Iterator[Tuple[str, Any]]:
    """``(name, raw value)`` of what a class or module defines itself (its ``__dict__``)."""
    try:
        namespace = dict(vars(owner))
    except TypeError:
        return iter(())
    return iter(namespace.items())


def unwrap(member: Any) -> Any:
    """The function behind staticmethod, classmethod, property (getter), partialmethod, lru_cache."""
    for attr in ("__func__", "fget"):
        inner = getattr(member, attr, None) if not isinstance(member, type) else None
        if inner is not None:
            member = inner
    wrapped = getattr(member, "__wrapped__", None)
    if isinstance(wrapped, (types.FunctionType, types.MethodType)):
        return wrapped
    return member


_CALLABLE_MEMBER_TYPES = (types.FunctionType, types.BuiltinFunctionType, types.MethodDescriptorType,
                          types.ClassMethodDescriptorType, types.WrapperDescriptorType, staticmethod,
                          classmethod, property)


def is_function_member(owner: Any, name: str, value: Any) -> bool:
    if isinstance(owner, types.ModuleType):
        if isinstance(value, types.FunctionType):
            return getattr(value, "__module__", None) == owner.__name__
        return isinstance(value, types.BuiltinFunctionType) and getattr(value, "__module__", None) in (
            owner.__name__, None)
    if isinstance(value, _CALLABLE_MEMBER_TYPES):
        return True
    # functools wrappers (lru_cache, wraps): found without running any __getattr__ of the target's
    return not isinstance(value, type) and inspect.getattr_static(value, "__wrapped__", None) is not None


def is_generated_annotate(value: Any) -> bool:
    """The ``__annotate__`` function CPython 3.14 compiles for annotated modules and classes (PEP 649/749;
    a class keeps it as ``__annotate_func__``): the compiler's, not the program's."""
    return isinstance(value, types.FunctionType) and value.__name__ == "__annotate__"


def functions_of(owner: Any, pattern: str = "*", regex: bool = False) -> List[Tuple[str, Any]]:
    """The functions and methods ``owner`` defines whose name matches, sorted by source line then name."""
    match = matcher(pattern, regex)
    found = [(name, value) for name, value in members(owner)
             if is_function_member(owner, name, value) and not is_generated_annotate(value) and match(name)]
    return sorted(found, key=lambda item: (_first_line(unwrap(item[1])), item[0]))


def _first_line(function: Any) -> int:
    code = getattr(function, "__code__", None)
    return code.co_firstlineno if code is not None else 1 << 30


def function_kinds(value: Any) -> List[str]:
    """What a member is: ``staticmethod``, ``classmethod``, ``property``, ``coroutine``, ``generator``,
    ``async generator``, ``builtin`` (defined in C), else ``method``/``function``."""
    kinds = []
    if isinstance(value, staticmethod):
        kinds.append("staticmethod")
    elif isinstance(value, classmethod):
        kinds.append("classmethod")
    elif isinstance(value, property):
        kinds.append("property")
    function = unwrap(value)
    if inspect.iscoroutinefunction(function):
        kinds.append("coroutine")
    elif inspect.isasyncgenfunction(function):
        kinds.append("async generator")
    elif inspect.isgeneratorfunction(function):
        kinds.append("generator")
    if not isinstance(function, types.FunctionType):
        kinds.append("builtin")
    return kinds


def signature_text(function: Any) -> str:
    try:
        return str(inspect.signature(function))
    except (TypeError, ValueError):
        text = getattr(function, "__text_signature__", None)
        return text.replace("$", "") if text else "(...)"


def decorators(obj: Any) -> List[str]:
    """Decorator lines written above a class or function's definition (from its source; [] without).
    Depending on the version, the definition's first line is its first decorator or its ``def`` line, so
    look both ways."""
    code = getattr(unwrap(obj), "__code__", None)
    try:
        lines, start = inspect.findsource(obj if code is None else code)
    except (OSError, TypeError, IndexError):
        return []

    def is_decorator(index: int) -> bool:
        return 0 <= index < len(lines) and lines[index].lstrip().startswith("@")

    first = start
    while is_decorator(first - 1):
        first -= 1
    last = start
    while is_decorator(last):
        last += 1
    return [lines[index].strip() for index in range(first, last)]


def own_annotations(cls: type) -> dict:
    """The annotations a class declares itself (3.14 evaluates them lazily: ask for forward references
    rather than evaluating names that may not resolve)."""
    try:
        import annotationlib  # type: ignore[import-not-found]  # 3.14+ (mypy checks against 3.10)
    except ImportError:
        annotations = vars(cls).get("__annotations__")
        return dict(annotations) if isinstance(annotations, dict) else {}
    try:
        return dict(annotationlib.get_annotations(cls, format=annotationlib.Format.FORWARDREF))
    except Exception:
        return {}


def source_file(obj: Any) -> Optional[str]:
    try:
        return inspect.getsourcefile(obj) or inspect.getfile(obj)
    except (TypeError, OSError):
        return getattr(sys.modules.get(getattr(obj, "__module__", "") or ""), "__file__", None)


def is_defined_in_c(obj: Any) -> bool:
    if isinstance(obj, types.ModuleType):
        return not getattr(obj, "__file__", None) or not str(obj.__file__).endswith((".py", ".pyc"))
    if isinstance(obj, type):
        if not obj.__flags__ & (1 << 9):  # not Py_TPFLAGS_HEAPTYPE: a static C type
            return True
        # heap types come from class statements, or from C extensions (PyType_FromSpec, 3.10+ stdlib)
        if any(isinstance(unwrap(v), types.FunctionType) for v in list(vars(obj).values())):
            return False
        return is_defined_in_c(sys.modules.get(obj.__module__)) if obj.__module__ in sys.modules else True
    return not isinstance(unwrap(obj), types.FunctionType)


def loader_of(obj: Any) -> Tuple[List[str], Optional[str]]:
    """Python's counterpart of Arthas's class loader chain and loader hash: the path-entry finder (or
    meta-path finder) that loaded the defining module, then its parent, as ``classloader`` lists them."""
    chain = importsys.loader_chain(obj)
    if not chain:
        return [], None
    return [loader.name for loader in chain], chain[0].hash


def resolve(dotted: str) -> Optional[Any]:
    """The object a dotted path names (``demo.MathGame.primeFactors``, ``json.decoder``), found through
    loaded modules only (nothing is imported), or None."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        module = sys.modules.get(".".join(parts[:cut]))
        if module is None:
            continue
        obj: Any = module
        for name in parts[cut:]:
            try:
                obj = vars(obj).get(name, _MISSING)
            except TypeError:
                obj = _MISSING
            if obj is _MISSING:
                break
        else:
            return obj
    return None


_MISSING = object()
