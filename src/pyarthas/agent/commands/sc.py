"""sc and sm: search the classes and modules of the process, and the functions and methods they define.

Arthas's models with Python's facts: a ClassDetailVO gets the module, file, bases and MRO, decorators,
methods and whether the class is defined in C; a MethodVO gets the signature and the kinds (static, class,
property, coroutine, generator, builtin), file and line. Nothing is imported and no target code runs.
"""
import dataclasses
import types
from typing import Any, ClassVar, Dict, List, Optional

from ..command.base import Command, CommandError, register
from ..command.options import Argument, Option
from ..inspect import finder, importsys
from ..model import ResultModel, RowAffectModel
from ..values import named_value

PAGE_SIZE = 256


@dataclasses.dataclass
class SearchClassModel(ResultModel):
    type: ClassVar[str] = "sc"
    classNames: Optional[List[str]] = None
    classInfo: Optional[Dict[str, Any]] = None
    segment: int = 0
    detailed: bool = False
    withField: bool = False


@dataclasses.dataclass
class SearchMethodModel(ResultModel):
    type: ClassVar[str] = "sm"
    methodInfo: Optional[Dict[str, Any]] = None
    detail: bool = False


def class_detail(obj: Any, with_fields: bool, expand: int, size_limit: int) -> Dict[str, Any]:
    """Arthas's ClassDetailVO for a class or a module."""
    is_module = isinstance(obj, types.ModuleType)
    loaders, loader_hash = finder.loader_of(obj)
    qualname = getattr(obj, "__qualname__", "") if not is_module else ""
    detail = {
        "name": finder.qualified_name(obj),
        "simpleName": obj.__name__.rsplit(".", 1)[-1] if is_module else obj.__name__,
        "classInfo": repr(obj)[:500],
        "codeSource": finder.source_file(obj) or "",
        "classloader": loaders,
        "classLoaderHash": loader_hash,
        "module": obj.__name__ if is_module else getattr(obj, "__module__", None),
        "isModule": is_module,
        "interface": False,
        "annotation": False,
        "enum": False,
        "anonymousClass": False,
        "array": False,
        "localClass": "<locals>" in qualname,
        "memberClass": "." in qualname.replace(".<locals>.", "."),
        "primitive": False,
        "synthetic": False,
        "nativeClass": finder.is_defined_in_c(obj),
        "modifier": "module" if is_module else _class_modifier(obj),
        "annotations": [] if is_module else finder.decorators(obj),
        "interfaces": [],
        "superClass": [],
        "methods": [name for name, _ in finder.functions_of(obj)],
    }
    if not is_module:
        detail.update(_class_facts(obj))
    if with_fields:
        detail["fields"] = _fields(obj, expand, size_limit)
    return detail


def _class_modifier(cls: type) -> str:
    import inspect
    words = []
    if inspect.isabstract(cls):
        words.append("abstract")
    if type(cls) is not type:
        words.append("metaclass=" + finder.qualified_name(type(cls)))
    return " ".join(words)


def _class_facts(cls: type) -> Dict[str, Any]:
    import enum
    import inspect
    mro = [finder.qualified_name(c) for c in getattr(cls, "__mro__", ())[1:]]
    return {"interfaces": [finder.qualified_name(base) for base in getattr(cls, "__bases__", ())],
            "superClass": mro, "mro": mro, "interface": inspect.isabstract(cls),
            "enum": isinstance(cls, enum.EnumMeta),
            "annotation": False}


def _fields(owner: Any, expand: int, size_limit: int) -> List[Dict[str, Any]]:
    """Class attributes (or module globals) with values, then annotated and slot instance fields."""
    is_module = isinstance(owner, types.ModuleType)
    fields = []
    seen = set()
    for name, value in finder.members(owner):
        if name.startswith("__") and name.endswith("__"):
            continue
        if finder.is_function_member(owner, name, value) or isinstance(value, (type, types.ModuleType)):
            continue
        if is_module and isinstance(value, (types.FunctionType, types.BuiltinFunctionType)):
            continue
        seen.add(name)
        fields.append({"name": name, "type": finder.qualified_name(type(value)), "modifier": "static",
                       "annotations": [], "static": True, "value": named_value(name, value, expand, size_limit)})
    if not is_module:
        annotations = finder.own_annotations(owner)
        slots = vars(owner).get("__slots__", ())
        slots = (slots,) if isinstance(slots, str) else slots
        for name in list(annotations) + [s for s in slots if s not in annotations]:
            if name in seen:
                continue
            annotation = annotations.get(name)
            fields.append({"name": name, "type": _annotation_text(annotation) if annotation is not None else "",
                           "modifier": "", "annotations": [], "static": False})
    return fields


def _annotation_text(annotation: Any) -> str:
    if isinstance(annotation, type):
        return finder.qualified_name(annotation)
    return str(annotation)


@register
class SearchClassCommand(Command):
    name = "sc"
    summary = "Search all the classes and modules loaded by the interpreter"
    description = ("A class pattern matches the dotted qualified name of a class (demo.MathGame) or a module; "
                   "'*' is a wildcard, -E takes a regular expression. Examples: sc demo.*; sc -d demo.MathGame; "
                   "sc -d -f demo.MathGame; sc -E '.*Game'")
    options = [
        Option("details", "d", flag=True, help="display the details of each class"),
        Option("field", "f", flag=True, help="display the class attributes with their values (with -d)"),
        Option("expand", "x", type=int, default=1, help="depth to expand attribute values (default 1)"),
        Option("regex", "E", flag=True, help="the pattern is a regular expression"),
        Option("limits", "n", type=int, default=100, help="the most classes -d shows (default 100)"),
        Option("classLoaderHash", "c", help="only classes of the loader with this hash (as classloader shows it)"),
        Option("classLoaderClass", help="only classes of loaders of this class (FileFinder, BuiltinImporter...)"),
        Option("classLoaderStr", "cs", help="only classes of the loader named so (as classloader -l shows it)"),
    ]
    arguments = [Argument("class-pattern", required=True, help="class or module name pattern")]

    def run(self, process, args):
        found = _of_loader(_search(args.class_pattern, args.regex), args)
        if not args.details:
            names = [finder.qualified_name(obj) for obj in found]
            for segment, start in enumerate(range(0, len(names), PAGE_SIZE)):
                process.emit(SearchClassModel(classNames=names[start:start + PAGE_SIZE], segment=segment))
            process.emit(RowAffectModel(rowCount=len(names)))
            return
        _check_limit(found, args.limits)
        size_limit = process.agent.options.get("object-size-limit")
        for obj in found:
            process.emit(SearchClassModel(classInfo=class_detail(obj, args.field, args.expand, size_limit),
                                          detailed=True, withField=bool(args.field)))
        process.emit(RowAffectModel(rowCount=len(found)))


def _of_loader(found: List[Any], args) -> List[Any]:
    """Arthas's ``-c``/``--classLoaderClass``/``-cs``: the classes whose loader is the one named."""
    named = (args.classLoaderHash, args.classLoaderClass, getattr(args, "classLoaderStr", None))
    if not any(named):
        return found
    return [obj for obj in found if importsys.loaded_by(obj, *named)]


def _check_limit(found: List[Any], limit: int) -> None:
    if len(found) > limit:
        raise CommandError(-1, "The number of matching classes is greater than : %d. \nPlease specify a more "
                               "accurate 'class-patten' or use the parameter '-n' to change the maximum number "
                               "of matching classes." % limit)


def _search(pattern: str, regex: bool) -> List[Any]:
    try:
        return finder.find_classes(pattern, regex)
    except Exception as exc:  # a bad regular expression
        raise CommandError(-1, "Illegal class pattern %r: %s" % (pattern, exc)) from None


def method_info(owner: Any, name: str, member: Any) -> Dict[str, Any]:
    """Arthas's MethodVO for one function or method that ``owner`` defines."""
    function = finder.unwrap(member)
    signature = finder.signature_text(function)
    code = getattr(function, "__code__", None)
    kinds = finder.function_kinds(member)
    returns = _return_annotation(function) if code is not None else None
    return {
        "declaringClass": finder.qualified_name(owner),
        "methodName": name,
        "modifier": " ".join(kinds),
        "kinds": kinds,
        "annotations": finder.decorators(member) if code is not None else [],
        "parameters": _parameters(function),
        "returnType": _annotation_text(returns) if returns is not None else "",
        "exceptions": [],
        "classLoaderHash": finder.loader_of(owner)[1],
        "descriptor": signature,
        "constructor": name == "__init__",
        "fileName": code.co_filename if code is not None else None,
        "lineNumber": code.co_firstlineno if code is not None else -1,
    }


def _return_annotation(function: Any) -> Any:
    try:  # 3.14 evaluates annotations on access: a name that does not resolve raises
        return function.__annotations__.get("return")
    except Exception:
        return None


def _parameters(function: Any) -> List[str]:
    import inspect
    try:
        return [str(p) for p in inspect.signature(function).parameters.values()]
    except (TypeError, ValueError):
        return []


@register
class SearchMethodCommand(Command):
    name = "sm"
    summary = "Search the functions and methods of the classes and modules loaded by the interpreter"
    description = ("Examples: sm demo.MathGame; sm -d demo.MathGame primeFactors; sm json.decoder *; "
                   "sm demo.MathGame <init>")
    options = [
        Option("details", "d", flag=True, help="display the details of each method"),
        Option("regex", "E", flag=True, help="the patterns are regular expressions"),
        Option("limits", "n", type=int, default=100, help="the most classes to search (default 100)"),
        Option("classLoaderHash", "c", help="only classes of the loader with this hash (as classloader shows it)"),
        Option("classLoaderClass", help="only classes of loaders of this class (FileFinder, BuiltinImporter...)"),
    ]
    arguments = [Argument("class-pattern", required=True, help="class or module name pattern"),
                 Argument("method-pattern", default="*", help="function name pattern (default *)")]

    def run(self, process, args):
        found = _of_loader(_search(args.class_pattern, args.regex), args)
        _check_limit(found, args.limits)
        count = 0
        for owner in found:
            try:
                functions = finder.functions_of(owner, args.method_pattern, args.regex)
            except Exception as exc:
                raise CommandError(-1, "Illegal method pattern %r: %s" % (args.method_pattern, exc)) from None
            for name, member in functions:
                process.emit(SearchMethodModel(methodInfo=method_info(owner, name, member), detail=bool(args.details)))
                count += 1
        process.emit(RowAffectModel(rowCount=count))
