"""``| grep``, ``| tee``, ``| plaintext``, ``| wc -l`` and ``> file`` / ``>> file`` on a command's text
output, as Arthas's shell offers them (the agent's shell, its jobs and the external console use this module).

A pipeline is built once per command line and fed the job's text one rendered result at a time, so a
``watch ... | grep x`` filters as results stream in. A redirect is the job's (Arthas's
``JobControllerImpl.createCommandProcess``): ``JobOutput`` renders every result of a redirected job as plain
text, through the pipes before the ``>``, into the file, whichever door the job came through; the results
still reach the session as JSON. A relative file name is relative to the target's working directory, as
Arthas's ``new File(name)``.
"""
import collections
import os
import re
import threading
from typing import List, Optional, Sequence, Tuple

from ..command.options import UsageError, parse
from ..commands.terminal import GREP_ARGUMENTS, GREP_OPTIONS, TEE_ARGUMENTS, TEE_OPTIONS
from ..view.text import strip_ansi


class PipeError(ValueError):
    """A pipe stage the console does not know, or bad options for one."""


class _Stage:
    def feed(self, lines: List[str]) -> List[str]:
        return lines

    def finish(self) -> List[str]:
        return []


class Plaintext(_Stage):
    def feed(self, lines):
        return [strip_ansi(line) for line in lines]


class LineCount(_Stage):
    """``wc -l``: the number of lines, printed when the job ends."""

    def __init__(self):
        self.count = 0

    def feed(self, lines):
        self.count += len(lines)
        return []

    def finish(self):
        return [str(self.count)]


class Grep(_Stage):
    """Arthas's grep (``commands/terminal.py`` declares its options): ``[-e] [-i] [-v] [-n] [-c] [-m N]
    [-A N] [-B N] [-C N] [--trim-end false] pattern``; the pattern is a plain string unless ``-e`` makes it a
    regular expression; ``-c`` prints only the count of selected lines when the job ends."""

    def __init__(self, words: Sequence[str]):
        args = _parse_stage("grep", GREP_OPTIONS, GREP_ARGUMENTS, words)
        self.invert, self.numbers, self.count = args.invert_match, args.line_number, args.count
        self.trim_end = args.trim_end
        self.max_count = args.max_count if args.max_count > 0 else None
        self.after = args.context or args.after_context
        self.before = args.context or args.before_context
        flags = re.IGNORECASE if args.ignore_case else 0
        try:
            self.matcher = re.compile(args.pattern if args.regex else re.escape(args.pattern), flags)
        except re.error as error:
            raise PipeError("grep: bad regular expression %r: %s" % (args.pattern, error)) from None
        self.line_number = 0
        self.matched = 0
        self.pending_after = 0
        self.previous: List[str] = []

    def feed(self, lines):
        out = []
        for line in lines:
            self.line_number += 1
            plain = strip_ansi(line)
            text = plain.rstrip() if self.trim_end else plain
            hit = bool(self.matcher.search(text)) != self.invert
            if self.max_count is not None and self.matched >= self.max_count:
                hit = False
            shown = ("%d:%s" % (self.line_number, text)) if self.numbers else text
            if hit:
                self.matched += 1
                out.extend(self.previous)
                self.previous = []
                out.append(shown)
                self.pending_after = self.after
            elif self.pending_after > 0:
                self.pending_after -= 1
                out.append(shown)
            elif self.before:
                self.previous = (self.previous + [shown])[-self.before:]
        return [] if self.count else out

    def finish(self):
        return [str(self.matched)] if self.count else []


class Tee(_Stage):
    """``tee [-a] FILE``: lines go on to the next stage and, plain, to the file too (Arthas's TeeHandler)."""

    def __init__(self, words: Sequence[str]):
        args = _parse_stage("tee", TEE_OPTIONS, TEE_ARGUMENTS, words)
        self.file = _open_output(args.file, args.append) if args.file else None

    def feed(self, lines):
        _write_lines(self.file, lines)
        return lines

    def finish(self):
        if self.file is not None:
            self.file.close()
        return []


def _parse_stage(name: str, options, arguments, words: Sequence[str]):
    try:
        return parse(options, arguments, list(words))
    except UsageError as error:
        raise PipeError("%s: %s" % (name, error)) from None


def build_pipeline(stages: Sequence[Sequence[str]]) -> List[_Stage]:
    """The stages of ``cmd | a | b``, each a list of words."""
    built: List[_Stage] = []
    for words in stages:
        name, args = words[0], list(words[1:])
        if name == "grep":
            built.append(Grep(args))
        elif name == "tee":
            built.append(Tee(args))
        elif name == "plaintext":
            built.append(Plaintext())
        elif name == "wc" and args == ["-l"]:
            built.append(LineCount())
        else:
            raise PipeError("unsupported pipe: | %s (the shell offers | grep, | tee, | plaintext and | wc -l)"
                            % " ".join(words))
    return built


def redirect_path(name: str) -> str:
    """Where ``> name`` writes: as Java's ``new File(name)``, a relative name is relative to the working
    directory of the process that writes (the target, for the agent's jobs)."""
    return os.path.abspath(os.path.expanduser(name))


def cache_file(output_root: str, job_id: int) -> str:
    """Where ``cmd >`` (no file) writes: Arthas's ``arthas-cache/PID/JOBID``, under the output folder."""
    return os.path.join(output_root, "arthas-cache", str(os.getpid()), str(job_id))


def _open_output(name: str, append: bool):
    path = redirect_path(name)
    if os.path.isdir(path):
        raise PipeError("%s: Is a directory" % name)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return open(path, "a" if append else "w", encoding="utf-8")
    except OSError as error:
        raise PipeError("cannot write to %s: %s" % (name, error.strerror or error)) from None


def _write_lines(file, lines: List[str]) -> None:
    if file is None or not lines:
        return
    try:
        file.write("".join(strip_ansi(line) + "\n" for line in lines))
        file.flush()
    except (OSError, ValueError):  # disk full, or already closed: the job's output is lost, not the shell
        pass


class Redirect(_Stage):
    """``> file`` (truncate) or ``>> file`` (append): lines go to the file, none to the screen."""

    def __init__(self, name: str, append: bool):
        self.path = redirect_path(name)
        self.file = _open_output(name, append)

    def feed(self, lines):
        _write_lines(self.file, lines)
        return []

    def finish(self):
        self.file.close()
        return []


class Pipeline:
    def __init__(self, stages: Sequence[Sequence[str]] = (), redirect: Optional[Tuple[str, bool]] = None):
        self.stages = build_pipeline(stages)
        if redirect is not None:
            self.stages.append(Redirect(redirect[0], redirect[1]))

    @property
    def plain(self) -> bool:
        """Whether the text should be rendered without colours (any stage reads plain text)."""
        return bool(self.stages)

    @property
    def redirect(self) -> Optional[Redirect]:
        last = self.stages[-1] if self.stages else None
        return last if isinstance(last, Redirect) else None

    def feed(self, text: str) -> List[str]:
        lines = text.split("\n")
        for stage in self.stages:
            lines = stage.feed(lines)
        return lines

    def finish(self) -> List[str]:
        lines: List[str] = []
        for stage in self.stages:
            lines = stage.feed(lines) + stage.finish()
        return lines


REDIRECT_WIDTH = 160   # columns of the tables written to a file (no terminal to fit)


class JobOutput:
    """Arthas's ProcessOutput for a redirected job. ``offer`` takes a result from any thread (a target's
    thread included: it only queues, bounded, never blocks); one agent thread renders the queued results and
    writes them; ``close`` writes what is left and closes the file."""

    MAX_PENDING = 10000

    def __init__(self, pipeline: Pipeline, job_id: int):
        self.pipeline = pipeline
        self.job_id = job_id
        self.dropped = 0
        self._pending: collections.deque = collections.deque()
        self._lock = threading.Condition()
        self._closing = False
        self._finished = threading.Event()
        self._thread: Optional[threading.Thread] = None

    @property
    def path(self) -> str:
        redirect = self.pipeline.redirect
        return redirect.path if redirect is not None else ""

    def offer(self, model) -> None:
        with self._lock:
            if self._closing:
                return
            if len(self._pending) >= self.MAX_PENDING:
                self.dropped += 1
                return
            self._pending.append(model)
            if self._thread is None:
                from ..util import threads
                self._thread = threads.spawn("job-%d-output" % self.job_id, self._write_loop)
            self._lock.notify()

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, close the file; waits up to ``timeout`` for the writer."""
        with self._lock:
            self._closing = True
            started = self._thread is not None
            self._lock.notify()
        if not started:
            self._finish()
            return
        self._finished.wait(timeout)

    def _write_loop(self) -> None:
        from ..model import to_json_or_message
        from ..view import Context, render
        context = Context(color=False, width=REDIRECT_WIDTH)
        while True:
            with self._lock:
                while not self._pending and not self._closing:
                    self._lock.wait()
                batch = list(self._pending)
                self._pending.clear()
                closing = self._closing
            for model in batch:
                try:
                    text = render(to_json_or_message(model, self.job_id), context)
                except Exception:  # a view that fails costs its own lines only
                    continue
                if text:
                    self.pipeline.feed(text)
            if closing and not self._pending:
                self._finish()
                return

    def _finish(self) -> None:
        if self.dropped:
            self.pipeline.feed("(%d results were not written: the job produced them faster than they could "
                               "be written)" % self.dropped)
        self.pipeline.finish()
        self._finished.set()
