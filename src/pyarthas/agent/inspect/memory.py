"""Memory as Arthas shows it, mapped to a Python process.

Public helpers:

- ``memory_info()``: Arthas's ``memoryInfo`` ``{"heap": [...], "nonheap": [...], "buffer_pool": [...]}``,
  entries ``{type, name, used, total, max}`` in bytes (-1 unknown). Read from ``/proc/self/status``
  (one small file read), so it costs about 50 us:
    heap ``heap``: anonymous resident memory (RssAnon: the Python heap, arenas, thread stacks) / the
      data segment (VmData) / the memory limit (cgroup or RLIMIT_AS/RLIMIT_DATA, -1 none);
    heap ``tracemalloc``: memory traced by tracemalloc (current / peak), only while it traces;
    nonheap ``nonheap``: file-backed and shared resident memory (code, mapped files) / the rest of the
      address space (VmSize - VmData);
    nonheap ``stack``: the main thread's stack (VmStk);
    buffer_pool ``swap``: swapped-out memory (VmSwap), max -1.
- ``process_memory()``: ``{rss, rssPeak, vms, vmsPeak, data, swap, rssAnon, rssFile, rssShmem}`` in bytes
  (-1 unknown; off Linux only the peak, from getrusage).
- ``gc_infos()``: Arthas ``gcInfos`` ``[{name, collectionCount, collectionTime, collected, uncollectable,
  threshold, count}]`` per generation (``gen0``..``gen2``). ``collectionTime`` (ms) is known only while a
  ``GcTimer`` runs (-1 otherwise): timing every collection needs a ``gc.callbacks`` entry, which only a
  command that asked for it installs and removes.
- ``gc_summary()``: enabled, thresholds, counts, frozen, garbage.
- ``type_histogram(limit, live)``: the types of the objects the gc tracks (class instances, containers,
  functions...), with counts and shallow bytes, largest first.
- ``tracemalloc_status()``; ``open_fd_count()`` (-1 where /proc is missing).
"""
import gc
import os
import sys
import time
from collections import Counter
from typing import Any, Dict, List, Optional

_STATUS_FIELDS = ("VmRSS", "VmHWM", "VmSize", "VmPeak", "VmData", "VmStk", "VmSwap", "RssAnon", "RssFile",
                  "RssShmem")


def _proc_status() -> Dict[str, int]:
    """Selected ``/proc/self/status`` fields in bytes; empty off Linux."""
    values: Dict[str, int] = {}
    try:
        with open("/proc/self/status", "rb") as status:
            for raw in status:
                key, _, rest = raw.decode("ascii", "replace").partition(":")
                if key in _STATUS_FIELDS:
                    parts = rest.split()
                    if parts:
                        values[key] = int(parts[0]) * 1024
    except (OSError, ValueError):
        pass
    return values


def _peak_rss_from_rusage() -> int:
    try:
        import resource
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    except (ImportError, OSError, ValueError):
        return -1
    return peak if sys.platform == "darwin" else peak * 1024


def process_memory() -> Dict[str, int]:
    status = _proc_status()

    def field(name: str) -> int:
        return status.get(name, -1)

    peak = field("VmHWM")
    return {"rss": field("VmRSS"), "rssPeak": peak if peak >= 0 else _peak_rss_from_rusage(),
            "vms": field("VmSize"), "vmsPeak": field("VmPeak"), "data": field("VmData"), "swap": field("VmSwap"),
            "rssAnon": field("RssAnon"), "rssFile": field("RssFile"), "rssShmem": field("RssShmem")}


def memory_limit() -> int:
    """The tightest memory limit on this process in bytes: cgroup v2/v1 or RLIMIT_AS/DATA; -1 none."""
    limits = []
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as limit_file:
                text = limit_file.read().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < (1 << 60):
            limits.append(int(text))
    try:
        import resource
        for which in (resource.RLIMIT_AS, resource.RLIMIT_DATA):
            soft = resource.getrlimit(which)[0]
            if soft != resource.RLIM_INFINITY and soft > 0:
                limits.append(soft)
    except (ImportError, OSError, ValueError, AttributeError):
        pass
    return min(limits) if limits else -1


def _entry(kind: str, name: str, used: int, total: int, maximum: int) -> Dict[str, Any]:
    return {"type": kind, "name": name, "used": used, "total": total, "max": maximum}


def memory_info() -> Dict[str, List[Dict[str, Any]]]:
    status = _proc_status()

    def field(name: str) -> int:
        return status.get(name, -1)

    rss_anon = field("RssAnon") if "RssAnon" in status else field("VmRSS")
    heap = [_entry("heap", "heap", rss_anon, field("VmData"), memory_limit())]
    traced = _traced_memory()
    if traced is not None:
        heap.append(_entry("heap", "tracemalloc", traced[0], traced[1], -1))
    resident_files = -1
    if "RssFile" in status:
        resident_files = status["RssFile"] + status.get("RssShmem", 0)
    rest = field("VmSize") - field("VmData") if "VmSize" in status and "VmData" in status else -1
    nonheap = [_entry("nonheap", "nonheap", resident_files, rest, -1),
               _entry("nonheap", "stack", field("VmStk"), field("VmStk"), -1)]
    buffer_pool = [_entry("buffer_pool", "swap", field("VmSwap"), field("VmSwap"), -1)]
    return {"heap": heap, "nonheap": nonheap, "buffer_pool": buffer_pool}


def _traced_memory():
    tracemalloc = sys.modules.get("tracemalloc")
    if tracemalloc is None or not tracemalloc.is_tracing():
        return None
    return tracemalloc.get_traced_memory()


def tracemalloc_status() -> Dict[str, Any]:
    traced = _traced_memory()
    if traced is None:
        return {"tracing": False}
    import tracemalloc
    return {"tracing": True, "traced": traced[0], "peak": traced[1],
            "frames": tracemalloc.get_traceback_limit(), "overhead": tracemalloc.get_tracemalloc_memory()}


# ---------------------------------------------------------------- gc


class GcTimer:
    """Times every collection while started (a ``gc.callbacks`` entry); ``stop()`` removes it. For
    commands that show GC time over a period (``dashboard``)."""

    def __init__(self) -> None:
        self.total_ms = [0.0, 0.0, 0.0]
        self._began: Optional[float] = None

    def _callback(self, phase: str, info: Dict[str, Any]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        elif self._began is not None:
            generation = info.get("generation", 0)
            if 0 <= generation < len(self.total_ms):
                self.total_ms[generation] += (time.perf_counter() - self._began) * 1000.0
            self._began = None

    def start(self) -> "GcTimer":
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)
        return self

    def stop(self) -> None:
        try:
            gc.callbacks.remove(self._callback)
        except ValueError:
            pass


def gc_infos(timer: Optional[GcTimer] = None) -> List[Dict[str, Any]]:
    stats = gc.get_stats()
    thresholds = gc.get_threshold()
    counts = gc.get_count()
    infos = []
    for generation, stat in enumerate(stats):
        infos.append({
            "name": "gen%d" % generation,
            "collectionCount": stat.get("collections", 0),
            "collectionTime": int(timer.total_ms[generation]) if timer and generation < 3 else -1,
            "collected": stat.get("collected", 0),
            "uncollectable": stat.get("uncollectable", 0),
            "threshold": thresholds[generation] if generation < len(thresholds) else -1,
            "count": counts[generation] if generation < len(counts) else -1,
        })
    return infos


def gc_summary() -> Dict[str, Any]:
    summary = {"enabled": gc.isenabled(), "threshold": list(gc.get_threshold()), "count": list(gc.get_count()),
               "garbage": len(gc.garbage), "allocatedBlocks": sys.getallocatedblocks()}
    if hasattr(gc, "get_freeze_count"):
        summary["frozen"] = gc.get_freeze_count()
    return summary


# ---------------------------------------------------------------- objects


def type_name(kind: type) -> str:
    module = getattr(kind, "__module__", None) or "builtins"
    return "%s.%s" % (module, getattr(kind, "__qualname__", kind.__name__))


_CHUNK = 50000  # objects per C-level step, so the GIL changes hands between steps
_GC_HEADER = sys.getsizeof([]) - [].__sizeof__()
_PREHEADER_FLAGS = (1 << 3) | (1 << 4)  # Py_TPFLAGS_MANAGED_WEAKREF, Py_TPFLAGS_MANAGED_DICT (3.11+)


class _Probe:
    pass


# what sys.getsizeof adds for a managed dict/weakref pre-header (0 before 3.11, where those bits are unused)
_PREHEADER = sys.getsizeof(_Probe()) - _Probe.__basicsize__ - _GC_HEADER


def _fixed_size(kind: type) -> int:
    """``sys.getsizeof`` of every gc-tracked instance of ``kind``, or -1 when it varies (containers,
    variable-length objects, ``__sizeof__`` overrides)."""
    try:
        if kind.__itemsize__ == 0 and kind.__sizeof__ is object.__sizeof__:
            extra = _PREHEADER if kind.__flags__ & _PREHEADER_FLAGS else 0
            return kind.__basicsize__ + _GC_HEADER + extra
    except Exception:
        pass
    return -1


def type_histogram(limit: int = 20, live: bool = False, sort_by: str = "count") -> Dict[str, Any]:
    """Histogram of the objects the gc tracks: ``{entries: [{className, count, bytes}], totalCount,
    totalBytes, types}`` with the ``limit`` largest entries (all when ``limit`` <= 0) by ``sort_by``
    (``count`` or ``bytes``). ``live`` runs a full collection first (as ``jmap -histo:live``).
    Atomic objects (str, int, float, bytes) are not tracked by the gc and are not counted.

    Counting runs in C (``Counter(map(type, ...))``) in chunks; sizes are computed once per type when all
    its instances have the same size, and summed object by object only for the types whose size varies."""
    if live:
        gc.collect()
    objects = gc.get_objects()
    try:
        counts: Counter = Counter()
        for start in range(0, len(objects), _CHUNK):
            counts.update(map(type, objects[start:start + _CHUNK]))
        sizes = {}
        varying = set()
        for kind, count in counts.items():
            size = _fixed_size(kind)
            if size >= 0:
                sizes[kind] = size * count
            else:
                varying.add(kind)
                sizes[kind] = 0
        getsizeof = sys.getsizeof
        for obj in objects:
            kind = type(obj)
            if kind in varying:
                try:
                    sizes[kind] += getsizeof(obj)
                except Exception:
                    pass
    finally:
        del objects
    key = sizes.get if sort_by == "bytes" else counts.get
    ordered = sorted(counts, key=lambda kind: -(key(kind) or 0))
    if limit > 0:
        ordered = ordered[:limit]
    entries = [{"className": type_name(kind), "count": counts[kind], "bytes": sizes.get(kind, 0)}
               for kind in ordered]
    return {"entries": entries, "totalCount": sum(counts.values()), "totalBytes": sum(sizes.values()),
            "types": len(counts)}


def open_fd_count() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return -1
