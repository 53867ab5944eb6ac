"""Make a CPython process (3.9 up, Linux x86-64) run a string of Python code, with ptrace.

Safety by construction (see trampoline.S for the code placed in the target):
- The injector stops ONE thread for well under a millisecond and changes only its rip, rsp, rax and
  orig_rax. The trampoline it jumps to saves every register, flags and the x87/SSE/AVX/AVX-512 state
  itself, makes its call, restores everything and resumes where the thread was (a blocking system call
  it was in returns EINTR, as for a signal; see _plan). The injector never waits for the call: it
  detaches at once. So if the injector is killed at any moment, the kernel detaches the thread and it
  carries on either untouched or through the trampoline: never stopped, never with our registers, never
  with the GIL taken on its behalf.
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
import sys
import time
from typing import Dict, NamedTuple

from .elf import ElfFile
from .process import AttachError, PythonProcess, host_path, mappings

# trampoline.S assembled (as --64; objcopy -O binary -j .text)
TRAMPOLINE = bytes.fromhex(
    "9c50535152565755415041514152415341544155415641574889e54c8da5880000004883e4c04881ec000c0000fc31c0"
    "488dbc2400020000b908000000f348abb8e700000031d20fae242441ff54243885c0746d49833c2400751c41ff542408"
    "4189c5498b7c243041ff5424104489ef41ff542418eb4ab80900000031ff498b742428ba0300000041ba2200000049c7"
    "c0ffffffff4531c90f05483d00f0ffff771f4989c54889c7498b742430498b4c2428f3a4498b7c24104c89ee41ff5424"
    "20b8e700000031d20fae2c244889ec415f415e415d415c415b415a415941585d5f5e5a595b589d5cc28800")
RED_ZONE_AND_RESUME = 144   # the trampoline ends with `ret 136`: resume address at rsp - 144
HEADER = 72                 # [E] = F, then 8 words of data; the code follows
RUNTIME_FUNCTIONS = ("PyGILState_Ensure", "PyRun_SimpleString", "PyGILState_Release", "Py_AddPendingCall",
                     "Py_IsInitialized")

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


class PtraceUnavailable(AttachError):
    """The ptrace route is closed here (platform, CPU, another tracer, permissions, shadow stack); on 3.14
    ``sys.remote_exec`` may still get in."""


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
        raise PtraceUnavailable("attaching with ptrace needs Linux on x86-64 (this is %s %s); start the program "
                                "with PYARTHAS_ARM=1 instead" % (platform.system(), platform.machine()))
    with open("/proc/cpuinfo") as handle:
        if " xsave" not in handle.read(8192):
            raise PtraceUnavailable("this CPU has no XSAVE; start the program with PYARTHAS_ARM=1 instead")


def inject(target: PythonProcess, code: str) -> str:
    """Have ``target`` run ``code`` (a Python source string) soon; returns how it was done.
    Raises AttachError with a message for the user when it cannot be done."""
    check_supported()
    source = code.encode("utf-8") + b"\0"
    functions = _runtime_functions(target)
    cave = _find_cave(target)
    tid = _injectable_thread(target.pid)
    _check_no_shadow_stack(target.pid, tid)
    for _ in range(SIGNAL_RETRIES):
        done = _inject_once(target.pid, tid, source, functions, cave)
        if done is not None:
            return done
    raise AttachError("process %d keeps receiving signals; try again" % target.pid)


def _inject_once(pid: int, tid: int, source: bytes, functions: Dict[str, int], cave: int):
    try:
        _ptrace(PTRACE_SEIZE, tid)
    except PermissionError:
        tracer = _tracer(pid)
        if tracer:
            raise PtraceUnavailable("process %d is already traced by process %d (a debugger or profiler?); "
                                    "detach it first" % (pid, tracer)) from None
        raise PtraceUnavailable("ptrace is not permitted on process %d: run as root or as its user, allow it "
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
            regs.rsp = _write_call(memory, regs, plan, source, functions, cave)
            regs.rip = cave
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


def _tracer(pid: int) -> int:
    try:
        with open("/proc/%d/status" % pid) as handle:
            for line in handle:
                if line.startswith("TracerPid:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _check_no_shadow_stack(pid: int, tid: int) -> None:
    """The trampoline returns with a `ret` that no `call` matched: a CET shadow stack would kill the
    thread for it. (No distribution enables user shadow stacks by default yet.)"""
    try:
        with open("/proc/%d/task/%d/status" % (pid, tid)) as handle:
            features = [line for line in handle if line.startswith("x86_Thread_features:")]
    except OSError:
        return
    if features and "shstk" in features[0].split()[1:]:
        raise PtraceUnavailable("process %d runs with a CET shadow stack, which the ptrace injector cannot "
                                "work with; start it with PYARTHAS_ARM=1 instead" % pid)


def _pause_for_tests(stage: str) -> None:
    """PYARTHAS_INJECT_PAUSE=STAGE:SECONDS holds the thread stopped at STAGE ("seized": nothing changed yet;
    "redirected": registers pointed at the trampoline) so tests can kill the injector right there."""
    wanted, _, seconds = os.environ.get("PYARTHAS_INJECT_PAUSE", "").partition(":")
    if wanted == stage:
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
    """Where the thread resumes once the trampoline is done, and which way the code runs.

    A blocking system call we interrupted returns EINTR, exactly as when a signal with a Python handler
    arrives (CPython installs its handlers without SA_RESTART, so code in a Python process already copes):
    Python's own calls check signals and retry with the time left (PEP 475), its lock waits also run
    pending calls, and a signal that arrived meanwhile is handled at once instead of after the call.
    Only calls the kernel says must never see EINTR are restarted."""
    syscall, result = _signed(regs.orig_rax), _signed(regs.rax)
    # (epoll_wait and a few others return EINTR straight away when stopped, rather than a restart code)
    interrupted = syscall >= 0 and -result in (ERESTARTSYS, ERESTARTNOINTR, ERESTARTNOHAND, ERESTART_RESTARTBLOCK,
                                               EINTR)
    if not interrupted:
        return Plan(MODE_SCHEDULE, regs.rip, result, "scheduled a pending call on the running main thread")
    mode = MODE_RUN_NOW if syscall in SYSCALLS_WITHOUT_GIL else MODE_SCHEDULE
    name = SYSCALLS_WITHOUT_GIL.get(syscall, "futex" if syscall == SYS_FUTEX else "system call %d" % syscall)
    how = ("ran on the main thread blocked in %s" if mode == MODE_RUN_NOW
           else "scheduled a pending call on the main thread blocked in %s") % name
    if -result == ERESTARTNOINTR:
        memory.seek(regs.rip - 2)
        if memory.read(2) not in SYSCALL_INSTRUCTIONS:
            raise AttachError("cannot resume the interrupted system call %d safely; try again" % syscall)
        return Plan(mode, regs.rip - 2, syscall, how)
    return Plan(mode, regs.rip, -EINTR, how)


def _write_call(memory, regs: Registers, plan: Plan, source: bytes, functions: Dict[str, int], cave: int) -> int:
    """Write the trampoline and its data (see trampoline.S); returns the rsp to enter it with."""
    resume_at = regs.rsp - RED_ZONE_AND_RESUME
    entry = (resume_at - HEADER - len(source)) & ~15
    header = struct.pack("<9Q", resume_at, plan.mode, functions["PyGILState_Ensure"],
                         functions["PyRun_SimpleString"], functions["PyGILState_Release"],
                         functions["Py_AddPendingCall"], len(source), entry + HEADER, functions["Py_IsInitialized"])
    block = bytearray(resume_at + 8 - entry)  # from E to [F] included
    block[:HEADER] = header
    block[HEADER:HEADER + len(source)] = source
    block[-8:] = struct.pack("<Q", plan.resume_rip)
    try:
        memory.seek(cave)
        memory.write(TRAMPOLINE)
        memory.seek(entry)
        memory.write(bytes(block))
    except OSError as exc:
        raise AttachError("cannot write into the target's memory: %s" % exc) from None
    return entry


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

