"""Threads as Arthas shows them: CPU from per-thread CPU clocks, states inferred from the top frame, stacks.

Public helpers (all cheap: one ``sys._current_frames()`` call, one clock read per thread, no thread
started, nothing left behind):

- ``thread_snapshot(interval_s=0.2, wait=None, include_agent=False, include_native=False)``: a list of
  Arthas ThreadVO dicts, busiest first: ``id`` (a small id as Java's, see ``ThreadIds``: the main thread
  is 1; threads without a Python state, listed with ``include_native``, get -1, -2... as Java's internal
  threads get negative ids), ``nativeId`` (OS thread id from this process's task list, -1 unknown, see
  ``native_ids``), ``pythonId`` (``threading.get_ident()``, None for an OS thread), ``name``, ``group``,
  ``priority`` (always 5,
  Python threads have none), ``state`` (Java's names: RUNNABLE, BLOCKED, WAITING, TIMED_WAITING),
  ``cpu`` (% of one core over the interval, 2 decimals), ``deltaTime`` (CPU ms in the interval), ``time``
  (total CPU ms), ``interrupted`` (always False), ``daemon``, plus ``waitReason`` (what the thread waits
  in: ``sleep``, ``lock``, ``Condition.wait``, ``select``, ``io``, ``join``, ``queue``; absent when
  running) and ``agentThread`` (started by pyarthas). ``wait(seconds) -> bool`` replaces the sleep
  between the two CPU readings (a job passes ``process.wait`` so an interrupt cuts it short; a True
  return means "stop": the snapshot is then taken at once). ``interval_s=0`` reads CPU totals only.
- ``thread_info(number, with_locals=False, expand=1, size_limit=...)``: Arthas's ThreadInfo bean dict with
  the full stack (innermost first), or None when there is no such thread (``number``: the small id, else
  the Python ident or the native id).
- ``busy_threads(n, interval_s, wait=None, ...)``: ThreadVO + ThreadInfo fields of the ``n`` busiest.
- ``blocking_lock_info()``: the thread holding the lock most others are blocked on (``-b``).
Stacks are ``values.frames`` StackTraceElements, the same as ``stack`` and exception values show.

State inference: while we read the frames we hold the GIL, so every other thread is either between two
bytecodes (runnable) or inside a C call that released the GIL. The top Python frame then stands on a call
instruction; the names loaded for that call (``time.sleep``, ``lock.acquire``, ``with lock:``,
``sock.recv``...) tell what it waits in. ``threading``'s own frames (Condition.wait, join) are read
directly. A thread that used more than half a core during the interval is RUNNABLE whatever it stands on.
"""
import dis
import inspect
import os
import re
import sys
import threading
import time
import types
import weakref
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from ..util.threads import is_agent_thread
from ..values import DEFAULT_SIZE_LIMIT, frame_element, named_value, outward

_IS_LINUX = sys.platform.startswith("linux")

# ---------------------------------------------------------------- CPU clocks


def _thread_clock_id(native_id: int) -> int:
    """Linux's CPU clock of one thread of this process (MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED)): the
    same value ``pthread_getcpuclockid`` computes, but from the tid alone, so a thread that has just
    exited gives EINVAL instead of glibc reading a freed pthread struct."""
    return ((~native_id) << 3) | 6


def cpu_time_ns(native_id: int) -> Optional[int]:
    """Total CPU time (user + system) of a thread of this process, or None when unknown or gone."""
    if native_id is None or native_id <= 0:
        return None
    if _IS_LINUX:
        try:
            return time.clock_gettime_ns(_thread_clock_id(native_id))
        except OSError:
            return None
    if native_id == threading.get_native_id():
        return time.thread_time_ns()
    return None


def _os_thread_ids() -> List[int]:
    try:
        return [int(name) for name in os.listdir("/proc/self/task")]
    except OSError:
        return []


def _os_thread_name(tid: int) -> str:
    try:
        with open("/proc/self/task/%d/comm" % tid) as comm:
            return comm.read().strip()
    except OSError:
        return "tid-%d" % tid


# ---------------------------------------------------------------- Arthas-style thread ids


MAX_KEYED_THREADS = 4096


class ThreadIds:
    """Small ids as Java's: the main thread is 1, the others numbered as the agent first sees them (threads
    alive then in their start order, ``threading.enumerate``'s), never reused while the process lives (the
    table is module state: it outlives a stopped agent). OS threads without a Python state get -1, -2...
    (Java's internal threads are negative in Arthas). A forked child numbers afresh: its main thread, the one
    that forked, is 1 again."""

    def __init__(self) -> None:
        self._clear()

    def _clear(self) -> None:
        self._lock = threading.Lock()
        self._by_thread: "weakref.WeakKeyDictionary[threading.Thread, int]" = weakref.WeakKeyDictionary()
        self._by_key: Dict[tuple, int] = {}    # ("ident", i) / ("tid", t): threads without a Thread object
        self._next = 1
        self._next_native = -1

    def reset(self) -> None:
        """After fork, in the child: a new lock (the old one may have been held by a thread that is gone)."""
        self._clear()

    def of_thread(self, thread: threading.Thread) -> int:
        number = self._by_thread.get(thread)   # a thread that has its id (a hook's case): no lock needed
        return number if number is not None else self.of_threads([thread])[0]

    def of_threads(self, threads: List[threading.Thread]) -> List[int]:
        """The ids of ``threads``, given in this order to those that have none yet."""
        with self._lock:
            known = self._by_thread
            found = []
            for thread in threads:
                number = known.get(thread)
                if number is None:
                    number = known[thread] = self._take()
                found.append(number)
            return found

    def of_key(self, key: tuple) -> int:
        with self._lock:
            found = self._by_key.get(key)
            if found is None:
                if len(self._by_key) >= MAX_KEYED_THREADS:  # hooks on short-lived foreign threads
                    del self._by_key[next(iter(self._by_key))]
                if key[0] == "tid":
                    found, self._next_native = self._next_native, self._next_native - 1
                else:
                    found = self._take()
                self._by_key[key] = found
            return found

    def forget_keys_except(self, live: Set[tuple]) -> None:
        """Threads without a Thread object that are gone: their ids are never given again."""
        with self._lock:
            for key in [key for key in self._by_key if key not in live]:
                del self._by_key[key]

    def _take(self) -> int:
        number, self._next = self._next, self._next + 1
        return number


THREAD_IDS = ThreadIds()


def thread_id(ident: int) -> int:
    """The small id of the running thread with this Python ident (``threading.get_ident()``); cheap enough
    for a hook: one dict look-up in ``threading``'s table, no dummy Thread made."""
    thread = threading._active.get(ident)  # type: ignore[attr-defined]
    return THREAD_IDS.of_thread(thread) if thread is not None else THREAD_IDS.of_key(("ident", ident))
_watching_forks = False


def watch_forks() -> None:
    """Once per process: after a fork, the child numbers its threads afresh (see ``ThreadIds``)."""
    global _watching_forks
    if not _watching_forks and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
        _watching_forks = True


def _after_fork_in_child() -> None:
    try:
        THREAD_IDS.reset()
    except Exception:  # runs in the target's forking thread: never raise there
        pass


# ---------------------------------------------------------------- which OS thread a Python thread is


def native_ids(threads: List[Tuple[threading.Thread, int]], tasks: List[int]) -> Dict[int, int]:
    """Python ident -> OS thread id of each of ``threads`` ((Thread, ident) pairs), -1 when it cannot be told.
    ``tasks``: this process's threads (/proc/self/task). ``Thread.native_id`` is trusted only when it names one
    of them: CPython does not refresh it after ``fork``, so the thread that forked keeps its parent's tid;
    that thread is the child's only OS thread at the fork, whose tid is the pid. Otherwise a thread is
    matched by the name /proc shows (CPython 3.14 names OS threads after Python threads) when exactly one
    unclaimed task has it."""
    if not tasks:  # no /proc: what Python says is all there is
        return {ident: thread.native_id or -1 for thread, ident in threads}
    live = set(tasks)
    found: Dict[int, int] = {}
    unmatched = []
    current = threading.get_ident()
    for thread, ident in threads:
        native = threading.get_native_id() if ident == current else thread.native_id
        if native in live:
            found[ident] = native
        else:
            unmatched.append((thread, ident))
    if not unmatched:
        return found
    claimed = set(found.values())
    pid = os.getpid()
    main = threading.main_thread()
    for thread, ident in unmatched:
        native = -1
        if thread is main and pid in live and pid not in claimed:
            native = pid
        else:
            named = [tid for tid in live - claimed if _os_thread_name(tid) == thread.name[:15]]
            if len(named) == 1:
                native = named[0]
        if native != -1:
            claimed.add(native)
        found[ident] = native
    return found


# ---------------------------------------------------------------- which threads exist


class _Row:
    """One thread as found: its small id, Python ident (None for an OS thread without a Python state), OS
    id (-1 unknown), name, daemon, started by pyarthas."""

    __slots__ = ("id", "ident", "native_id", "name", "daemon", "agent")

    def __init__(self, id, ident, native_id, name, daemon, agent):
        self.id = id
        self.ident = ident
        self.native_id = native_id
        self.name = name
        self.daemon = daemon
        self.agent = agent


def _rows(frames: Dict[int, Any], include_agent: bool, include_native: bool) -> List[_Row]:
    """Every thread, the main thread first, then in start order (ids are given in this order)."""
    main = threading.main_thread()
    started = [(t, t.ident) for t in threading.enumerate() if t.ident is not None]
    started.sort(key=lambda pair: pair[0] is not main)  # stable: the rest keep their start order
    tasks = _os_thread_ids() if _IS_LINUX else []
    natives = native_ids(started, tasks)
    numbers = THREAD_IDS.of_threads([thread for thread, _ in started])
    rows = []
    for (thread, ident), number in zip(started, numbers):
        name = thread.name
        agent = is_agent_thread(ident, name)
        rows.append(_Row(number, ident, natives[ident], name, thread.daemon, agent))
    live_keys = set()
    known_idents = set(natives)
    for ident in frames:
        if ident in known_idents:
            continue
        key = ("ident", ident)
        live_keys.add(key)
        rows.append(_Row(THREAD_IDS.of_key(key), ident, -1, "Thread-%d" % ident, True, is_agent_thread(ident)))
    if include_native:
        claimed = set(natives.values())
        for tid in tasks:
            if tid not in claimed:
                key = ("tid", tid)
                live_keys.add(key)
                rows.append(_Row(THREAD_IDS.of_key(key), None, tid, _os_thread_name(tid), True, False))
    elif tasks:
        live_keys |= {("tid", tid) for tid in tasks}  # not listed this time, still alive: keep their ids
    THREAD_IDS.forget_keys_except(live_keys)
    if not include_agent:
        rows = [row for row in rows if not row.agent]
    return rows


# ---------------------------------------------------------------- where a thread stands

# callee name -> (state, waitReason). Only C callees matter: a Python callee would be the top frame.
_BLOCKING_CALLS = {}
for _names, _what in (
        (("sleep",), ("TIMED_WAITING", "sleep")),
        (("acquire", "__enter__", "acquire_lock"), ("BLOCKED", "lock")),
        (("select", "poll", "epoll", "control", "devpoll"), ("WAITING", "select")),
        (("recv", "recv_into", "recvfrom", "recvfrom_into", "recvmsg", "accept", "_accept", "connect",
          "connect_ex", "send", "sendall", "sendto", "sendmsg", "sendfile", "read", "readinto", "readline",
          "readlines", "write", "flush", "getaddrinfo", "gethostbyname", "gethostbyaddr", "input",
          "do_handshake", "communicate"), ("WAITING", "io")),
        (("wait", "waitpid", "wait3", "wait4", "waitid", "sigwait", "sigwaitinfo", "sigtimedwait", "pause"),
         ("WAITING", "wait")),
        (("get", "put"), ("WAITING", "queue")),
        (("join", "_wait_for_tstate_lock"), ("WAITING", "join")),
):
    for _name in _names:
        _BLOCKING_CALLS[_name] = _what

_CALL_OPS = {"CALL", "CALL_FUNCTION", "CALL_FUNCTION_KW", "CALL_FUNCTION_EX", "CALL_METHOD", "CALL_KW",
             "PRECALL"}
_WITH_OPS = {"SETUP_WITH", "BEFORE_WITH", "BEFORE_ASYNC_WITH", "SETUP_ASYNC_WITH"}
_BASE_LOADS = {"LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_FAST_BORROW", "LOAD_DEREF", "LOAD_CLASSDEREF",
               "LOAD_GLOBAL", "LOAD_NAME", "LOAD_FROM_DICT_OR_GLOBALS", "LOAD_FROM_DICT_OR_DEREF"}
_ATTR_LOADS = {"LOAD_ATTR", "LOAD_METHOD", "LOAD_SUPER_ATTR", "LOAD_SPECIAL"}
_TRANSPARENT = {"PUSH_NULL", "KW_NAMES", "CACHE", "NOP", "EXTENDED_ARG", "COPY", "SWAP", "RESUME", "NOT_TAKEN"}

_CACHE_SIZE = 1024
_call_site_cache: "OrderedDict[Any, Dict[int, tuple]]" = OrderedDict()


def _call_sites(code) -> Dict[int, tuple]:
    """Offset of each call instruction of ``code`` -> the loads since the previous call, as
    (kind, name) pairs with kind 'base', 'attr' or 'other'; with-statements end with ('attr',
    '__enter__'). Cached per code object (bounded)."""
    sites = _call_site_cache.get(code)
    if sites is not None:
        _call_site_cache.move_to_end(code)
        return sites
    sites = {}
    chain: List[tuple] = []
    for ins in dis.get_instructions(code):
        op = ins.opname
        if op in _CALL_OPS:
            sites[ins.offset] = tuple(chain)
            if op != "PRECALL":
                chain = []
        elif op in _WITH_OPS:
            sites[ins.offset] = tuple(chain) + (("attr", "__enter__"),)
            chain = []
        elif op in _BASE_LOADS:
            chain.append(("base", _load_name(ins)))
        elif op in _ATTR_LOADS:
            name = _load_name(ins)
            if op == "LOAD_SPECIAL" and name in ("__exit__", "__aexit__"):
                continue  # 3.14's with-statement loads __exit__ (then SWAPs) before __enter__
            chain.append(("attr", name))
        elif op not in _TRANSPARENT:
            chain.append(("other", None))
    _call_site_cache[code] = sites
    if len(_call_site_cache) > _CACHE_SIZE:
        _call_site_cache.popitem(last=False)
    return sites


def _load_name(ins) -> str:
    value = ins.argval
    if isinstance(value, str):
        return value
    # LOAD_SPECIAL (3.14) carries an index; its argrepr names the method; LOAD_SUPER_ATTR a tuple
    text = ins.argrepr or ""
    return text.split()[0] if text else ""


class Position:
    """What a thread stands on: Java state, why it waits, the lock object when it can be found."""

    __slots__ = ("state", "reason", "lock", "lock_name", "owner", "in_native")

    def __init__(self, state="RUNNABLE", reason=None, lock=None, lock_name=None, owner=None, in_native=False):
        self.state = state
        self.reason = reason
        self.lock = lock
        self.lock_name = lock_name
        self.owner = owner          # ident of the thread holding ``lock``, None when Python cannot tell
        self.in_native = in_native


def position_of(frame) -> Position:
    """Infer where the thread whose top frame is ``frame`` stands (see the module docstring)."""
    if frame is None:
        return Position(in_native=True)
    try:
        inside_threading = _threading_position(frame)
        if inside_threading is not None:
            return inside_threading
        chain = _call_sites(frame.f_code).get(frame.f_lasti)
        if chain is None:
            return Position()
        return _blocking_call_position(frame, chain)
    except Exception:  # an odd frame never breaks a snapshot
        return Position()


def _threading_position(frame) -> Optional[Position]:
    """Frames of ``threading`` itself: Condition.wait (queue.get, Event.wait, Semaphore...) and join."""
    code = frame.f_code
    if frame.f_globals.get("__name__") != "threading":
        return None
    name = code.co_name
    local = _frame_local
    if name == "wait" and "waiter" in code.co_varnames:
        timeout = local(frame, "timeout")
        condition = local(frame, "self")
        caller = frame.f_back
        reason = "Condition.wait"
        if caller is not None and caller.f_code.co_name in ("get", "put", "join") and \
                caller.f_globals.get("__name__") == "queue":
            reason = "queue"
        elif caller is not None and caller.f_globals.get("__name__") == "threading":
            reason = "%s.%s" % (type(local(caller, "self")).__name__, caller.f_code.co_name)
        return Position("WAITING" if timeout is None else "TIMED_WAITING", reason, condition,
                        _lock_name(condition), in_native=True)
    if name in ("_wait_for_tstate_lock", "join"):
        joined = local(frame, "self")
        timeout = local(frame, "timeout")
        state = "TIMED_WAITING" if timeout not in (None, -1) else "WAITING"
        return Position(state, "join", joined, _lock_name(joined), in_native=True)
    return None


def _blocking_call_position(frame, chain: tuple) -> Position:
    for index, (kind, name) in enumerate(chain):
        what = _BLOCKING_CALLS.get(name) if kind != "other" else None
        if what is None:
            continue
        state, reason = what
        position = Position(state, reason, in_native=True)
        if reason == "lock":
            lock = _receiver(frame, chain, index)
            if lock is not None:
                position.lock = lock
                position.lock_name = _lock_name(lock)
                position.owner = lock_owner(lock)
        return position
    return Position(in_native=True)


def _receiver(frame, chain: tuple, index: int) -> Any:
    """The object ``chain[index]`` is an attribute of (``self.lock`` for ``self.lock.acquire``), read
    without running user code (no properties, no ``__getattr__``); None when it cannot be read."""
    start = index - 1
    while start >= 0 and chain[start][0] == "attr":
        start -= 1
    if start < 0 or chain[start][0] != "base":
        return None
    value = _lookup_base(frame, chain[start][1])
    for _kind, name in chain[start + 1:index]:
        value = _static_attr(value, name)
        if value is None:
            return None
    return value


def _lookup_base(frame, name: str) -> Any:
    value = _frame_local(frame, name)
    if value is not None:
        return value
    value = frame.f_globals.get(name)
    if value is None:
        builtins = frame.f_builtins
        value = builtins.get(name) if isinstance(builtins, dict) else None
    return value


def _frame_local(frame, name: str) -> Any:
    try:
        return frame.f_locals.get(name)
    except Exception:
        return None


_MISSING = object()


def _static_attr(obj: Any, name: str) -> Any:
    try:
        value = inspect.getattr_static(obj, name, _MISSING)
    except Exception:
        return None
    if value is _MISSING:
        return None
    if isinstance(value, (types.GetSetDescriptorType, types.MemberDescriptorType)):  # C-level, safe
        try:
            return value.__get__(obj, type(obj))
        except Exception:
            return None
    if hasattr(type(value), "__get__") and not isinstance(value, type):
        return None  # property or other descriptor: could run user code
    return value


_OWNER_IN_REPR = re.compile(r"owner=(\d+)")


def lock_owner(lock: Any) -> Optional[int]:
    """Ident of the thread holding ``lock`` when Python can tell (RLock, Condition on an RLock), 0 when it
    is free, None when it cannot tell (threading.Lock and Semaphore keep no owner)."""
    inner = getattr(lock, "_lock", None) if type(lock).__name__ == "Condition" else None
    if inner is not None:
        lock = inner
    owner: Any = getattr(lock, "_owner", _MISSING) if type(lock).__name__ == "_RLock" else _MISSING
    if owner is not _MISSING:
        return owner or 0
    if type(lock).__name__ == "RLock":
        try:
            text = repr(lock)  # the C RLock keeps its owner private but names it in its repr
        except Exception:
            return None
        match = _OWNER_IN_REPR.search(text)
        return int(match.group(1)) if match else None
    return None


def _lock_name(lock: Any) -> Optional[str]:
    if lock is None:
        return None
    kind = type(lock)
    return "%s.%s@%x" % (kind.__module__, kind.__qualname__, id(lock))


# ---------------------------------------------------------------- stacks


def stack_of(frame, with_locals: bool = False, expand: int = 1,
             size_limit: int = DEFAULT_SIZE_LIMIT, depth: int = 0) -> List[Dict[str, Any]]:
    """The stack from ``frame`` outwards (innermost first, as ``values.frames`` StackTraceElements);
    ``with_locals`` adds each frame's ``locals`` serialized to depth ``expand``. ``depth`` > 0 keeps only
    that many frames."""
    elements = []
    for each in outward(frame, depth):
        element = frame_element(each)
        if with_locals:
            element["locals"] = _locals_json(each, expand, size_limit)
        elements.append(element)
    return elements


def _locals_json(frame, expand: int, size_limit: int) -> Dict[str, Any]:
    try:
        local_vars = dict(frame.f_locals)
    except Exception as exc:
        return {"@error": "cannot read locals: %s" % type(exc).__name__}
    return {str(name): named_value(str(name), value, expand, size_limit) for name, value in local_vars.items()}


# ---------------------------------------------------------------- snapshots


def _cpu_times(rows: List[_Row]) -> Dict[int, Optional[int]]:
    return {row.id: cpu_time_ns(row.native_id) for row in rows}


def thread_snapshot(interval_s: float = 0.2, wait: Optional[Callable[[float], bool]] = None,
                    include_agent: bool = False, include_native: bool = False) -> List[Dict[str, Any]]:
    """ThreadVO dicts of every thread, busiest first (see the module docstring)."""
    rows, before, elapsed = _sample(interval_s, wait, include_agent, include_native)
    frames = sys._current_frames()
    by_ident = _ids_by_ident(rows)
    result = [_thread_vo(row, _position(row, frames, by_ident), before.get(row.id), elapsed) for row in rows]
    result.sort(key=_busiest_first)
    return result


def _busiest_first(vo: Dict[str, Any]):
    return -vo["cpu"], -vo["time"]


def _ids_by_ident(rows: List[_Row]) -> Dict[int, int]:
    return {row.ident: row.id for row in rows if row.ident is not None}


def _position(row: _Row, frames: Dict[int, Any], by_ident: Dict[int, int]) -> Position:
    """Where ``row``'s thread stands, its lock owner given as a small id."""
    if row.ident is None:  # an OS thread without a Python state
        return Position(in_native=True)
    position = position_of(frames.get(row.ident))
    if position.owner:
        position.owner = by_ident.get(position.owner) or thread_id(position.owner)
    return position


def _sample(interval_s, wait, include_agent, include_native):
    """Read the threads and their CPU clocks, wait ``interval_s`` and return (rows, cpu before, elapsed)."""
    rows = _rows(sys._current_frames(), include_agent, include_native)
    if interval_s <= 0:
        return rows, {}, 0.0
    before = _cpu_times(rows)
    started = time.monotonic()
    if wait is None:
        time.sleep(interval_s)
    else:
        wait(interval_s)
    elapsed = time.monotonic() - started
    fresh = _rows(sys._current_frames(), include_agent, include_native)
    return fresh, before, elapsed


def _thread_vo(row: _Row, position: Position, cpu_before: Optional[int], elapsed: float) -> Dict[str, Any]:
    now = cpu_time_ns(row.native_id)
    total_ms = now // 1_000_000 if now is not None else 0
    delta_ms = 0
    cpu = 0.0
    if now is not None and cpu_before is not None and elapsed > 0:
        delta_ns = max(0, now - cpu_before)
        delta_ms = delta_ns // 1_000_000
        cpu = round(min(100.0 * delta_ns / (elapsed * 1e9), 100.0), 2)
    state = position.state
    if cpu > 50.0:  # busy whatever it stands on: a call that only looks blocking
        state = position.state = "RUNNABLE"
        position.reason = None
    vo = {"id": row.id, "nativeId": row.native_id, "pythonId": row.ident, "name": row.name, "group": "main",
          "priority": 5, "state": state, "cpu": cpu, "deltaTime": delta_ms, "time": total_ms,
          "interrupted": False, "daemon": row.daemon, "agentThread": row.agent}
    if state != "RUNNABLE" and position.reason:
        vo["waitReason"] = position.reason
    return vo


def find_thread(number: int, include_agent: bool = True) -> Tuple[Optional[_Row], Any, Dict[int, int]]:
    """The row and top frame of the thread with this small id, else Python ident, else native id (small ids
    are small, idents are addresses, tids are at least the pid: one number rarely means two threads, and
    the small id wins), with the ident -> small id map of that moment."""
    frames = sys._current_frames()
    rows = _rows(frames, include_agent, include_native=True)
    by_ident = _ids_by_ident(rows)
    for matches in (lambda row: row.id == number, lambda row: row.ident == number,
                    lambda row: row.native_id == number and number > 0):
        for row in rows:
            if matches(row):
                return row, frames.get(row.ident) if row.ident is not None else None, by_ident
    return None, None, by_ident


def thread_info(number: int, with_locals: bool = False, expand: int = 1,
                size_limit: int = DEFAULT_SIZE_LIMIT, depth: int = 0) -> Optional[Dict[str, Any]]:
    """Arthas's ThreadInfo dict of one thread (by small id, ident or native id) with its stack, or None."""
    row, frame, by_ident = find_thread(number)
    if row is None:
        return None
    return _info(row, frame, by_ident, with_locals, expand, size_limit, depth)


def _info(row: _Row, frame, by_ident, with_locals=False, expand=1, size_limit=DEFAULT_SIZE_LIMIT, depth=0):
    position = _position(row, {row.ident: frame}, by_ident)
    cpu = cpu_time_ns(row.native_id)
    info = {"threadId": row.id, "nativeId": row.native_id, "pythonId": row.ident, "threadName": row.name,
            "threadState": position.state, "daemon": row.daemon, "priority": 5, "agentThread": row.agent,
            "cpuTime": cpu // 1_000_000 if cpu is not None else -1}
    info.update(_lock_fields(position))
    info["stackTrace"] = stack_of(frame, with_locals, expand, size_limit, depth)
    return info


def _lock_fields(position: Position) -> Dict[str, Any]:
    """``position.owner`` is a small id here (see ``_position``)."""
    owner = position.owner if position.owner else -1
    owner_name = _thread_name(owner) if owner > 0 else None
    fields = {"blockedTime": -1, "blockedCount": -1, "waitedTime": -1, "waitedCount": -1,
              "lockName": position.lock_name, "lockOwnerId": owner, "lockOwnerName": owner_name,
              "inNative": position.in_native, "suspended": False, "lockedMonitors": [],
              "lockedSynchronizers": [], "waitReason": position.reason}
    if position.lock_name:
        kind = type(position.lock)
        fields["lockInfo"] = {"className": "%s.%s" % (kind.__module__, kind.__qualname__),
                              "identityHashCode": id(position.lock)}
    return fields


def _thread_name(number: int) -> Optional[str]:
    for thread in threading.enumerate():
        if THREAD_IDS.of_thread(thread) == number:
            return thread.name
    return None


def busy_threads(n: int, interval_s: float = 0.2, wait: Optional[Callable[[float], bool]] = None,
                 include_agent: bool = False, with_locals: bool = False, expand: int = 1,
                 size_limit: int = DEFAULT_SIZE_LIMIT, depth: int = 0,
                 state: Optional[str] = None) -> List[Dict[str, Any]]:
    """The ``n`` busiest threads (all when ``n`` < 0): ThreadVO fields plus ThreadInfo's lock fields and
    ``stackTrace`` (Arthas's BusyThreadInfo)."""
    rows, before, elapsed = _sample(interval_s, wait, include_agent, False)
    frames = sys._current_frames()
    by_ident = _ids_by_ident(rows)
    positions = {row.id: _position(row, frames, by_ident) for row in rows}
    vos = [_thread_vo(row, positions[row.id], before.get(row.id), elapsed) for row in rows]
    if state:
        vos = [vo for vo in vos if vo["state"] == state]
    vos.sort(key=_busiest_first)
    if n >= 0:
        vos = vos[:n]
    for vo in vos:
        vo.update(_lock_fields(positions[vo["id"]]))
        vo["stackTrace"] = stack_of(frames.get(vo["pythonId"]), with_locals, expand, size_limit, depth)
    return vos


def blocking_lock_info(include_agent: bool = False) -> Tuple[Optional[Dict[str, Any]], List[Dict[str, Any]]]:
    """Arthas's ``thread -b``: ``({threadInfo, lockIdentityHashCode, blockingThreadCount, blockedThreads},
    unknown)`` for the thread holding the lock that blocks the most threads, where Python can tell the
    owner; ``unknown`` lists the blocked threads whose lock owner cannot be told (plain Lock, Semaphore),
    as ``{threadId, threadName, lockName}``. Thread ids are the small ids."""
    frames = sys._current_frames()
    rows = _rows(frames, include_agent, False)
    by_ident = _ids_by_ident(rows)
    by_owner: Dict[Tuple[int, int], List[int]] = {}
    locks: Dict[int, Any] = {}
    unknown = []
    for row in rows:
        position = _position(row, frames, by_ident)
        if position.state != "BLOCKED":
            continue
        if position.owner and position.owner > 0:
            by_owner.setdefault((position.owner, id(position.lock)), []).append(row.id)
            locks[id(position.lock)] = position.lock
        else:
            unknown.append({"threadId": row.id, "threadName": row.name, "lockName": position.lock_name})
    if not by_owner:
        return None, unknown
    (owner, lock_id), blocked = max(by_owner.items(), key=lambda item: len(item[1]))
    owner_row, owner_frame, by_ident = find_thread(owner)
    if owner_row is None:
        return None, unknown
    return {"threadInfo": _info(owner_row, owner_frame, by_ident), "lockIdentityHashCode": lock_id,
            "lockName": _lock_name(locks[lock_id]), "blockingThreadCount": len(blocked),
            "blockedThreads": blocked}, unknown


STATES = ("NEW", "RUNNABLE", "BLOCKED", "WAITING", "TIMED_WAITING", "TERMINATED")


def state_counts(vos: List[Dict[str, Any]]) -> Dict[str, int]:
    counts = dict.fromkeys(STATES, 0)
    for vo in vos:
        counts[vo["state"]] = counts.get(vo["state"], 0) + 1
    return counts
