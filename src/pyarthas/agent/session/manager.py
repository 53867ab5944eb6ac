"""Sessions: creation, lookup, the session lock, foreground jobs, closing (which ends every job of the
session), and the reaper that evicts idle consumers (5 minutes) and idle sessions (3 hours, never while a
foreground job runs)."""
import os
import threading
import time
from typing import Any, Callable, Dict, List, Optional

from ..model import InputStatusModel, MessageModel, WelcomeModel, format_time
from ..util.ids import random_uuid
from .distribution import SharingDistributor


class Session:
    def __init__(self, manager: "SessionManager", one_time: bool):
        self.session_id = random_uuid()
        self.pid = os.getpid()
        self.user_id: Optional[str] = None
        self.create_time = int(time.time() * 1000)
        self.last_access = self.create_time
        self._last_access_mono = time.monotonic()
        self.one_time = one_time
        self.foreground_job = None
        self.closed = False
        # Arthas's SUBJECT_KEY: the HTTP door admits only authenticated requests; a telnet shell from another
        # address clears it until ``auth`` succeeds. ``tty``: a terminal draws this session's results.
        self.authenticated = True
        self.tty = False
        self._jobs = manager.agent.jobs
        self._lock = threading.Lock()
        self.distributor: Optional[SharingDistributor] = None
        if not one_time:
            self.distributor = SharingDistributor(self.session_id, manager.agent.timeouts,
                                                  self.interrupt_foreground)

    def touch(self) -> None:
        self.last_access = int(time.time() * 1000)
        self._last_access_mono = time.monotonic()

    def idle_seconds(self) -> float:
        return time.monotonic() - self._last_access_mono

    def try_lock(self) -> bool:
        return self._lock.acquire(blocking=False)

    def unlock(self) -> None:
        self._lock.release()

    @property
    def sink(self) -> Callable[[int, Any], None]:
        """Where a job of this session sends its results: the distributor's ``append`` itself (no frame of
        the session's on the path of each result of a hot traced function), nowhere for one-time sessions."""
        return self.distributor.append if self.distributor is not None else _discard

    def append(self, job_id: int, model) -> None:
        """Send a result to this session's consumers (a no-op for one-time sessions)."""
        if self.distributor is not None:
            self.distributor.append(job_id, model)

    def set_input_status(self, status: str) -> None:
        self.append(0, InputStatusModel(inputStatus=status))

    def interrupt_foreground(self) -> None:
        job = self.foreground_job
        if job is not None:
            job.interrupt()

    def jobs(self) -> List:
        """The jobs of this session that have not ended, foreground and background."""
        return self._jobs.jobs_of(self)

    def close(self, message: Optional[str] = None) -> None:
        """End every job of the session (their cleanup restores the functions they enhanced), tell the
        consumers ``message``, then drop the results and consumers: nothing of the session outlives it."""
        self.closed = True
        for job in self.jobs():
            if job.background:
                job.terminate("the session was closed")
            else:
                job.interrupt()
        self.foreground_job = None
        if self.distributor is not None:
            if message:
                self.append(0, MessageModel(message=message))
                self.distributor.flush()
            self.distributor.close()


MAX_SESSIONS = 256


class TooManySessions(Exception):
    pass


class SessionManager:
    def __init__(self, agent):
        self.agent = agent
        self._sessions: Dict[str, Session] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        self.agent.jobs.scheduler.every(self.agent.timeouts.reaper_interval, self.reap)

    def create(self, one_time: bool = False) -> Session:
        """A new session; at most MAX_SESSIONS long-lived ones (each has a distributor thread)."""
        with self._lock:
            if not one_time and sum(1 for s in self._sessions.values() if not s.one_time) >= MAX_SESSIONS:
                raise TooManySessions("too many sessions (%d), close some first" % MAX_SESSIONS)
            session = Session(self, one_time)
            self._sessions[session.session_id] = session
        return session

    def welcome(self, session: Session) -> None:
        agent = self.agent
        session.append(0, MessageModel(message="Welcome to arthas!"))
        session.append(0, WelcomeModel(pid=str(agent.pid), time=format_time(), version=agent.version,
                                       mainClass=agent.main_class or _main_name()))
        session.set_input_status("ALLOW_INPUT")

    def get(self, session_id: str) -> Optional[Session]:
        return self._sessions.get(session_id)

    def all(self) -> List[Session]:
        with self._lock:
            return list(self._sessions.values())

    def remove(self, session_id: str, message: Optional[str] = None) -> None:
        with self._lock:
            session = self._sessions.pop(session_id, None)
        if session is not None:
            session.close(message)

    def close_all(self, message: str) -> None:
        for session in self.all():
            self.remove(session.session_id, message)

    def reap(self) -> None:
        timeouts = self.agent.timeouts
        for session in self.all():
            if session.one_time:
                continue
            # A background job does not keep a session alive (Arthas too); closing it ends the job.
            if session.idle_seconds() > timeouts.session and session.foreground_job is None:
                minutes = int(timeouts.session // 60)
                self.remove(session.session_id, "session is inactive for %d min(s)." % minutes)
                continue
            distributor = session.distributor
            if distributor is None:
                continue
            for consumer in distributor.consumers():
                if consumer.idle_seconds() > timeouts.consumer:
                    distributor.evict_consumer(
                        consumer, "consumer is inactive for a while, please refresh the page.")


def _main_name() -> Optional[str]:
    import sys
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and getattr(spec, "name", None):
        return spec.name
    path = getattr(main, "__file__", None)
    return os.path.basename(path) if path else None


def _discard(job_id: int, model: Any) -> None:
    pass
