"""``redefine``: replace the code of loaded functions with code compiled from new source (hot fix).

``redefine [-c class-or-module] FILE.py...`` compiles each file (nothing in it runs) and, for every
function and method it defines, finds the loaded function of the same qualified name and gives it the
new ``__code__``; ``redefine -l`` lists what was redefined; ``redefine --restore [-c name]`` puts the
original code back. Which loaded namespace a file maps to: ``-c`` names a module or a class (the file's
top-level definitions go into it; a class of that name at the top of the file is looked through);
without ``-c``, the module whose ``__file__`` is that file, else the one loaded module whose name (or file
name) the file's name matches. The mechanism and its checks (all or nothing) are ``agent/redefine``.

``mc`` compiles source files into ``.pyc`` files (which redefine and retransform also take), as Arthas's
memory compiler makes ``.class`` files; ``retransform`` is Arthas's name for the same replacement, with
Arthas's entries: ``-l`` lists them, ``-d ID`` and ``--deleteAll`` put the original code back.
"""
import dataclasses
import os
from typing import Any, ClassVar, Dict, List, Optional

from ..command.base import Command, CommandError, register
from ..command.options import Argument, Option
from ..inspect import finder
from ..model import ResultModel, RowAffectModel
from ..redefine import REGISTRY, RedefineError, redefine, restore
from ..redefine.source import pyc_bytes
from . import dump
from .classloader import loader_options, select_loader


@dataclasses.dataclass
class RedefineModel(ResultModel):
    type: ClassVar[str] = "redefine"
    redefinitionCount: Optional[int] = None
    redefinedClasses: Optional[List[str]] = None
    redefinedMethods: Optional[List[Dict[str, Any]]] = None
    redefineEntries: Optional[List[Dict[str, Any]]] = None
    restoredCount: Optional[int] = None
    restoredMethods: Optional[List[Dict[str, Any]]] = None


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
                process.emit(RedefineModel(redefineEntries=[e.to_json() for e in REGISTRY.in_order()]))
            elif args.restore:
                restored = [entry.to_json() for entry in restore(args.target, engine)]
                process.emit(RedefineModel(restoredCount=len(restored), restoredMethods=restored))
            elif not args.files:
                raise CommandError(-1, "paths is empty.")
            else:
                process.emit(_redefined(args.files, args.target, engine, _unsafe(process)))


def _redefined(files: List[str], target: Optional[str], engine, unsafe: bool) -> RedefineModel:
    try:
        done = redefine(files, target, engine, allow_agent=unsafe)
    except RedefineError as refused:
        raise CommandError(-1, refused.message) from None
    return RedefineModel(
        redefinitionCount=len(done),
        redefinedClasses=sorted({entry.class_name for entry, _ in done}),
        redefinedMethods=[dict(entry.to_json(), lineNumber=change.code.co_firstlineno) for entry, change in done])


def _unsafe(process) -> bool:
    try:
        return bool(process.agent.options.get("unsafe"))
    except Exception:
        return False


# ---------------------------------------------------------------- mc


@dataclasses.dataclass
class MemoryCompilerModel(ResultModel):
    type: ClassVar[str] = "mc"
    files: Optional[List[str]] = None
    matchedClassLoaders: Optional[List[Dict[str, Any]]] = None
    classLoaderClass: Optional[str] = None


def compile_to_pyc(path: str, encoding: Optional[str], directory: str) -> str:
    """Compile the source file ``path`` (nothing in it runs) into ``directory/<name>.pyc``; its path."""
    with open(path, "rb") as handle:
        data = handle.read()
    source = data.decode(encoding) if encoding else data
    code = compile(source, os.path.abspath(path), "exec", dont_inherit=True)
    target = os.path.join(directory, os.path.splitext(os.path.basename(path))[0] + ".pyc")
    os.makedirs(directory, exist_ok=True)
    with open(target, "wb") as handle:
        handle.write(pyc_bytes(code, data))
    return os.path.abspath(target)


def _compiler_error(exc: Exception) -> str:
    """``exc`` in the words of Arthas's memory compiler: a missing file as Java's FileNotFoundException
    says it, a syntax error as its compilation diagnostics (``message: ... , line: N , ``)."""
    if isinstance(exc, SyntaxError):
        return "Compilation Error\nmessage: %s , line: %s , \n" % (exc.msg, exc.lineno)
    if isinstance(exc, OSError) and exc.filename:
        return "%s (%s)" % (exc.filename, exc.strerror)
    return "%s: %s" % (type(exc).__name__, exc)


@register
class MemoryCompilerCommand(Command):
    name = "mc"
    summary = "Compile Python source files to .pyc (for redefine and retransform)"
    description = ("Compiles each file with this interpreter (nothing in it runs) into DIR/<name>.pyc, by default "
                   "in the working directory; redefine and retransform take the .pyc. Examples: "
                   "mc /tmp/demo.py; mc -d /tmp/out /tmp/demo.py; redefine /tmp/out/demo.pyc")
    options = loader_options("classloader") + [
        Option("encoding", help="Source file encoding (default: as Python reads source, PEP 263)"),
        Option("directory", "d", help="Sets the output directory (default: the working directory)"),
    ]
    arguments = [Argument("sourcefiles", multi=True, required=True, help="Python source files (.py)")]

    def run(self, process, args):
        select_loader(process, args.hash_code, args.classLoaderClass, MemoryCompilerModel)
        directory = os.path.abspath(args.directory or os.curdir)
        try:
            files = [compile_to_pyc(path, args.encoding, directory) for path in args.sourcefiles]
        except (OSError, SyntaxError, ValueError, LookupError) as exc:
            raise CommandError(-1, "Memory compiler error, exception message: %s, please check "
                                   "$HOME/logs/arthas/arthas.log for more details." % _compiler_error(exc)) from None
        process.emit(MemoryCompilerModel(files=files))
        process.emit(RowAffectModel(rowCount=len(files)))


# ---------------------------------------------------------------- retransform


@dataclasses.dataclass
class RetransformModel(ResultModel):
    type: ClassVar[str] = "retransform"
    retransformCount: int = 0
    retransformClasses: Optional[List[str]] = None
    matchedClassLoaders: Optional[List[Dict[str, Any]]] = None
    classLoaderClass: Optional[str] = None
    retransformEntries: Optional[List[Dict[str, Any]]] = None
    ids: Optional[List[int]] = None
    deletedRetransformEntry: Optional[Dict[str, Any]] = None


def _retransform_entry(entry) -> Dict[str, Any]:
    """Arthas's RetransformEntry for one redefined function (Python replaces code function by function)."""
    loaders, loader_hash = finder.loader_of(entry.function)
    return {"id": entry.id, "className": entry.class_name, "methodName": entry.method_name,
            "hashCode": loader_hash, "classLoaderClass": loaders[0] if loaders else None,
            "transformCount": entry.count}


@register
class RetransformCommand(Command):
    name = "retransform"
    summary = "Replace the code of loaded functions (as redefine), list and undo the replacements"
    description = ("Python has one way to change loaded code, redefine's: retransform FILE.py|FILE.pyc gives the "
                   "loaded functions the files define their new code and answers the entries' ids; -l lists the "
                   "entries, -d ID and --deleteAll put the original code back, --classPattern lists the classes "
                   "whose code would be retransformed. Examples: retransform /tmp/demo.py; retransform -l; "
                   "retransform -d 1; retransform --deleteAll")
    options = [
        Option("list", "l", flag=True, help="list the retransform entries"),
        Option("delete", "d", type=int, default=-1, help="delete the entry of this id (its original code returns)"),
        Option("deleteAll", flag=True, help="delete all entries (the original code returns)"),
        Option("classPattern", help="the classes to retransform (wildcards)"),
        *loader_options("classloader"),
        Option("limit", type=int, default=50, help="the most classes --classPattern may match (default 50)"),
    ]
    arguments = [Argument("paths", multi=True, help="Python source (.py) or compiled (.pyc) files")]

    def run(self, process, args):
        engine = process.agent.engine
        with REGISTRY.lock:
            if args.list:
                process.emit(RetransformModel(retransformEntries=[_retransform_entry(e) for e in REGISTRY.in_order()]))
            elif args.deleteAll:
                restore(None, engine)
                process.emit(RetransformModel())
            elif args.delete > 0:
                restore(None, engine, entry_id=args.delete)
            elif args.classPattern is not None:
                self._by_pattern(process, args)
            elif not args.paths:
                raise CommandError(-1, "paths is empty.")
            else:
                redefined = _redefined(args.paths, None, engine, _unsafe(process))
                ids = sorted({entry["id"] for entry in redefined.redefinedMethods or []})
                classes = redefined.redefinedClasses or []
                process.emit(RetransformModel(retransformCount=len(classes), retransformClasses=classes, ids=ids))

    @staticmethod
    def _by_pattern(process, args) -> None:
        found = dump.matching(process, args.classPattern, False, args.hash_code, args.classLoaderClass,
                              RetransformModel)
        if not found:
            raise CommandError(-1, "These classes are not found in the process and may not be loaded: %s"
                               % args.classPattern)
        if len(found) > args.limit:
            raise CommandError(-1, "match classes size: %d, more than limit: %d, It is recommended to use a more "
                                   "precise class pattern." % (len(found), args.limit))
        names = [finder.qualified_name(cls) for cls in found]
        process.emit(RetransformModel(retransformCount=len(names), retransformClasses=names))
