"""Expressions and conditions of watch/trace/stack/monitor/tt, and ``ognl``: Python expressions that accept
the Arthas idioms users paste.

Names: ``params, args, kwargs, target, clazz, method, returnObj, throwExp, isBefore, isReturn, isThrow,
cost``; other names resolve in the enhanced function's module globals, then builtins, then loaded modules
by name (``json.dumps(params)`` works even where ``json`` is not imported); ``null``/``true``/``false``
mean ``None``/``True``/``False`` unless defined.
Idioms: a top-level ``{a, b}`` is a list; ``#{"k": v}`` a dict; ``#cost`` (any ``#name``) is ``cost``;
``&&``, ``||`` and ``!x`` are ``and``, ``or`` and ``not x``; ``@mod.Class@attr`` is ``mod.Class.attr``;
Java's ``method.name``, ``x.getClass().getName()``, ``params.length``, ``returnObj.size()`` and the static
calls of Arthas's docs (``@java.lang.System@currentTimeMillis()``) mean what ``java_idioms`` says.

Evaluation raises ``ExpressionExit`` (an ``Exception``) where the expression raised SystemExit,
KeyboardInterrupt or GeneratorExit, so that callers' ``except Exception`` reports it.
``compile_expression(text)`` parses once per job (``ExpressionError`` for bad syntax);
``bind(globals, has_self)`` gives ``evaluate(call, returnObj, throwExp, isBefore, isReturn, isThrow)`` (``call``
an ``hooks.Invocation`` or its raw tuple) that computes only the names the expression uses, so a condition that is false
costs one small function call.
"""
import ast
import builtins
import copy
import operator
import re
import sys
import types
from typing import Any, Callable, Dict, FrozenSet, Optional, Set, Tuple

from .hooks import Invocation
from .java_idioms import JAVA, METHODS, PROPERTIES, java_attr, java_call

ADVICE_NAMES = ("params", "args", "kwargs", "target", "clazz", "method", "returnObj", "throwExp",
                "isBefore", "isReturn", "isThrow", "cost")
_ARGUMENTS = ("returnObj", "throwExp", "isBefore", "isReturn", "isThrow")
# How the evaluator computes each advice name from the Invocation (a tuple: site, values, start, cost...),
# for functions without and with self/cls first.
_FROM_CALL = {
    "params": ("list(_pa_call[1])", "list(_pa_call[1][1:])"),
    "target": ("None", "_pa_call[1][0]"),
    "cost": ("_pa_call[3]", "_pa_call[3]"),
    "args": ("_pa_of(_pa_call).args",) * 2,
    "kwargs": ("_pa_of(_pa_call).kwargs",) * 2,
    "clazz": ("_pa_call[0].clazz",) * 2,
    "method": ("_pa_call[0].function",) * 2,
}
JAVA_CONSTANTS = {"null": None, "true": True, "false": False}
# What a name means when neither the program nor the builtins define it (the idioms' helpers included).
_FALLBACK_NAMES: Dict[str, Any] = dict(JAVA_CONSTANTS, java=JAVA, _pa_java_attr=java_attr,
                                       _pa_java_call=java_call)
_STATIC_REF = re.compile(r"@([A-Za-z_][\w.]*)@([A-Za-z_]\w*)")


class ExpressionError(ValueError):
    """The expression does not compile; the message says why."""


# What an expression may raise that must not reach the code around it: a hook runs on the target's
# thread, where SystemExit would end the program and KeyboardInterrupt abort whatever it was doing. Only
# what the evaluation itself raises is caught: the wrapped function's own exceptions never pass here.
CONTAINED_EXITS = (SystemExit, KeyboardInterrupt, GeneratorExit)


class ExpressionExit(Exception):
    """An expression raised SystemExit, KeyboardInterrupt or GeneratorExit; reported like any failure."""

    def __init__(self, exit_: BaseException):
        detail = str(exit_)
        super().__init__("the expression raised %s%s" % (type(exit_).__name__, ": " + detail if detail else ""))


def translate(text: str) -> str:
    """Rewrite the Arthas/OGNL idioms outside string literals into Python."""
    out = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch in "'\"":
            end = _string_end(text, i)
            out.append(text[i:end])
            i = end
            continue
        nxt = text[i + 1] if i + 1 < n else ""
        if ch == "#" and (nxt == "{" or nxt.isalpha() or nxt == "_"):
            i += 1
            continue
        if ch == "&" and nxt == "&":
            out.append(" and ")
            i += 2
            continue
        if ch == "|" and nxt == "|":
            out.append(" or ")
            i += 2
            continue
        if ch == "!" and nxt != "=":
            out.append(" not ")
            i += 1
            continue
        if ch == "@":
            match = _STATIC_REF.match(text, i)
            if match and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] in "_)]")):
                out.append("%s.%s" % (match.group(1), match.group(2)))
                i = match.end()
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def _string_end(text: str, start: int) -> int:
    quote = text[start]
    if text.startswith(quote * 3, start):
        end = text.find(quote * 3, start + 3)
        return len(text) if end < 0 else end + 3
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == quote:
            return i + 1
        i += 1
    return len(text)


def parse(text: str) -> ast.Expression:
    """Parse an expression with the idioms applied; a top-level set display becomes a list."""
    source = translate(text.strip())
    if not source:
        raise ExpressionError("empty expression")
    try:
        tree = ast.parse(source, "<express>", "eval")
    except SyntaxError as error:
        raise ExpressionError("%s: %s" % (type(error).__name__, error.msg)) from None
    if isinstance(tree.body, ast.Set):
        tree.body = ast.copy_location(ast.List(elts=tree.body.elts, ctx=ast.Load()), tree.body)
    return ast.fix_missing_locations(_JavaIdioms().visit(tree))


class _JavaIdioms(ast.NodeTransformer):
    """``x.getName()`` and the other calls of ``java_idioms.METHODS`` become ``_pa_java_call(x, 'getName')``;
    reads of its ``PROPERTIES`` (``x.name``, ``x.length``) become ``_pa_java_attr(x, 'name')``."""

    def visit_Call(self, node: ast.Call) -> ast.AST:
        function = node.func
        if isinstance(function, ast.Attribute) and function.attr in METHODS and not node.keywords:
            arguments = [self.visit(function.value), ast.Constant(value=function.attr)]
            arguments.extend(self.visit(a) for a in node.args)
            return ast.copy_location(ast.Call(func=ast.Name(id="_pa_java_call", ctx=ast.Load()), args=arguments,
                                              keywords=[]), node)
        return self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if node.attr in PROPERTIES and isinstance(node.ctx, ast.Load):
            arguments = [self.visit(node.value), ast.Constant(value=node.attr)]
            return ast.copy_location(ast.Call(func=ast.Name(id="_pa_java_attr", ctx=ast.Load()), args=arguments,
                                              keywords=[]), node)
        return self.generic_visit(node)


def free_names(tree: ast.AST) -> Set[str]:
    """Names the expression reads that it does not bind itself (comprehension and lambda variables)."""
    loaded: Set[str] = set()
    bound: Set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    return loaded - (bound - set(ADVICE_NAMES))


class Expression:
    """An advice expression compiled once; ``bind(globals)`` makes the evaluator for one module."""

    def __init__(self, text: str):
        self.text = text
        tree = parse(text)
        self.names = free_names(tree)
        self.advice_names = [name for name in ADVICE_NAMES if name in self.names]
        self.other_names = sorted(self.names - set(ADVICE_NAMES))
        self._tree = tree
        self._makers: Dict[tuple, types.CodeType] = {}
        self._maker_for(frozenset(), False)   # compile now: errors surface when the job starts
        self.cost_bound = _cost_bound(tree)

    def _maker_for(self, extra: FrozenSet[str], has_self: bool) -> types.CodeType:
        key = (extra, has_self)
        maker = self._makers.get(key)
        if maker is None:
            maker = self._compile(sorted(extra), has_self)
            self._makers[key] = maker
        return maker

    def _compile(self, extra, has_self: bool) -> types.CodeType:
        expression = copy.deepcopy(self._tree.body)
        indexer = _ParamsIndex(has_self)
        expression = indexer.visit(expression)
        lines = ["def _pa_make(%s):" % ", ".join(["_pa_of", "_pa_exits", "_pa_contained"] + list(extra)),
                 "    def _pa_evaluate(_pa_call, %s):" % ", ".join(_ARGUMENTS),
                 "      try:"]
        for name in self.advice_names:
            if name in _FROM_CALL and not (name == "params" and not indexer.other_uses):
                lines.append("        %s = %s" % (name, _FROM_CALL[name][has_self]))
        lines.append("        return _PA_EXPRESSION_")
        lines.append("      except _pa_exits as _pa_exit:")
        lines.append("        raise _pa_contained(_pa_exit) from None")
        lines.append("    return _pa_evaluate")
        module = ast.parse("\n".join(lines), "<express>", "exec")
        _Substitute(expression).visit(module)
        ast.fix_missing_locations(module)
        try:
            code = compile(module, "<express>", "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as error:
            raise ExpressionError("%s: %s" % (type(error).__name__, error)) from None
        maker_code = next(c for c in code.co_consts if isinstance(c, types.CodeType))
        return maker_code

    def bind(self, globals_: Optional[dict] = None, has_self: bool = False) -> Callable:
        """The evaluator for functions whose module globals are ``globals_`` and that take self/cls first
        or not (``has_self``): unresolved names come from loaded modules and the Java constants."""
        namespace = globals_ if isinstance(globals_, dict) else {"__builtins__": builtins}
        extra: Dict[str, Any] = {}
        for name in self.other_names:
            if name in namespace or hasattr(builtins, name):
                continue
            if name in _FALLBACK_NAMES:
                extra[name] = _FALLBACK_NAMES[name]
            elif name in sys.modules:
                extra[name] = sys.modules[name]
        maker_code = self._maker_for(frozenset(extra), has_self)
        maker = types.FunctionType(maker_code, namespace, "_pa_make")
        return maker(Invocation.of, CONTAINED_EXITS, ExpressionExit, **extra)


_COMPARISONS: Dict[type, Callable[[Any, Any], Any]] = {ast.Lt: operator.lt, ast.LtE: operator.le,
                                                        ast.Gt: operator.gt, ast.GtE: operator.ge}


def _cost_bound(tree: ast.Expression) -> Optional[Tuple[Callable[[Any, Any], Any], Any]]:
    """For a condition on the cost alone (``#cost > 100``, Arthas's usual one): (comparison, bound), which
    a listener may check without evaluating the expression; else None."""
    body = tree.body
    if not (isinstance(body, ast.Compare) and len(body.ops) == 1 and isinstance(body.left, ast.Name)
            and body.left.id == "cost" and type(body.ops[0]) in _COMPARISONS):
        return None
    right = body.comparators[0]
    if not isinstance(right, ast.Constant) or type(right.value) not in (int, float):
        return None
    return _COMPARISONS[type(body.ops[0])], right.value


NO_COST_LIMIT = 1 << 62   # ns: beyond any call's cost


def cost_range_ns(bound: Optional[Tuple[Callable[[Any, Any], Any], Any]]) -> Tuple[int, int]:
    """The costs in ns, ``low`` to ``high`` inclusive, for which a ``cost_bound`` holds (``#cost`` is in
    ms: ``ns / 1e6`` compared as the expression would compare it); the whole range without a bound.
    Each comparison holds on one side of a point (division is monotonic): found by bisection, so that the
    range agrees with the expression exactly at its edge."""
    if bound is None:
        return 0, NO_COST_LIMIT
    compare, limit = bound

    def holds(ns: int) -> bool:
        return bool(compare(ns / 1e6, limit))

    rising = compare in (operator.gt, operator.ge)   # holds from some cost on, else up to some cost
    if holds(0) and holds(NO_COST_LIMIT):
        return 0, NO_COST_LIMIT
    if not holds(NO_COST_LIMIT if rising else 0):
        return 1, 0                                    # never
    inside, outside = (NO_COST_LIMIT, 0) if rising else (0, NO_COST_LIMIT)
    while abs(inside - outside) > 1:
        middle = (inside + outside) // 2
        if holds(middle):
            inside = middle
        else:
            outside = middle
    return (inside, NO_COST_LIMIT) if rising else (0, inside)


class _ParamsIndex(ast.NodeTransformer):
    """``params[<int>]`` reads the call's values directly (no list made on every call); ``other_uses``
    tells whether ``params`` is still needed as a list."""

    def __init__(self, has_self: bool):
        self.offset = 1 if has_self else 0
        self.other_uses = False

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        index = node.slice
        if (isinstance(node.value, ast.Name) and node.value.id == "params" and isinstance(node.ctx, ast.Load)
                and isinstance(index, ast.Constant) and type(index.value) is int):
            if index.value >= 0 or not self.offset:   # params[-n] past the start must not reach self
                position = index.value + self.offset if index.value >= 0 else index.value
                values = ast.Subscript(value=ast.Name(id="_pa_call", ctx=ast.Load()),
                                       slice=_index(1), ctx=ast.Load())
                return ast.copy_location(ast.Subscript(value=values, slice=_index(position), ctx=ast.Load()),
                                         node)
        return self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id == "params":
            self.other_uses = True
        return node


def _index(value: int) -> ast.expr:
    return ast.Constant(value=value)


class _Substitute(ast.NodeTransformer):
    def __init__(self, expression: ast.AST):
        self.expression = expression

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id == "_PA_EXPRESSION_":
            return self.expression
        return node


def compile_expression(text: str) -> Expression:
    return Expression(text)


def evaluate_standalone(text: str, extra: Optional[Dict[str, Any]] = None) -> Any:
    """``ognl``/``eval``: evaluate ``text`` where bare names resolve to loaded modules by name, then
    ``__main__``'s globals, then builtins (then the Java constants)."""
    tree = parse(text)
    code = compile(tree, "<ognl>", "eval", dont_inherit=True)
    main_globals = getattr(sys.modules.get("__main__"), "__dict__", {})
    namespace: Dict[str, Any] = {"__builtins__": builtins}
    for name in free_names(tree):
        if extra and name in extra:
            namespace[name] = extra[name]
        elif name in sys.modules:
            namespace[name] = sys.modules[name]
        elif name in main_globals:
            namespace[name] = main_globals[name]
        elif not hasattr(builtins, name) and name in _FALLBACK_NAMES:
            namespace[name] = _FALLBACK_NAMES[name]
    try:
        return eval(code, namespace)
    except CONTAINED_EXITS as exit_:
        raise ExpressionExit(exit_) from None
