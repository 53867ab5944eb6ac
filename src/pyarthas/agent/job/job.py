"""A job: one command line run on its own worker thread, from READY through RUNNING to TERMINATED.

The job is the ``Process`` a command sees (``command/base.py``). Its results go to a ``sink`` (the
session's distributor for ``async_exec``, a packing list for ``exec``) with the job's id; exactly one
``status`` result ends them.
"""
import threading
import traceback
from typing import Any, Callable, List, Optional

from ..command.base import CommandError, Process
from ..command.help import help_detail
from ..command.options import Namespace, UsageError, parse
from ..model import StatusModel, TerminalMessageModel
from ..util import threads

READY, RUNNING, TERMINATED = "READY", "RUNNING", "TERMINATED"


class Job(Process):
    def __init__(self, job_id: int, line: str, command_cls, words: List[str], background: bool, session, agent,
                 sink: Callable[[int, Any], None]):
        self.job_id = job_id
        self.line = line
        self.command_cls = command_cls
        self.words = words
        self.background = background
        self.session = session
        self.agent = agent
        self.status = READY
        self._sink = sink
        self.output: Optional[Any] = None   # a ``pipes.JobOutput`` when the line redirects its text to a file
        self._ended = False
        self._terminated = False
        self._resumes = False
        # One lock makes registering a callback and ending atomic: a callback is either run by ``end`` or,
        # registered after it, at once by the caller (a cleanup such as the engine's remove is never lost).
        self._lock = threading.Lock()
        self._end_callbacks: List[Callable[[], None]] = []
        self._ended_event = threading.Event()
        self._terminated_event = threading.Event()
        self._terminated_listeners: List[Callable[["Job"], None]] = []

    # ---- the Process contract ----

    def emit(self, model) -> None:
        with self._lock:
            if self._ended:
                return
            self._sink(self.job_id, model)
            if self.output is not None:
                self.output.offer(model)

    def end(self, status: int = 0, message: Optional[str] = None) -> None:
        with self._lock:
            if self._ended:
                return
            self._ended = True
            callbacks, self._end_callbacks = self._end_callbacks, []
        self._ended_event.set()
        for callback in reversed(callbacks):
            _quietly(callback)
        sink, self._sink = self._sink, _discard
        final = StatusModel(statusCode=status, message=message)
        sink(self.job_id, final)
        if self.output is not None:
            self.output.offer(final)
            _quietly(self.output.close)
        self.status = TERMINATED
        with self._lock:
            self._terminated = True
            listeners, self._terminated_listeners = self._terminated_listeners, []
        for listener in listeners:
            _quietly(listener, self)
        self._terminated_event.set()

    @property
    def ended(self) -> bool:
        return self._ended

    def wait(self, timeout: Optional[float] = None) -> bool:
        return self._ended_event.wait(timeout)

    def on_end(self, callback: Callable[[], None]) -> None:
        with self._lock:
            if not self._ended:
                self._end_callbacks.append(callback)
                return
        callback()

    def resume_when(self, signal, finish: Callable[[], None]) -> None:
        """Let ``run`` return without ending the job; once ``signal`` (a ``util.threads.Signal``) is set,
        ``finish()`` runs on the controller's one shared thread as the rest of ``run`` would (its
        ``CommandError`` ends the job with that status), then the job ends. A job that only waits for its
        listener so holds no thread of its own."""
        self._resumes = True
        scheduler = self.agent.jobs.scheduler
        signal.on_set(lambda: scheduler.call_later(0, lambda: self._complete(finish)))

    # ---- job control ----

    def on_terminated(self, listener: Callable[["Job"], None]) -> None:
        with self._lock:
            if not self._terminated:
                self._terminated_listeners.append(listener)
                return
        _quietly(listener, self)

    def start(self) -> None:
        self.status = RUNNING
        threads.spawn("job-%d" % self.job_id, self._run)

    def interrupt(self) -> None:
        self.end(0)

    def terminate(self, message: Optional[str] = None) -> None:
        self.end(-10, message)

    def wait_terminated(self, timeout: Optional[float]) -> bool:
        """True once the final status has been emitted and the job's listeners have run."""
        return self._terminated_event.wait(timeout)

    def _run(self) -> None:
        command = self.command_cls()
        if not command.parses_options:
            self._complete(lambda: command.run(self, Namespace({"help": False, "words": list(self.words)})))
            return
        try:
            args = parse(command.options, command.arguments, self.words)
        except UsageError as exc:
            self.end(-10, str(exc))
            return
        if args.help:
            self.emit(help_detail(self.command_cls))
            self.end(-10)
            return
        self._schedule_command_timeout(args)
        self._complete(lambda: command.run(self, args))

    def _complete(self, step: Callable[[], None]) -> None:
        """Run the command's ``step`` and end the job as its outcome says (unless it left the job to
        ``resume_when``). Whatever it raises, even ``SystemExit``, ends the job: never the thread alone."""
        if self._ended:
            return
        resumes = self._resumes
        try:
            step()
        except CommandError as exc:
            self.end(exc.status, exc.message)
        except BaseException as exc:
            self.end(1, "Error during processing the command: %s, message:%s, please check the agent's "
                        "stderr for more details." % (type(exc).__name__, exc))
            if isinstance(exc, Exception):
                traceback.print_exc()
        else:
            if resumes or not self._resumes:
                self.end(0)

    def _schedule_command_timeout(self, args) -> None:
        """Commands that declare ``--timeout <seconds>`` (the enhancing ones) end on their own after it."""
        seconds = getattr(args, "timeout", None)
        if not isinstance(seconds, (int, float)) or seconds <= 0:
            return
        handle = self.agent.jobs.scheduler.call_later(seconds, lambda: self._timed_out(seconds))
        self.on_end(handle.cancel)

    def _timed_out(self, seconds) -> None:
        self.emit(TerminalMessageModel(message="Command execution timeout after %s seconds." % seconds))
        self.end(0)


def _discard(job_id: int, model) -> None:
    """The sink of an ended job: what it held (a session, a packing list) is no longer referenced."""


def _quietly(callback: Callable, *args) -> None:
    try:
        callback(*args)
    except Exception:  # one failing cleanup must not stop the others, nor reach the caller
        traceback.print_exc()
