"""``vmtool --action heapAnalyze`` and ``referenceAnalyze``: the heap by class and the largest objects with
the path of referrers that holds each, as text in the layout of Arthas's vmtool (``heap_analyzer.c``).

Python's heap walk is the gc's list of tracked objects (atomic objects such as str and int are not
tracked and are not counted); sizes are shallow (``sys.getsizeof``). A referrer path climbs
``gc.get_referrers`` from an object to a module global, a class attribute or a thread's frame (a root),
at most ``backtrace`` steps; each step scans the heap once, so the paths cost ``objects x steps`` scans.
"""
import gc
import heapq
import sys
import types
from typing import Any, Dict, Iterable, List, Optional, Tuple

from .memory import type_histogram, type_name

_RULE = "-" * 52


def _largest(objects: Iterable[Any], count: int) -> List[Any]:
    getsizeof = sys.getsizeof

    def size(obj: Any) -> int:
        try:
            return getsizeof(obj)
        except Exception:
            return 0
    return heapq.nlargest(count, objects, key=size) if count > 0 else []


def _module_dicts() -> Dict[int, str]:
    return {id(vars(m)): name for name, m in list(sys.modules.items()) if isinstance(m, types.ModuleType)}


def _key_of(container: Any, obj: Any) -> Optional[str]:
    if isinstance(container, dict):
        for key, value in list(container.items()):
            if value is obj:
                return str(key)
    return None


def _describe(referrer: Any, held: Any, modules: Dict[int, str]) -> Tuple[str, bool]:
    """How ``referrer`` holds ``held`` (text) and whether it is a root."""
    if isinstance(referrer, types.ModuleType):
        return "root (module %s)" % referrer.__name__, True
    module = modules.get(id(referrer))
    if module is not None:
        return "root (global %s of module %s)" % (_key_of(referrer, held), module), True
    if isinstance(referrer, type):
        return "root (attribute of class %s)" % type_name(referrer), True
    if isinstance(referrer, types.FrameType):
        return "root (local variable in function: %s)" % referrer.f_code.co_name, True
    key = _key_of(referrer, held)
    return type_name(type(referrer)) + ("[%r]" % key if key is not None else ""), False


def _frame_holding(obj: Any) -> Optional[str]:
    """A running function whose local variable holds ``obj`` (the gc does not see the frames of running
    functions on 3.11+), as a root's text."""
    for thread_id, top in list(sys._current_frames().items()):
        frame: Optional[types.FrameType] = top
        while frame is not None:
            if frame.f_code.co_filename != __file__:
                try:
                    names = [name for name, value in dict(frame.f_locals).items() if value is obj]
                except Exception:
                    names = []
                if names:
                    return "root (local variable %s in function: %s, thread %d)" % (names[0], frame.f_code.co_name,
                                                                                   thread_id)
            frame = frame.f_back
    return None


def referrer_path(obj: Any, steps: int, ignored: set) -> str:
    """`` <-- referrer <-- ... <-- root`` for ``obj``: ``steps`` referrers at most (-1: until a root)."""
    modules = _module_dicts()
    parts = []
    current = obj
    taken = 0
    while steps < 0 or taken < steps:
        referrers = [r for r in gc.get_referrers(current) if id(r) not in ignored
                     and not (isinstance(r, types.FrameType) and r.f_code.co_filename == __file__)]
        if not referrers:
            local = _frame_holding(current)
            if local:
                parts.append(local)
                return "".join(" <-- " + p for p in parts)
            break
        text, is_root = _describe(referrers[0], current, modules)
        parts.append(text)
        taken += 1
        if is_root:
            return "".join(" <-- " + p for p in parts)
        ignored.add(id(referrers))
        current = referrers[0]
        if steps < 0 and taken > 64:
            break
    return "".join(" <-- " + p for p in parts) + (" <-- ..." if steps and parts else "")


def _object_rows(found: List[Any], backtrace: int, ignored: set) -> List[str]:
    lines = ["", "%-4s\t%-10s\t%s" % ("id", "#bytes", "class_name"), _RULE]
    for index in range(len(found)):      # no enumerate: its tuples would be the objects' first referrers
        path = referrer_path(found[index], backtrace, ignored) if backtrace else ""
        lines.append("%-4d\t%-10d\t%s%s" % (index + 1, sys.getsizeof(found[index]), type_name(type(found[index])),
                                             path))
    return lines


def heap_analyze(class_num: int, object_num: int, backtrace: int = 2) -> str:
    """Arthas's heapAnalyze: the object and class counts, the largest objects (with their referrers'
    path, ``backtrace`` steps) and the classes holding the most bytes."""
    histogram = type_histogram(limit=class_num, sort_by="bytes")
    objects = gc.get_objects()
    try:
        found = _largest(objects, object_num)
        ignored = {id(objects), id(found)}
        lines = ["class_number: %d" % histogram["types"], "object_number: %d" % histogram["totalCount"]]
        lines.extend(_object_rows(found, backtrace, ignored))
    finally:
        del objects
    lines += ["", "%-4s\t%-12s\t%-15s\t%s" % ("id", "#instances", "#bytes", "class_name"), _RULE]
    for index, entry in enumerate(histogram["entries"], 1):
        lines.append("%-4d\t%-12d\t%-15d\t%s" % (index, entry["count"], entry["bytes"], entry["className"]))
    return "\n".join(lines) + "\n"


def reference_analyze(classes: List[type], object_num: int, backtrace: int) -> str:
    """Arthas's referenceAnalyze: the largest instances of ``classes`` and the path that holds each."""
    wanted = set(classes)
    objects = gc.get_objects()
    try:
        instances = [obj for obj in objects if type(obj) in wanted]
        found = _largest(instances, object_num)
        ignored = {id(objects), id(instances), id(found)}
        lines = _object_rows(found, backtrace, ignored)
    finally:
        del objects
    return "\n".join(lines) + "\n"
