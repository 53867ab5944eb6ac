"""Builds the code object that replaces an enhanced function's ``__code__``.

The function object keeps its identity, so every reference to it (callers that imported it by name, bound
methods, class dictionaries, pickling by reference) sees the hooks. The replacement code ("wrapper code")
has exactly the original's parameters, flags and free variables, so ``inspect.signature``,
``iscoroutinefunction`` and friends, wrong-call ``TypeError``s and closures keep working. It forwards the
call to a clone of the original function (same globals, defaults and closure cells, original code) and
reports the call to the ``Enhancement`` object, which it holds as a code constant::

    def NAME(<same parameters>):
        _pa_start = <enhancement>.clock()
        try:
            _pa_result = <enhancement>.clone(<parameters forwarded>)
        except BaseException as _pa_error:
            <enhancement>.thrown(_pa_start, (<parameter values>), _pa_error)
            raise
        <enhancement>.returned(_pa_start, (<parameter values>), _pa_result)
        return _pa_result

When a listener wants to run before the call, the variant calls ``enter((<parameter values>))`` first; a
plain function whose only listener gave a starter (``Listener.quick_entry``) gets the quick variant, which
calls the starter and the listener's exit itself, or, given a ``StampedEntry``, the stamped one, which
times the call itself and calls the listener only to report it.
Generators use ``yield from``, coroutines ``await``; async generators forward ``asend``/``athrow``/``aclose``
by hand. Every instruction of the wrapper sits on the original's ``def`` line, in the original's file, so
``inspect.getsource`` still finds the source and a traceback entry of the wrapper points at the ``def``.
"""
import ast
import inspect
import types
import warnings
from typing import Any, Dict, List, Optional, Tuple

SLOT = "_pa_enhancement"   # placeholder name of the Enhancement constant in the template

CO_VARARGS = inspect.CO_VARARGS
CO_VARKEYWORDS = inspect.CO_VARKEYWORDS
CO_GENERATOR = inspect.CO_GENERATOR
CO_COROUTINE = inspect.CO_COROUTINE
CO_ASYNC_GENERATOR = inspect.CO_ASYNC_GENERATOR
CO_ITERABLE_COROUTINE = inspect.CO_ITERABLE_COROUTINE
KIND_FLAGS = CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR | CO_ITERABLE_COROUTINE

_PLAIN = """
def _pa_wrapper({params}):
    {keep_freevars}
    _pa_start = _pa_enhancement.clock()
    try:
        _pa_result = _pa_enhancement.clone({forward})
    except BaseException as _pa_error:
        _pa_enhancement.thrown(_pa_start, ({values}), _pa_error)
        raise
    _pa_enhancement.returned(_pa_start, ({values}), _pa_result)
    return _pa_result
"""

# With ``enter`` first: plain functions (``{define}`` def, ``{call}`` empty), generators (``yield from``) and
# coroutines (``async def``, ``await``).
_ENTERED = """
{define} _pa_wrapper({params}):
    {keep_freevars}
    _pa_entry = _pa_enhancement.enter(({values}))
    if _pa_entry is None:
        return ({call}_pa_enhancement.clone({forward}))
    try:
        _pa_result = {call}_pa_enhancement.clone({forward})
    except BaseException as _pa_error:
        _pa_enhancement.thrown_entered(_pa_entry, _pa_error)
        raise
    _pa_enhancement.returned_entered(_pa_entry, _pa_result)
    return _pa_result
"""
_PLAIN_ENTERED = _ENTERED.replace("{define}", "def").replace("{call}", "")

# The quick path of a plain function whose only listener gave a starter (``Listener.quick_entry``): no
# hook frame of the engine's own; ``quick`` is read once, so a call keeps the exit paired with its start.
_QUICK = """
def _pa_wrapper({params}):
    {keep_freevars}
    _pa_quick = _pa_enhancement.quick_pair
    _pa_thread = _pa_thread_ident()
    if _pa_thread in _pa_agent_threads or _pa_thread in _pa_hook_threads:
        return _pa_enhancement.clone({forward})
    _pa_state = _pa_quick[0](_pa_thread)
    if _pa_state is None:
        return _pa_enhancement.clone({forward})
    try:
        _pa_result = _pa_enhancement.clone({forward})
    except BaseException as _pa_error:
        _pa_quick[1](_pa_enhancement.site, _pa_state, ({values}), _pa_thread, None, _pa_error)
        raise
    _pa_quick[1](_pa_enhancement.site, _pa_state, ({values}), _pa_thread, _pa_result, None)
    return _pa_result
"""

# The stamped path (``hooks.StampedEntry``): the wrapper times the call itself and hands the code it runs
# the ``append`` of a fresh buffer for its raw timings; the listener is given only a call to report, as one
# tuple, and its drain (``util.drain``), if it has one, woken as a drain's givers do.
# Every ``_pa_`` name but the wrapper's own locals is a constant of the code
# (``Enhancement.wrapper_constants``): the engine builds this wrapper again for each new entry. The calls
# it does not time go through the Enhancement, which keeps it among the constants: that is how a wrapper
# (its frame, in stacks; an enhanced function) is told (``engine.is_engine_frame``).
_STAMPED = """
def _pa_wrapper({params}):
    {keep_freevars}
    _pa_thread = _pa_thread_ident()
    if _pa_thread in _pa_active or _pa_thread in _pa_agent_threads or _pa_thread in _pa_hook_threads:
        return _pa_enhancement.clone({forward})
    _pa_stamps = _pa_new_buffer()
    _pa_waiting[_pa_thread] = _pa_stamps.append
    _pa_active[_pa_thread] = True
    _pa_start = _pa_clock()
    try:
        _pa_result = _pa_clone({forward})
    except BaseException as _pa_error:
        _pa_cost = _pa_clock() - _pa_start
        del _pa_active[_pa_thread]
        _pa_waiting.pop(_pa_thread, None)
        if _pa_low <= _pa_cost <= _pa_high:
            _pa_report((_pa_start, _pa_cost, _pa_stamps, ({values}), _pa_thread, None, _pa_error))
            if _pa_drain.sleeping:
                _pa_wake(True)
        raise
    _pa_cost = _pa_clock() - _pa_start
    del _pa_active[_pa_thread]
    if not _pa_stamps:    # perhaps the code it ran never took them (not the copy any more)
        _pa_waiting.pop(_pa_thread, None)
    if _pa_low <= _pa_cost <= _pa_high:
        _pa_report((_pa_start, _pa_cost, _pa_stamps, ({values}), _pa_thread, _pa_result, None))
        if _pa_drain.sleeping:
            _pa_wake(True)
    return _pa_result
"""
PLAIN, ENTERED, QUICK, STAMPED = "plain", "entered", "quick", "stamped"
_GENERATOR = _ENTERED.replace("{define}", "def").replace("{call}", "yield from ")
_COROUTINE = _ENTERED.replace("{define}", "async def").replace("{call}", "await ")

# An async generator cannot ``yield from``: forward asend/athrow/aclose one step at a time. The hooks see
# the whole iteration (first step to exhaustion) as the call.
_ASYNC_GENERATOR = """
async def _pa_wrapper({params}):
    {keep_freevars}
    _pa_inner = _pa_enhancement.clone({forward})
    _pa_entry = _pa_enhancement.enter(({values}))
    try:
        _pa_item = await _pa_inner.asend(None)
        while True:
            try:
                _pa_sent = yield _pa_item
            except GeneratorExit:
                await _pa_inner.aclose()
                raise
            except BaseException as _pa_thrown:
                _pa_item = await _pa_inner.athrow(_pa_thrown)
            else:
                _pa_item = await _pa_inner.asend(_pa_sent)
    except StopAsyncIteration:
        if _pa_entry is not None:
            _pa_enhancement.returned_entered(_pa_entry, None)
        return
    except BaseException as _pa_error:
        if _pa_entry is not None:
            _pa_enhancement.thrown_entered(_pa_entry, _pa_error)
        raise
"""


class Signature:
    """The parameter layout of a code object, as the wrapper needs it."""

    def __init__(self, code: types.CodeType):
        names = code.co_varnames
        n_pos = code.co_argcount
        n_kwonly = code.co_kwonlyargcount
        self.posonly = list(names[:code.co_posonlyargcount])
        self.positional = list(names[code.co_posonlyargcount:n_pos])
        self.kwonly = list(names[n_pos:n_pos + n_kwonly])
        index = n_pos + n_kwonly
        self.varargs = None
        self.varkw = None
        if code.co_flags & CO_VARARGS:
            self.varargs = names[index]
            index += 1
        if code.co_flags & CO_VARKEYWORDS:
            self.varkw = names[index]

    def names(self) -> List[str]:
        """Every parameter, in order (the order of the values tuple the wrapper reports)."""
        out = self.posonly + self.positional
        if self.varargs:
            out.append(self.varargs)
        out += self.kwonly
        if self.varkw:
            out.append(self.varkw)
        return out

    def definition(self) -> str:
        parts: List[str] = list(self.posonly)
        if self.posonly:
            parts.append("/")
        parts += self.positional
        if self.varargs:
            parts.append("*" + self.varargs)
        elif self.kwonly:
            parts.append("*")
        parts += self.kwonly
        if self.varkw:
            parts.append("**" + self.varkw)
        return ", ".join(parts)

    def forwarding(self) -> str:
        parts = self.posonly + self.positional
        if self.varargs:
            parts.append("*" + self.varargs)
        parts += ["%s=%s" % (name, name) for name in self.kwonly]
        if self.varkw:
            parts.append("**" + self.varkw)
        return ", ".join(parts)

    def layout(self) -> Tuple[int, int, int, bool, bool]:
        """(positional count incl. posonly, index of *args or -1, kw-only count, has *args, has **kw)."""
        n_pos = len(self.posonly) + len(self.positional)
        return n_pos, (n_pos if self.varargs else -1), len(self.kwonly), bool(self.varargs), bool(self.varkw)


def template_for(code: types.CodeType, variant: str) -> str:
    if code.co_flags & CO_ASYNC_GENERATOR:
        return _ASYNC_GENERATOR
    if code.co_flags & CO_COROUTINE:
        return _COROUTINE
    if code.co_flags & (CO_GENERATOR | CO_ITERABLE_COROUTINE):
        return _GENERATOR
    return {PLAIN: _PLAIN, ENTERED: _PLAIN_ENTERED, QUICK: _QUICK, STAMPED: _STAMPED}[variant]


def variant_for(code: types.CodeType, with_before: bool, quick: str) -> str:
    """Which wrapper ``code`` gets: ``enter`` first when a listener runs before calls (always for
    generators and coroutines); for a plain function whose only listener gave a starter or a
    ``StampedEntry`` (``quick``: ``Enhancement.quick``), the quick or the stamped one."""
    if code.co_flags & KIND_FLAGS:
        return ENTERED
    if quick:
        return quick
    return ENTERED if with_before else PLAIN


def wrapper_code(original: types.CodeType, enhancement: object, variant: str = PLAIN,
                 constants: Optional[Dict[str, Any]] = None) -> types.CodeType:
    """The replacement code for a function whose code is ``original``, reporting to ``enhancement``;
    ``variant``: see ``variant_for``; ``constants``: the objects the template's other placeholder names
    stand for (``Enhancement.wrapper_constants``)."""
    signature = Signature(original)
    names = signature.names()
    values = ", ".join(names) + ("," if len(names) == 1 else "")
    # The wrapper must have the original's free variables (same names, same order) so that it can be
    # assigned to the function whose closure holds their cells; naming them in dead code makes them free.
    freevars = original.co_freevars
    keep = "if 0: (%s,)" % ", ".join(freevars) if freevars else "pass"
    source = template_for(original, variant).format(params=signature.definition(), values=values,
                                           forward=signature.forwarding(), keep_freevars=keep)
    if freevars:
        source = "def _pa_outer():\n    %s = None\n%s    return _pa_wrapper\n" % (
            " = ".join(freevars), _indent(source))
    tree = ast.parse(source, filename=original.co_filename)
    _place_on_line(tree, original.co_firstlineno)
    objects = dict(constants or {}, **{SLOT: enhancement})
    _NamesToConstants(objects).visit(tree)
    with warnings.catch_warnings():   # calling or indexing a placeholder string: it is swapped below
        warnings.simplefilter("ignore", SyntaxWarning)
        module_code = compile(tree, original.co_filename, "exec", dont_inherit=True)
    code = _find_wrapper(module_code)
    if code is None:
        raise TypeError("no wrapper in the compiled template of %s" % original.co_name)
    if code.co_freevars != freevars:
        raise TypeError("cannot reproduce the free variables of %s" % original.co_name)
    by_placeholder = {_placeholder(name): value for name, value in objects.items()}
    consts = tuple(by_placeholder.get(c, c) if type(c) is str else c for c in code.co_consts)
    changes: Dict[str, Any] = {"co_consts": consts, "co_name": original.co_name}
    if hasattr(original, "co_qualname"):
        changes["co_qualname"] = original.co_qualname
    # Keep kind flags the template cannot spell (types.coroutine's CO_ITERABLE_COROUTINE).
    changes["co_flags"] = (code.co_flags & ~KIND_FLAGS) | (original.co_flags & KIND_FLAGS)
    return code.replace(**changes)


def _indent(source: str) -> str:
    return "".join("    " + line + "\n" if line.strip() else "\n" for line in source.splitlines())


def _place_on_line(tree: ast.AST, line: int) -> None:
    for node in ast.walk(tree):
        if hasattr(node, "lineno"):
            node.lineno = line
            node.end_lineno = line  # type: ignore[attr-defined]  # nodes with a line have an end line
        if hasattr(node, "col_offset"):
            node.col_offset = 0
            node.end_col_offset = 0  # type: ignore[attr-defined]


class _NamesToConstants(ast.NodeTransformer):
    """Each placeholder name (``_pa_enhancement``, and a variant's ``constants``) becomes a string constant,
    swapped for its object after compiling."""

    def __init__(self, objects: Dict[str, Any]):
        self.objects = objects

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in self.objects:
            return ast.copy_location(ast.Constant(value=_placeholder(node.id)), node)
        return node


def _placeholder(name: str) -> str:
    return "\x00pyarthas:%s\x00" % name


def _find_wrapper(module_code: types.CodeType) -> Optional[types.CodeType]:
    for const in module_code.co_consts:
        if isinstance(const, types.CodeType):
            if const.co_name == "_pa_wrapper":
                return const
            inner = _find_wrapper(const)
            if inner is not None:
                return inner
    return None


def clone_function(function: types.FunctionType, code: types.CodeType) -> types.FunctionType:
    """A function like ``function`` (same globals, closure cells, defaults) running ``code``."""
    clone = types.FunctionType(code, function.__globals__, function.__name__, function.__defaults__,
                               function.__closure__)
    clone.__kwdefaults__ = function.__kwdefaults__
    clone.__qualname__ = function.__qualname__
    clone.__module__ = function.__module__
    return clone
