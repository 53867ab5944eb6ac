"""Pre-fork and reloading servers seen from outside: which Python process is a master (gunicorn's arbiter,
uvicorn's or Celery's parent, Django's autoreloader) and which are its workers, which of them run an agent
and where (the records agents keep in the runtime folder, ``agent.util.runtime_files``), and attaching every
worker of a master at once.

A master is a Python process with Python children; its children are its workers (multiprocessing's helper
processes, the resource tracker and the fork server, are not). Which server it is comes from its command
line, only to say it in words: the links themselves come from /proc.
"""
from typing import Dict, List, NamedTuple, Optional

from ..agent.util.runtime_files import read_records
from .inject import AttachError, attach
from .inject.process import PythonProcess, python_processes

# children that serve nobody: multiprocessing's own helpers
HELPER_MARKS = ("multiprocessing.resource_tracker", "multiprocessing.semaphore_tracker",
                "multiprocessing.forkserver")

# keys every agent record has; any other key (a fleet id, an app name) is shown as the agent's identity
RECORD_KEYS = ("pid", "ppid", "url", "telnet", "started", "version")


class Fleet(NamedTuple):
    """The Python processes this user sees, their agents' records and the parent -> children links."""
    processes: Dict[int, PythonProcess]
    agents: Dict[int, dict]
    children: Dict[int, List[int]]

    @classmethod
    def now(cls) -> "Fleet":
        processes = {process.pid: process for process in python_processes()}
        children: Dict[int, List[int]] = {}
        for process in processes.values():
            if process.ppid in processes and not any(mark in process.cmdline for mark in HELPER_MARKS):
                children.setdefault(process.ppid, []).append(process.pid)
        return cls(processes, read_records(), children)

    def workers_of(self, pid: int) -> List[int]:
        return sorted(self.children.get(pid, []))

    def role(self, pid: int) -> str:
        """A server's master (``gunicorn master (arbiter), 3 workers``), ``worker of PID``; for other parents of
        Python processes ``parent of N`` / ``child of PID``; empty for the rest."""
        process = self.processes.get(pid)
        if process is None:
            return ""
        count = len(self.workers_of(pid))
        if count:
            kind = self.kind(pid)
            if kind is None:
                return "parent of %d Python process%s" % (count, "" if count == 1 else "es")
            return "%s, %d worker%s" % (kind, count, "" if count == 1 else "s")
        if pid in self.children.get(process.ppid, ()):
            return "%s of %d" % ("child" if self.kind(process.ppid) is None else "worker", process.ppid)
        return ""

    def kind(self, pid: int) -> Optional[str]:
        """What server the master ``pid`` is, from its command line; None when it is none we know."""
        return master_kind(self.processes[pid], [self.processes[w] for w in self.workers_of(pid)])

    def identity(self, pid: int) -> str:
        """The agent's extra record keys (a fleet id...), ``key=value`` each."""
        record = self.agents.get(pid) or {}
        return " ".join("%s=%s" % (key, record[key]) for key in sorted(record) if key not in RECORD_KEYS)


def master_kind(process: PythonProcess, workers: List[PythonProcess]) -> Optional[str]:
    """What a master is, in words, from its command line; None for no server we know."""
    line = process.cmdline
    if "gunicorn" in line:
        return "gunicorn master (arbiter)"
    if "uvicorn" in line:
        return "uvicorn master"
    if "celery" in line:
        return "celery main process"
    if "runserver" in line and workers:
        return "Django autoreloader (the server runs in the child)"
    if "multiprocessing" in " ".join(worker.cmdline for worker in workers):
        return "multiprocessing parent"
    return None


def describe_master(fleet: Fleet, pid: int) -> Optional[str]:
    """A warning for ``attach PID`` when PID is a master, offering its workers; None otherwise."""
    workers = fleet.workers_of(pid)
    if not workers or fleet.kind(pid) is None:
        return None
    return ("process %d is a %s: its work runs in its worker processes %s; attach them all with "
            "`pyarthas attach --workers %d`" % (pid, fleet.role(pid), ", ".join(map(str, workers)), pid))


class WorkerAgent(NamedTuple):
    pid: int
    url: Optional[str]
    role: str
    error: Optional[str] = None


def attach_workers(master: int, ip: str, timeout: float, username=None, password=None,
                   access=None) -> List[WorkerAgent]:
    """Attach every worker of ``master``, each on a free port (``port=0``); one row per worker, an error in
    place of the URL where the attach failed."""
    fleet = Fleet.now()
    found = []
    for pid in fleet.workers_of(master):
        try:
            attached = attach(pid, ip=ip, port=0, timeout=timeout, username=username, password=password,
                              access=access)
            found.append(WorkerAgent(pid, attached.url, "worker of %d" % master))
        except AttachError as error:
            found.append(WorkerAgent(pid, None, "worker of %d" % master, str(error)))
    return found


def worker_agent_urls(master: int) -> Dict[int, Optional[str]]:
    """pid -> URL of each worker of ``master`` (None where no agent runs)."""
    fleet = Fleet.now()
    return {pid: (fleet.agents.get(pid) or {}).get("url") for pid in fleet.workers_of(master)}
