"""The global command history (Arthas keeps one too, shown by ``history``): bounded in lines and in
memory, so that a few huge command lines cannot inflate the target."""
import collections
import sys
import threading
from typing import Deque, Iterator

MAX_LINES = 500
MAX_BYTES = 1 << 20            # what all the kept lines may occupy together
MAX_LINE_CHARS = 4096          # a longer line is kept cut, with a marker saying how much is missing


class CommandHistory:
    def __init__(self, max_lines: int = MAX_LINES, max_bytes: int = MAX_BYTES,
                 max_line_chars: int = MAX_LINE_CHARS):
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self.max_line_chars = max_line_chars
        self._lines: Deque[str] = collections.deque()
        self._bytes = 0
        self._lock = threading.Lock()

    def append(self, line: str) -> None:
        if len(line) > self.max_line_chars:
            line = "%s... (%d more characters)" % (line[:self.max_line_chars], len(line) - self.max_line_chars)
        size = sys.getsizeof(line)
        with self._lock:
            self._lines.append(line)
            self._bytes += size
            while self._lines and (len(self._lines) > self.max_lines or self._bytes > self.max_bytes):
                self._bytes -= sys.getsizeof(self._lines.popleft())

    def clear(self) -> None:
        with self._lock:
            self._lines.clear()
            self._bytes = 0

    @property
    def size_in_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._lines)

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter(list(self._lines))
