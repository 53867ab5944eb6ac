"""Code objects seen by the sampler, numbered, and turned into names only when a profile is written.

The sampler must stay cheap (it holds the GIL), so per frame it only looks up ``id(code)`` in a dict and
keeps a reference to each code object it numbered (which also keeps that id from being reused). Names
are resolved later: ``module.qualname`` from ``co_qualname`` (3.11+) or, before 3.11, by indexing the
module's functions, classes and nested functions once per module.
"""
import collections
import os
import sys
import types
from typing import Dict, List, Optional

Frame = collections.namedtuple("Frame", "name file line")

_MAX_CLASS_DEPTH = 3


class FrameTable:
    """Numbers code objects (the sampler's side) and names them (the writers' side)."""

    def __init__(self) -> None:
        self.index_of_id: Dict[int, int] = {}
        self._codes: List[types.CodeType] = []
        self._modules: List[str] = []
        self._frames: Dict[int, Frame] = {}
        self._module_indexes: Dict[str, Dict[types.CodeType, str]] = {}

    def register(self, code: types.CodeType, module_globals) -> int:
        """Number a code object seen for the first time (called by the sampler)."""
        index = len(self._codes)
        self._codes.append(code)
        module = module_globals.get("__name__") if isinstance(module_globals, dict) else None
        self._modules.append(module if isinstance(module, str) else "")
        self.index_of_id[id(code)] = index
        return index

    def __len__(self) -> int:
        return len(self._codes)

    def frame(self, index: int) -> Frame:
        found = self._frames.get(index)
        if found is None:
            code = self._codes[index]
            name = _label(self._modules[index], self._qualname(code, self._modules[index]))
            found = Frame(name, code.co_filename, code.co_firstlineno)
            self._frames[index] = found
        return found

    def _qualname(self, code: types.CodeType, module: str) -> str:
        qualname = getattr(code, "co_qualname", None)
        if qualname:
            return qualname
        if module not in self._module_indexes:
            self._module_indexes[module] = module_code_index(module)
        return self._module_indexes[module].get(code) or code.co_name


def _label(module: str, qualname: str) -> str:
    return "%s.%s" % (module, qualname) if module else qualname


def module_code_index(module_name: str) -> Dict[types.CodeType, str]:
    """code -> qualname for the functions reachable from a loaded module's namespace (names frames
    before 3.11, and frames that py-spy or tracemalloc describe by file and line)."""
    index: Dict[types.CodeType, str] = {}
    module = sys.modules.get(module_name)
    if module is None:
        return index
    try:
        _index_namespace(getattr(module, "__dict__", {}), module_name, index, _MAX_CLASS_DEPTH)
    except Exception:  # a namespace that changes or misbehaves only costs us nicer names
        pass
    return index


def _index_namespace(namespace, module_name: str, index, depth: int) -> None:
    for value in list(namespace.values()):
        function = _function_of(value)
        if function is not None:
            _index_function(function.__code__, function.__qualname__, index)
        elif depth > 0 and isinstance(value, type) and value.__module__ == module_name:
            _index_namespace(dict(vars(value)), module_name, index, depth - 1)


def _function_of(value) -> Optional[types.FunctionType]:
    if isinstance(value, (staticmethod, classmethod)):
        value = value.__func__
    elif isinstance(value, property):
        value = value.fget
    return value if isinstance(value, types.FunctionType) else None


def _index_function(code: types.CodeType, qualname: str, index) -> None:
    if code in index:
        return
    index[code] = qualname
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _index_function(const, "%s.<locals>.%s" % (qualname, const.co_name), index)


def modules_by_file() -> Dict[str, str]:
    """Source file (as given, real and absolute path) -> name of the loaded module, for engines that
    describe frames by file (py-spy, tracemalloc)."""
    found: Dict[str, str] = {}
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if not isinstance(path, str) or not path.endswith(".py"):
            continue
        # __main__ wins over the same file imported under its own name (as the in-process sampler names it
        # after the frame's globals, a script's functions are __main__'s)
        for key in (path, os.path.realpath(path), os.path.abspath(path)):
            if key not in found or name == "__main__":
                found[key] = name
    return found
