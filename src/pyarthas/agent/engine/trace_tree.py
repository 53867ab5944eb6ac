"""From a finished ``calltree.Recording`` to Arthas's trace nodes
(Arthas: https://arthas.aliyun.com/en/doc/trace.html).

Runs on an agent thread when a ``trace`` result is first serialized: names callees as Arthas shows them
(``className``/``methodName``: the defining class or module and the function; C functions by their type
or module), maps call-site offsets to source lines, merges the call sites of one line that call the same
function (Arthas merges identical class/method/line), and adds ``throw`` nodes and marks.
"""
import dis
import os
import sys
import sysconfig
import types
from typing import Any, Dict, List, Optional

from .calltree.recording import (
    C_CALLABLE_TYPES,
    CALLEE,
    LAST,
    MAX,
    MIN,
    NESTED,
    SITE,
    SUSPENDED,
    SUSPENSIONS,
    THROWS,
    TIMES,
    TOTAL,
    Recording,
    Suspension,
    materialize,
)
from .calltree.rewrite import is_copy_of


def _line_table(code: types.CodeType):
    cached = _LINES.get(code)
    if cached is None:
        starts = sorted((offset, line) for offset, line in dis.findlinestarts(code) if line is not None)
        cached = _LINES[code] = starts
        if len(_LINES) > 4096:
            _LINES.clear()
    return cached


_LINES: Dict[types.CodeType, list] = {}


def line_at(code: types.CodeType, offset: int) -> int:
    """The source line of the instruction at ``offset`` (-1 when unknown)."""
    line = -1
    for start, number in _line_table(code):
        if start > offset:
            break
        line = number
    return line


def describe_callee(callee: Any):
    """(className, methodName) of a child call as Arthas shows it: the defining class or module and the
    function's name; C functions by their type or module (``builtins.list``, ``append``)."""
    if isinstance(callee, types.CodeType):
        module = _module_of_code(callee)
        owner, _, name = _qualname_of_code(callee, module).rpartition(".")
        owner = owner.replace(".<locals>", "")
        return (module + "." + owner if owner else module), name
    kind = type(callee)
    if kind is types.MethodType:
        callee = callee.__func__
        kind = type(callee)
    if kind is types.FunctionType:
        module = callee.__module__ or _module_of_code(callee.__code__)
        owner, _, name = callee.__qualname__.rpartition(".")
        owner = owner.replace(".<locals>", "")
        return (module + "." + owner if owner else module), name
    if isinstance(callee, type):
        return _qualified(callee), "__init__"
    if kind in C_CALLABLE_TYPES:
        name = callee.__name__
        owner_type = getattr(callee, "__objclass__", None)
        if owner_type is None:
            bound = callee.__self__
            if bound is None or isinstance(bound, types.ModuleType):
                return (getattr(bound, "__name__", None) or callee.__module__ or "builtins"), name
            owner_type = bound if isinstance(bound, type) else type(bound)
        return _qualified(owner_type), name
    return _qualified(kind), "__call__"


def _qualified(kind: type) -> str:
    module = getattr(kind, "__module__", None) or "builtins"
    return "%s.%s" % (module, getattr(kind, "__qualname__", kind.__name__))


def _module_of_code(code: types.CodeType) -> str:
    filename = code.co_filename
    name = _MODULE_BY_FILE.get(filename)
    if name is None:
        for module_name, module in list(sys.modules.items()):
            if getattr(module, "__file__", None) == filename:
                name = module_name
                break
        else:
            base = filename.replace("\\", "/").rsplit("/", 1)[-1]
            name = base[:-3] if base.endswith(".py") else base
        _MODULE_BY_FILE[filename] = name
    return name


_MODULE_BY_FILE: Dict[str, str] = {}


def _qualname_of_code(code: types.CodeType, module_name: str) -> str:
    """``co_qualname`` where it exists (3.11+); before, the function holding ``code`` is looked up in
    its module's classes (one level of nesting), else the bare name."""
    qualname = getattr(code, "co_qualname", None)
    if qualname:
        return qualname
    module = sys.modules.get(module_name)
    for value in list(vars(module).values()) if module is not None else ():
        found = _find_code_in(value, code, 2)
        if found:
            return found
    return code.co_name


def _find_code_in(value: Any, code: types.CodeType, depth: int) -> Optional[str]:
    func = getattr(value, "__func__", None) if isinstance(value, (staticmethod, classmethod)) else value
    if isinstance(value, property):
        func = value.fget
    if isinstance(func, types.FunctionType) and func.__code__ is code:
        return func.__qualname__
    if isinstance(value, type) and depth > 0:
        for member in list(vars(value).values()):
            found = _find_code_in(member, code, depth - 1)
            if found:
                return found
    return None


def _method_node(class_name, method_name, line, times, cost, min_cost, max_cost, total, throws,
                 invoking=True) -> Dict[str, Any]:
    node = {"type": "method", "className": class_name, "methodName": method_name, "lineNumber": line,
            "invoking": invoking, "cost": cost, "minCost": min_cost, "maxCost": max_cost,
            "totalCost": total, "times": times}
    if throws:
        node["throw"] = True
        node["mark"] = "throws Exception"
    return node


def build_method_node(rec: Recording, class_name: str, method_name: str, skip_builtins: bool = False,
                      exception: Optional[BaseException] = None, counter: Optional[list] = None):
    """The traced call as Arthas's method node (``invoking: false``, ``lineNumber: -1``) with its children
    and, when it raised, a ``throw`` node. ``counter[0]`` accumulates the number of nodes."""
    counter = counter if counter is not None else [0]
    materialize(rec)
    cost = rec.cost_ns
    root = _method_node(class_name, method_name, -1, 1, cost, cost, cost, cost, rec.raised, invoking=False)
    counter[0] += 1
    children = _child_nodes(rec, skip_builtins, counter)
    if rec.raised and exception is not None:
        children.append(throw_node(exception, rec.code))
        counter[0] += 1
        root["mark"] = "throws Exception"
    if children:
        root["children"] = children
    return root


def merge_recordings(recs: List[Recording], class_name: str, method_name: str, skip_builtins: bool,
                     counter: list) -> Dict[str, Any]:
    """Several sub-recordings of one traced function under the same call node: one merged node."""
    nodes = [build_method_node(r, class_name, method_name, skip_builtins, counter=counter) for r in recs]
    merged = nodes[0]
    if len(nodes) > 1:
        costs = [n["cost"] for n in nodes]
        merged.update(times=len(nodes), minCost=min(costs), maxCost=max(costs), totalCost=sum(costs),
                      cost=costs[-1])
        children = []
        for n in nodes:
            children.extend(n.get("children", ()))
        merged["children"] = _merge_same(children)
    return merged


def _merge_same(nodes: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    out: Dict[Any, Dict[str, Any]] = {}
    for node in nodes:
        key = (node.get("type"), node.get("className"), node.get("methodName"), node.get("lineNumber"),
               node.get("exception"))
        have = out.get(key)
        if have is None or node.get("type") != "method":
            out[key if have is None else (key, id(node))] = node
            continue
        have["times"] += node["times"]
        have["totalCost"] += node["totalCost"]
        have["minCost"] = min(have["minCost"], node["minCost"])
        have["maxCost"] = max(have["maxCost"], node["maxCost"])
        have["cost"] = node["cost"]
        if node.get("throw"):
            have["throw"] = True
            have["mark"] = "throws Exception"
        if node.get("children"):
            have["children"] = _merge_same(have.get("children", []) + node["children"])
    return list(out.values())


def _child_nodes(rec: Recording, skip_builtins: bool, counter: list) -> List[Dict[str, Any]]:
    merged: Dict[Any, Dict[str, Any]] = {}
    for item in list(rec.children.values()):
        if isinstance(item, Recording):
            class_name, method_name = describe_callee(item.code)
            node = build_method_node(item, class_name, method_name, skip_builtins, counter=counter)
            merged[("nested", id(item))] = node
            continue
        if isinstance(item, Suspension):
            if item.times:
                line = line_at(rec.code, item.site)
                merged[("suspend", line, item.awaiting)] = {
                    "type": "suspend", "awaiting": item.awaiting, "lineNumber": line, "times": item.times,
                    "cost": item.last, "minCost": item.min, "maxCost": item.max, "totalCost": item.total}
                counter[0] += 1
            continue
        if not item[TIMES]:
            continue
        # an awaited call is kept whoever made it: its wall time is where the coroutine's time went
        if skip_builtins and not item[SUSPENSIONS] and not item[NESTED] and _is_builtin(item[CALLEE]):
            continue
        line = line_at(rec.code, item[SITE])
        class_name, method_name = describe_callee(item[CALLEE])
        key = (class_name, method_name, line)
        node = merged.get(key)
        if node is None:
            node = merged[key] = _method_node(class_name, method_name, line, 0, 0, item[MIN], item[MAX], 0, 0)
            counter[0] += 1
        _add_stats(node, item)
        if item[NESTED]:
            by_code: Dict[int, List[Recording]] = {}
            for sub in item[NESTED]:
                by_code.setdefault(id(sub.code), []).append(sub)
            subs = node.setdefault("children", [])
            for recs in by_code.values():
                sub_class, sub_method = describe_callee(recs[0].code)
                subs.append(merge_recordings(recs, sub_class, sub_method, skip_builtins, counter))
    return list(merged.values())


def _add_stats(node: Dict[str, Any], item: list) -> None:
    first = node["times"] == 0
    node["times"] += item[TIMES]
    node["totalCost"] += item[TOTAL]
    node["cost"] = item[LAST]
    node["minCost"] = item[MIN] if first else min(node["minCost"], item[MIN])
    node["maxCost"] = item[MAX] if first else max(node["maxCost"], item[MAX])
    if item[THROWS]:
        node["throw"] = True
        node["mark"] = "throws Exception"
    if item[SUSPENSIONS]:
        node["suspensions"] = node.get("suspensions", 0) + item[SUSPENSIONS]
        node["suspendedCost"] = node.get("suspendedCost", 0) + item[SUSPENDED]


def _is_builtin(callee: Any) -> bool:
    """``--skip-builtins``: calls into C (builtins, C functions and methods) and into the standard library's
    own modules; never a function or class of the user's (``__main__`` included) or of a third-party package.
    Reads only attributes of interpreter types (never user descriptors)."""
    if isinstance(callee, types.CodeType):
        return _is_stdlib_file(callee.co_filename)
    kind = type(callee)
    if kind is types.MethodType:
        callee = callee.__func__
        kind = type(callee)
    if kind is types.FunctionType:
        return _is_stdlib_file(callee.__code__.co_filename)
    if kind in C_CALLABLE_TYPES:
        return True
    return _is_stdlib_class(callee if isinstance(callee, type) else kind)


def _is_stdlib_class(kind: type) -> bool:
    """A class (called, or the type of a called object) of the standard library or of a C module."""
    try:
        module_name = type.__dict__["__module__"].__get__(kind)
    except Exception:
        return True
    if not isinstance(module_name, str) or module_name == "builtins":
        return True
    names = getattr(sys, "stdlib_module_names", None)   # 3.10+
    if names is not None and module_name.partition(".")[0] in names:
        return True
    module = sys.modules.get(module_name)
    filename = getattr(module, "__file__", None) if isinstance(module, types.ModuleType) else None
    if filename is None:
        return module is not None and module_name != "__main__"   # a module built into the interpreter
    return _is_stdlib_file(filename)


def _stdlib_dirs() -> tuple:
    """The standard library's directories (``sysconfig``'s ``stdlib`` and ``platstdlib``, as given and
    resolved), each ending with a separator."""
    found = set()
    for key in ("stdlib", "platstdlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            for variant in (path, os.path.realpath(path)):
                found.add(variant.rstrip(os.sep) + os.sep)
    return tuple(found)


_STDLIB_DIRS = _stdlib_dirs()
_THIRD_PARTY = (os.sep + "site-packages" + os.sep, os.sep + "dist-packages" + os.sep)


def _is_stdlib_file(filename: str) -> bool:
    if filename.startswith("<frozen"):
        return True
    if any(part in filename for part in _THIRD_PARTY):
        return False
    return filename.startswith(_STDLIB_DIRS)


def throw_node(exception: BaseException, code: Optional[types.CodeType] = None) -> Dict[str, Any]:
    """Arthas's throw node: the exception's class, message and the line of ``code`` it passed."""
    line = -1
    tb = exception.__traceback__
    while tb is not None:
        if code is None or is_copy_of(tb.tb_frame.f_code, code):
            line = tb.tb_lineno
        tb = tb.tb_next
    kind = type(exception)
    module = kind.__module__
    return {"type": "throw", "exception": kind.__qualname__ if module == "builtins" else
            "%s.%s" % (module, kind.__qualname__), "message": _message(exception), "lineNumber": line}


def _message(exception: BaseException) -> Optional[str]:
    try:
        return str(exception) if exception.args else None
    except Exception:
        return None
