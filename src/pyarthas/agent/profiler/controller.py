"""The process's one profiler (as Arthas has one async-profiler per JVM): start, resume, stop, dump,
status, meminfo, and the files it writes into the agent's output folder.

Sampling is done by an engine (``engines``): py-spy when it can run, else the in-process sampler, or
tracemalloc for ``alloc``; status says which, and why when py-spy could not.

``profiler_for(agent)`` returns it, creating it on first use and registering its shutdown with
``agent.on_stop`` (sampling stops, nothing is written). A ``-d`` run stops by itself on the sampler's
thread and writes the file chosen at start. Files are written to a temporary name and renamed, so the
HTTP server never serves half a file.
"""
import os
import re
import sys
import threading
import time
import urllib.parse
from typing import Callable, Dict, Optional, Sequence, Tuple

from . import profile as profiles
from .engines import Engine, choose_engine
from .flamegraph import render_html, render_svg
from .markdown import render_markdown
from .pyspy import PySpyUnavailable
from .speedscope import render_speedscope

OUTPUT_URL_PREFIX = "/arthas-output/"

# format -> (default file extension, writer)
FORMATS: Dict[str, Tuple[str, Callable[[profiles.Profile], str]]] = {
    "html": ("html", render_html),
    "svg": ("svg", lambda p: render_svg(p, standalone=True)),
    "collapsed": ("txt", profiles.collapsed),
    "speedscope": ("speedscope.json", render_speedscope),
    "md": ("md", render_markdown),
}
# async-profiler's name of the HTML flame graph; ``md=N`` is md with the top N rows
FORMAT_ALIASES = {"flamegraph": "html"}
_FORMAT_OF_EXTENSION = {".html": "html", ".htm": "html", ".svg": "svg", ".txt": "collapsed",
                        ".collapsed": "collapsed", ".folded": "collapsed", ".json": "speedscope", ".md": "md"}
DEFAULT_TOP = 10


class ProfilerError(Exception):
    pass


class Written:
    """A profile written to a file: its path, format, URL under ``/arthas-output/`` (None when the file
    is outside the output folder) and sample count."""

    def __init__(self, path: Optional[str], format: str, url: Optional[str], samples: int, text: str = ""):
        self.path = path
        self.format = format
        self.url = url
        self.samples = samples
        self.text = text      # md: the report itself, which the command shows (a file only with --file)


class Filters:
    """``--include``/``--exclude`` patterns; given at start they apply to every file written, given to
    stop or dump they replace those for that file."""

    def __init__(self, includes: Sequence[str] = (), excludes: Sequence[str] = ()):
        self.includes = list(includes)
        self.excludes = list(excludes)

    @property
    def empty(self) -> bool:
        return not (self.includes or self.excludes)


class Settings:
    def __init__(self, mode: str = "cpu", interval: float = 0.01, per_thread: bool = False,
                 filters: Optional[Filters] = None, engine: str = "auto", py_spy: Optional[str] = None,
                 gil: bool = False):
        self.mode = mode
        self.interval = interval
        self.per_thread = per_thread
        self.filters = filters or Filters()
        self.engine = engine      # auto, py-spy or sampler
        self.py_spy = py_spy      # the py-spy executable, when not found by itself
        self.gil = gil            # py-spy cpu mode: only the thread holding the GIL counts


def parse_format(format: Optional[str]) -> Tuple[Optional[str], int]:
    """(format, top N) from ``-o``: aliases resolved, ``md=N`` split; None stays None."""
    if format is None:
        return None, DEFAULT_TOP
    name, _, top = format.partition("=")
    name = FORMAT_ALIASES.get(name, name)
    if name not in FORMATS or (top and (name != "md" or not top.isdigit() or int(top) <= 0)):
        raise ProfilerError("unknown output format '%s', expected one of %s, flamegraph, md=N"
                            % (format, ", ".join(FORMATS)))
    return name, int(top) if top else DEFAULT_TOP


class Profiler:
    def __init__(self, output_dir: Callable[[], str]):
        self._output_dir = output_dir
        self._lock = threading.Lock()
        self._engine: Optional[Engine] = None
        self._settings = Settings()
        self._first_started = 0.0      # when the data being collected began (title of the profile)
        self._running_since = 0.0      # when sampling last (re)started (status)
        self._planned: Optional[Tuple[Optional[str], str]] = None   # (file, format) a -d run will write

    # ---- actions ----

    def start(self, settings: Settings, duration: Optional[int] = None, file: Optional[str] = None,
              format: Optional[str] = None) -> Optional[Tuple[str, str]]:
        """Start afresh; with ``duration``, returns the (path, format) that will be written."""
        with self._lock:
            self._check_not_running()
            planned = self._plan(duration, file, format)
            try:
                engine = choose_engine(settings.engine, settings.mode, settings.interval, settings.per_thread,
                                       self._on_deadline, duration, settings.py_spy, settings.gil)
            except PySpyUnavailable as exc:
                raise ProfilerError(str(exc)) from None
            previous, self._engine, self._settings = self._engine, engine, settings
            self._first_started = self._running_since = time.time()
            self._planned = planned
        if previous is not None:
            previous.close()
        return self._planned_path(planned)

    def resume(self, duration: Optional[int] = None, file: Optional[str] = None,
               format: Optional[str] = None, settings: Optional[Settings] = None):
        """Continue sampling into the data collected so far (a fresh start when there is none)."""
        with self._lock:
            engine = self._engine
            if engine is not None:
                self._check_not_running()
                planned = self._plan(duration, file, format)
                try:
                    engine.start(duration)
                except PySpyUnavailable as exc:
                    raise ProfilerError(str(exc)) from None
                self._running_since = time.time()
                self._planned = planned
                return self._planned_path(planned)
        return self.start(settings or Settings(), duration, file, format)

    def stop(self, file: Optional[str] = None, format: Optional[str] = None,
             filters: Optional[Filters] = None) -> Written:
        with self._lock:
            engine = self._engine
            if engine is None or not engine.running:
                raise ProfilerError("Profiler is not active")
            engine.request_stop()
            if file is None and format is None and self._planned is not None:
                file, format = self._planned
            self._planned = None
            return self._write(engine, file, format, filters)

    def dump(self, file: Optional[str] = None, format: Optional[str] = None,
             filters: Optional[Filters] = None) -> Written:
        """Write what was collected so far, without stopping."""
        with self._lock:
            if self._engine is None:
                raise ProfilerError("Profiler has not started")
            return self._write(self._engine, file, format, filters)

    def status(self) -> str:
        with self._lock:
            engine = self._engine
            if engine is None or not engine.running:
                return "Profiler is not active\n"
            text = "[%s] profiling is running for %d seconds\n" % (
                self._settings.mode, int(time.time() - self._running_since))
            text += "engine: %s\n" % engine.describe()
            if engine.note:
                text += "py-spy not used: %s\n" % engine.note
            return text

    def meminfo(self) -> str:
        """Arthas's ``profiler meminfo`` table: what the collected data holds, in KB."""
        with self._lock:
            parts = self._engine.memory() if self._engine is not None else {}
        parts = parts or {"Call trace storage": 0}
        width = max(len(name) for name in list(parts) + ["Total"])
        lines = ["%s: %7d KB" % (name.rjust(width), size // 1024) for name, size in parts.items()]
        rule = "-" * len(lines[0])
        return "\n".join(lines + [rule, "%s: %7d KB" % ("Total".rjust(width), sum(parts.values()) // 1024)]) + "\n"

    def engine_name(self) -> str:
        engine = self._engine
        return engine.name if engine is not None else "none"

    def samples(self) -> int:
        engine = self._engine
        return engine.samples() if engine is not None else 0

    @property
    def running(self) -> bool:
        return self._engine is not None and self._engine.running

    @property
    def mode(self) -> str:
        return self._settings.mode

    def shutdown(self) -> None:
        """The agent stops: stop sampling and forget the data."""
        with self._lock:
            engine, self._engine, self._planned = self._engine, None, None
        if engine is not None:
            engine.request_stop()
            engine.join()
            engine.close()

    # ---- internals ----

    def _check_not_running(self) -> None:
        if self.running:
            raise ProfilerError("Profiler already started")

    def _plan(self, duration, file, format) -> Optional[Tuple[Optional[str], str]]:
        """What a -d run will write: the file resolved now (so that start can say where), the format."""
        if not duration:
            return None
        path, _, _ = self._resolve_output(file, format)
        return path, format or format_of_file(path)

    @staticmethod
    def _planned_path(planned) -> Optional[Tuple[str, str]]:
        if planned is None:
            return None
        path, format = planned
        return path, parse_format(format)[0] or "html"

    def _on_deadline(self, engine: Engine) -> None:
        with self._lock:
            if engine is not self._engine or self._planned is None:
                return
            file, format = self._planned
            self._planned = None
            try:
                self._write(engine, file, format)
            except ProfilerError as exc:  # nobody waits for this answer: the target's stderr is all we have
                sys.stderr.write("pyarthas: profiler -d: %s\n" % exc)

    def _write(self, engine: Engine, file: Optional[str], format: Optional[str],
               filters: Optional[Filters] = None) -> Written:
        if filters is None or filters.empty:
            filters = self._settings.filters
        path, format, top = self._resolve_output(file, format)
        snapshot = profiles.from_engine(engine, self._first_started, filters.includes, filters.excludes)
        if format == "md":
            text = render_markdown(snapshot, top)
            if not file:     # as Arthas: the report is the answer; a file only when one is named
                return Written(None, format, None, snapshot.total, text)
        else:
            text = FORMATS[format][1](snapshot)
        try:
            _write_atomically(path, text)
        except OSError as exc:
            raise ProfilerError("cannot write %s: %s" % (path, exc.strerror or exc)) from None
        return Written(path, format, self.url_of(path), snapshot.total, text if format == "md" else "")

    def _resolve_output(self, file: Optional[str], format: Optional[str]) -> Tuple[str, str, int]:
        name, top = parse_format(format)
        if name is None:
            name = format_of_file(file) if file else "html"
        try:
            output_dir = self._output_dir()
        except OSError as exc:
            raise ProfilerError("cannot create the output folder: %s" % (exc.strerror or exc)) from None
        if file:
            path = os.path.abspath(os.path.join(output_dir, os.path.expanduser(expand_file_name(file))))
        else:
            path = _fresh_name(output_dir, FORMATS[name][0])
        return path, name, top

    def url_of(self, path: str) -> Optional[str]:
        root = os.path.realpath(self._output_dir())
        real = os.path.realpath(path)
        if os.path.commonpath([root, real]) != root or real == root:
            return None
        relative = os.path.relpath(real, root).replace(os.sep, "/")
        return OUTPUT_URL_PREFIX + urllib.parse.quote(relative)


def expand_file_name(file: str) -> str:
    """async-profiler's variables in ``--file``: ``%t`` the time (yyyyMMdd-HHmmss), ``%p`` the pid, ``%%``."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return re.sub(r"%[tp%]", lambda m: {"%t": stamp, "%p": str(os.getpid()), "%%": "%"}[m.group(0)], file)


def format_of_file(file: str) -> str:
    """The output format a file name implies (``.html``, ``.svg``, ``.txt``/``.collapsed``, ``.json``);
    html when the extension says nothing."""
    return _FORMAT_OF_EXTENSION.get(os.path.splitext(file)[1].lower(), "html")


def _fresh_name(directory: str, extension: str) -> str:
    """Arthas's ``yyyyMMdd-HHmmss.<ext>``, with a counter when that name is taken."""
    stem = time.strftime("%Y%m%d-%H%M%S")
    candidate = os.path.join(directory, "%s.%s" % (stem, extension))
    counter = 1
    while os.path.exists(candidate):
        candidate = os.path.join(directory, "%s-%d.%s" % (stem, counter, extension))
        counter += 1
    return candidate


def _write_atomically(path: str, text: str) -> None:
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    temporary = os.path.join(directory, ".%s.%d.tmp" % (os.path.basename(path), threading.get_ident()))
    with open(temporary, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(temporary, path)


_instance: Optional[Profiler] = None
_instance_agent = None
_instance_lock = threading.Lock()


def profiler_for(agent) -> Profiler:
    """The process's profiler, bound to the running agent (a restarted agent gets a fresh one)."""
    global _instance, _instance_agent
    with _instance_lock:
        if _instance is None or _instance_agent is not agent:
            previous = _instance
            _instance = Profiler(lambda: agent.output_dir)
            _instance_agent = agent
            agent.on_stop(_instance.shutdown)
            if previous is not None:
                previous.shutdown()
        return _instance
