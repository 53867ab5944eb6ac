"""Which expressions an assistant may run without ``--mcp-allow-writes``.

Expressions (``ognl``, and the express/condition of watch, trace, stack, monitor, tt, getstatic, vmtool)
are Python evaluated inside the target, so one of them can do anything the target can. By default the MCP
tools accept only expressions that read: names, attributes that are not dunders, subscripts, literals,
operators, comparisons, comprehensions, and calls to a short list of builtins and methods that only
look at a value. Anything else (``os.system(...)``, ``x.append(1)``, ``setattr``, walrus) needs the
agent's write permission. A property may still run code when read; that is the target's own code, which
reading an attribute in a debugger would run too.
"""
import ast
from typing import Optional

from ..engine.express import translate
from ..engine.java_idioms import METHODS as JAVA_METHODS

READ_ONLY_FUNCTIONS = frozenset((
    "len", "str", "repr", "type", "isinstance", "issubclass", "sorted", "min", "max", "sum", "abs", "round",
    "int", "float", "bool", "list", "tuple", "dict", "set", "frozenset", "any", "all", "hasattr", "id",
    "hash", "vars", "dir", "reversed", "enumerate", "zip", "range", "format", "ascii", "callable",
))
# ... and the Java getters of Arthas's docs that expressions accept (``method.getName()``, ``x.size()``)
READ_ONLY_METHODS = frozenset((
    "keys", "values", "items", "get", "count", "index", "startswith", "endswith", "lower", "upper", "strip",
    "split", "join", "copy", "qsize", "is_alive", "done", "cancelled", "result_type", "hex", "isoformat",
)) | frozenset(JAVA_METHODS)
_FORBIDDEN_NODES = (ast.NamedExpr, ast.Lambda, ast.Await, ast.Yield, ast.YieldFrom)


def write_reason(expression: Optional[str]) -> Optional[str]:
    """None when ``expression`` only reads; otherwise why it needs write permission."""
    if not expression or not expression.strip():
        return None
    try:
        tree = ast.parse(translate(expression.strip()), mode="eval")
    except (SyntaxError, ValueError):
        return None  # the command itself reports the syntax error, and a bad expression changes nothing
    for node in ast.walk(tree):
        if isinstance(node, _FORBIDDEN_NODES):
            return "the expression uses %s" % type(node).__name__
        if isinstance(node, ast.Attribute) and node.attr.startswith("__"):
            return "the expression reads the dunder attribute %s" % node.attr
        if isinstance(node, ast.Name) and node.id.startswith("__"):
            return "the expression names %s" % node.id
        if isinstance(node, ast.Call):
            reason = _call_reason(node.func)
            if reason:
                return reason
    return None


def _call_reason(func: ast.AST) -> Optional[str]:
    if isinstance(func, ast.Name):
        if func.id in READ_ONLY_FUNCTIONS:
            return None
        return "the expression calls %s()" % func.id
    if isinstance(func, ast.Attribute):
        if func.attr in READ_ONLY_METHODS:
            return None
        return "the expression calls .%s()" % func.attr
    return "the expression calls a computed function"
