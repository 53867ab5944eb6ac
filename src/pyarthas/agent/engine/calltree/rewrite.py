"""CPython 3.9+: a copy of a traced function's code with timing around each of its own call instructions.

The engine's clone of the traced function runs this copy while it is traced (the function itself keeps its
original code object under the wrapper, so ``reset`` restores it untouched). No profile function is needed:
nothing fires below the direct children, and nothing at all outside traced calls.

What the copy does, in the bytecode formats of 3.9/3.10, 3.11, 3.12, 3.13 and 3.14:

- at entry, ``buffer = waiting.pop(get_ident(), bool)`` (one more local, ``.pyarthas_trace``, which
  ``locals()`` of the traced frame shows; only calls of C functions, no Python frame): the ``append`` of
  the raw buffer of the recording this thread began for this call, or ``bool`` (which keeps nothing) when
  the call is not recorded (recursion, agent threads);
- before each call instruction ``buffer((callee, site, perf_counter_ns()))``; after it,
  ``buffer(perf_counter_ns())``; at the entry of each exception handler ``buffer(-perf_counter_ns())`` (a
  child call that raised ends there; with no child open it means nothing). ``recording.materialize``
  turns the buffer into the tree only when the call is reported.

Every inserted instruction carries the source position of the instruction it times, so tracebacks and line
numbers are unchanged. Method calls load a bound method instead of the unbound function plus ``self``
on 3.11 and 3.12 (``LOAD_METHOD`` becomes ``LOAD_ATTR``; on 3.12 the method bit of ``LOAD_ATTR`` is
cleared), so that the callee is one value at a place known from the stack's layout; on 3.9/3.10 every call
is made through ``CALL_FUNCTION_EX`` for the same reason; from 3.13 the callable always lies at the same
depth below the arguments, and method loads stay. Generators, coroutines and async generators are not
rewritten (their suspensions are only visible to events): ``instrument`` raises ``Unsupported`` with the
reason, and the timer keeps its events for them (``sys.setprofile`` before 3.12, ``sys.monitoring``
after).
"""
import dis
import operator
import sys
import types
from threading import get_ident
from time import perf_counter_ns
from typing import Any, Dict, List, Optional

VERSION = sys.version_info[:2]
REWRITES = (3, 9) <= VERSION < (3, 15)   # the bytecode formats this module knows
OP = dis.opmap
KIND_FLAGS = 0x20 | 0x80 | 0x100 | 0x200   # generator, coroutine, iterable coroutine, async generator
HIDDEN_LOCAL = ".pyarthas_trace"   # not an identifier: no source can name it
EXTRA_STACK = 8
_HEAD = operator.itemgetter(slice(None, -1))   # the positional part of (args..., kwargs)


class Unsupported(Exception):
    """This code object is not rewritten (the message says why); the profile function times it."""


class Instr:
    __slots__ = ("op", "arg", "line", "pos", "target", "handler", "offset", "size")

    def __init__(self, op: int, arg: int = 0, line=None, pos=None, target: Any = None):
        self.op = op
        self.arg = arg
        self.line = line          # source line (3.9/3.10)
        self.pos = pos            # (line, end_line, col, end_col) (3.11)
        # the instruction a jump goes to (while building, the original instruction it went to)
        self.target: Any = target
        # 3.11: (target Instr, depth, lasti) of the exception table entry covering it
        self.handler: Any = None
        self.offset = 0
        self.size = 1


def rewritable(code: types.CodeType) -> Optional[str]:
    """None when ``code`` can be rewritten here, else why not."""
    if not REWRITES:
        return "CPython %d.%d's bytecode is not rewritten here" % VERSION
    if code.co_flags & KIND_FLAGS:
        return "generators and coroutines suspend, which only events show"
    if HIDDEN_LOCAL in code.co_varnames:
        return "already rewritten"
    return None


def is_copy_of(candidate: types.CodeType, code: types.CodeType) -> bool:
    """Is ``candidate`` ``code`` or its rewritten copy (what a traceback of a traced call holds)?"""
    return candidate is code or (candidate.co_varnames[-1:] == (HIDDEN_LOCAL,) and
                                 candidate.co_varnames[:-1] == code.co_varnames and
                                 candidate.co_firstlineno == code.co_firstlineno and
                                 candidate.co_filename == code.co_filename and candidate.co_name == code.co_name)


def instrument(code: types.CodeType, waiting: Dict[int, Any]) -> types.CodeType:
    """The timed copy of ``code``; at entry it takes ``waiting[thread id]`` out, the recording's buffer
    ``append`` (``bool`` when the call is not recorded). Raises ``Unsupported``."""
    why = rewritable(code)
    if why:
        raise Unsupported(why)
    try:
        if VERSION >= (3, 14):
            return _Rewrite314(code, waiting).build()
        if VERSION == (3, 13):
            return _Rewrite313(code, waiting).build()
        if VERSION == (3, 12):
            return _Rewrite312(code, waiting).build()
        if VERSION == (3, 11):
            return _Rewrite311(code, waiting).build()
        return _RewriteLegacy(code, waiting).build()
    except Unsupported:
        raise
    except Exception as error:   # a shape this rewriter does not know: say so, never run a wrong copy
        raise Unsupported("cannot rewrite this code (%s: %s)" % (type(error).__name__, error)) from error


class _Consts:
    def __init__(self, consts):
        self.items = list(consts)
        self.index: Dict[Any, int] = {}

    def __call__(self, value) -> int:
        key = (type(value), value) if isinstance(value, (int, str)) else ("id", id(value))
        found = self.index.get(key)
        if found is None:
            found = self.index[key] = len(self.items)
            self.items.append(value)
        return found


class _Rewrite:
    """What both formats share: the instruction list, what each original instruction became (for jumps),
    and the constants the timing uses."""

    def __init__(self, code: types.CodeType, waiting: Dict[int, Any]):
        self.code = code
        self.consts = _Consts(code.co_consts)
        self.pop = self.consts(waiting.pop)
        self.get_ident = self.consts(get_ident)
        self.unrecorded = self.consts(bool)
        self.perf = self.consts(perf_counter_ns)
        self.local = len(code.co_varnames)     # index of the hidden local
        self.out: List[Instr] = []
        self.first_of: Dict[int, Instr] = {}   # id(original) -> first new instruction standing for it
        self.after: List[tuple] = []           # (jump Instr, original whose successor it goes to)

    def emit(self, anchor: Instr, op: int, arg: int = 0, target=None) -> Instr:
        ins = Instr(op, arg, anchor.line, anchor.pos, target)
        ins.handler = anchor.handler
        self.out.append(ins)
        return ins

    def stands_for(self, original: Instr, start: int) -> None:
        """Jumps to ``original`` go to the first instruction emitted for it (from index ``start``)."""
        self.first_of[id(original)] = self.out[start]

    def resolve_targets(self) -> None:
        for ins in self.out:
            if ins.target is not None:
                ins.target = self.first_of.get(id(ins.target), ins.target)

    def finish_code(self, **changes) -> types.CodeType:
        return self.code.replace(co_consts=tuple(self.consts.items),
                                 co_varnames=self.code.co_varnames + (HIDDEN_LOCAL,),
                                 co_nlocals=self.code.co_nlocals + 1,
                                 co_stacksize=self.code.co_stacksize + EXTRA_STACK, **changes)


# ---- 3.9 / 3.10 ----

_LEGACY_CALLS = {OP.get(name) for name in ("CALL_FUNCTION", "CALL_FUNCTION_KW", "CALL_FUNCTION_EX", "CALL_METHOD")}
_SETUPS = {OP.get(name) for name in ("SETUP_FINALLY", "SETUP_WITH", "SETUP_ASYNC_WITH")}
_ABSOLUTE = set(dis.hasjabs)
_RELATIVE = set(dis.hasjrel)


class _RewriteLegacy(_Rewrite):
    scale = 2 if VERSION >= (3, 10) else 1   # bytes per unit of a jump argument (3.10 counts instructions)

    def decode(self) -> List[Instr]:
        raw = self.code.co_code
        lines = self._lines(len(raw) // 2)
        instrs: List[Instr] = []
        by_offset: Dict[int, Instr] = {}
        ext, start = 0, None
        for offset in range(0, len(raw), 2):
            op, arg = raw[offset], raw[offset + 1]
            start = offset if start is None else start
            if op == dis.EXTENDED_ARG:
                ext = (ext | arg) << 8
                continue
            ins = Instr(op, ext | arg, lines[offset // 2])
            ins.offset = offset
            by_offset[start] = by_offset[offset] = ins
            instrs.append(ins)
            ext, start = 0, None
        for ins in instrs:
            if ins.op in _ABSOLUTE:
                ins.target = by_offset[ins.arg * self.scale]
            elif ins.op in _RELATIVE:
                ins.target = by_offset[ins.offset + 2 + ins.arg * self.scale]
        return instrs

    def _lines(self, units: int) -> list:
        code = self.code
        lines: list = [None] * units
        if VERSION >= (3, 10):
            for start, end, line in code.co_lines():
                for unit in range(start // 2, min(end // 2, units)):
                    lines[unit] = line
            return lines
        current = code.co_firstlineno
        starts = dict(dis.findlinestarts(code))
        for unit in range(units):
            current = starts.get(unit * 2, current)
            lines[unit] = current
        return lines

    def build(self) -> types.CodeType:
        originals = self.decode()
        handlers = {id(ins.target) for ins in originals if ins.op in _SETUPS}
        first = originals[0]
        self.emit(first, OP["LOAD_CONST"], self.pop)    # not a jump target: loops back to 0 skip it
        self.emit(first, OP["LOAD_CONST"], self.get_ident)
        self.emit(first, OP["CALL_FUNCTION"], 0)
        self.emit(first, OP["LOAD_CONST"], self.unrecorded)
        self.emit(first, OP["CALL_FUNCTION"], 2)
        self.emit(first, OP["STORE_FAST"], self.local)
        for index, ins in enumerate(originals):
            start = len(self.out)
            if id(ins) in handlers:
                self._mark_raised(ins)
            if ins.op in _LEGACY_CALLS:
                self._timed_call(ins, originals[index - 1] if index else None)
            else:
                self.emit(ins, OP["LOAD_ATTR"] if ins.op == OP["LOAD_METHOD"] else ins.op, ins.arg, ins.target)
            self.stands_for(ins, start)
        self.resolve_targets()
        raw, offsets = self._assemble()
        if VERSION >= (3, 10):
            return self.finish_code(co_code=raw, co_linetable=self._linetable(offsets, len(raw)))
        return self.finish_code(co_code=raw, co_lnotab=self._lnotab(offsets))

    def _record(self, anchor: Instr, negative: bool = False) -> None:
        """``buffer(perf_counter_ns())`` (negated: a child raised): no test first, as an unrecorded call's
        buffer is ``bool`` (a call of it costs less than the test would cost every recorded call)."""
        self.emit(anchor, OP["LOAD_FAST"], self.local)
        self.emit(anchor, OP["LOAD_CONST"], self.perf)
        self.emit(anchor, OP["CALL_FUNCTION"], 0)
        if negative:
            self.emit(anchor, OP["UNARY_NEGATIVE"])
        self.emit(anchor, OP["CALL_FUNCTION"], 1)
        self.emit(anchor, OP["POP_TOP"])

    def _mark_raised(self, handler: Instr) -> None:
        self._record(handler, negative=True)

    def _timed_call(self, call: Instr, previous: Optional[Instr]) -> None:
        """The call as ``CALL_FUNCTION_EX`` on (callee, args tuple[, kwargs dict]), recorded around."""
        op, emit = call.op, self.emit
        has_kw = False
        if op in (OP["CALL_FUNCTION"], OP["CALL_METHOD"]):
            emit(call, OP["BUILD_TUPLE"], call.arg)
        elif op == OP["CALL_FUNCTION_KW"]:
            names = self.code.co_consts[previous.arg] if previous is not None and \
                previous.op == OP["LOAD_CONST"] else None
            if not isinstance(names, tuple):
                raise Unsupported("keyword names not loaded right before the call")
            emit(call, OP["BUILD_CONST_KEY_MAP"], len(names))       # f, p1..pm, kwargs
            emit(call, OP["BUILD_TUPLE"], call.arg - len(names) + 1)  # f, (p1..pm, kwargs)
            emit(call, OP["DUP_TOP"])
            emit(call, OP["LOAD_CONST"], self.consts(-1))
            emit(call, OP["BINARY_SUBSCR"])                            # f, all, kwargs
            emit(call, OP["ROT_TWO"])
            emit(call, OP["LOAD_CONST"], self.consts(_HEAD))
            emit(call, OP["ROT_TWO"])
            emit(call, OP["CALL_FUNCTION"], 1)                         # f, kwargs, args
            emit(call, OP["ROT_TWO"])
            has_kw = True
        else:
            has_kw = bool(call.arg & 1)
        if has_kw:
            emit(call, OP["ROT_THREE"])                                # kwargs, f, args
        emit(call, OP["DUP_TOP_TWO"])
        emit(call, OP["POP_TOP"])                                      # ..., f, args, f
        emit(call, OP["LOAD_CONST"], self.consts(call.offset))
        emit(call, OP["LOAD_CONST"], self.perf)
        emit(call, OP["CALL_FUNCTION"], 0)
        emit(call, OP["BUILD_TUPLE"], 3)                               # (callee, site, start)
        emit(call, OP["LOAD_FAST"], self.local)
        emit(call, OP["ROT_TWO"])
        emit(call, OP["CALL_FUNCTION"], 1)
        emit(call, OP["POP_TOP"])
        if has_kw:
            emit(call, OP["ROT_THREE"])
            emit(call, OP["ROT_THREE"])                                # f, args, kwargs
        emit(call, OP["CALL_FUNCTION_EX"], int(has_kw))
        self._record(call)

    def _assemble(self):
        out = self.out
        while True:
            offset = 0
            for ins in out:
                ins.offset = offset
                offset += ins.size * 2
            changed = False
            for ins in out:
                if ins.target is not None:
                    if ins.op in _ABSOLUTE:
                        ins.arg = ins.target.offset // self.scale
                    else:
                        ins.arg = (ins.target.offset - ins.offset - ins.size * 2) // self.scale
                        if ins.arg < 0:
                            raise Unsupported("a relative jump went backwards")
                size = _units(ins.arg)
                if size != ins.size:
                    ins.size, changed = size, True
            if not changed:
                break
        raw = bytearray()
        for ins in out:
            for shift in range(ins.size - 1, 0, -1):
                raw += bytes((dis.EXTENDED_ARG, (ins.arg >> (8 * shift)) & 0xFF))
            raw += bytes((ins.op, ins.arg & 0xFF))
        return bytes(raw), [(ins.offset, ins.line) for ins in out]

    def _lnotab(self, offsets) -> bytes:
        out = bytearray()
        prev_offset, prev_line = 0, self.code.co_firstlineno
        for offset, line in offsets:
            if line is None or line == prev_line:
                continue
            d_offset, d_line = offset - prev_offset, line - prev_line
            while d_offset > 255:
                out += bytes((255, 0))
                d_offset -= 255
            while d_line > 127:
                out += bytes((d_offset, 127))
                d_offset, d_line = 0, d_line - 127
            while d_line < -128:
                out += bytes((d_offset, 0x80))
                d_offset, d_line = 0, d_line + 128
            out += bytes((d_offset, d_line & 0xFF))
            prev_offset, prev_line = offset, line
        return bytes(out)

    def _linetable(self, offsets, length: int) -> bytes:
        runs: List[list] = []
        for offset, line in offsets:
            if runs and runs[-1][2] == line:
                continue
            if runs:
                runs[-1][1] = offset
            runs.append([offset, length, line])
        out = bytearray()
        current = self.code.co_firstlineno
        for start, end, line in runs:
            size = end - start
            if line is None:
                delta, none = 0x80, True
            else:
                delta, none = line - current, False
                while delta > 127:
                    out += bytes((0, 127))
                    delta -= 127
                while delta < -127:
                    out += bytes((0, 0x81))
                    delta += 127
                current = line
                delta &= 0xFF
            while size > 254:
                out += bytes((254, delta))
                size -= 254
                delta = 0x80 if none else 0
            out += bytes((size, delta))
        return bytes(out)


def _units(arg: int) -> int:
    return 1 + (arg > 0xFF) + (arg > 0xFFFF) + (arg > 0xFFFFFF)


# ---- 3.11 ----

def _cache_entries() -> Dict[int, int]:
    import opcode
    entries = getattr(opcode, "_inline_cache_entries", ())
    if isinstance(entries, dict):   # 3.13+: by name
        return {OP[name]: count for name, count in entries.items() if name in OP}
    return dict(enumerate(entries))


_CACHES = _cache_entries()
_BACKWARD = {op for name, op in OP.items() if "BACKWARD" in name}
_JUMPS = set(dis.hasjrel) | set(dis.hasjabs)
_UNCONDITIONAL = {OP.get(name) for name in ("JUMP_FORWARD", "JUMP_BACKWARD", "JUMP_BACKWARD_NO_INTERRUPT")}
_TERMINAL = {OP.get(name) for name in ("RETURN_VALUE", "RETURN_CONST", "RAISE_VARARGS", "RERAISE")} - {None}
# Instructions whose argument indexes the frame's locals and cells: a cell's index moves up by one behind the
# hidden local (3.13+ build closures with LOAD_FAST of the cell); 3.13+ pair two locals in one argument,
# four bits each (the compiler pairs plain locals only).
_PAIRS = {op for name, op in OP.items() if name.count("FAST") == 2}
_DEREFS = (set(dis.haslocal) | set(dis.hasfree)) - _PAIRS


class _Rewrite311(_Rewrite):

    def decode(self) -> List[Instr]:
        code = self.code
        raw = code.co_code
        positions = list(code.co_positions())  # type: ignore[attr-defined]  # 3.11+
        instrs: List[Instr] = []
        by_offset: Dict[int, Instr] = {}
        ext, start, unit = 0, None, 0
        while unit < len(raw) // 2:
            op, arg = raw[unit * 2], raw[unit * 2 + 1]
            start = unit if start is None else start
            if op == dis.EXTENDED_ARG:
                ext = (ext | arg) << 8
                unit += 1
                continue
            ins = Instr(op, ext | arg, pos=positions[unit])
            ins.offset = unit * 2
            ins.size = unit + 1 + _CACHES.get(op, 0)      # the unit after it, for now
            by_offset[start * 2] = by_offset[unit * 2] = ins
            instrs.append(ins)
            ext, start = 0, None
            unit += 1 + _CACHES.get(op, 0)
        for ins in instrs:
            if ins.op in _JUMPS:
                delta = -ins.arg if ins.op in _BACKWARD else ins.arg
                ins.target = by_offset[(ins.size + delta) * 2]
        for entry in dis._parse_exception_table(code):   # type: ignore[attr-defined]  # 3.11's own parser
            handler = (by_offset[entry.target], entry.depth, int(entry.lasti))
            for ins in instrs:
                if entry.start <= ins.offset < entry.end:
                    ins.handler = handler
        return instrs

    def null_below(self, instrs: List[Instr]) -> Dict[int, list]:
        """The stack of each instruction as tags: N (the NULL below a callable), V (a value), U (either,
        depending on the path). LOAD_METHOD is counted as what it becomes: NULL, bound method."""
        at = {id(ins): i for i, ins in enumerate(instrs)}
        entry: List[Optional[tuple]] = [None] * len(instrs)
        work = []

        def reach(index: int, stack) -> None:
            stack = tuple(stack)
            have = entry[index]
            if have is None:
                entry[index] = stack
                work.append(index)
            elif have != stack:
                if len(have) != len(stack):
                    raise Unsupported("stack depths disagree")
                merged = tuple(a if a == b else "U" for a, b in zip(have, stack))
                if merged != have:
                    entry[index] = merged
                    work.append(index)

        reach(0, ())
        while work:
            index = work.pop()
            ins = instrs[index]
            stack = list(entry[index])   # type: ignore[arg-type]  # reached
            if ins.handler is not None:
                target, depth, lasti = ins.handler
                reach(at[id(target)], stack[:depth] + ["V"] * (lasti + 1))
            name = dis.opname[ins.op]
            if ins.op in _TERMINAL:
                continue
            if ins.op in _JUMPS:
                reach(at[id(ins.target)], _apply(stack, ins, name, True))
                if ins.op in _UNCONDITIONAL:
                    continue
            reach(index + 1, _apply(stack, ins, name, False))
        return {id(ins): list(entry[i] or ()) for i, ins in enumerate(instrs)}

    def build(self) -> types.CodeType:
        originals = self.decode()
        self.stacks = self.null_below(originals)
        nlocals = self.code.co_nlocals
        handlers = {id(ins.handler[0]) for ins in originals if ins.handler is not None}
        resumed = False
        for index, ins in enumerate(originals):
            start = len(self.out)
            if id(ins) in handlers:
                self._mark_raised(ins)
            call = self.call_starting(originals, index)
            if call is not None:
                self._stamp_start(ins, *call)
            if not self.as_one_value(ins):
                arg = ins.arg + 1 if ins.op in _DEREFS and ins.arg >= nlocals else ins.arg
                if ins.op in _PAIRS and max(ins.arg >> 4, ins.arg & 15) >= nlocals:
                    raise Unsupported("a pair of locals names a cell")
                self.emit(ins, ins.op, arg, ins.target)
            if ins.op in self.CALLS:
                self._record_now(ins)
            if ins.op == OP["RESUME"] and not resumed:   # buffer = waiting.pop(get_ident(), bool)
                resumed = True
                self._callable(ins, OP["LOAD_CONST"], self.pop)
                self._call(ins, self.get_ident)
                self.emit(ins, OP["LOAD_CONST"], self.unrecorded)
                self._call_with(ins, 2)
                self.emit(ins, OP["STORE_FAST"], self.local)
            self.stands_for(ins, start)
        return self.finish()

    # ---- what each version says differently ----

    CALLS = {OP.get(name) for name in ("CALL", "CALL_FUNCTION_EX")}   # instructions that call (after: timed)

    def call_starting(self, originals: List[Instr], index: int) -> Optional[tuple]:
        """(depth of the callee on the stack, site) when a call's timing starts before ``originals[index]``:
        3.11's ``[KW_NAMES] PRECALL CALL`` starts at its first instruction, the site being the CALL."""
        ins = originals[index]
        if ins.op == OP["KW_NAMES"]:
            precall = originals[index + 1]
            return self._callee_depth(ins, precall.arg + 1, precall.arg + 2), originals[index + 2].offset
        if ins.op == OP["PRECALL"] and originals[index - 1].op != OP["KW_NAMES"]:
            return self._callee_depth(ins, ins.arg + 1, ins.arg + 2), originals[index + 1].offset
        if ins.op == OP["CALL_FUNCTION_EX"]:
            return self._callee_depth(ins, None, 2 + (ins.arg & 1)), ins.offset
        return None

    def as_one_value(self, ins: Instr) -> bool:
        """Emit a method load as a bound method with a NULL below it (the callee one value); True if done."""
        if ins.op != OP["LOAD_METHOD"]:
            return False
        self.emit(ins, OP["LOAD_ATTR"], ins.arg)
        self.emit(ins, OP["PUSH_NULL"])
        self.emit(ins, OP["SWAP"], 2)
        return True

    def _callable(self, anchor: Instr, op: int, arg: int) -> None:
        """Push a callable to call (3.11, 3.12: a NULL below it)."""
        self.emit(anchor, OP["PUSH_NULL"])
        self.emit(anchor, op, arg)

    def _call_with(self, anchor: Instr, count: int) -> None:
        """Call the callable pushed by ``_callable`` with the ``count`` values above it."""
        self.emit(anchor, OP["PRECALL"], count)
        self.emit(anchor, OP["CALL"], count)

    # ---- the timing ----

    def _call(self, anchor: Instr, const_index: int) -> None:
        """Push ``consts[const_index]()``."""
        self._callable(anchor, OP["LOAD_CONST"], const_index)
        self._call_with(anchor, 0)

    def _record_now(self, anchor: Instr, negative: bool = False) -> None:
        """``buffer(perf_counter_ns())`` (negated: a child raised); no test first (see the 3.9 one)."""
        self._callable(anchor, OP["LOAD_FAST"], self.local)
        self._call(anchor, self.perf)
        if negative:
            self.emit(anchor, OP["UNARY_NEGATIVE"])
        self._call_with(anchor, 1)
        self.emit(anchor, OP["POP_TOP"])

    def _mark_raised(self, handler: Instr) -> None:
        self._record_now(handler, negative=True)

    def _callee_depth(self, anchor: Instr, if_null: Optional[int], otherwise: int) -> int:
        """Where the callee is: the value above the NULL, or the value in the NULL's place (a
        comprehension's function, a ``with`` block's ``__exit__``)."""
        stack = self.stacks[id(anchor)]
        below = stack[-otherwise] if len(stack) >= otherwise else "U"
        if if_null is None or below == "V":
            return otherwise
        if below == "N":
            return if_null
        raise Unsupported("a call whose callee's place depends on the path")

    def _stamp_start(self, anchor: Instr, depth: int, site: int) -> None:
        """``buffer((callee, site, perf_counter_ns()))``, the callee ``depth`` values down the stack."""
        self._callable(anchor, OP["LOAD_FAST"], self.local)
        self.emit(anchor, OP["COPY"], depth + 2)
        self.emit(anchor, OP["LOAD_CONST"], self.consts(site))
        self._call(anchor, self.perf)
        self.emit(anchor, OP["BUILD_TUPLE"], 3)
        self._call_with(anchor, 1)
        self.emit(anchor, OP["POP_TOP"])

    # ---- the copy ----

    def finish(self) -> types.CodeType:
        """The copy, from the instructions emitted: jumps and handlers resolved, laid out and encoded."""
        self.resolve_targets()
        for ins in self.out:
            if ins.handler is not None:
                target, depth, lasti = ins.handler
                ins.handler = (self.first_of.get(id(target), target), depth, lasti)
        self._assemble()
        return self.finish_code(co_code=self._bytes(), co_linetable=self._locations(),
                                co_exceptiontable=self._exception_table())

    def _assemble(self) -> None:
        out = self.out
        for ins in out:
            ins.size = 1 + _CACHES.get(ins.op, 0)
        while True:
            unit = 0
            for ins in out:
                ins.offset = unit
                unit += ins.size
            changed = False
            for ins in out:
                if ins.target is None:
                    continue
                after = ins.offset + ins.size
                ins.arg = after - ins.target.offset if ins.op in _BACKWARD else ins.target.offset - after
                if ins.arg < 0:
                    raise Unsupported("a jump changed direction")
                size = _units(ins.arg) + _CACHES.get(ins.op, 0)
                if size != ins.size:
                    ins.size, changed = size, True
            if not changed:
                break

    def _bytes(self) -> bytes:
        raw = bytearray()
        for ins in self.out:
            caches = _CACHES.get(ins.op, 0)
            for shift in range(ins.size - caches - 1, 0, -1):
                raw += bytes((dis.EXTENDED_ARG, (ins.arg >> (8 * shift)) & 0xFF))
            raw += bytes((ins.op, ins.arg & 0xFF))
            raw += bytes(2 * caches)
        return bytes(raw)

    def _locations(self) -> bytes:
        """3.11's location table, one long-form entry per instruction (at most 8 code units each)."""
        out = bytearray()
        previous = self.code.co_firstlineno
        for ins in self.out:
            line, end_line, col, end_col = ins.pos or (None, None, None, None)
            units = ins.size
            while units > 0:
                count = min(units, 8)
                units -= count
                if line is None:
                    out.append(0x80 | (15 << 3) | (count - 1))
                    continue
                if end_line is None or col is None or end_col is None:
                    out.append(0x80 | (13 << 3) | (count - 1))
                    _signed_varint(out, line - previous)
                else:
                    out.append(0x80 | (14 << 3) | (count - 1))
                    _signed_varint(out, line - previous)
                    _varint(out, end_line - line)
                    _varint(out, col + 1)
                    _varint(out, end_col + 1)
                previous = line
        return bytes(out)

    def _exception_table(self) -> bytes:
        entries: List[list] = []
        for ins in self.out:
            if ins.handler is None:
                continue
            target, depth, lasti = ins.handler
            key = (target.offset, depth, lasti)
            if entries and entries[-1][1] == ins.offset and entries[-1][2] == key:
                entries[-1][1] = ins.offset + ins.size
            else:
                entries.append([ins.offset, ins.offset + ins.size, key])
        out = bytearray()
        for start, end, (target, depth, lasti) in entries:
            _table_varint(out, start, 0x80)
            _table_varint(out, end - start, 0)
            _table_varint(out, target, 0)
            _table_varint(out, (depth << 1) | lasti, 0)
        return bytes(out)


class _Rewrite312(_Rewrite311):
    """3.12: no PRECALL; a method load is ``LOAD_ATTR`` (or ``LOAD_SUPER_ATTR``) with its low bit set; a
    zero-argument ``super().name`` is one ``LOAD_SUPER_ATTR``, timed as the call of ``super`` it stands for
    (``sys.monitoring`` reports a CALL event there, and 3.11 compiles a call)."""

    CALLS = {OP.get(name) for name in ("CALL", "CALL_FUNCTION_EX", "LOAD_SUPER_ATTR")}

    def call_starting(self, originals: List[Instr], index: int) -> Optional[tuple]:
        ins = originals[index]
        if ins.op == OP["KW_NAMES"]:      # names for the CALL after it: nothing may come in between
            call = originals[index + 1]
            return self._callee_depth(ins, call.arg + 1, call.arg + 2), call.offset
        if ins.op == OP["CALL"] and originals[index - 1].op != OP["KW_NAMES"]:
            return self._callee_depth(ins, ins.arg + 1, ins.arg + 2), ins.offset
        if ins.op == OP["CALL_FUNCTION_EX"]:
            return self._callee_depth(ins, None, 2 + (ins.arg & 1)), ins.offset
        if ins.op == OP["LOAD_SUPER_ATTR"]:
            return 3, ins.offset          # (super, class, self)
        return None

    def as_one_value(self, ins: Instr) -> bool:
        if ins.op not in (OP["LOAD_ATTR"], OP["LOAD_SUPER_ATTR"]) or not ins.arg & 1:
            return False
        self.emit(ins, ins.op, ins.arg & ~1)
        self.emit(ins, OP["PUSH_NULL"])
        self.emit(ins, OP["SWAP"], 2)
        return True

    def _call_with(self, anchor: Instr, count: int) -> None:
        self.emit(anchor, OP["CALL"], count)


class _Rewrite313(_Rewrite312):
    """3.13: a call's stack is (callable, self or NULL, arguments): the callee is always the same depth
    down, method loads stay as they are; keyword names are the last value (``CALL_KW``)."""

    CALLS = {OP.get(name) for name in ("CALL", "CALL_KW", "CALL_FUNCTION_EX", "LOAD_SUPER_ATTR")}

    def null_below(self, instrs: List[Instr]) -> Dict[int, list]:
        return {}   # not needed: the callee's place does not depend on a NULL

    def call_starting(self, originals: List[Instr], index: int) -> Optional[tuple]:
        ins = originals[index]
        depth = {OP["CALL"]: ins.arg + 2, OP["CALL_KW"]: ins.arg + 3, OP["CALL_FUNCTION_EX"]: 3 + (ins.arg & 1),
                 OP["LOAD_SUPER_ATTR"]: 3}.get(ins.op)
        return None if depth is None else (depth, ins.offset)

    def as_one_value(self, ins: Instr) -> bool:
        return False

    def _callable(self, anchor: Instr, op: int, arg: int) -> None:
        self.emit(anchor, op, arg)
        self.emit(anchor, OP["PUSH_NULL"])


class _Rewrite314(_Rewrite313):
    """3.14: ``CALL_FUNCTION_EX`` always has its keyword slot (a NULL when there are none)."""

    def call_starting(self, originals: List[Instr], index: int) -> Optional[tuple]:
        ins = originals[index]
        if ins.op == OP["CALL_FUNCTION_EX"]:
            return 4, ins.offset
        return super().call_starting(originals, index)


def _apply(stack: list, ins: Instr, name: str, jump: bool) -> list:
    """The tags after ``ins`` (see ``null_below``)."""
    stack = list(stack)
    if name == "PUSH_NULL":
        return stack + ["N"]
    if name == "LOAD_GLOBAL":
        return stack + (["N"] if ins.arg & 1 else []) + ["V"]
    if name == "LOAD_METHOD" or (name == "LOAD_ATTR" and VERSION >= (3, 12) and ins.arg & 1):
        return stack[:-1] + ["N", "V"]
    if name == "LOAD_SUPER_ATTR":
        return stack[:-3] + (["N", "V"] if ins.arg & 1 else ["V"])
    if name in ("PRECALL", "KW_NAMES"):
        return stack
    if name == "CALL":
        return stack[:len(stack) - ins.arg - 2] + ["V"]
    if name == "CALL_FUNCTION_EX":
        return stack[:len(stack) - 3 - (ins.arg & 1)] + ["V"]
    if name == "COPY":
        return stack + [stack[-ins.arg]]
    if name == "SWAP":
        stack[-1], stack[-ins.arg] = stack[-ins.arg], stack[-1]
        return stack
    effect = dis.stack_effect(ins.op, ins.arg if ins.op >= dis.HAVE_ARGUMENT else None, jump=jump)
    if effect < 0:
        popped = stack[len(stack) + effect:]
        if "N" in popped:
            raise Unsupported("%s takes a NULL" % name)
        return stack[:len(stack) + effect]
    return stack + ["V"] * effect


def _varint(out: bytearray, value: int) -> None:
    while value >= 64:
        out.append(64 | (value & 63))
        value >>= 6
    out.append(value)


def _signed_varint(out: bytearray, value: int) -> None:
    _varint(out, ((-value) << 1) | 1 if value < 0 else value << 1)


def _table_varint(out: bytearray, value: int, msb: int) -> None:
    for shift in (24, 18, 12, 6):
        if value >= 1 << shift:
            out.append(((value >> shift) & 0x3F) | 0x40 | msb)
            msb = 0
    out.append((value & 0x3F) | msb)
