"""The user's runtime folder and the files agents keep there: ``agent-PID.token`` (``http.access``) and
``agent-PID.json``, the record ``pyarthas ps`` reads to tell which processes run an agent and where it serves.

The record is written when an agent starts serving and removed when it stops (a process killed outright leaves
one behind: readers check that the pid is alive and started before the record). It is a flat JSON object:
``pid``, ``ppid``, ``url``, ``telnet`` (port or null), ``started`` (epoch seconds), ``version``, and any key
another part of the agent adds through ``Agent.identity`` (a fleet id, say); readers ignore keys they do not
know. Folder 0700, files 0600: only this user reads them.
"""
import json
import os
from typing import Any, Dict, Optional

RECORD_SUFFIX = ".json"


def runtime_dir() -> str:
    """``$PYARTHAS_RUNTIME_DIR``, else ``$XDG_RUNTIME_DIR/pyarthas``, else ``~/.pyarthas/runtime`` (as Jupyter
    keeps ``jpserver-PID.json`` in its runtime folder)."""
    configured = os.environ.get("PYARTHAS_RUNTIME_DIR")
    if configured:
        return configured
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        return os.path.join(xdg, "pyarthas")
    return os.path.join(os.path.expanduser("~"), ".pyarthas", "runtime")


def private_runtime_dir() -> str:
    """The runtime folder, created if needed, readable by this user only."""
    folder = runtime_dir()
    os.makedirs(folder, mode=0o700, exist_ok=True)
    os.chmod(folder, 0o700)
    return folder


def record_path(pid: int) -> str:
    return os.path.join(runtime_dir(), "agent-%d%s" % (pid, RECORD_SUFFIX))


def write_record(pid: int, record: Dict[str, Any]) -> str:
    """Write ``record`` as ``agent-PID.json`` whole (a reader never sees half of it); returns the path."""
    folder = private_runtime_dir()
    path = record_path(pid)
    temporary = os.path.join(folder, ".agent-%d.%d.tmp" % (pid, id(record)))
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(record, handle, sort_keys=True)
    os.replace(temporary, path)
    return path


def remove_record(pid: int) -> None:
    try:
        os.unlink(record_path(pid))
    except OSError:
        pass


def read_records() -> Dict[int, Dict[str, Any]]:
    """pid -> record of every agent whose process still runs (records of dead processes are skipped)."""
    found: Dict[int, Dict[str, Any]] = {}
    try:
        names = os.listdir(runtime_dir())
    except OSError:
        return found
    for name in names:
        if not (name.startswith("agent-") and name.endswith(RECORD_SUFFIX)):
            continue
        number = name[len("agent-"):-len(RECORD_SUFFIX)]
        if not number.isdigit():
            continue
        path = os.path.join(runtime_dir(), name)
        try:
            with open(path) as handle:
                record = json.load(handle)
            written = os.stat(path).st_mtime
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and _alive_since(int(number), written):
            found[int(number)] = record
    return found


def _alive_since(pid: int, written: float) -> bool:
    """The process runs and is not a newer one that reused the pid after the record was written."""
    started = process_start_time(pid)
    return started is not None and started <= written + 2.0  # btime is in whole seconds


def process_start_time(pid: int) -> Optional[float]:
    """When ``pid`` started (epoch seconds, from /proc), or None when it does not run."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            ticks = int(handle.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/stat") as handle:
            boot = next(int(line.split()[1]) for line in handle if line.startswith("btime "))
    except (OSError, ValueError, IndexError, StopIteration):
        return None
    return boot + ticks / os.sysconf("SC_CLK_TCK")
