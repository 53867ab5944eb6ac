"""One recording: its settings, its state and its events, in a ring bounded by size and age.

Events are small tuples ``(kind, epoch_seconds, ..., size)`` made by the recorder, the last item an estimate
of the memory the event holds (``event_size``, made where the event is made: its strings are at hand
there); the ring counts them and drops the oldest when the recording's ``maxsize`` or ``maxage`` is
passed, so a recording that runs for days costs at most its budget.
"""
import collections
import re
import threading
import time
from typing import Deque, List, Optional, Tuple

Event = Tuple
DEFAULT_MAX_SIZE = 16 * 1024 * 1024  # Arthas's JVM default is 250MB; a Python heap is not a JFR repository
STATES = ("new", "delayed", "running", "stopped", "closed")
EVENT_BYTES = 120  # a small tuple with its float and ints, measured with sys.getsizeof
STRING_BYTES = 49  # an ASCII str, without its characters
TUPLE_BYTES = 56  # a tuple, without its items


def event_size(event: Event) -> int:
    """An estimate of the bytes ``event`` (without its size) keeps alive, its tuples and strings included."""
    size = EVENT_BYTES
    for item in event[2:]:
        if isinstance(item, tuple):
            size += TUPLE_BYTES + 8 * len(item)
        elif isinstance(item, str):
            size += STRING_BYTES + len(item)
    return size


def sized(event: Event) -> Event:
    """``event`` with its size, as the ring keeps it."""
    return event + (event_size(event),)


class Recording:
    def __init__(self, recording_id: int, name: Optional[str], settings: str, max_size: Optional[int],
                 max_age: Optional[float], duration: Optional[float], filename: Optional[str],
                 dump_on_exit: bool):
        self.id = recording_id
        self.name = name or "Recording-%d" % recording_id
        self.settings = settings
        self.max_size = max_size
        self.max_age = max_age
        self.duration = duration
        self.filename = filename
        self.dump_on_exit = dump_on_exit
        self.state = "new"
        self.start_time: Optional[float] = None
        self.stop_time: Optional[float] = None
        self.dumps: List[str] = []
        self.dropped = 0
        self.bytes = 0
        self._events: Deque[Event] = collections.deque()
        self._lock = threading.Lock()

    def add_all(self, events: List[Event]) -> None:
        """Keep ``events`` (each ending with its size), dropping the oldest past the limits."""
        with self._lock:
            self._events.extend(events)
            self.bytes += sum([event[-1] for event in events])
            self._trim(time.time())

    def _trim(self, now: float) -> None:
        events = self._events
        oldest_kept = now - self.max_age if self.max_age else None
        while events and ((self.max_size and self.bytes > self.max_size)
                          or (oldest_kept is not None and events[0][1] < oldest_kept)):
            self.bytes -= events.popleft()[-1]
            self.dropped += 1

    def events(self) -> List[Event]:
        """The events kept, oldest first, each without its size."""
        with self._lock:
            if self.max_age:
                self._trim(time.time())
            return [event[:-1] for event in self._events]

    @property
    def count(self) -> int:
        return len(self._events)

    def clear(self) -> None:
        with self._lock:
            self._events.clear()
            self.bytes = 0

    def status_line(self) -> str:
        """As Arthas prints a ``jdk.jfr.Recording``: ``Recording: recording=1 name=N duration=PT1M (running)``."""
        line = "Recording: recording=%d name=%s" % (self.id, self.name)
        if self.duration:
            line += " duration=" + iso_duration(self.duration)
        return line + " (%s)\n" % self.state

    def info(self) -> dict:
        return {"id": self.id, "name": self.name, "state": self.state, "settings": self.settings,
                "startTime": _ms(self.start_time), "stopTime": _ms(self.stop_time),
                "duration": self.duration, "maxSize": self.max_size, "maxAge": self.max_age,
                "events": self.count, "bytes": self.bytes, "dropped": self.dropped, "dumps": list(self.dumps)}


def _ms(seconds: Optional[float]) -> Optional[int]:
    return None if seconds is None else int(seconds * 1000)


def parse_size(text: str) -> int:
    """Arthas's ``--maxsize``: a number of bytes, or with a unit k, M, G (``b`` for bytes)."""
    match = re.fullmatch(r"\s*(\d+)\s*([bkmg]?)\s*", text.lower())
    if not match:
        raise ValueError("'%s' is not a valid size. Should be numeric value followed by a unit, i.e. 20M. "
                         "Valid units k, M, G" % text.lower())
    return int(match.group(1)) * {"": 1, "b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}[match.group(2)]


def parse_timespan(text: str) -> float:
    """Arthas's ``--duration``/``--maxage``/``--delay``: seconds, or with a unit s, m, h, d."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", text.lower())
    if not match:
        raise ValueError("'%s' is not a valid timespan. Should be numeric value followed by a unit, i.e. 20 ms. "
                         "Valid units are s, m, h and d." % text.lower())
    return float(int(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)])


def iso_duration(seconds: float) -> str:
    """Java's ``Duration.toString()``: ``PT1M``, ``PT30S``, ``PT1H30M``, ``PT48H``."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = "PT" + ("%dH" % hours if hours else "") + ("%dM" % minutes if minutes else "")
    if secs or whole == 0:
        text += "%dS" % secs
    return text
