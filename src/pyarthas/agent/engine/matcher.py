"""Finding functions by Arthas class and method patterns, over the modules already loaded.

A class pattern matches the dotted qualified name of a class (``demo.MathGame``, ``pkg.mod.Outer.Inner``)
or of a module (for module-level functions); a method pattern matches the names a class or module binds
its functions to. Wildcards (``*``, ``?``) by default, full-match regular expressions with ``regex``.
``<init>`` is accepted for ``__init__``. The module running as ``__main__`` (``python -m http.server``,
``python app.py``) is matched under both its names (``__main__``, ``http.server``); results name it
``__main__``, as its objects and frames do.
"""
import functools
import os
import re
import sys
import types
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

_AGENT_PACKAGE = __name__.rsplit(".", 2)[0]          # the agent's (possibly private) package name
_ENGINE_PACKAGE = __name__.rsplit(".", 1)[0]


def name_matcher(pattern: Optional[str], regex: bool = False) -> Callable[[str], bool]:
    """Arthas's wildcard or regex matcher; a blank pattern matches everything. Raises ``re.error``."""
    if pattern is None or pattern == "":
        return lambda name: True
    if regex:
        compiled = re.compile(pattern)
    else:
        compiled = re.compile("".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch)
                                      for ch in pattern), re.DOTALL)
    return lambda name: compiled.fullmatch(name) is not None


def method_matcher(pattern: Optional[str], regex: bool = False) -> Callable[[str], bool]:
    if pattern == "<init>":
        pattern = "__init__"
    return name_matcher(pattern, regex)


def main_alias() -> Optional[str]:
    """The name the ``__main__`` module has when imported: its spec's (``python -m pkg.mod``), else its
    file's stem (``python app.py``) unless a module of that name is loaded too; None without one."""
    main = sys.modules.get("__main__")
    spec_name = getattr(getattr(main, "__spec__", None), "name", None)
    if isinstance(spec_name, str) and spec_name and spec_name != "__main__":
        return spec_name
    path = getattr(main, "__file__", None)
    if isinstance(path, str) and path.endswith(".py"):
        stem = os.path.basename(path)[:-3]
        if stem.isidentifier() and stem not in sys.modules:
            return stem
    return None


def matches_name(match: Callable[[str], bool], name: str) -> bool:
    """``match`` accepts ``name``, or, for ``__main__`` and what it defines, its name when imported."""
    if match(name):
        return True
    if name == "__main__" or name.startswith("__main__."):
        alias = main_alias()
        return alias is not None and match(alias + name[len("__main__"):])
    return False


class Candidate:
    """A function found under a class or module: ``has_self`` when its first parameter is the bound
    instance or class (methods, class methods, property getters)."""

    __slots__ = ("function", "owner", "owner_name", "name", "has_self")

    def __init__(self, function, owner, owner_name: str, name: str, has_self: bool):
        self.function = function
        self.owner = owner
        self.owner_name = owner_name
        self.name = name
        self.has_self = has_self


class Search:
    """The result of matching: candidates grouped by owner, plus what could not be enhanced."""

    def __init__(self) -> None:
        self.owners: Dict[str, Tuple[Any, List[Candidate]]] = {}
        self.not_enhanceable: List[str] = []

    def add_owner(self, owner_name: str, owner: Any) -> List[Candidate]:
        return self.owners.setdefault(owner_name, (owner, []))[1]


def owners(class_match: Callable[[str], bool], exclude: Callable[[str], bool], include_subclasses: bool = True,
           allow_agent: bool = False) -> Iterator[Tuple[str, Any]]:
    """(qualified name, class or module) for every loaded class or module whose name matches."""
    seen = set()
    matched_classes = []
    for module_name, module in list(sys.modules.items()):
        if not isinstance(module, types.ModuleType) or _is_own(module_name, allow_agent):
            continue
        if matches_name(class_match, module_name) and not matches_name(exclude, module_name) and \
                id(module) not in seen:
            seen.add(id(module))
            yield module_name, module
        for qualified, cls in _classes_of(module, module_name):
            if id(cls) in seen:
                continue
            if matches_name(class_match, qualified) and not matches_name(exclude, qualified):
                seen.add(id(cls))
                matched_classes.append(cls)
                yield qualified, cls
    if include_subclasses:
        for cls in matched_classes:
            for sub in _subclasses(cls):
                qualified = class_name(sub)
                if id(sub) not in seen and not matches_name(exclude, qualified) and \
                        not _is_own(sub.__module__, allow_agent):
                    seen.add(id(sub))
                    yield qualified, sub


def _is_own(module_name: str, allow_agent: bool) -> bool:
    if module_name == _ENGINE_PACKAGE or module_name.startswith(_ENGINE_PACKAGE + "."):
        return True
    return not allow_agent and (module_name == _AGENT_PACKAGE or module_name.startswith(_AGENT_PACKAGE + "."))


def class_name(cls: type) -> str:
    module = getattr(cls, "__module__", None) or "builtins"
    return "%s.%s" % (module, getattr(cls, "__qualname__", cls.__name__))


def _classes_of(module: types.ModuleType, module_name: str) -> Iterator[Tuple[str, type]]:
    try:
        namespace = dict(vars(module))
    except TypeError:
        return
    for value in namespace.values():
        if isinstance(value, type) and getattr(value, "__module__", None) == module_name:
            qualname = getattr(value, "__qualname__", "")
            if "<locals>" in qualname or "." in qualname:
                continue
            yield from _nested(value, module_name + "." + qualname, 0)


def _nested(cls: type, qualified: str, depth: int) -> Iterator[Tuple[str, type]]:
    yield qualified, cls
    if depth > 8:
        return
    for name, value in list(vars(cls).items()):
        if isinstance(value, type) and getattr(value, "__qualname__", "") == cls.__qualname__ + "." + name:
            yield from _nested(value, qualified + "." + name, depth + 1)


def _subclasses(cls: type) -> Iterator[type]:
    try:
        direct: List[type] = type.__subclasses__(cls)
    except TypeError:
        return
    for sub in direct:
        yield sub
        yield from _subclasses(sub)


def functions_of(owner: Any, owner_name: str, method_match: Callable[[str], bool], search: Search) -> List[Candidate]:
    """Enhanceable functions that ``owner`` (a class or module) defines under a matching name."""
    found: List[Candidate] = []
    is_module = isinstance(owner, types.ModuleType)
    try:
        namespace = dict(vars(owner))
    except TypeError:
        return found
    for name, value in namespace.items():
        if not isinstance(name, str) or not method_match(name):
            continue
        function, has_self = _unwrap(value, is_module)
        if function is None:
            if _is_routine(value) and (not is_module or _defined_in(value, owner_name)):
                search.not_enhanceable.append("%s.%s" % (owner_name, name))
            continue
        if is_module and not _defined_in(function, owner_name):
            continue       # imported from elsewhere: enhanced where it is defined
        found.append(Candidate(function, owner, owner_name, name, has_self))
    return found


def _unwrap(value: Any, is_module: bool) -> Tuple[Optional[types.FunctionType], bool]:
    """The Python function behind a namespace entry, and whether it receives self/cls first."""
    if isinstance(value, staticmethod):
        return _python_function(value.__func__), False
    if isinstance(value, classmethod):
        return _python_function(value.__func__), True
    if isinstance(value, property):
        return _python_function(value.fget), True
    if isinstance(value, functools.cached_property):
        return _python_function(value.func), True
    function = _python_function(value)
    return function, (function is not None and not is_module)


def _python_function(value: Any) -> Optional[types.FunctionType]:
    """A plain Python function, looking through ``__wrapped__`` of C wrappers such as ``lru_cache``."""
    for _ in range(8):
        if isinstance(value, types.FunctionType):
            return value
        wrapped = getattr(value, "__wrapped__", None) if not isinstance(value, type) else None
        if wrapped is None or wrapped is value:
            return None
        value = wrapped
    return None


def _is_routine(value: Any) -> bool:
    return isinstance(value, (types.BuiltinFunctionType, types.MethodDescriptorType,
                              types.WrapperDescriptorType, types.ClassMethodDescriptorType))


def _defined_in(function: Any, module_name: str) -> bool:
    return getattr(function, "__module__", None) == module_name
