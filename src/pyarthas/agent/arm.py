"""Opt-in attach without ptrace (containers often forbid it): an armed process catches ARM_SIGNAL, and
``pyarthas attach PID`` then only writes a request file and sends the signal. CPython runs the handler in
the main thread at its next safe point (about 1 ms later here, whether the program is busy, asleep or
blocked in ``accept()``; inside one long C call it waits for the call to return).

How a process gets armed:
- it calls ``pyarthas.arm()`` (main thread), or imports ``pyarthas`` with ``PYARTHAS_ARM=1`` set;
- or it starts with ``PYARTHAS_ARM=1`` in an environment where ``python -m pyarthas.agent.arm install`` has
  put ``pyarthas-arm.pth`` into site-packages: at startup that line loads this file on its own (under the
  name ``_pyarthas_arm``, without importing ``pyarthas``) and arms the process. Without the variable the
  line costs one dictionary look-up. (``python -S`` skips .pth files.)

The request is the bootstrap statement written by the CLI into ``ARM_DIRECTORY`` (a directory private to
the target's user); the handler runs it only if both the directory and the file belong to this user and
nobody else can write them. This module is self-contained (stdlib only, no relative imports) so that the
.pth line can load it by path.
"""
import os
import signal
import stat
import sys
from typing import Optional

ARM_SIGNAL = 39                        # SIGRTMIN+5 under glibc: a real-time signal nobody uses by default
ARM_DIRECTORY = "/tmp/pyarthas-%d"     # per uid
ARM_REQUEST = "arm-%d.py"              # per pid
PTH_NAME = "pyarthas-arm.pth"
PTH_LINE = (
    "import os; os.environ.get('PYARTHAS_ARM') == '1' and exec(\"try:\\n import importlib.util as u, os\\n"
    " s = u.find_spec('pyarthas')\\n l = u.spec_from_file_location('_pyarthas_arm', os.path.join(list("
    "s.submodule_search_locations)[0], 'agent', 'arm.py'))\\n m = u.module_from_spec(l)\\n"
    " l.loader.exec_module(m)\\n m.arm()\\nexcept Exception:\\n pass\", {})\n")


def arm() -> bool:
    """Install the handler; True when this process is armed. Only the main thread can install signal
    handlers; a handler someone else put on ARM_SIGNAL is left alone (and False returned)."""
    try:
        current = signal.getsignal(ARM_SIGNAL)
        if getattr(current, "_pyarthas_arm", False):
            return True
        if current not in (signal.SIG_DFL, None):
            return False
        signal.signal(ARM_SIGNAL, _on_arm_signal)
        return True
    except (ValueError, OSError):  # not the main thread, or no such signal here
        return False


def _on_arm_signal(signum, frame) -> None:
    try:
        code = _take_request()
        if code:
            exec(code, {"__name__": "_pyarthas_arm_request"})
    except BaseException:  # a signal handler of ours must never raise into the program
        pass


_on_arm_signal._pyarthas_arm = True  # type: ignore[attr-defined]  # the mark a second arm looks for


def _private_to_me(info: os.stat_result) -> bool:
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _take_request():
    directory = ARM_DIRECTORY % os.getuid()
    path = os.path.join(directory, ARM_REQUEST % os.getpid())
    try:
        info = os.lstat(directory)
        if not stat.S_ISDIR(info.st_mode) or not _private_to_me(info) or info.st_mode & 0o077:
            return None
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or not _private_to_me(info):
            return None
        with os.fdopen(fd, "r", closefd=False) as handle:
            return handle.read(1 << 16)
    finally:
        os.close(fd)
        try:
            os.unlink(path)
        except OSError:
            pass


def install(site_dir: Optional[str] = None) -> str:
    """Write pyarthas-arm.pth into ``site_dir`` (default: this interpreter's site-packages)."""
    if site_dir is None:
        import sysconfig
        site_dir = sysconfig.get_paths()["purelib"]
    path = os.path.join(site_dir, PTH_NAME)
    with open(path, "w") as handle:
        handle.write(PTH_LINE)
    return path


if __name__ == "__main__":
    if sys.argv[1:2] != ["install"]:
        sys.exit("usage: python -m pyarthas.agent.arm install [SITE_DIR]\n"
                 "  lets processes of this environment started with PYARTHAS_ARM=1 be attached without ptrace")
    print(install(*sys.argv[2:3]))
