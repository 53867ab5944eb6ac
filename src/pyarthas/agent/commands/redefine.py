"""``redefine``: replace the code of loaded functions with code compiled from new source (hot fix).

``redefine [-c class-or-module] FILE.py...`` compiles each file (nothing in it runs) and, for every
function and method it defines, finds the loaded function of the same qualified name and gives it the
new ``__code__``; ``redefine -l`` lists what was redefined; ``redefine --restore [-c name]`` puts the
original code back. Which loaded namespace a file maps to: ``-c`` names a module or a class (the file's
top-level definitions go into it; a class of that name at the top of the file is looked through);
without ``-c``, the module whose ``__file__`` is that file, else the one loaded module whose name (or file
name) the file's name matches. The mechanism and its checks (all or nothing) are ``agent/redefine``.
"""
import dataclasses
from typing import Any, ClassVar, Dict, List, Optional

from ..command.base import Command, CommandError, register
from ..command.options import Argument, Option
from ..model import ResultModel
from ..redefine import REGISTRY, RedefineError, redefine, restore


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
                entries = sorted(REGISTRY.entries.values(), key=lambda e: e.id)
                process.emit(RedefineModel(redefineEntries=[e.to_json() for e in entries]))
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
