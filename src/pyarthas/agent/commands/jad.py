"""jad (alias source): the source of a class, module or function as the process runs it.

Python keeps no source in memory, so the source comes from the file the code was loaded from; to tell
whether that file still matches what runs, the file is compiled again and each loaded function's
bytecode and first line are compared with the fresh compile. When they differ, the model says so and
adds the disassembly of what actually runs. Without source (C, or the file is gone), the disassembly
(Python code) or a stub of the signatures (C) stands in.
"""
import dataclasses
import dis
import importlib.util
import inspect
import io
import marshal
import os
import struct
import sys
import types
from typing import Any, ClassVar, Dict, List, Optional, Tuple

from ..command.base import Command, CommandError, register
from ..command.options import Argument, Option
from ..inspect import finder, importsys
from ..model import MessageModel, ResultModel, RowAffectModel


@dataclasses.dataclass
class JadModel(ResultModel):
    type: ClassVar[str] = "jad"
    classInfo: Optional[Dict[str, Any]] = None
    location: Optional[str] = None
    source: Optional[str] = None
    mappings: Optional[Dict[str, int]] = None
    startLine: Optional[int] = None
    kind: Optional[str] = None              # source | disassembly | stub
    sourceDiffers: Optional[bool] = None
    differences: Optional[List[str]] = None
    disassembly: Optional[str] = None
    matchedClasses: Optional[List[Dict[str, Any]]] = None
    sourceOnly: Optional[bool] = None
    lineNumber: Optional[bool] = None


def class_vo(obj: Any) -> Dict[str, Any]:
    """Arthas's ClassVO: name, classloader chain, classLoaderHash."""
    loaders, loader_hash = finder.loader_of(obj)
    return {"name": finder.qualified_name(obj), "classloader": loaders, "classLoaderHash": loader_hash}


def loaded_code(function: Any) -> Optional[types.CodeType]:
    """The code a function runs, seen through pyarthas's own enhancement (whose wrapper keeps the original
    code on a clone held by the enhancement constant)."""
    code = getattr(finder.unwrap(function), "__code__", None)
    if code is None or "_pa_call" not in code.co_varnames:
        return code
    for const in code.co_consts:
        clone = getattr(const, "clone", None)
        original = getattr(clone, "__code__", None)
        if isinstance(original, types.CodeType):
            return original
    return code


def _codes_of(obj: Any) -> List[Tuple[str, types.CodeType]]:
    if isinstance(obj, (type, types.ModuleType)):
        members = finder.functions_of(obj)
    else:
        members = [(getattr(obj, "__name__", "?"), obj)]
    found = []
    for name, member in members:
        code = loaded_code(member)
        if code is not None:
            found.append((getattr(code, "co_qualname", None) or name, code))
    return found


def _current_module_code(path: str) -> Optional[types.CodeType]:
    """The code the file at ``path`` holds now: from its ``.pyc`` when the pyc records the file's current
    mtime and size (a fraction of a millisecond), else compiled afresh (tens of ms for a big module, one
    C call holding the GIL, so it is the fallback)."""
    try:
        stat = os.stat(path)
        with open(importlib.util.cache_from_source(path), "rb") as handle:
            header = handle.read(16)
            flags, mtime, size = struct.unpack("<III", header[4:16])
            if header[:4] == importlib.util.MAGIC_NUMBER and flags == 0 and \
                    mtime == int(stat.st_mtime) & 0xFFFFFFFF and size == stat.st_size & 0xFFFFFFFF:
                code = marshal.loads(handle.read())
                if isinstance(code, types.CodeType):
                    return code
    except (OSError, ValueError, EOFError, TypeError, struct.error, NotImplementedError):
        pass
    try:
        with open(path, "rb") as handle:
            return compile(handle.read(), path, "exec", dont_inherit=True)
    except (OSError, SyntaxError, ValueError):
        return None


def _compiled_index(path: str) -> Optional[Dict[str, List[types.CodeType]]]:
    """Code objects the file at ``path`` holds now, by name (qualname on 3.11+)."""
    module_code = _current_module_code(path)
    if module_code is None:
        return None
    index: Dict[str, List[types.CodeType]] = {}
    stack = [module_code]
    while stack:
        code = stack.pop()
        index.setdefault(getattr(code, "co_qualname", None) or code.co_name, []).append(code)
        stack.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    return index


def _same(loaded: types.CodeType, fresh: types.CodeType) -> bool:
    return loaded.co_code == fresh.co_code and loaded.co_firstlineno == fresh.co_firstlineno and \
        loaded.co_names == fresh.co_names


def differences(obj: Any, path: str) -> List[str]:
    """What of ``obj`` runs code the file at ``path`` no longer holds ([] when all matches)."""
    codes = _codes_of(obj)
    if not codes:
        return []
    index = _compiled_index(path)
    if index is None:
        return ["%s cannot be compiled again to compare" % path]
    found = []
    for name, code in codes:
        candidates = index.get(name) or index.get(code.co_name) or []
        if not any(_same(code, fresh) for fresh in candidates):
            found.append("%s (line %d): the loaded code differs from the file" % (name, code.co_firstlineno))
    return found


def disassembly(obj: Any) -> str:
    out = io.StringIO()
    for name, code in _codes_of(obj):
        out.write("Disassembly of %s (%s:%d):\n" % (name, code.co_filename, code.co_firstlineno))
        dis.dis(code, file=out)
        out.write("\n")
    return out.getvalue()


def _stub(obj: Any) -> str:
    """Signatures of what a C class or module defines, as Python-like text."""
    lines = []
    if isinstance(obj, type):
        bases = ", ".join(finder.qualified_name(b) for b in obj.__bases__)
        lines.append("class %s(%s):  # defined in C" % (obj.__qualname__, bases))
        indent = "    "
    elif isinstance(obj, types.ModuleType):
        lines.append("# module %s: defined in C" % obj.__name__)
        indent = ""
    else:
        return "# %s is defined in C: no source, no bytecode\ndef %s%s: ...\n" % (
            finder.qualified_name(obj), getattr(obj, "__name__", "?"), finder.signature_text(obj))
    for name, member in finder.functions_of(obj):
        lines.append("%sdef %s%s: ..." % (indent, name, finder.signature_text(finder.unwrap(member))))
    return "\n".join(lines) + "\n"


def jad_model(obj: Any) -> JadModel:
    if not isinstance(obj, (type, types.ModuleType)):
        obj = finder.unwrap(obj)
    path = finder.source_file(obj)
    model = JadModel(classInfo=class_vo(obj), location=path or "")
    try:
        lines, start = inspect.getsourcelines(obj)
    except (OSError, TypeError, IndexError):
        lines, start = None, 0
    if lines is None:
        if _codes_of(obj) and not finder.is_defined_in_c(obj):
            model.kind, model.source = "disassembly", disassembly(obj)
        else:
            model.kind, model.source = "stub", _stub(obj)
        return model
    start = max(start, 1)
    model.kind = "source"
    model.source = "".join(lines)
    model.startLine = start
    model.mappings = {str(i + 1): start + i for i in range(len(lines))}
    changed = differences(obj, path) if path else []
    model.sourceDiffers = bool(changed)
    if changed:
        model.differences = changed
        model.disassembly = disassembly(obj)
    return model


def _targets(pattern: str, method: Optional[str], regex: bool) -> List[Any]:
    exact = None if regex else finder.resolve(pattern)
    owners = [exact] if exact is not None else finder.find_classes(pattern, regex)
    if method is None or not owners:
        return owners
    if len(owners) > 1:
        return owners
    return [member for _, member in finder.functions_of(owners[0], method, regex)]


@register
class JadCommand(Command):
    name = "jad"
    aliases = ("source",)
    summary = "Display the source of a class, module or function as loaded in the process"
    description = ("The source with line numbers and where it came from; says so when the file on disk no longer "
                   "matches the loaded code; the disassembly when there is no source. Examples: "
                   "jad demo.MathGame; jad demo.MathGame primeFactors; jad demo.MathGame.primeFactors")
    options = [
        Option("regex", "E", flag=True, help="the patterns are regular expressions"),
        Option("source-only", dest="source_only", flag=True, help="print the source only"),
        Option("lineNumber", type=str, default="true", help="print line numbers (default true)"),
        Option("hideUnicode", flag=True, help="accepted for Arthas compatibility"),
        Option("code", "c", help="only classes of the loader with this hash (as classloader shows it)"),
        Option("classLoaderClass", help="only classes of loaders of this class (FileFinder, BuiltinImporter...)"),
        Option("directory", "d", help="also write the source files into this directory"),
    ]
    arguments = [Argument("class-pattern", required=True, help="class, module or function (dotted name)"),
                 Argument("method-name", help="function or method pattern within the class or module")]

    def run(self, process, args):
        if args.directory is not None and os.path.exists(args.directory) and not os.path.isdir(args.directory):
            raise CommandError(-1, "%s :is not a directory, please check it" % args.directory)
        affected = 0
        try:
            affected = self._jad(process, args)
        finally:
            if not args.source_only:     # Arthas sends the row count after jad, failed or not
                process.emit(RowAffectModel(rowCount=affected))

    @staticmethod
    def _jad(process, args) -> int:
        try:
            targets = _targets(args.class_pattern, args.method_name, args.regex)
        except Exception as exc:  # a bad regular expression
            raise CommandError(-1, "Illegal pattern %r: %s" % (args.class_pattern, exc)) from None
        if args.code or args.classLoaderClass:
            targets = [t for t in targets if importsys.loaded_by(t, args.code, args.classLoaderClass)]
        if not targets:
            what = args.class_pattern + (" " + args.method_name if args.method_name else "")
            raise CommandError(-1, "No class found for: %s" % what)
        owners = {id(t): t for t in targets if isinstance(t, (type, types.ModuleType))}
        if len(owners) > 1:
            message = (" Found more than one class for: %s, Please use jad -c <hashcode> %s"
                       % (args.class_pattern, args.class_pattern))
            process.emit(MessageModel(message=message))
            process.emit(JadModel(matchedClasses=[class_vo(t) for t in owners.values()]))
            raise CommandError(-1, message)
        show_numbers = args.lineNumber.lower() != "false"
        for target in targets:
            model = jad_model(target)
            if args.source_only:          # Arthas: the source and its mappings only
                model.classInfo = model.location = None
            model.sourceOnly = bool(args.source_only) or None
            model.lineNumber = show_numbers
            process.emit(model)
        if args.directory is not None:
            _write_sources(targets, args.directory)
        return len(targets)


def _owner_of(function: Any) -> Any:
    """The class (else the module) that defines ``function``."""
    module = getattr(function, "__module__", "") or ""
    qualname = getattr(function, "__qualname__", "") or ""
    if "." in qualname and "<locals>" not in qualname:
        owner = finder.resolve("%s.%s" % (module, qualname.rsplit(".", 1)[0]))
        if isinstance(owner, type):
            return owner
    return sys.modules.get(module)


def _write_sources(targets: List[Any], directory: str) -> None:
    """``jad -d DIR``: the source of each class or module (a function: its class's or module's) written
    under DIR, as Arthas dumps the class it decompiles there."""
    from .dump import write_code
    try:
        for target in targets:
            owner = target if isinstance(target, (type, types.ModuleType)) else _owner_of(target)
            if owner is not None:
                write_code(owner, os.path.abspath(directory), with_pyc=False)
    except (OSError, ValueError) as exc:
        raise CommandError(-1, "jad: fail to write the source into the directory \"%s\": %s" % (directory, exc)) \
            from None
