"""classloader: Python's import system as Arthas shows class loaders (``inspect/importsys.py`` says what a
loader is in Python: a meta-path finder, or the path-entry finder of one ``sys.path`` entry).

Arthas's flags keep their meaning: no flag gives statistics by loader class; ``-l`` lists the loaders and
``-t`` draws them as a tree; ``-c HASH`` (or ``--classLoaderClass``) shows a loader's URLs (its
``sys.path`` entries), with ``-r`` the files it would find for a resource, with ``--load`` imports a module
or class through the import system; ``-a`` lists what each loader loaded; ``-u/--url-stat`` the
``sys.path`` entries used and unused; ``--url-classes`` what a loader loaded, by entry.
"""
import dataclasses
import importlib
import os
from typing import Any, ClassVar, Dict, List, Optional

from ..command.base import Command, CommandError, register
from ..command.options import Option
from ..inspect import finder, importsys
from ..model import MessageModel, ResultModel, RowAffectModel
from .sc import PAGE_SIZE, class_detail

DEFAULT_URL_CLASSES_LIMIT = 100


@dataclasses.dataclass
class ClassLoaderModel(ResultModel):
    type: ClassVar[str] = "classloader"
    classSet: Optional[Dict[str, Any]] = None
    resources: Optional[List[str]] = None
    loadClass: Optional[Dict[str, Any]] = None
    urls: Optional[List[str]] = None
    classLoaders: Optional[List[Dict[str, Any]]] = None
    tree: Optional[bool] = None
    classLoaderStats: Optional[Dict[str, Dict[str, int]]] = None
    matchedClassLoaders: Optional[List[Dict[str, Any]]] = None
    classLoaderClass: Optional[str] = None
    urlStats: Optional[Dict[str, Dict[str, List[str]]]] = None
    classLoader: Optional[Dict[str, Any]] = None
    urlClassStats: Optional[List[Dict[str, Any]]] = None
    urlClassStatsDetail: Optional[bool] = None


def loader_options(hash_long_name: str) -> List[Option]:
    """Arthas's ``-c HASH`` (its long name differs by command) and ``--classLoaderClass``, as ``select_loader``
    reads them."""
    return [Option(hash_long_name, "c", dest="hash_code", help="The loader's hash, as classloader -l shows it"),
            Option("classLoaderClass", help="The loader's class name (FileFinder, BuiltinImporter...)")]


def select_loader(process, hash_code: Optional[str], loader_class: Optional[str], model_type=None):
    """Arthas's ``-c HASH`` / ``--classLoaderClass NAME``: the one loader meant (None when neither is given);
    several of that class: their list (on ``model_type``) and status -1, as Arthas."""
    if hash_code:
        loader = importsys.find_loader(hash_code)
        if loader is None:
            raise CommandError(-1, "Can not find classloader with hashCode: %s." % hash_code)
        return loader
    if not loader_class:
        return None
    matched = importsys.loaders_of_kind(loader_class)
    if len(matched) > 1:
        make = model_type or ClassLoaderModel
        process.emit(make(classLoaderClass=loader_class, matchedClassLoaders=[m.vo(False) for m in matched]))
        raise CommandError(-1, "Found more than one classloader by class name, please specify classloader with "
                               "'-c <classloader hash>'")
    if not matched:
        raise CommandError(-1, "Can not find classloader by class name: %s." % loader_class)
    return matched[0]


@register
class ClassLoaderCommand(Command):
    name = "classloader"
    summary = "Show Python's import system as class loaders: meta-path finders and sys.path entries"
    description = ("A loader is a sys.meta_path finder (BuiltinImporter, FrozenImporter, PathFinder, custom "
                   "finders) or, under PathFinder, the finder of one sys.path entry; its hash is what sc and "
                   "jad show as classLoaderHash. Examples: classloader; classloader -l; classloader -t; "
                   "classloader --url-stat; classloader -c HASH; classloader -c HASH -r demo.py; "
                   "classloader -a -c HASH; classloader --classLoaderClass BuiltinImporter --load json")
    options = [
        Option("tree", "t", flag=True, help="Display the loaders as a tree (meta-path finders at the root)"),
        Option("classLoaderClass", help="The loader's class name (FileFinder, BuiltinImporter...)"),
        Option("classloader", "c", dest="hash_code", help="The loader's hash, as -l and sc -d show it"),
        Option("all", "a", flag=True, help="Display the modules each loader loaded"),
        Option("resource", "r", help="The files the loader's sys.path entries hold under this name"),
        Option("include-reflection-classloader", "i", dest="include_reflection", flag=True,
               help="accepted for Arthas compatibility (Python has no reflection loaders)"),
        Option("list-classloader", "l", dest="list_loaders", flag=True, help="Display every loader"),
        Option("load", help="Import this module (or module.Class) through the import system"),
        Option("url-stat", "u", dest="url_stat", flag=True, help="The sys.path entries used and unused"),
        Option("url-classes", dest="url_classes", flag=True, help="What the loader loaded, by sys.path entry"),
        Option("details", "d", flag=True, help="with --url-classes: list the modules"),
        Option("regex", "E", flag=True, help="with --url-classes: --jar/--class are regular expressions"),
        Option("limit", "n", type=int, default=DEFAULT_URL_CLASSES_LIMIT,
               help="with --url-classes -d: the most modules per entry (default 100)"),
        Option("jar", help="with --url-classes: only entries matching this pattern"),
        Option("class", dest="class_filter", help="with --url-classes: only modules matching this pattern"),
    ]

    def run(self, process, args):
        if args.url_stat:
            process.emit(ClassLoaderModel(urlStats=importsys.url_stats(importsys.all_loaders())))
            return
        if not args.url_classes and (args.details or args.regex or args.jar or args.class_filter
                                     or args.limit != DEFAULT_URL_CLASSES_LIMIT):
            raise CommandError(-1, "Options -d/-E/-n/--jar/--class only work with --url-classes.")
        specified = bool(args.hash_code or args.classLoaderClass)
        target = _target(process, args)
        if args.url_classes:
            if not specified:
                raise CommandError(-1, "Please specify classloader with '-c <classloader hash>' or "
                                       "'--classLoaderClass <classloader class name>' for --url-classes.")
            _url_classes(process, args, target)
        elif args.all:
            _all_modules(process, target)
        elif specified and args.resource is not None:
            _resources(process, target, args.resource)
        elif specified and args.load is not None:
            _load(process, target, args.load)
        elif specified:
            _urls(process, target)
        elif args.list_loaders or args.tree:
            loaders = importsys.all_loaders()
            vos = importsys.tree(loaders) if args.tree else [loader.vo() for loader in loaders]
            process.emit(ClassLoaderModel(classLoaders=vos, tree=bool(args.tree)))
            process.emit(RowAffectModel(rowCount=len(loaders)))
        else:
            _stats(process)


def _target(process, args) -> Optional[importsys.Loader]:
    try:
        return select_loader(process, args.hash_code, args.classLoaderClass)
    except CommandError:
        if args.hash_code:      # Arthas: an unknown hash selects nothing, what follows shows nothing
            return None
        raise


def _stats(process) -> None:
    stats: Dict[str, Dict[str, int]] = {}
    for loader in importsys.all_loaders():
        stat = stats.setdefault(loader.kind, {"loadedCount": 0, "numberOfInstance": 0})
        stat["loadedCount"] += len(loader.modules)
        stat["numberOfInstance"] += 1
    ordered = dict(sorted(stats.items(), key=lambda item: (-item[1]["loadedCount"], item[0])))
    process.emit(ClassLoaderModel(classLoaderStats=ordered))
    process.emit(RowAffectModel(rowCount=len(ordered)))


def _urls(process, target) -> None:
    count = 0
    if target is not None:
        if target.urls is None:
            process.emit(MessageModel(message="not a path-based loader: %s reads no sys.path entry." % target.name))
        elif not target.urls:
            process.emit(MessageModel(message="urls is empty."))
        else:
            process.emit(ClassLoaderModel(urls=list(target.urls)))
            count = len(target.urls)
    process.emit(RowAffectModel(rowCount=count))


def _resources(process, target, resource: str) -> None:
    found = []
    if target is not None:
        relative = resource.lstrip("/")
        found = [os.path.join(url, relative) for url in target.urls or ()
                 if os.path.exists(os.path.join(url, relative))]
    process.emit(ClassLoaderModel(resources=found))
    process.emit(RowAffectModel(rowCount=len(found)))


def _load(process, target, name: str) -> None:
    if target is None:
        return
    try:
        loaded = _import(name)
    except Exception as exc:
        raise CommandError(-1, "load class error, class: %s, error: %s: %s" % (name, type(exc).__name__, exc)) from None
    process.emit(MessageModel(message="load class success."))
    size_limit = process.agent.options.get("object-size-limit")
    process.emit(ClassLoaderModel(loadClass=class_detail(loaded, False, 0, size_limit)))


def _import(name: str) -> Any:
    """The module ``name``, else the attribute of the longest importable module prefix."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            owner: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            if cut == 1:
                raise
            continue
        for attribute in parts[cut:]:
            owner = getattr(owner, attribute)
        return owner
    raise ImportError(name)


def _all_modules(process, target) -> None:
    loaders = [target] if target is not None else importsys.all_loaders()
    count = 0
    for loader in loaders:
        names = loader.modules
        for segment, start in enumerate(range(0, max(len(names), 1), PAGE_SIZE)):
            page = {"classloader": loader.vo(with_count=False), "classes": names[start:start + PAGE_SIZE],
                    "segment": segment}
            process.emit(ClassLoaderModel(classSet=page))
        count += len(names)
    process.emit(RowAffectModel(rowCount=count))


def _url_classes(process, args, target) -> None:
    if target is None:
        raise CommandError(-1, "Can not find classloader by hashcode: %s." % args.hash_code)
    if args.limit <= 0:
        raise CommandError(-1, "Option -n/--limit must be greater than 0.")
    try:
        entry_matches = finder.matcher(args.jar, args.regex) if args.jar else None
        module_matches = finder.matcher(args.class_filter, args.regex) if args.class_filter else None
    except Exception as exc:
        raise CommandError(-1, "Regex compile error: %s" % exc) from None
    stats = []
    for url, modules in _modules_by_url(target).items():
        if entry_matches is not None and not entry_matches(url):
            continue
        matched = [m for m in modules if module_matches(m)] if module_matches is not None else modules
        stat: Dict[str, Any] = {"url": url, "loadedClassCount": len(modules)}
        if module_matches is not None:
            stat["matchedClassCount"] = len(matched)
        if args.details:
            stat["classes"] = matched[:args.limit]
            stat["truncated"] = len(matched) > args.limit
        stats.append(stat)
    process.emit(ClassLoaderModel(classLoader=target.vo(with_count=False), urlClassStats=stats,
                                  urlClassStatsDetail=bool(args.details)))
    process.emit(RowAffectModel(rowCount=len(stats)))


def _modules_by_url(target: importsys.Loader) -> Dict[str, List[str]]:
    """The modules loaded from each of ``target``'s URLs: its own, and for PathFinder those the path-entry
    finder of each ``sys.path`` entry loaded (as Arthas counts an AppClassLoader's classes by jar); a loader
    without URLs gives its modules under ``<unknown>``."""
    by_url: Dict[str, List[str]] = {url: list(target.modules) for url in target.urls or ["<unknown>"]}
    for child in importsys.all_loaders():
        if child.parent == target.name:
            for url in child.urls or ():
                if url in by_url:
                    by_url[url].extend(child.modules)
    return by_url
