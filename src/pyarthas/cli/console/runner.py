"""The console's engine, shared by the interactive prompt and batch mode.

One ``pump`` thread pulls the session's results for the console's whole life and prints each one as its
view renders it (so background jobs and messages show up too, and the consumer never idles). A command
line runs as the session's foreground job: ``start(line)`` sends it with ``async_exec`` and returns a
``Foreground`` whose ``done`` event is set when the job's ``status`` arrives.
"""
import json
import sys
import threading
import time
from typing import Callable, List, Optional

from ...agent.command.tokenizer import TokenizeError, parse_command_line
from ...agent.job.pipes import PipeError, Pipeline
from ...agent.shell.session import failure_text
from ...agent.view import Context, render
from ...agent.view.text import strip_ansi
from ..client import ApiError, Session, SessionNotFound

RETRY_INTERVAL = 1.0
HELP_STATUS = -10


class Foreground:
    """The job the console waits for."""

    def __init__(self, line: str, pipeline: Pipeline, redirected: bool = False):
        self.line = line
        self.pipeline = pipeline
        self.redirected = redirected  # the target's job writes the text to its file: only failures show here
        self.job_id: Optional[int] = None
        self.status: Optional[int] = None
        self.showed_help = False
        self.done = threading.Event()

    def finish(self, status: Optional[int]) -> None:
        self.status = status
        self.done.set()

    @property
    def failed(self) -> bool:
        """The job did not succeed. Arthas ends ``CMD -h`` with status -10 after the help: asked-for help
        is a success for the console (its exit code)."""
        return self.status != 0 and not (self.status == HELP_STATUS and self.showed_help)


class Runner:
    def __init__(self, session: Session, json_mode: bool = False, color: Optional[bool] = None):
        self.session = session
        self.json_mode = json_mode
        self.ctx = Context.for_stream(sys.stdout, color)
        self.plain_ctx = Context.for_stream(sys.stdout, color=False)
        client = getattr(session, "client", None)   # the agent's address: views print full URLs of its files
        if client is not None:
            self.ctx.base_url = self.plain_ctx.base_url = client.url + client.path[:-len("/api")]
        self.pid: Optional[str] = None
        self.stopping = False
        self.wake: Callable[[], None] = lambda: None
        self._foreground: Optional[Foreground] = None
        self._dispatch_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._closing = threading.Event()
        self._unreachable = False
        self._pump_thread: Optional[threading.Thread] = None

    # ---- output ----

    def write(self, text: str) -> None:
        if not self.ctx.color:
            text = strip_ansi(text)
        with self._write_lock:
            stream = sys.stdout  # looked up each time: the prompt patches stdout while it is shown
            stream.write(text + "\n")
            stream.flush()

    def error(self, text: str) -> None:
        self.write(self.ctx.style.red(text))

    # ---- start-up ----

    def startup(self, show: bool = True, timeout: float = 10.0) -> None:
        """Pull what a new consumer gets first (welcome banner, or a joined session's history) up to the
        input status that ends it, so the prompt comes after it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batch = self.session.pull()
            for result in batch:
                self._note(result)
                if show and not self.json_mode:
                    self._print_result(result, None)
            if any(r.get("type") == "input_status" and r.get("inputStatus") != "DISABLED" for r in batch):
                break
        if self.pid is None:
            self.pid = str(self.session.info().get("pid", "?"))

    def _note(self, result: dict) -> None:
        if result.get("type") == "welcome" and result.get("pid"):
            self.pid = str(result["pid"])

    # ---- the pump ----

    def start_pump(self) -> None:
        self._pump_thread = threading.Thread(target=self._pump, name="pyarthas-console-pump", daemon=True)
        self._pump_thread.start()

    def _pump(self) -> None:
        while not self._closing.is_set():
            try:
                batch = self.session.pull()
            except ApiError as error:
                if self.stopping:  # the agent went away as asked, maybe before its last results
                    self.abandon_foreground(status=0)
                    return
                if self._closing.is_set():
                    return
                self._pull_failed(error)
                continue
            self._unreachable = False
            for result in batch:
                self._dispatch(result)

    def _pull_failed(self, error: ApiError) -> None:
        self.abandon_foreground()
        if isinstance(error, SessionNotFound):
            try:
                self.session.renew()
                self.error("session gone (agent restarted or session closed); opened session %s" % self.session.id)
                return
            except ApiError as renew_error:
                error = renew_error
        if not self._unreachable:
            self._unreachable = True
            self.error(str(error))
        self._closing.wait(RETRY_INTERVAL)

    def abandon_foreground(self, status: Optional[int] = None) -> None:
        """Stop waiting for the foreground job's status (it will not come)."""
        with self._dispatch_lock:
            foreground, self._foreground = self._foreground, None
        if foreground is not None:
            foreground.finish(status)
            self.wake()

    def _dispatch(self, result: dict) -> None:
        with self._dispatch_lock:
            self._note(result)
            foreground = self._foreground
            mine = foreground is not None and foreground.job_id is not None and result.get("jobId") == foreground.job_id
            self._print_result(result, foreground if mine else None)
            if mine and result.get("type") == "help":
                foreground.showed_help = True
            if mine and result.get("type") == "status":
                self._foreground = None
                for line in foreground.pipeline.finish():
                    self.write(line)
                foreground.finish(result.get("statusCode"))
                self.wake()

    def _print_result(self, result: dict, foreground: Optional[Foreground]) -> None:
        kind = result.get("type")
        if self.json_mode:
            if foreground is not None:
                self.write(json.dumps(result, ensure_ascii=False))
            return
        if kind == "command":
            if foreground is None and result.get("state") == "SCHEDULED":
                self.write(self.ctx.style.dim("[arthas@%s]$ %s" % (self.pid or "?", result.get("command", ""))))
            return
        if foreground is not None and foreground.redirected and not (kind == "status" and result.get("statusCode")):
            return  # written by the target (Arthas's job redirect), relative to its working directory
        piped = foreground is not None and foreground.pipeline.stages
        text = render(result, self.plain_ctx if piped else self.ctx)
        if text and piped:
            for line in foreground.pipeline.feed(text):
                self.write(line)
        elif text:
            self.write(text)

    # ---- commands ----

    def start(self, line: str) -> Optional[Foreground]:
        """Send ``line`` as the foreground job; None (after printing why) when it could not start."""
        try:
            command = parse_command_line(line)
            pipeline = Pipeline(() if command.redirect else command.pipes)
        except (TokenizeError, PipeError) as error:
            self.error(str(error))
            return None
        foreground = Foreground(line, pipeline, redirected=command.redirect is not None)
        for attempt in range(2):
            try:
                with self._dispatch_lock:
                    job = self.session.async_exec(line)
                    if not command.background:
                        foreground.job_id = job.id
                        self._foreground = foreground
                if command.background:
                    self.write("[%s] %s" % (job.id, line))
                    foreground.finish(0)
                return foreground
            except SessionNotFound:
                if attempt:
                    raise
                self.session.renew()
                self.error("session gone (agent restarted or session closed); opened session %s"
                           % self.session.id)
            except ApiError as error:
                self.error(failure_text(error.message))
                return None
        return None

    def interrupt(self) -> None:
        try:
            self.session.interrupt()
        except ApiError as error:
            self.error(str(error))

    def run_to_end(self, line: str) -> int:
        """Run ``line`` and wait for its end (Ctrl-C interrupts it); 0 when its status was 0."""
        foreground = self.start(line)
        if foreground is None:
            return 1
        self.wait(foreground)
        return 1 if foreground.failed else 0

    def wait(self, foreground: Foreground) -> None:
        """Wait for the job's status; a first Ctrl-C interrupts the job, a second stops waiting."""
        interrupted = False
        while True:
            try:
                foreground.done.wait()
                return
            except KeyboardInterrupt:
                if interrupted:
                    self.abandon_foreground()
                    return
                interrupted = True
                self.interrupt()

    def close(self) -> None:
        """Leave: close the session this console opened, leave a joined one to its owner."""
        self._closing.set()
        if self.stopping:
            return
        if self.session.owned:
            try:
                self.session.close()
            except ApiError:
                pass
        else:
            self.session.detach()


def split_commands(text: str) -> List[str]:
    """``cmd1; cmd2`` into commands, keeping ``;`` inside quotes (``-c`` of batch mode)."""
    commands, current, quote = [], [], ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == ";":
            commands.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    commands.append("".join(current).strip())
    return [c for c in commands if c]
