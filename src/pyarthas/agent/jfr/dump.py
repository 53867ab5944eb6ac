"""A recording written to disk: JSON lines, one object an event, plus a flame graph of its samples.

The first line describes the recording (``"type": "pyarthas.Recording"``, ``"format": "pyarthas-jfr/1"``,
``id``, ``name``, ``pid``, ``python``, ``startTime``, ``endTime``, ``settings``, ``interval``, ``maxSize``,
``maxAge``, ``dropped``); then events, oldest first, each with ``type`` and ``startTime`` (epoch ms):

- ``pyarthas.ExecutionSample``: ``thread``, ``threadId``, ``stackTrace`` (innermost frame first, each
  ``{"method", "file", "line"}``: a function, its file and first line);
- ``pyarthas.GarbageCollection``: ``generation``, ``duration`` (ms), ``collected``, ``uncollectable``;
- ``pyarthas.YoungCollections``: the young collections of about one second, each shorter than 1 ms:
  ``count``, ``totalDuration``, ``longestDuration`` (ms);
- ``pyarthas.ThreadStart`` / ``pyarthas.ThreadEnd``: ``thread``, ``threadId``, ``nativeId``;
- ``pyarthas.LogRecord``: ``level``, ``logger``, ``message``, ``threadId``;
- ``pyarthas.MonitorCycle``: ``className``, ``methodName``, ``total``, ``success``, ``failed``, ``avgRt``
  (ms), ``failRate``.

The flame graph (the same file name with ``.html``) is the profiler's, drawn from the samples.
"""
import json
import os
import sys
import time
from typing import Dict, Iterator, List, Tuple

from ..profiler.flamegraph import render_html
from ..profiler.frames import Frame, FrameTable
from ..profiler.profile import Profile
from .recording import Recording

FORMAT = "pyarthas-jfr/1"


def write(recording: Recording, frames: FrameTable, path: str, interval: float) -> str:
    """Write ``recording`` to ``path`` (and its flame graph beside it); returns the flame graph's path."""
    events = sorted(recording.events(), key=lambda event: event[1])  # target threads' events come late
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    names: Dict[int, Frame] = {}

    def frame(index: int) -> Frame:
        found = names.get(index)
        if found is None:
            found = names[index] = frames.frame(index)
        return found

    stacks: Dict[Tuple[int, ...], int] = {}
    with open(path, "w", encoding="utf-8") as out:
        out.write(json.dumps(_header(recording, events, interval)) + "\n")
        for line in _lines(events, frame, stacks):
            out.write(line + "\n")
    graph_path = _html_path(path)
    profile = Profile([(tuple(frame(i) for i in reversed(key)), count) for key, count in stacks.items()],
                      "cpu", interval, False, recording.start_time or time.time(), time.time())
    with open(graph_path, "w", encoding="utf-8") as out:
        out.write(render_html(profile))
    recording.dumps.append(path)
    return graph_path


def _html_path(path: str) -> str:
    root, extension = os.path.splitext(path)
    return (root if extension in (".jsonl", ".jfr") else path) + ".html"


def _header(recording: Recording, events: List[tuple], interval: float) -> dict:
    return {"type": "pyarthas.Recording", "format": FORMAT, "id": recording.id, "name": recording.name,
            "pid": os.getpid(), "python": sys.version.split()[0], "settings": recording.settings,
            "interval": interval * 1000, "startTime": _ms(recording.start_time or time.time()),
            "endTime": _ms(recording.stop_time or time.time()), "maxSize": recording.max_size,
            "maxAge": recording.max_age, "events": len(events), "dropped": recording.dropped}


def _lines(events: List[tuple], frame, stacks: Dict[Tuple[int, ...], int]) -> Iterator[str]:
    for event in events:
        kind, when = event[0], _ms(event[1])
        if kind == "sample":
            _, _, ident, name, stack = event
            stacks[stack] = stacks.get(stack, 0) + 1
            trace = [{"method": f.name, "file": f.file, "line": f.line} for f in map(frame, stack)]
            record = {"type": "pyarthas.ExecutionSample", "startTime": when, "thread": name, "threadId": ident,
                      "stackTrace": trace}
        elif kind == "gc":
            _, _, generation, pause, collected, uncollectable = event
            record = {"type": "pyarthas.GarbageCollection", "startTime": when, "generation": generation,
                      "duration": round(pause * 1000, 3), "collected": collected, "uncollectable": uncollectable}
        elif kind == "gc-summary":
            _, _, generation, count, total, longest = event
            record = {"type": "pyarthas.YoungCollections", "startTime": when, "generation": generation,
                      "count": count, "totalDuration": round(total * 1000, 3),
                      "longestDuration": round(longest * 1000, 3)}
        elif kind in ("thread-start", "thread-end"):
            _, _, ident, name, native = event
            record = {"type": "pyarthas.ThreadStart" if kind == "thread-start" else "pyarthas.ThreadEnd",
                      "startTime": when, "thread": name, "threadId": ident, "nativeId": native}
        elif kind == "log":
            _, _, level, logger, message, ident = event
            record = {"type": "pyarthas.LogRecord", "startTime": when, "level": level, "logger": logger,
                      "message": message, "threadId": ident}
        elif kind == "monitor":
            _, _, class_name, method, total, success, failed, avg_rt, fail_rate = event
            record = {"type": "pyarthas.MonitorCycle", "startTime": when, "className": class_name,
                      "methodName": method, "total": total, "success": success, "failed": failed,
                      "avgRt": avg_rt, "failRate": fail_rate}
        else:
            continue
        yield json.dumps(record, default=str)


def _ms(seconds: float) -> int:
    return int(seconds * 1000)
