"""dump: write the code of loaded classes and modules to files, as Arthas dumps loaded bytecode.

Python keeps no module's bytes in memory after import, so what is written comes from the file each was
loaded from: a module gives its source (``.py``) and that source compiled by this interpreter (``.pyc``,
hash-based so it loads anywhere; ``redefine`` takes it too); a class gives its own source
(``module/path/Class.py``). C classes and modules have no code to write and are skipped. The default
folder is ``classdump/<loader>-<hash>/`` in the agent's output folder, as Arthas's.
"""
import dataclasses
import inspect
import os
import re
import types
from typing import Any, ClassVar, Dict, List, Optional

from ..command.base import Command, CommandError, register
from ..command.options import Argument, Option
from ..inspect import finder, importsys
from ..model import MessageModel, ResultModel, RowAffectModel
from ..redefine.source import pyc_bytes
from .classloader import loader_options, select_loader
from .jad import class_vo


@dataclasses.dataclass
class DumpClassModel(ResultModel):
    type: ClassVar[str] = "dump"
    dumpedClasses: Optional[List[Dict[str, Any]]] = None
    matchedClasses: Optional[List[Dict[str, Any]]] = None
    matchedClassLoaders: Optional[List[Dict[str, Any]]] = None
    classLoaderClass: Optional[str] = None


def _relative_path(obj: Any) -> str:
    if isinstance(obj, types.ModuleType):
        path = obj.__name__.replace(".", os.sep)
        return os.path.join(path, "__init__") if hasattr(obj, "__path__") else path
    qualname = getattr(obj, "__qualname__", "?").replace(".<locals>", "")
    return os.path.join(str(getattr(obj, "__module__", "") or "builtins").replace(".", os.sep), qualname)


def _module_source(module: types.ModuleType) -> Optional[bytes]:
    path = finder.source_file(module)
    if not path or not path.endswith(".py") or not os.path.isfile(path):
        return None
    with open(path, "rb") as handle:
        return handle.read()


def write_code(obj: Any, directory: str, with_pyc: bool = True) -> List[str]:
    """Write the code of ``obj`` under ``directory``; the paths written ([] for C code or no source)."""
    base = os.path.join(directory, _relative_path(obj))
    written = []
    if isinstance(obj, types.ModuleType):
        source = _module_source(obj)
        if source is None:
            return []
        files = {base + ".py": source}
        if with_pyc:
            files[base + ".pyc"] = pyc_bytes(compile(source, finder.source_file(obj) or base + ".py", "exec",
                                                     dont_inherit=True), source)
    else:
        try:
            files = {base + ".py": inspect.getsource(obj).encode("utf-8")}
        except (OSError, TypeError):
            return []
    for path, data in files.items():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)
        written.append(os.path.realpath(path))
    return written


def default_dump_dir(output_dir: str, obj: Any) -> str:
    loaders, loader_hash = finder.loader_of(obj)
    kind = re.sub(r"[^\w.-]", "_", loaders[0].split("(")[0]) if loaders else "unknown"
    return os.path.join(output_dir, "classdump", "%s-%s" % (kind, loader_hash))


def check_directory(directory: Optional[str]) -> None:
    if directory is not None and os.path.exists(directory) and not os.path.isdir(directory):
        raise CommandError(-1, "%s :is not a directory, please check it" % directory)


def matching(process, pattern: str, regex: bool, hash_code: Optional[str], loader_class: Optional[str],
             model_type) -> List[Any]:
    """The classes and modules ``pattern`` matches, of the loader ``-c``/``--classLoaderClass`` names."""
    loader = select_loader(process, hash_code, loader_class, model_type)
    try:
        found = finder.find_classes(pattern, regex)
    except Exception as exc:  # a bad regular expression
        raise CommandError(-1, "Illegal class pattern %r: %s" % (pattern, exc)) from None
    if loader is not None:
        found = [obj for obj in found if importsys.loaded_by(obj, loader.hash)]
    return found


@register
class DumpClassCommand(Command):
    name = "dump"
    summary = "Write the code of loaded classes and modules (source and .pyc) to files"
    description = ("A module gives its source and a .pyc compiled by this interpreter, a class its own source; "
                   "by default under classdump/ in the output folder. Examples: dump demo.MathGame; "
                   "dump demo; dump -d /tmp/dump 'demo.*'")
    options = loader_options("code") + [
        Option("regex", "E", flag=True, help="Enable regular expression to match (wildcard matching by default)"),
        Option("directory", "d", help="Sets the destination directory for the files"),
        Option("limit", "l", type=int, default=50, help="The limit of dump classes size, default value is 50"),
    ]
    arguments = [Argument("class-pattern", required=True, help="Class or module name pattern")]

    def run(self, process, args):
        check_directory(args.directory)
        found = matching(process, args.class_pattern, args.regex, args.hash_code, args.classLoaderClass,
                         DumpClassModel)
        dumped: List[Dict[str, Any]] = []
        try:
            if not found:
                raise CommandError(-1, "No class found for: %s" % args.class_pattern)
            if len(found) > args.limit:
                message = ("Found more than %d class for: %s, Please Try to specify the classloader with the -c "
                           "option, or try to use --limit option." % (args.limit, args.class_pattern))
                process.emit(MessageModel(message=message))
                process.emit(DumpClassModel(matchedClasses=[class_vo(obj) for obj in found]))
                raise CommandError(-1, message)
            dumped = self._dump(process, found, args.directory)
        finally:
            process.emit(RowAffectModel(rowCount=len(dumped)))

    @staticmethod
    def _dump(process, found: List[Any], directory: Optional[str]) -> List[Dict[str, Any]]:
        dumped: List[Dict[str, Any]] = []
        try:
            for obj in found:
                target = os.path.abspath(directory) if directory else default_dump_dir(process.agent.output_dir, obj)
                dumped.extend(dict(class_vo(obj), location=path) for path in write_code(obj, target))
        except (OSError, SyntaxError, ValueError) as exc:
            raise CommandError(-1, "dump: fail to dump classes: [%s], %s" % (
                ", ".join(finder.qualified_name(o) for o in found), exc)) from None
        if not dumped:
            raise CommandError(-1, "dump: fail to dump classes: [%s] (defined in C, or their source is gone)"
                               % ", ".join(finder.qualified_name(o) for o in found))
        process.emit(DumpClassModel(dumpedClasses=dumped))
        return dumped
