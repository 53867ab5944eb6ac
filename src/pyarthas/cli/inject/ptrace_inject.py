"""Make a CPython process (3.9 to 3.13, Linux x86-64) run a string of Python code, with ptrace.

Safety by construction (see trampoline.S for the code placed in the target):
- The injector stops ONE thread for well under a millisecond and changes only its rip, rsp, rax and
  orig_rax. The trampoline it jumps to saves every register, flags and the x87/SSE/AVX/AVX-512 state
  itself, makes its call, restores everything and resumes where the thread was (restarting the system
  call it was blocked in). The injector never waits for the call: it detaches at once. So if the injector
  is killed at any moment, the kernel detaches the thread and it carries on either untouched or through the
  trampoline: never stopped, never with our registers, never with the GIL taken on its behalf.
- The trampoline lives in the unused bytes at the end of an executable segment of the target (a private
  copy-on-write page; no other code lives in those bytes), its data on the thread's own stack below the
  red zone.
- Where it runs the code: if the main thread is blocked in a system call with the GIL released (sleep,
  accept, recv, select...), the code runs right there (PyGILState_Ensure / PyRun_SimpleString /
  PyGILState_Release), as a C callback would. Anywhere else (busy in Python or C code, waiting for a lock)
  it is only scheduled with Py_AddPendingCall, which is made for that, and the main thread runs it at its
  next safe point; a lock wait is woken with EINTR so that Python's lock code runs pending calls.
- A signal that arrives while we seize the thread is handed back to it, never lost.
"""
import ctypes
import os
import platform
import signal
import struct
import time
from typing import Dict, NamedTuple

from .elf import ElfFile
from .process import AttachError, PythonProcess, host_path, mappings

# trampoline.S assembled (as --64; objcopy -O binary -j .text)
TRAMPOLINE = bytes.fromhex(
    "9c50535152565755415041514152415341544155415641574889e5488b65c0b8e700000031d20fae2424fc48837df800"
    "7513ff55f089c3488b7dc8ff55e889dfff55e0eb44b80900000031ff488b75d0ba0300000041ba2200000049c7c0ffff"
    "ffff4531c90f05483d00f0ffff771a4889c34889c7488b75c8488b4dd0f3a4488b7de84889deff55d8b8e700000031d2"
    "0fae2c244889ec415f415e415d415c415b415a415941585d5f5e5a595b589dc28800")
RED_ZONE_AND_RESUME = 144   # the trampoline ends with `ret 136`: resume address at rsp - 144
PUSHED = 128                # flags + 15 general registers
DATA_BLOCK = 64
XSAVE_AREA = 3072           # standard-format XSAVE up to the AVX-512 components (2688 bytes)
RUNTIME_FUNCTIONS = ("PyGILState_Ensure", "PyRun_SimpleString", "PyGILState_Release", "Py_AddPendingCall")

MODE_RUN_NOW, MODE_SCHEDULE = 0, 1

# x86-64 system calls in which Python's own blocking calls wait with the GIL released
SYSCALLS_WITHOUT_GIL = {
    0: "read", 1: "write", 7: "poll", 17: "pread64", 18: "pwrite64", 19: "readv", 20: "writev",
    23: "select", 34: "pause", 35: "nanosleep", 42: "connect", 43: "accept", 44: "sendto", 45: "recvfrom",
    46: "sendmsg", 47: "recvmsg", 61: "wait4", 230: "clock_nanosleep", 232: "epoll_wait", 247: "waitid",
    270: "pselect6", 271: "ppoll", 281: "epoll_pwait", 288: "accept4", 299: "recvmmsg", 307: "sendmmsg",
    441: "epoll_pwait2",
}
SYS_FUTEX = 202
ERESTARTSYS, ERESTARTNOINTR, ERESTARTNOHAND, ERESTART_RESTARTBLOCK = 512, 513, 514, 516
EINTR = 4
SYSCALL_INSTRUCTIONS = (b"\x0f\x05", b"\xcd\x80")

PTRACE_GETREGS, PTRACE_SETREGS, PTRACE_DETACH = 12, 13, 17
PTRACE_SEIZE, PTRACE_INTERRUPT = 0x4206, 0x4207
PTRACE_EVENT_STOP = 128
WALL = 0x40000000
STOP_TIMEOUT = 5.0
SIGNAL_RETRIES = 20


class Registers(ctypes.Structure):
    _fields_ = [(name, ctypes.c_ulonglong) for name in (
        "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi", "rdi",
        "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs")]


class Plan(NamedTuple):
    mode: int
    resume_rip: int
    resume_rax: int
    how: str


_libc = None


def _ptrace(request: int, tid: int, addr: int = 0, data: int = 0) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
        _libc.ptrace.restype = ctypes.c_long
    if _libc.ptrace(request, tid, ctypes.c_void_p(addr), ctypes.c_void_p(data)) == -1:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def check_supported() -> None:
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        raise AttachError("attaching with ptrace needs Linux on x86-64 (this is %s %s); start the program with "
                          "PYARTHAS_ARM=1 instead" % (platform.system(), platform.machine()))
    with open("/proc/cpuinfo") as handle:
        if " xsave" not in handle.read(8192):
            raise AttachError("this CPU has no XSAVE; start the program with PYARTHAS_ARM=1 instead")


def inject(target: PythonProcess, code: str) -> str:
    """Have ``target`` run ``code`` (a Python source string) soon; returns how it was done.
    Raises AttachError with a message for the user when it cannot be done."""
    check_supported()
    source = code.encode("utf-8") + b"\0"
    functions = _runtime_functions(target)
    cave = _find_cave(target)
    tid = _injectable_thread(target.pid)
    for _ in range(SIGNAL_RETRIES):
        done = _inject_once(target.pid, tid, source, functions, cave)
        if done is not None:
            return done
    raise AttachError("process %d keeps receiving signals; try again" % target.pid)


def _inject_once(pid: int, tid: int, source: bytes, functions: Dict[str, int], cave: int):
    try:
        _ptrace(PTRACE_SEIZE, tid)
    except PermissionError:
        raise AttachError("ptrace is not permitted on process %d: run as root or as its user, allow it "
                          "(sysctl kernel.yama.ptrace_scope=0, or CAP_SYS_PTRACE in a container), or start "
                          "the program with PYARTHAS_ARM=1" % pid) from None
    except ProcessLookupError:
        raise AttachError("process %d exited" % pid) from None
    detach_signal = 0
    try:
        _ptrace(PTRACE_INTERRUPT, tid)
        status = _wait_for_stop(tid)
        stop_signal, event = os.WSTOPSIG(status), status >> 16
        if event == PTRACE_EVENT_STOP and stop_signal in (signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN,
                                                          signal.SIGTTOU):
            raise AttachError("process %d is stopped (job control); continue it first (kill -CONT %d)"
                              % (pid, pid))
        if not (event == PTRACE_EVENT_STOP and stop_signal == signal.SIGTRAP):
            detach_signal = stop_signal  # a signal arrived first: hand it back and try again
            return None
        _pause_for_tests("seized")
        regs = Registers()
        _ptrace(PTRACE_GETREGS, tid, 0, ctypes.addressof(regs))
        with open("/proc/%d/mem" % pid, "r+b", buffering=0) as memory:
            plan = _plan(regs, memory)
            _write_call(memory, regs, plan, source, functions, cave)
            regs.rip, regs.rsp = cave, regs.rsp - RED_ZONE_AND_RESUME
            regs.rax, regs.orig_rax = plan.resume_rax & (2 ** 64 - 1), 2 ** 64 - 1
            # From here on the thread resumes through the trampoline, with or without us.
            _ptrace(PTRACE_SETREGS, tid, 0, ctypes.addressof(regs))
        _pause_for_tests("redirected")
        return plan.how
    finally:
        try:
            _ptrace(PTRACE_DETACH, tid, 0, detach_signal)
        except OSError:
            pass  # not stopped (or gone): the kernel detaches when this process exits


def _pause_for_tests(stage: str) -> None:
    """PYARTHAS_INJECT_PAUSE=STAGE:SECONDS holds the thread stopped at STAGE ("seized": nothing changed yet;
    "redirected": registers pointed at the trampoline) so tests can kill the injector right there."""
    wanted, _, seconds = os.environ.get("PYARTHAS_INJECT_PAUSE", "").partition(":")
    if wanted == stage:
        import sys
        sys.stderr.write("pyarthas: paused at %s\n" % stage)
        sys.stderr.flush()
        time.sleep(float(seconds))


def _wait_for_stop(tid: int) -> int:
    deadline = time.monotonic() + STOP_TIMEOUT
    while True:
        waited, status = os.waitpid(tid, WALL | os.WNOHANG)
        if waited:
            if not os.WIFSTOPPED(status):
                raise AttachError("process exited while attaching")
            return status
        if time.monotonic() > deadline:
            raise AttachError("thread %d did not stop within %.0f s (uninterruptible system call?)"
                              % (tid, STOP_TIMEOUT))
        time.sleep(0.0002)


def _plan(regs: Registers, memory) -> Plan:
    """Where the thread resumes once the trampoline is done, and which way the code runs."""
    syscall, result = _signed(regs.orig_rax), _signed(regs.rax)
    interrupted = syscall >= 0 and -result in (ERESTARTSYS, ERESTARTNOINTR, ERESTARTNOHAND, ERESTART_RESTARTBLOCK)
    if not interrupted:
        return Plan(MODE_SCHEDULE, regs.rip, result, "scheduled a pending call on the running main thread")
    mode = MODE_RUN_NOW if syscall in SYSCALLS_WITHOUT_GIL else MODE_SCHEDULE
    memory.seek(regs.rip - 2)
    restartable = -result != ERESTART_RESTARTBLOCK and memory.read(2) in SYSCALL_INSTRUCTIONS
    if syscall == SYS_FUTEX or not restartable:
        # EINTR is what a signal would have caused; Python's lock waits then run pending calls
        plan = Plan(mode, regs.rip, -EINTR, "")
    else:
        plan = Plan(mode, regs.rip - 2, syscall, "")
    name = SYSCALLS_WITHOUT_GIL.get(syscall, "futex" if syscall == SYS_FUTEX else "system call %d" % syscall)
    how = ("ran on the main thread blocked in %s" if mode == MODE_RUN_NOW
           else "scheduled a pending call on the main thread blocked in %s") % name
    return plan._replace(how=how)


def _write_call(memory, regs: Registers, plan: Plan, source: bytes, functions: Dict[str, int], cave: int) -> None:
    resume_at = regs.rsp - RED_ZONE_AND_RESUME
    data_top = resume_at - PUSHED
    code_at = (data_top - DATA_BLOCK - len(source)) & ~15
    xsave_at = (code_at - XSAVE_AREA) & ~63
    data = struct.pack("<8Q", xsave_at, code_at, len(source), functions["Py_AddPendingCall"],
                       functions["PyGILState_Release"], functions["PyRun_SimpleString"],
                       functions["PyGILState_Ensure"], plan.mode)
    block = bytearray(data_top - xsave_at)
    block[code_at - xsave_at:code_at - xsave_at + len(source)] = source
    block[-DATA_BLOCK:] = data
    try:
        memory.seek(cave)
        memory.write(TRAMPOLINE)
        memory.seek(xsave_at)
        memory.write(bytes(block))
        memory.seek(resume_at)
        memory.write(struct.pack("<Q", plan.resume_rip))
    except OSError as exc:
        raise AttachError("cannot write into the target's memory: %s" % exc) from None


def _image_bias(pid: int, path: str, elf: ElfFile) -> int:
    if not elf.is_position_independent:
        return 0
    first = min(segment.vaddr for segment in elf.segments())
    for mapping in mappings(pid):
        if mapping.path == path and mapping.offset == 0:
            return mapping.start - (first & ~0xFFF)
    raise AttachError("cannot find where %s is loaded in process %d" % (path, pid))


def _runtime_functions(target: PythonProcess) -> Dict[str, int]:
    elf = ElfFile(host_path(target.pid, target.runtime))
    found = elf.functions(RUNTIME_FUNCTIONS)
    missing = [name for name in RUNTIME_FUNCTIONS if name not in found]
    if missing:
        raise AttachError("%s does not export %s" % (target.runtime, ", ".join(missing)))
    bias = _image_bias(target.pid, target.runtime, elf)
    return {name: bias + address for name, address in found.items()}


def _find_cave(target: PythonProcess) -> int:
    """Unused bytes at the end of an executable segment, big enough for the trampoline."""
    maps = mappings(target.pid)
    executable = [m for m in maps if "x" in m.perms and m.path.startswith("/")]
    paths = [target.runtime] + sorted({m.path for m in executable} - {target.runtime})
    for path in paths:
        try:
            elf = ElfFile(host_path(target.pid, path))
            bias = _image_bias(target.pid, path, elf)
        except (OSError, ValueError, AttachError):
            continue
        for segment in elf.segments():
            if not segment.executable:
                continue
            start = (bias + segment.vaddr + segment.memsz + 15) & ~15
            page_end = (start + 0xFFF) & ~0xFFF
            covered = any(m.start <= start and page_end <= m.end for m in executable if m.path == path)
            if covered and page_end - start >= len(TRAMPOLINE):
                return start
    raise AttachError("no room for the injector's code in process %d" % target.pid)


def _injectable_thread(pid: int) -> int:
    """The main thread, unless it has exited (its pending calls would never run)."""
    try:
        with open("/proc/%d/task/%d/stat" % (pid, pid)) as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        raise AttachError("process %d exited" % pid) from None
    if state not in ("Z", "X"):
        return pid
    for entry in sorted(os.listdir("/proc/%d/task" % pid)):
        try:
            with open("/proc/%d/task/%s/syscall" % (pid, entry)) as handle:
                number = handle.read().split()[0]
        except (OSError, IndexError):
            continue
        if number.isdigit() and int(number) in SYSCALLS_WITHOUT_GIL:
            return int(entry)
    raise AttachError("the main thread of process %d has exited and no other thread is waiting in a "
                      "system call; cannot attach now" % pid)

