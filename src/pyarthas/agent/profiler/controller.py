"""The process's one profiler (as Arthas has one async-profiler per JVM): start, resume, stop, dump,
status, and the files it writes into the agent's output folder.

``profiler_for(agent)`` returns it, creating it on first use and registering its shutdown with
``agent.on_stop`` (sampling stops, nothing is written). A ``-d`` run stops by itself on the sampler's
thread and writes the file chosen at start. Files are written to a temporary name and renamed, so the
HTTP server never serves half a file.
"""
import os
import sys
import threading
import time
import urllib.parse
from typing import Callable, Dict, Optional, Sequence, Tuple

from . import profile as profiles
from .flamegraph import render_html, render_svg
from .sampler import Sampler
from .speedscope import render_speedscope

OUTPUT_URL_PREFIX = "/arthas-output/"

# format -> (default file extension, writer)
FORMATS: Dict[str, Tuple[str, Callable[[profiles.Profile], str]]] = {
    "html": ("html", render_html),
    "svg": ("svg", lambda p: render_svg(p, standalone=True)),
    "collapsed": ("txt", profiles.collapsed),
    "speedscope": ("speedscope.json", render_speedscope),
}
_FORMAT_OF_EXTENSION = {".html": "html", ".htm": "html", ".svg": "svg", ".txt": "collapsed",
                        ".collapsed": "collapsed", ".folded": "collapsed", ".json": "speedscope"}


class ProfilerError(Exception):
    pass


class Written:
    """A profile written to a file: its path, format, URL under ``/arthas-output/`` (None when the file
    is outside the output folder) and sample count."""

    def __init__(self, path: str, format: str, url: Optional[str], samples: int):
        self.path = path
        self.format = format
        self.url = url
        self.samples = samples


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
                 filters: Optional[Filters] = None):
        self.mode = mode
        self.interval = interval
        self.per_thread = per_thread
        self.filters = filters or Filters()


class Profiler:
    def __init__(self, output_dir: Callable[[], str]):
        self._output_dir = output_dir
        self._lock = threading.Lock()
        self._sampler: Optional[Sampler] = None
        self._settings = Settings()
        self._first_started = 0.0      # when the data being collected began (title of the profile)
        self._running_since = 0.0      # when sampling last (re)started (status)
        self._planned: Optional[Tuple[str, str]] = None   # (path, format) a -d run will write

    # ---- actions ----

    def start(self, settings: Settings, duration: Optional[int] = None, file: Optional[str] = None,
              format: Optional[str] = None) -> Optional[Tuple[str, str]]:
        """Start afresh; with ``duration``, returns the (path, format) that will be written."""
        with self._lock:
            self._check_not_running()
            self._settings = settings
            sampler = self._sampler = Sampler(settings.mode, settings.interval, settings.per_thread,
                                              on_deadline=self._on_deadline)
            self._first_started = time.time()
            return self._begin(sampler, duration, file, format)

    def resume(self, duration: Optional[int] = None, file: Optional[str] = None,
               format: Optional[str] = None, settings: Optional[Settings] = None):
        """Continue sampling into the data collected so far (a fresh start when there is none)."""
        with self._lock:
            if self._sampler is not None:
                self._check_not_running()
                return self._begin(self._sampler, duration, file, format)
        return self.start(settings or Settings(), duration, file, format)

    def stop(self, file: Optional[str] = None, format: Optional[str] = None,
             filters: Optional[Filters] = None) -> Written:
        with self._lock:
            sampler = self._sampler
            if sampler is None or not sampler.running:
                raise ProfilerError("Profiler is not active")
            sampler.request_stop()
            if file is None and format is None and self._planned is not None:
                file, format = self._planned
            self._planned = None
            return self._write(sampler, file, format, filters)

    def dump(self, file: Optional[str] = None, format: Optional[str] = None,
             filters: Optional[Filters] = None) -> Written:
        """Write what was collected so far, without stopping."""
        with self._lock:
            if self._sampler is None:
                raise ProfilerError("Profiler has not started")
            return self._write(self._sampler, file, format, filters)

    def status(self) -> str:
        with self._lock:
            if not self.running:
                return "Profiler is not active\n"
            return "[%s] profiling is running for %d seconds\n" % (
                self._settings.mode, int(time.time() - self._running_since))

    def samples(self) -> int:
        sampler = self._sampler
        return sampler.samples if sampler is not None else 0

    @property
    def running(self) -> bool:
        return self._sampler is not None and self._sampler.running

    @property
    def mode(self) -> str:
        return self._settings.mode

    def shutdown(self) -> None:
        """The agent stops: stop sampling and forget the data."""
        with self._lock:
            sampler, self._sampler, self._planned = self._sampler, None, None
        if sampler is not None:
            sampler.request_stop()
            sampler.join()

    # ---- internals ----

    def _check_not_running(self) -> None:
        if self.running:
            raise ProfilerError("Profiler already started")

    def _begin(self, sampler: Sampler, duration, file, format) -> Optional[Tuple[str, str]]:
        self._planned = self._resolve_output(file, format) if duration else None
        self._running_since = time.time()
        sampler.start(duration)
        return self._planned

    def _on_deadline(self, sampler: Sampler) -> None:
        with self._lock:
            if sampler is not self._sampler or self._planned is None:
                return
            file, format = self._planned
            self._planned = None
            try:
                self._write(sampler, file, format)
            except ProfilerError as exc:  # nobody waits for this answer: the target's stderr is all we have
                sys.stderr.write("pyarthas: profiler -d: %s\n" % exc)

    def _write(self, sampler: Sampler, file: Optional[str], format: Optional[str],
               filters: Optional[Filters] = None) -> Written:
        path, format = self._resolve_output(file, format)
        if filters is None or filters.empty:
            filters = self._settings.filters
        snapshot = profiles.from_sampler(sampler, self._first_started, filters.includes, filters.excludes)
        text = FORMATS[format][1](snapshot)
        try:
            _write_atomically(path, text)
        except OSError as exc:
            raise ProfilerError("cannot write %s: %s" % (path, exc.strerror or exc)) from None
        return Written(path, format, self.url_of(path), snapshot.total)

    def _resolve_output(self, file: Optional[str], format: Optional[str]) -> Tuple[str, str]:
        if format is None:
            format = format_of_file(file) if file else "html"
        if format not in FORMATS:
            raise ProfilerError("unknown output format '%s', expected one of %s" % (format, ", ".join(FORMATS)))
        try:
            output_dir = self._output_dir()
        except OSError as exc:
            raise ProfilerError("cannot create the output folder: %s" % (exc.strerror or exc)) from None
        if file:
            path = os.path.abspath(os.path.join(output_dir, os.path.expanduser(file)))
        else:
            path = _fresh_name(output_dir, FORMATS[format][0])
        return path, format

    def url_of(self, path: str) -> Optional[str]:
        root = os.path.realpath(self._output_dir())
        real = os.path.realpath(path)
        if os.path.commonpath([root, real]) != root or real == root:
            return None
        relative = os.path.relpath(real, root).replace(os.sep, "/")
        return OUTPUT_URL_PREFIX + urllib.parse.quote(relative)


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
