"""One shell per terminal connection, as Arthas's ShellImpl: banner, prompt ``[arthas@PID]$ ``, line editing,
history, completion, job control, pipes and redirects.

The shell is a client of the layers below, never a second implementation: it opens an ordinary session
through the API's actions (``init_session``, ``async_exec``, ``interrupt_job``, ``close_session``), so the
session shows in ``session`` and ``session_info`` like any other, its commands run as the session's jobs,
and its results arrive through a consumer of the session's distributor, rendered by the views.

Threads: the transport's reader calls ``feed`` with the bytes typed; a ``pump`` thread waits on the
consumer (a wait without timeout: an idle shell costs no CPU) and draws results. One lock orders keys
and output, so echo and results never interleave mid-line.
"""
import collections
import re
import threading
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from ..api import actions
from ..command.tokenizer import TokenizeError, parse_command_line
from ..job.pipes import PipeError, Pipeline, cache_file, redirect_path
from ..util import threads
from ..view import Context, render
from ..view.text import table
from . import access
from .completion import LocalCatalog, suggestions
from .editor import CTRL_C, CTRL_D, CTRL_L, ENTER, KEYMAP, TAB, KeyDecoder, LineEditor, is_named, key

if TYPE_CHECKING:
    from ..session.distribution import Consumer

CLEAR_SCREEN = "\x1b[H\x1b[2J"
TYPEAHEAD_LIMIT = 64 * 1024   # characters typed (or piped in by nc) while a job runs, replayed after it
LEAVE = ("quit", "exit", "logout")


class _Job:
    """A job this shell started, with where its text goes."""

    def __init__(self, job_id: int, line: str, pipeline: Pipeline, redirected: bool = False):
        self.job_id = job_id
        self.line = line
        self.pipeline = pipeline
        self.redirected = redirected   # the job writes its text to a file: the screen shows only failures


class ShellSession:
    def __init__(self, agent, terminal, locked: bool = False):
        self.agent = agent
        self.locked = locked
        self.term = terminal
        self.ctx = Context(color=True, width=terminal.cols, size_limit=_size_limit(agent), terminal=True)
        self.plain_ctx = Context(color=False, width=terminal.cols, size_limit=_size_limit(agent))
        self.editor = LineEditor(lambda: agent.history, lambda: self.ctx.width)
        self.decoder = KeyDecoder()
        self.catalog = LocalCatalog()
        self.session_id: Optional[str] = None
        self._consumer: Optional["Consumer"] = None
        self._lock = threading.RLock()
        self._foreground: Optional[_Job] = None
        self._background: Dict[int, _Job] = {}
        self._at_prompt = False
        self._typeahead: collections.deque = collections.deque()
        self._typeahead_size = 0
        self._input_ended = False
        self._closed = False
        self._done = threading.Event()
        terminal.on_resize = self._resized

    # ---- life cycle ----

    def open(self) -> bool:
        """Open the session and start drawing its results; False (after saying why) when refused."""
        reply = self._call("init_session")
        if reply.get("state") != "SUCCEEDED":
            self.term.close("%s\n" % reply.get("message"))
            return False
        self.session_id = reply["sessionId"]
        session = self.agent.sessions.get(self.session_id)
        if session is not None:
            session.tty = True
            session.authenticated = not self.locked
        self._consumer = session.distributor.consumer(reply["consumerId"]) if session else None
        if self._consumer is None:
            self.term.close("the session closed at once\n")
            return False
        threads.spawn("shell-pump", self._pump)
        return True

    def close(self) -> None:
        """The connection is gone: close the session (its foreground job ends, functions restored)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self.session_id is not None:
            self._call("close_session", sessionId=self.session_id)
        self.term.close()
        self._done.set()

    # ---- input (the transport's reader thread) ----

    def feed(self, data: bytes) -> None:
        keys = self.decoder.feed(data)
        with self._lock:
            if self._closed:
                return
            if self.session_id is not None:
                session = self.agent.sessions.get(self.session_id)
                if session is not None:
                    session.touch()
            if not self._at_prompt:
                self._while_busy(keys)
                return
            for index, typed in enumerate(keys):
                if not self._at_prompt:  # Enter started a job: the rest waits for the prompt
                    self._queue_typeahead(keys[index:])
                    return
                self._key(typed)

    def interrupt(self) -> None:
        """Telnet's Interrupt Process, as Ctrl-C."""
        with self._lock:
            if self._at_prompt:
                self._key(CTRL_C)
            else:
                self._interrupt_job()

    def input_ended(self) -> None:
        """The client will send nothing more (``nc -N`` after its input): run what it typed, then leave.
        Returns when the shell has closed."""
        with self._lock:
            self._input_ended = True
            if self._at_prompt and not self._typeahead:
                self._leave()
        self._done.wait()

    def _while_busy(self, keys: List[str]) -> None:
        """A job runs in the foreground: ``q`` typed alone or Ctrl-C interrupts it, Ctrl-D leaves, other
        keys wait for the prompt (so commands piped in by ``nc`` run one after the other)."""
        if keys in (["q"], ["Q"], ["q", ENTER], ["Q", ENTER]) or CTRL_C in keys:
            self._interrupt_job()
            return
        self._queue_typeahead(keys)

    def _queue_typeahead(self, keys: List[str]) -> None:
        for typed in keys:
            if self._typeahead_size + len(typed) > TYPEAHEAD_LIMIT:
                return  # a flood of typed-ahead input is dropped, not buffered without bound
            self._typeahead.append(typed)
            self._typeahead_size += len(typed)

    def _key(self, typed: str) -> None:
        editor = self.editor
        if typed == ENTER:
            self.term.write("\n")
            self._run_line(editor.take())
        elif typed == TAB:
            self._complete()
        elif typed == CTRL_C:
            editor.take()
            self.term.write("^C\n")
            self._prompt()
        elif typed == CTRL_D:
            if editor.buffer:
                self.term.write(editor.key(key("delete")))
            else:
                self._leave()
        elif typed == CTRL_L:
            self.term.write(CLEAR_SCREEN + editor.redraw_all())
        elif is_named(typed):
            self.term.write(editor.key(typed))
        elif typed:
            self.term.write(editor.insert(typed))

    # ---- prompt and typed-ahead lines ----

    def _prompt(self) -> None:
        """Show the prompt, then replay what was typed meanwhile (which may start the next job)."""
        self._at_prompt = True
        self.term.write(self.editor.start("[arthas@%s]$ " % self.agent.pid))
        while self._typeahead and self._at_prompt and not self._closed:
            typed = self._typeahead.popleft()
            self._typeahead_size -= len(typed)
            self._key(typed)
        if self._at_prompt and self._input_ended and not self._typeahead:
            self._leave()

    def _leave(self) -> None:
        self._at_prompt = False
        threads.spawn("shell-close", self.close)  # not on the reader's or pump's own stack

    def _run_line(self, line: str) -> None:
        self._at_prompt = False
        stripped = line.strip()
        if not stripped:
            self._prompt()
            return
        if access.looks_like_http(stripped):
            self._leave()  # a browser tricked into posting to the telnet port: none of its lines runs
            return
        try:
            command = parse_command_line(stripped)
        except TokenizeError as error:
            self._error(str(error))
            return
        name = command.words[0] if command.words else ""
        if name in LEAVE:
            self._leave()
            return
        builtin = _BUILTINS.get(name)
        if builtin is not None:
            self.agent.history.append(stripped)
            builtin(self, command.words[1:])
            if self._foreground is None:  # ``fg`` hands the terminal to a job instead
                self._prompt()
            return
        try:  # a redirected job writes its file itself (pipes included): the screen gets no pipeline
            pipeline = Pipeline(() if command.redirect else command.pipes)
        except PipeError as error:
            self._error(str(error))
            return
        self._start_job(stripped, pipeline, command.background, command.redirect)

    def _start_job(self, line: str, pipeline: Pipeline, background: bool, redirect=None) -> None:
        reply = self._call("async_exec", sessionId=self.session_id, command=line)
        if reply.get("state") != "SCHEDULED":
            pipeline.finish()
            self._error(failure_text(reply.get("message", "")))
            return
        job = _Job(reply["body"]["jobId"], line, pipeline, redirected=redirect is not None)
        if redirect is not None:
            written = redirect[0] or cache_file(self.agent.output_root, job.job_id)
            self.term.write("redirect output file will be: %s\n" % redirect_path(written))
        if background:
            self._background[job.job_id] = job
            self._prompt()
        else:
            self._foreground = job

    def _error(self, text: str) -> None:
        self.term.write(self.ctx.style.red(text) + "\n")
        self._prompt()

    def _interrupt_job(self) -> None:
        if self._foreground is not None:
            self._call("interrupt_job", sessionId=self.session_id)

    # ---- completion ----

    def _complete(self) -> None:
        editor = self.editor
        before = "".join(editor.buffer[:editor.cursor])
        try:
            found = list(suggestions(self.catalog, before))
        except Exception:  # completion must never break the shell
            return
        if not found:
            return
        replaced = found[0][1]
        names = sorted({text for text, _, _ in found})
        common = _common_prefix(names)
        if len(names) == 1:
            self.term.write(editor.insert(names[0][len(replaced):] + " "))
        elif len(common) > len(replaced):
            self.term.write(editor.insert(common[len(replaced):]))
        else:
            self.term.write(editor.key(key("end")) + "\n" + _columns(names, self.ctx.width) + "\n"
                            + editor.redraw_all())

    # ---- results (the pump thread) ----

    def _pump(self) -> None:
        consumer = self._consumer
        if consumer is None:  # open() starts the pump once it has one
            return
        while not self._closed:
            try:
                results = consumer.poll(forever=True)
            except Exception:  # never let a bad result take the terminal down silently
                results = []
            with self._lock:
                for result in results:
                    self._draw(result)
            if consumer.closed:
                break
        if not self._closed:  # the session went away under us (reaper, agent stopping)
            self.close()

    def _draw(self, result: dict) -> None:
        kind = result.get("type")
        job_id: Any = result.get("jobId")  # None on the session's own results
        if kind == "input_status":
            if self.editor.prompt == "" and not self._at_prompt and self._foreground is None:
                self._prompt()  # the first one, after the banner
            return
        if kind == "command":
            return
        foreground = self._foreground
        job = foreground if foreground is not None and job_id == foreground.job_id else self._background.get(job_id)
        text = self._text(result, job)
        if job is not None and job.redirected and not (kind == "status" and result.get("statusCode")):
            text = ""  # in the file; a failure still shows
        if job is foreground and job is not None:
            self.term.write(text)
            if kind == "status":
                self._foreground = None
                self.term.write(self._lines(job.pipeline.finish()))
                self._prompt()
            return
        if job is not None and kind == "status":
            self._background.pop(job_id, None)
            text += self._lines(job.pipeline.finish())
        self._print_above_prompt(text)

    def _text(self, result: dict, job: Optional[_Job]) -> str:
        pipeline = job.pipeline if job is not None and job.pipeline.stages else None
        text = render(result, self.plain_ctx if pipeline is not None else self.ctx)
        if text and pipeline is not None:
            return self._lines(pipeline.feed(text))
        return text + "\n" if text else ""

    @staticmethod
    def _lines(lines: List[str]) -> str:
        return "".join(line + "\n" for line in lines)

    def _print_above_prompt(self, text: str) -> None:
        if not text:
            return
        if self._at_prompt:
            self.term.write(self.editor.key(key("home")) + "\r\x1b[J" + text + self.editor.redraw_all())
        else:
            self.term.write(text)

    def _resized(self, cols: int, rows: int) -> None:
        self.ctx.width = self.plain_ctx.width = cols

    # ---- the API ----

    def _call(self, action: str, **fields) -> dict:
        fields["action"] = action
        try:
            return actions.dispatch(self.agent, actions.Request(fields))
        except actions.ApiError as error:
            return dict(error.extra, state=error.state, message=error.message)

    # ---- builtins: job control (Arthas's jobs, fg, bg, kill) and cls ----

    def _own_jobs(self):
        return [job for job in self.agent.jobs.live_jobs()
                if getattr(job.session, "session_id", None) == self.session_id]

    def _find_job(self, words: List[str], command: str):
        jobs = self._own_jobs()
        if not words:
            background = [job for job in jobs if job.background]
            if background:
                return background[-1]
            self.term.write(self.ctx.style.red("%s: no current job" % command) + "\n")
            return None
        wanted = words[0].lstrip("%")
        for job in jobs:
            if str(job.job_id) == wanted:
                return job
        self.term.write(self.ctx.style.red("%s: %s: no such job" % (command, words[0])) + "\n")
        return None

    def _jobs(self, words: List[str]) -> None:
        lines = []
        for job in self._own_jobs():
            marker = "*" if not job.background else " "
            lines.append("[%d]%s\n       %-16s  %s\n       session         : %s (current)"
                         % (job.job_id, marker, job.status.title(), job.line, self.session_id))
        self.term.write("".join(line + "\n" for line in lines))

    def _fg(self, words: List[str]) -> None:
        job = self._find_job(words, "fg")
        if job is None:
            return
        session = self.agent.sessions.get(self.session_id)
        try:
            actions.bring_to_foreground(session, job)
        except actions.ApiError as error:
            self.term.write(self.ctx.style.red(error.message) + "\n")
            return
        shell_job = self._background.pop(job.job_id, None)
        if shell_job is None and job.ended:
            return  # it ended meanwhile, and its end was drawn already
        self.term.write(job.line + "\n")
        self._foreground = shell_job or _Job(job.job_id, job.line, Pipeline())

    def _bg(self, words: List[str]) -> None:
        job = self._find_job(words, "bg")
        if job is not None:
            self.term.write("[%d] %s &\n" % (job.job_id, job.line.rstrip(" &")))

    def _kill(self, words: List[str]) -> None:
        if not words:
            self.term.write(self.ctx.style.red("kill: usage: kill JOBID") + "\n")
            return
        job = self._find_job(words, "kill")
        if job is not None:
            job.terminate()

    def _cls(self, words: List[str]) -> None:
        self.term.write(CLEAR_SCREEN)

    def _keymap(self, words: List[str]) -> None:
        rows = [(shortcut, description, name) for shortcut, description, name in KEYMAP]
        self.term.write(table(rows, ["Shortcut", "Description", "Name"], style=self.ctx.style,
                              width=self.ctx.width) + "\n")


_BUILTINS = {"jobs": ShellSession._jobs, "fg": ShellSession._fg, "bg": ShellSession._bg,
             "kill": ShellSession._kill, "cls": ShellSession._cls, "clear": ShellSession._cls,
             "keymap": ShellSession._keymap}


def _size_limit(agent) -> int:
    try:
        return int(agent.options.get("object-size-limit"))
    except (KeyError, ValueError, TypeError):
        return 10 * 1024 * 1024


_EXCEPTION_PREFIX = re.compile(r"^(Async exec command failed:|Exec command failed:)?\s*(\w+(Error|Exception): )?")


def failure_text(message: str) -> str:
    """``Async exec command failed:ValueError: x: command not found`` -> ``x: command not found``."""
    return _EXCEPTION_PREFIX.sub("", message, count=1) or message


def _common_prefix(names: List[str]) -> str:
    if not names:
        return ""
    first, last = min(names), max(names)
    size = 0
    while size < len(first) and first[size] == last[size]:
        size += 1
    return first[:size]


def _columns(names: List[str], width: int) -> str:
    cell = max(len(n) for n in names) + 2
    per_row = max(1, width // cell)
    rows = [names[i:i + per_row] for i in range(0, len(names), per_row)]
    return "\n".join("".join(n.ljust(cell) for n in row).rstrip() for row in rows)
