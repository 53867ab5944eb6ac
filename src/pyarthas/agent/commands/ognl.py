"""``ognl`` (alias ``eval``): evaluate a Python expression in the target; ``getstatic``: read module or
class attributes. Both serialize values with ``values.to_json_value`` (``-x`` expand)."""
import dataclasses
import re
import types
from typing import Any, ClassVar, List, Optional

from ..command.base import Command, CommandError, register
from ..command.options import Argument, Option
from ..engine import matcher
from ..engine.express import ExpressionError, compile_expression, evaluate_standalone
from ..model import ResultModel, RowAffectModel
from ..values import MAX_EXPAND, named_value, to_json_value
from .enhancer import global_size_limit


@dataclasses.dataclass
class OgnlModel(ResultModel):
    type: ClassVar[str] = "ognl"
    value: Any = None
    expand: int = 1
    keep_none: ClassVar[tuple] = ("value",)


@register
class OgnlCommand(Command):
    name = "ognl"
    aliases = ("eval",)
    summary = "Execute a Python expression in the target (Arthas's ognl)"
    description = ("Bare names resolve to loaded modules by name, then to __main__'s globals, then builtins;\n"
                   "Arthas's @Class@field is accepted.\n"
                   "Examples:\n  ognl 'sys.version'\n  ognl 'demo.MathGame.random' -x 2\n"
                   "  eval '[t.name for t in threading.enumerate()]'\n  ognl '@sys@path'")
    options = [
        Option("expand", "x", type=int, default=1, help="Expand level of object (1 by default)"),
        Option("classLoader", "c", help="The hash code of the special class's classLoader (ignored)"),
        Option("classLoaderClass", help="The class name of the special class's classLoader (ignored)"),
    ]
    arguments = [Argument("express", required=True, help="The Python expression to evaluate")]

    def run(self, process, args) -> None:
        try:
            value = evaluate_standalone(args.express)
        except ExpressionError as error:
            raise CommandError(-1, "Failed to execute ognl, exception message: %s, please check "
                                   "$HOME/logs/arthas/arthas.log for more details. " % error) from error
        except Exception as error:
            raise CommandError(-1, "Failed to execute ognl, exception message: %s: %s, please check "
                                   "$HOME/logs/arthas/arthas.log for more details. "
                                   % (type(error).__name__, error)) from error
        expand = max(0, min(args.expand, MAX_EXPAND))
        process.emit(OgnlModel(value=to_json_value(value, expand, global_size_limit(process)), expand=expand))


@dataclasses.dataclass
class GetStaticModel(ResultModel):
    type: ClassVar[str] = "getstatic"
    fieldName: Optional[str] = None
    field: Any = None
    matchedClasses: Optional[List[str]] = None


@register
class GetStaticCommand(Command):
    name = "getstatic"
    summary = "Show the static field of a class (an attribute of a class or module)"
    description = ("Examples:\n  getstatic demo.MathGame random\n  getstatic sys 'path*'\n"
                   "  getstatic demo.MathGame random 'value.random()'   (express: 'value' is the attribute)")
    options = [
        Option("expand", "x", type=int, default=1, help="Expand level of object (1 by default)"),
        Option("regex", "E", flag=True, help="Enable regular expression to match (wildcard matching by default)"),
        Option("classLoader", "c", help="The hash code of the special class's classLoader (ignored)"),
        Option("classLoaderClass", help="The class name of the special class's classLoader (ignored)"),
    ]
    arguments = [
        Argument("class-pattern", required=True, help="Class name (or module name) pattern"),
        Argument("field-pattern", required=True, help="Attribute name pattern"),
        Argument("express", help="Python expression applied to the attribute, named 'value'"),
    ]

    def run(self, process, args) -> None:
        try:
            class_match = matcher.name_matcher(args.class_pattern, args.regex)
            field_match = matcher.name_matcher(args.field_pattern, args.regex)
        except re.error as error:
            raise CommandError(-1, "Invalid regular expression: %s" % error) from error
        try:
            express = compile_expression(args.express) if args.express else None
        except ExpressionError as error:
            raise CommandError(-1, "Failed to execute ognl, exception message: %s" % error) from error
        owners = list(matcher.owners(class_match, lambda name: False, include_subclasses=False, allow_agent=True))
        if len(owners) > 1:
            process.emit(GetStaticModel(matchedClasses=[name for name, _ in owners]))
            raise CommandError(-1, "Found more than one class for: %s, Please use a more specific pattern."
                               % args.class_pattern)
        expand = max(0, min(args.expand, MAX_EXPAND))
        limit = global_size_limit(process)
        count = 0
        for _name, owner in owners:
            for name, value in _static_fields(owner, field_match, args.field_pattern.startswith("_")):
                if express is not None:
                    try:
                        value = express.bind({"__builtins__": __builtins__, "value": value})(
                            None, None, None, False, False, False)
                    except Exception as error:
                        raise CommandError(-1, "Failed to execute ognl, exception message: %s: %s"
                                           % (type(error).__name__, error)) from error
                # a credential is shown when asked for by its exact name, masked when a pattern matched it
                field = (to_json_value(value, expand, limit) if name == args.field_pattern or express is not None
                         else named_value(name, value, expand, limit))
                process.emit(GetStaticModel(fieldName=name, field=field))
                count += 1
        if count == 0:
            process.emit(RowAffectModel(rowCount=0))
            raise CommandError(-1, "getstatic: no matched static field was found")
        process.emit(RowAffectModel(rowCount=count))


def _static_fields(owner: Any, field_match, explicit_dunder: bool) -> List[tuple]:
    """Data attributes (not functions, classes or modules); dunder names only when the pattern asks."""
    out: List[tuple] = []
    try:
        namespace = dict(vars(owner))
    except TypeError:
        return out
    for name, value in namespace.items():
        if not isinstance(name, str) or not field_match(name):
            continue
        if name.startswith("__") and not explicit_dunder:
            continue
        if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, types.ModuleType, type,
                              staticmethod, classmethod, property)):
            continue
        out.append((name, value))
    return out
