"""Python's import system seen as Arthas sees class loaders (``classloader``, and the loader that ``sc``,
``jad`` and ``dump`` name).

Java's class loader has two Python counterparts: the finders on ``sys.meta_path`` (``BuiltinImporter``,
``FrozenImporter``, ``PathFinder`` and any custom finder) and, under ``PathFinder``, one path-entry finder
per ``sys.path`` entry (``FileFinder('/usr/lib/python3.12')``, a ``zipimporter``), which is what a
``URLClassLoader`` with one URL is. A module's loader is the path-entry finder of the ``sys.path`` entry
its file lies under (its parent: ``PathFinder``), else the meta-path finder or loader that made it.

A loader's ``hash`` (Arthas's identity hash code) is the CRC-32 of its name in hex: the same loader gets
the same hash in every command and every call, which ``id()`` cannot promise for path-entry finders that
``sys.path_importer_cache`` may drop and make again. Nothing here imports or runs target code.
"""
import json
import os
import sys
import types
import zlib
from typing import Any, Dict, List, Optional

PATH_FINDER = "PathFinder"
NO_LOADER = "<no loader>"


class Loader:
    """One loader as ``classloader`` lists it: Arthas's ClassLoaderVO plus the modules it loaded and, for
    path-based loaders, the ``sys.path`` entries it reads (Arthas's URLs)."""

    def __init__(self, name: str, kind: str, parent: Optional[str] = None, urls: Optional[List[str]] = None):
        self.name = name
        self.kind = kind
        self.parent = parent
        self.urls = urls
        self.modules: List[str] = []

    @property
    def hash(self) -> str:
        return loader_hash(self.name)

    def vo(self, with_count: bool = True) -> Dict[str, Any]:
        """Arthas's ClassLoaderVO."""
        out: Dict[str, Any] = {"name": self.name, "hash": self.hash}
        if self.parent is not None:
            out["parent"] = self.parent
        if with_count:
            out["loadedCount"] = len(self.modules)
        return out


def loader_hash(name: str) -> str:
    return "%08x" % (zlib.crc32(name.encode("utf-8", "replace")) & 0xFFFFFFFF)


def _kind(obj: Any) -> str:
    cls = obj if isinstance(obj, type) else type(obj)
    return getattr(cls, "__name__", "?")


def path_entries() -> List[str]:
    """``sys.path`` as absolute paths (``''`` is the working directory), in order, each once."""
    seen: Dict[str, None] = {}
    for entry in list(sys.path):
        if isinstance(entry, str):
            seen.setdefault(os.path.abspath(entry or os.curdir), None)
    return list(seen)


def _entry_under(location: str, entries: List[str]) -> Optional[str]:
    """The longest ``sys.path`` entry that ``location`` lies under."""
    best = None
    for entry in entries:
        if (location == entry or location.startswith(entry.rstrip(os.sep) + os.sep)) and \
                (best is None or len(entry) > len(best)):
            best = entry
    return best


def _location(module: types.ModuleType) -> Optional[str]:
    spec = getattr(module, "__spec__", None)
    origin = getattr(spec, "origin", None) if getattr(spec, "has_location", False) else None
    location = origin or getattr(module, "__file__", None)
    if not location:
        path = getattr(module, "__path__", None)        # a namespace package: its first portion
        try:
            location = next(iter(path)) if path is not None else None
        except (TypeError, StopIteration):
            location = None
    return os.path.abspath(location) if isinstance(location, str) else None


def _path_entry_finder_kind(entry: str) -> str:
    finder = sys.path_importer_cache.get(entry)
    if finder is None:
        return "zipimporter" if os.path.isfile(entry) else "FileFinder"
    return _kind(finder)


def _identify(module: types.ModuleType, entries: List[str]) -> Loader:
    """The loader of ``module`` (a fresh ``Loader``, not yet holding the module)."""
    spec = getattr(module, "__spec__", None)
    loader = getattr(spec, "loader", None) or getattr(module, "__loader__", None)
    kind = _kind(loader) if loader is not None else ""
    if kind in ("BuiltinImporter", "FrozenImporter"):
        return Loader(kind, kind)
    location = _location(module)
    if location is not None:
        entry = _entry_under(location, entries)
        if entry is not None:
            finder_kind = _path_entry_finder_kind(entry)
            return Loader("%s('%s')" % (finder_kind, entry), finder_kind, PATH_FINDER, [entry])
        if loader is not None:
            directory = os.path.dirname(location)
            return Loader("%s('%s')" % (kind, directory), kind, None, [directory])
    if loader is None:
        return Loader(NO_LOADER, NO_LOADER)
    return Loader(kind, kind)


def loader_chain(obj: Any) -> List[Loader]:
    """The loader of the module defining ``obj`` (a class, function or module) and its parents."""
    module = obj if isinstance(obj, types.ModuleType) else sys.modules.get(getattr(obj, "__module__", "") or "")
    if not isinstance(module, types.ModuleType):
        return []
    loader = _identify(module, path_entries())
    chain = [loader]
    if loader.parent is not None:
        chain.append(Loader(loader.parent, loader.parent))
    return chain


def _meta_path_finders(entries: List[str]) -> List[Loader]:
    finders = []
    for finder in list(sys.meta_path):
        kind = _kind(finder)
        name = kind if isinstance(finder, type) or kind in ("BuiltinImporter", "FrozenImporter", PATH_FINDER) \
            else "%s@%x" % (kind, id(finder))
        finders.append(Loader(name, kind, None, list(entries) if kind == PATH_FINDER else None))
    return finders


def all_loaders() -> List[Loader]:
    """Every loader: the meta-path finders first (in ``sys.meta_path`` order), then every loader that
    loaded a module, each holding the names of its modules."""
    entries = path_entries()
    by_name: Dict[str, Loader] = {}
    for finder in _meta_path_finders(entries):
        by_name.setdefault(finder.name, finder)
    for name, module in sorted(dict(sys.modules).items(), key=lambda item: str(item[0])):
        if not isinstance(module, types.ModuleType):
            continue
        loader = _identify(module, entries)
        by_name.setdefault(loader.name, loader).modules.append(name)
    return list(by_name.values())


def find_loader(hash_or_name: str) -> Optional[Loader]:
    """The loader whose hash (or name, or kind when only one loader has it) is ``hash_or_name``."""
    loaders = all_loaders()
    for loader in loaders:
        if hash_or_name in (loader.hash, loader.name):
            return loader
    return None


def loaders_of_kind(kind: str) -> List[Loader]:
    """Arthas's ``--classLoaderClass``: the loaders whose class name (short or qualified) is ``kind``."""
    short = kind.rsplit(".", 1)[-1]
    return [loader for loader in all_loaders() if loader.kind == short]


def tree(loaders: List[Loader]) -> List[Dict[str, Any]]:
    """Arthas's ``classloader -t``: ClassLoaderVOs with ``children``, roots first."""
    vos = {loader.name: loader.vo() for loader in loaders}
    roots = []
    for loader in loaders:
        vo = vos[loader.name]
        parent = vos.get(loader.parent) if loader.parent else None
        if parent is None:
            roots.append(vo)
        else:
            parent.setdefault("children", []).append(vo)
    return roots


def url_stats(loaders: List[Loader]) -> Dict[str, Dict[str, List[str]]]:
    """Arthas's ``--url-stat``: for ``PathFinder``, the ``sys.path`` entries some loaded module came from
    (``usedUrls``) and those none did (``unUsedUrls``). The key is the loader's ClassLoaderVO as JSON text,
    as Arthas's map (keyed by the VO itself) comes out of fastjson2."""
    used = {url for loader in loaders if loader.parent == PATH_FINDER and loader.modules for url in loader.urls or ()}
    entries = path_entries()
    path_finder = next((loader for loader in loaders if loader.name == PATH_FINDER), None)
    key = json.dumps(path_finder.vo(with_count=False) if path_finder else {"name": PATH_FINDER},
                     sort_keys=True, separators=(",", ":"))
    return {key: {"usedUrls": [e for e in entries if e in used],
                  "unUsedUrls": [e for e in entries if e not in used]}}


def loaded_by(obj: Any, hash_code: Optional[str] = None, loader_class: Optional[str] = None,
              loader_name: Optional[str] = None) -> bool:
    """Arthas's ``-c HASH`` / ``--classLoaderClass`` / ``-cs``: whether the loader of ``obj`` is the one
    named (every one given must hold; True when none is given)."""
    if not (hash_code or loader_class or loader_name):
        return True
    chain = loader_chain(obj)
    if not chain:
        return False
    loader = chain[0]
    return (not hash_code or loader.hash == hash_code) and \
        (not loader_class or loader.kind == loader_class.rsplit(".", 1)[-1]) and \
        (not loader_name or loader.name == loader_name)
