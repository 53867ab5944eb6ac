"""jfr: Java Flight Recorder's commands for a Python process (``jfr start/status/dump/stop``), with Arthas's
options and messages; what a recording holds is described in ``agent/jfr``."""
import atexit
import dataclasses
import os
import threading
import time
from typing import Any, ClassVar, Dict, List, Optional

from ..command.base import Command, CommandError, register
from ..command.options import Argument, Option, to_bool
from ..jfr import dump
from ..jfr.recorder import INTERVALS, FlightRecorder
from ..jfr.recording import DEFAULT_MAX_SIZE, STATES, Recording, parse_size, parse_timespan
from ..model import ResultModel


@dataclasses.dataclass
class JFRModel(ResultModel):
    type: ClassVar[str] = "jfr"
    jfrOutput: str = ""
    recordings: Optional[List[Dict[str, Any]]] = None
    flameGraph: Optional[str] = None


_create_lock = threading.Lock()


def recorder_of(agent) -> FlightRecorder:
    """The agent's flight recorder, made on first use (and closed, every source removed, when it stops)."""
    found = getattr(agent, "_flight_recorder", None)
    if found is None:
        with _create_lock:
            found = getattr(agent, "_flight_recorder", None)
            if found is None:
                found = agent._flight_recorder = FlightRecorder(agent.jobs.scheduler)
                agent.on_stop(lambda: _close(agent, found))
    return found


def _close(agent, recorder: FlightRecorder) -> None:
    if agent in _exit_agents:
        _exit_agents.remove(agent)
    for recording in recorder.all():
        if recording.dump_on_exit and recording.state == "running":
            _write(agent, recorder, recording, recording.filename)
    recorder.close()


_exit_agents: List[Any] = []


def _dump_at_exit() -> None:
    for agent in list(_exit_agents):
        recorder = getattr(agent, "_flight_recorder", None)
        if recorder is not None:
            _close(agent, recorder)


def _write(agent, recorder: FlightRecorder, recording: Recording, filename: Optional[str]) -> tuple:
    path = os.path.abspath(filename) if filename else _new_output_file(agent.output_dir)
    recorder.flush()
    graph = dump.write(recording, recorder.frames, path, INTERVALS[recording.settings])
    return path, graph


def _new_output_file(directory: str) -> str:
    """``arthas-output/yyyyMMdd-HHmmss.jfr.jsonl`` as Arthas names its files, never over an earlier one."""
    stem = os.path.join(directory, time.strftime("%Y%m%d-%H%M%S"))
    path, n = stem + ".jfr.jsonl", 1
    while os.path.exists(path):
        path, n = "%s-%d.jfr.jsonl" % (stem, n), n + 1
    return path


def _write_quietly(agent, recorder: FlightRecorder, recording: Recording) -> None:
    try:
        _write(agent, recorder, recording, recording.filename)
    except OSError as error:  # nobody waits for this file: say why it is missing where the agent speaks
        import sys
        sys.stderr.write("pyarthas: jfr recording %d could not be written: %s\n" % (recording.id, error))


@register
class JFRCommand(Command):
    name = "jfr"
    summary = "Python Flight Recorder Command"
    description = (
        "A continuous, low-overhead record of the process (stack samples, gc collections and pauses, thread "
        "starts and ends, log records at WARNING and above, monitor cycles) in a ring bounded by --maxsize "
        "and --maxage, written on dump/stop as JSON lines plus a flame graph (read it with "
        "'pyarthas jfr FILE').\nExamples:\n"
        "  jfr start  # start a new JFR recording\n"
        "  jfr start -n myRecording --duration 60s -f /tmp/myRecording.jfr\n"
        "  jfr status                   # list all recordings\n"
        "  jfr status -r 1              # list recording id = 1\n"
        "  jfr status --state running   # list recordings state = running\n"
        "  jfr stop -r 1               # stop a JFR recording to default file\n"
        "  jfr stop -r 1 -f /tmp/myRecording.jfr\n"
        "  jfr dump -r 1               # copy contents of a JFR recording to default file\n"
        "  jfr dump -r 1 -f /tmp/myRecording.jfr")
    options = [
        Option("name", "n", help="Name that can be used to identify recording, e.g. \"My Recording\""),
        Option("settings", "s", choices=tuple(INTERVALS), default="default",
               help="default (a stack sample every 20 ms) or profile (every 10 ms)"),
        Option("dumponexit", type=to_bool, default=False,
               help="Dump running recording when the agent stops or the process exits (BOOLEAN, false)"),
        Option("delay", "d", help="Delay recording start with (s)econds, (m)inutes), (h)ours), or (d)ays, e.g. 5h."),
        Option("duration", help="Duration of recording in (s)econds, (m)inutes, (h)ours, or (d)ays, e.g. 300s."),
        Option("filename", "f", help="Resulting recording filename, e.g. /tmp/MyRecording.jfr."),
        Option("maxage", help="Maximum time to keep recorded data in (s)econds, (m)inutes, (h)ours, or (d)ays, "
                              "e.g. 60m (0: no limit)"),
        Option("maxsize", help="Maximum amount of bytes to keep in (k)B, (M)B or (G)B, e.g. 500M "
                               "(default 16M: the ring lives in the target's memory)"),
        Option("recording", "r", type=int, help="Recording number, or omit to see all recordings"),
        Option("state", choices=STATES, help="Query recordings by state (new, delayed, running, stopped, closed)"),
    ]
    arguments = [Argument("cmd", required=True, help="command name (start status stop dump)")]

    def run(self, process, args):
        action = getattr(self, "_" + args.cmd, None) if args.cmd in ("start", "status", "dump", "stop") else None
        if action is None:
            raise CommandError(-1, "Please input correct jfr command (start status stop dump)")
        process.emit(action(process.agent, recorder_of(process.agent), args))

    def _start(self, agent, recorder: FlightRecorder, args) -> JFRModel:
        try:
            limits = {"max_size": parse_size(args.maxsize) if args.maxsize else None,
                      "max_age": parse_timespan(args.maxage) if args.maxage else None,
                      "duration": parse_timespan(args.duration) if args.duration else None}
            delay = parse_timespan(args.delay) if args.delay else None
        except ValueError as error:
            raise CommandError(-1, str(error)) from None
        if args.filename:
            _check_writable(args.filename)
        no_limit = not (limits["max_size"] or limits["max_age"] or limits["duration"])
        if no_limit:
            limits["max_size"] = DEFAULT_MAX_SIZE
        recording = recorder.new_recording(name=args.name, settings=args.settings, filename=args.filename,
                                           dump_on_exit=bool(args.dumponexit), **limits)
        if recording.dump_on_exit and agent not in _exit_agents:
            _exit_agents.append(agent)
            atexit.register(_dump_at_exit)
        recorder.start(recording, delay, lambda done: self._at_duration_end(agent, recorder, done))
        if delay:
            output = "Recording %d scheduled to start in %s" % (recording.id, args.delay)
        else:
            output = "Started recording %d." % recording.id
        if no_limit:
            output += " No limit specified, using maxsize=16MB as default."
        if args.filename and args.duration:
            output += " The result will be written to:\n" + os.path.abspath(args.filename)
        return JFRModel(jfrOutput=output, recordings=[recording.info()])

    @staticmethod
    def _at_duration_end(agent, recorder: FlightRecorder, recording: Recording) -> None:
        if recording.filename:
            # off the scheduler's thread: a big recording takes a while to write
            from ..util import threads
            threads.spawn("jfr-writer", lambda: _write_quietly(agent, recorder, recording))

    def _status(self, agent, recorder: FlightRecorder, args) -> JFRModel:
        if args.recording is not None:
            recording = recorder.get(args.recording)
            if recording is None:
                raise CommandError(-1, "recording not exit")
            chosen = [recording]
        else:
            chosen = [r for r in recorder.all() if args.state is None or r.state == args.state]
            if not chosen:
                raise CommandError(-1, "No available recordings.\n Use jfr start to start a recording.\n")
        recorder.flush()
        return JFRModel(jfrOutput="".join(r.status_line() for r in chosen), recordings=[r.info() for r in chosen])

    def _dump(self, agent, recorder: FlightRecorder, args) -> JFRModel:
        if not recorder.all():
            raise CommandError(-1, "No recordings to dump. Use jfr start to start a recording.")
        if args.recording is None:
            raise CommandError(-1, "Failed to dump. Please input recording id")
        recording = recorder.get(args.recording)
        if recording is None:
            raise CommandError(-1, "recording not exit")
        path, graph = self._write_or_fail(agent, recorder, recording, args.filename, "Could not to dump. ")
        return JFRModel(jfrOutput="Dump recording %d, The result will be written to:\n%s" % (recording.id, path),
                        recordings=[recording.info()], flameGraph=graph)

    def _stop(self, agent, recorder: FlightRecorder, args) -> JFRModel:
        if not recorder.all():
            raise CommandError(-1, "No recordings to stop. Use jfr start to start a recording.")
        if args.recording is None:
            raise CommandError(-1, "Failed to stop. please input recording id")
        recording = recorder.remove(args.recording)
        if recording is None:
            raise CommandError(-1, "recording not exit")
        if recording.state in ("stopped", "closed"):
            raise CommandError(-1, "Failed to stop recording, state can not be closed/stopped")
        recorder.stop(recording)
        try:
            path, graph = self._write_or_fail(agent, recorder, recording, args.filename or recording.filename,
                                              "Failed to stop %s. " % recording.name)
        finally:
            recording.state = "closed"
            recording.clear()
        return JFRModel(jfrOutput="Stop recording %d, The result will be written to:\n%s" % (recording.id, path),
                        recordings=[recording.info()], flameGraph=graph)

    @staticmethod
    def _write_or_fail(agent, recorder, recording, filename, prefix):
        try:
            return _write(agent, recorder, recording, filename)
        except OSError as error:
            raise CommandError(-1, prefix + str(error)) from None


def _check_writable(filename: str) -> None:
    directory = os.path.dirname(os.path.abspath(filename))
    if not os.path.isdir(directory) or not os.access(directory, os.W_OK):
        raise CommandError(-1, "Could not start recording, not able to write to file %s" % filename)
