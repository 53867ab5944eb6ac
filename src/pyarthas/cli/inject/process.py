"""What ``/proc`` tells about a process: is it CPython, which version, where its runtime is mapped, and the
list of Python processes this user can see (``pyarthas ps``)."""
import os
import re
import subprocess
import time
from typing import List, NamedTuple, Optional, Tuple

LIBPYTHON = re.compile(r"libpython(\d+)\.(\d+)[a-z]*\.so")
PYTHON_EXE = re.compile(r"python(\d+)\.(\d+)")


class AttachError(Exception):
    """Attach failed for a reason the user can act on; the message says which."""


class Mapping(NamedTuple):
    start: int
    end: int
    perms: str
    offset: int
    path: str


class PythonProcess(NamedTuple):
    pid: int
    uid: int
    gid: int
    version: Optional[Tuple[int, int]]
    runtime: str          # the file that holds the interpreter (libpython*.so or the executable)
    cmdline: str
    ppid: int = 0

    @property
    def version_text(self) -> str:
        return "%d.%d" % self.version if self.version else "?"


def mappings(pid: int) -> List[Mapping]:
    found = []
    with open("/proc/%d/maps" % pid) as handle:
        for line in handle:
            parts = line.split(None, 5)
            if len(parts) < 5:
                continue
            start, end = (int(x, 16) for x in parts[0].split("-"))
            path = parts[5].strip() if len(parts) == 6 else ""
            found.append(Mapping(start, end, parts[1], int(parts[2], 16), path))
    return found


def host_path(pid: int, path: str) -> str:
    """A path as the target sees it, readable from here even when the target lives in another mount
    namespace (a container)."""
    return "/proc/%d/root%s" % (pid, path)


def cmdline(pid: int) -> str:
    """The command line on one line (``python -c`` code often holds newlines: they are shown as ``\\n``)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            text = handle.read().rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def parent_pid(pid: int) -> int:
    """The parent's pid (0 when it cannot be read)."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _owner(pid: int) -> Tuple[int, int]:
    uid = gid = -1
    with open("/proc/%d/status" % pid) as handle:
        for line in handle:
            if line.startswith("Uid:"):
                uid = int(line.split()[1])
            elif line.startswith("Gid:"):
                gid = int(line.split()[1])
    return uid, gid


def inspect(pid: int) -> PythonProcess:
    """Describe ``pid`` or raise AttachError saying why it cannot be attached to."""
    if pid <= 0:
        raise AttachError("no such process: %d" % pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        raise AttachError("no such process: %d" % pid) from None
    except PermissionError:
        raise AttachError("permission denied: process %d belongs to another user (run as that user or root)"
                          % pid) from None
    try:
        maps = mappings(pid)
        exe = os.readlink("/proc/%d/exe" % pid)
        uid, gid = _owner(pid)
    except PermissionError:
        raise AttachError("permission denied: cannot read /proc/%d (run as the process's user or root)" % pid) from None
    except FileNotFoundError:  # gone meanwhile, or a kernel thread (no executable)
        raise AttachError("process %d is not a CPython process" % pid) from None
    runtime, version = _find_runtime(pid, maps, exe)
    return PythonProcess(pid, uid, gid, version, runtime, cmdline(pid), parent_pid(pid))


def _find_runtime(pid: int, maps: List[Mapping], exe: str) -> Tuple[str, Optional[Tuple[int, int]]]:
    exe = exe.replace(" (deleted)", "")
    runtime, version = _named_runtime(maps, exe)
    if runtime is None:
        if not _exports_python_api(pid, exe):
            raise AttachError("process %d is not a CPython process (%s)" % (pid, exe))
        runtime = exe
    return runtime, version or _ask_version(pid)


def _named_runtime(maps: List[Mapping], exe: str):
    """(libpython path, version) when one is mapped, else (None, version the executable's name tells)."""
    for mapping in maps:
        match = LIBPYTHON.search(os.path.basename(mapping.path))
        if match:
            return mapping.path, (int(match.group(1)), int(match.group(2)))
    match = PYTHON_EXE.search(os.path.basename(exe))
    return None, (int(match.group(1)), int(match.group(2))) if match else None


def _exports_python_api(pid: int, exe: str) -> bool:
    from .elf import ElfFile
    try:
        return "Py_AddPendingCall" in ElfFile(host_path(pid, exe)).functions(["Py_AddPendingCall"])
    except (OSError, ValueError):
        return False


def _ask_version(pid: int) -> Optional[Tuple[int, int]]:
    """A statically linked interpreter with a plain name: ask the same executable."""
    try:
        out = subprocess.run(["/proc/%d/exe" % pid, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=10).stdout
        major, minor = out.strip().split(".")
        return int(major), int(minor)
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def main_thread_blocked_in(pid: int, samples: int = 5, interval: float = 0.01) -> Optional[str]:
    """What the main thread waits in, or None when it is seen running in any of a few looks (a busy
    thread enters short system calls too)."""
    for look in range(samples):
        try:
            with open("/proc/%d/task/%d/stat" % (pid, pid)) as handle:
                state = handle.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return None
        if state == "R":
            return None
        if look + 1 < samples:
            time.sleep(interval)
    return _syscall_name(pid)


def _syscall_name(pid: int) -> str:
    from .ptrace_inject import SYS_FUTEX, SYSCALLS_WITHOUT_GIL
    try:
        with open("/proc/%d/task/%d/syscall" % (pid, pid)) as handle:  # needs ptrace access
            number = int(handle.read().split()[0])
    except (OSError, IndexError, ValueError):
        return "a system call"
    if number == SYS_FUTEX:
        return "a lock (futex)"
    return SYSCALLS_WITHOUT_GIL.get(number, "system call %d" % number)


def python_processes() -> List[PythonProcess]:
    """The CPython processes this user can inspect, oldest first (this process left out)."""
    found = []
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            found.append(_quick_inspect(int(entry)))
        except (OSError, AttachError, ValueError):
            continue
    return sorted(found, key=lambda process: process.pid)


def _quick_inspect(pid: int) -> PythonProcess:
    """Like ``inspect`` but never reads ELF files nor runs the interpreter: cheap enough for every process."""
    exe = os.readlink("/proc/%d/exe" % pid)
    runtime, version = _named_runtime(mappings(pid), exe)
    if version is None:
        raise AttachError("not python")
    uid, gid = _owner(pid)
    return PythonProcess(pid, uid, gid, version, runtime or exe, cmdline(pid), parent_pid(pid))
