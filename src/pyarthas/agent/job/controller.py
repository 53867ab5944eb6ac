"""Creates jobs from command lines: global ids, command lookup, the global ``job-timeout``."""
import itertools
import threading
from typing import Any, Callable, Dict, List, Optional

from ..command.base import registered
from ..command.tokenizer import TokenizeError, parse_command_line
from ..settings import parse_duration
from ..util.scheduler import Scheduler
from .job import Job
from .pipes import JobOutput, PipeError, Pipeline, cache_file

# Arthas's JobControllerImpl.checkPermission
NOT_PERMITTED = "Error! command not permitted, try to use 'auth' command to authenticates."


class JobCreationError(Exception):
    """The command line cannot become a job (unknown command, empty line): an API-level failure."""


class JobController:
    def __init__(self, agent):
        self.agent = agent
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._live: Dict[int, Job] = {}
        self.scheduler = Scheduler("scheduler")
        self.scheduler.start()

    def create_job(self, line: str, session, sink: Callable[[int, Any], None]) -> Job:
        try:
            parsed = parse_command_line(line)
        except TokenizeError as exc:
            raise JobCreationError("ValueError: %s" % exc) from None
        if not parsed.words:
            raise JobCreationError("ValueError: the command line is empty")
        name = parsed.words[0]
        if not getattr(session, "authenticated", True) and name != "auth":
            raise JobCreationError("ValueError: " + NOT_PERMITTED)
        command_cls = registered().get(name)
        if command_cls is None:
            raise JobCreationError("ValueError: %s: command not found" % name)
        self.agent.history.append(_without_password(parsed.words) if name == "auth" else line)
        job_id = next(self._ids)
        output = self._output_of(parsed, job_id)
        with self._lock:
            if getattr(session, "closed", False):   # closing ends the jobs it finds: none may start after
                raise JobCreationError("ValueError: the session is closed")
            job = Job(job_id, line, command_cls, parsed.words[1:], parsed.background, session,
                      self.agent, sink)
            self._live[job.job_id] = job
        if output is not None:
            job.output = JobOutput(output, job.job_id)
        job.on_terminated(self._forget)
        self._schedule_job_timeout(job)
        return job

    def _output_of(self, parsed, job_id: int) -> Optional[Pipeline]:
        """The text chain of a line that redirects (``cmd | grep x > file``): Arthas's job writes the file,
        whichever door the line came through."""
        if parsed.redirect is None:
            return None
        name, append = parsed.redirect
        try:
            return Pipeline(parsed.pipes, (name or cache_file(self.agent.output_root, job_id), append))
        except PipeError as exc:
            raise JobCreationError("ValueError: %s" % exc) from None

    def _schedule_job_timeout(self, job: Job) -> None:
        try:
            seconds = parse_duration(self.agent.options.get("job-timeout"))
        except ValueError:
            seconds = 86400
        handle = self.scheduler.call_later(
            seconds, lambda: job.terminate("job timeout: the job ran longer than the job-timeout option"))
        job.on_end(handle.cancel)

    def _forget(self, job: Job) -> None:
        with self._lock:
            self._live.pop(job.job_id, None)

    def live_jobs(self):
        with self._lock:
            return list(self._live.values())

    def jobs_of(self, session) -> List[Job]:
        """The jobs of ``session`` that have not terminated."""
        with self._lock:
            return [job for job in self._live.values() if job.session is session]

    def close(self) -> None:
        for job in self.live_jobs():
            job.terminate("arthas server is going to shutdown.")
        self.scheduler.close()


def _without_password(words: List[str]) -> str:
    """``auth`` as the history keeps it: the password is never kept."""
    return " ".join(words[:-1] + ["******"] if len(words) > 1 else words)
