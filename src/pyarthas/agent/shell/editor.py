"""The line editor of the agent's shell (Arthas's shell reads lines through termd's readline).

``KeyDecoder`` turns the bytes a terminal sends into keys: runs of printable text, and named keys (control
keys ``key("C-a")``, and those of ANSI escape sequences: ``key("up")``, ``key("home")``...), keeping a
sequence cut between two reads. A named key starts with NUL, which typed text never holds, so typing the
word ``up`` is never taken for the arrow. ``LineEditor`` holds the line being typed and answers each key
with the bytes that redraw it: typing at the end of the line echoes just the character (the common case,
and the one whose latency users feel); any other edit redraws from the prompt, accounting for lines
wrapped at the width.
"""
import codecs
from typing import Callable, List, Optional, Sequence, Tuple


def key(name: str) -> str:
    """The key named ``name`` as the decoder reports it."""
    return "\0" + name


def is_named(k: str) -> bool:
    return k.startswith("\0")


ENTER, TAB, CTRL_C, CTRL_D, CTRL_L = key("enter"), key("tab"), key("C-c"), key("C-d"), key("C-l")

# ESC [ or ESC O sequences -> key names (xterm, VT100 application mode, rxvt, the Linux console).
_SEQUENCES = {
    "[A": "up", "[B": "down", "[C": "right", "[D": "left", "OA": "up", "OB": "down", "OC": "right", "OD": "left",
    "[H": "home", "[F": "end", "OH": "home", "OF": "end", "[1~": "home", "[7~": "home", "[4~": "end",
    "[8~": "end", "[3~": "delete", "[2~": "insert", "[5~": "page-up", "[6~": "page-down",
}
_CONTROL = {"\r": ENTER, "\n": ENTER, "\t": TAB, "\x7f": key("backspace"), "\x08": key("backspace")}


class KeyDecoder:
    def __init__(self):
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self._last_cr = False

    def feed(self, data: bytes) -> List[str]:
        """The keys in ``data``: one string per key; printable runs stay whole (pasted text)."""
        text = self._pending + self._utf8.decode(data)
        self._pending = ""
        keys: List[str] = []
        i = 0
        while i < len(text):
            ch = text[i]
            if ch == "\x1b":
                named, used = _escape(text, i)
                if used == 0:  # cut between reads: wait for the rest
                    self._pending = text[i:]
                    break
                if named:
                    keys.append(named)
                i += used
                self._last_cr = False
                continue
            if ch in "\n\x00" and self._last_cr:  # CR LF and CR NUL are one Enter (telnet, nc)
                self._last_cr = False
                i += 1
                continue
            self._last_cr = ch == "\r"
            if ch in _CONTROL:
                keys.append(_CONTROL[ch])
            elif ch < " ":
                keys.append(key("C-" + chr(ord(ch) + 96)))
            else:
                j = i
                while j < len(text) and text[j] >= " " and text[j] != "\x7f":
                    j += 1
                keys.append(text[i:j])
                i = j
                continue
            i += 1
        return keys


def _escape(text: str, i: int) -> Tuple[Optional[str], int]:
    """(key name or None, characters used) of the escape sequence at ``text[i]``; used 0 when incomplete."""
    if i + 1 >= len(text):
        return None, 0
    lead = text[i + 1]
    if lead not in "[O":
        return None, 2  # Alt+key: ignored
    j = i + 2
    while j < len(text) and (text[j].isdigit() or text[j] == ";"):
        j += 1
    if j >= len(text):
        return None, 0
    body = lead + text[i + 2:j] + text[j]
    name = _SEQUENCES.get(body) or _SEQUENCES.get(lead + text[j])  # modifiers (ESC [1;5C) as the plain key
    return (key(name) if name else None), j + 1 - i


class LineEditor:
    """One line of input with a cursor. Each editing method returns the bytes to send to the terminal."""

    def __init__(self, history: Callable[[], Sequence[str]], width: Callable[[], int]):
        self._history = history
        self._width = width
        self.prompt = ""
        self.buffer: List[str] = []
        self.cursor = 0
        self._history_index: Optional[int] = None  # counted from the end; None while editing the draft
        self._draft: List[str] = []

    @property
    def line(self) -> str:
        return "".join(self.buffer)

    def start(self, prompt: str, text: str = "") -> str:
        self.prompt = prompt
        self.buffer = list(text)
        self.cursor = len(self.buffer)
        self._history_index = None
        return prompt + text

    def take(self) -> str:
        """The finished line; the editor is empty afterwards."""
        line = self.line
        self.buffer, self.cursor, self._history_index = [], 0, None
        return line

    # ---- editing ----

    def insert(self, text: str) -> str:
        at_end = self.cursor == len(self.buffer)
        self.buffer[self.cursor:self.cursor] = list(text)
        self.cursor += len(text)
        return text if at_end else self._redraw()

    def key(self, name: str) -> str:
        """Apply an editing key (arrows, Home/End, Ctrl-A/E/K/U/W/B/F/P/N, backspace, delete)."""
        handler = _EDITING_KEYS.get(name)
        return handler(self) if handler else ""

    def _move(self, position: int) -> str:
        position = max(0, min(len(self.buffer), position))
        if position == self.cursor:
            return ""
        old = self._place(self.cursor)
        self.cursor = position
        return _cursor_motion(old, self._place(position))

    def _left(self) -> str:
        return self._move(self.cursor - 1)

    def _right(self) -> str:
        return self._move(self.cursor + 1)

    def _home(self) -> str:
        return self._move(0)

    def _end(self) -> str:
        return self._move(len(self.buffer))

    def _backspace(self) -> str:
        if self.cursor == 0:
            return ""
        self.cursor -= 1
        del self.buffer[self.cursor]
        return self._redraw(erase_from=self.cursor + 1)

    def _delete(self) -> str:
        if self.cursor >= len(self.buffer):
            return ""
        del self.buffer[self.cursor]
        return self._redraw()

    def _kill_to_end(self) -> str:
        del self.buffer[self.cursor:]
        return self._redraw()

    def _kill_to_start(self) -> str:
        old = self.cursor
        del self.buffer[:self.cursor]
        self.cursor = 0
        return self._redraw(erase_from=old)

    def _kill_word(self) -> str:
        start = self.cursor
        while start > 0 and self.buffer[start - 1] == " ":
            start -= 1
        while start > 0 and self.buffer[start - 1] != " ":
            start -= 1
        old = self.cursor
        del self.buffer[start:self.cursor]
        self.cursor = start
        return self._redraw(erase_from=old)

    def _history_step(self, step: int) -> str:
        history = list(self._history())
        index = (0 if self._history_index is None else self._history_index) + step
        if index < 0 or index > len(history):
            return ""
        if self._history_index is None:
            self._draft = list(self.buffer)
        old = self.cursor
        self._history_index = index or None
        self.buffer = list(history[-index]) if index else list(self._draft)
        self.cursor = len(self.buffer)
        return self._redraw(erase_from=old)

    def _up(self) -> str:
        return self._history_step(1)

    def _down(self) -> str:
        return self._history_step(-1)

    # ---- drawing ----

    def _place(self, index: int) -> Tuple[int, int]:
        """(row, column) of the character cell ``index`` of the buffer, rows counted from the prompt's."""
        width = max(1, self._width())
        return divmod(len(self.prompt) + index, width)

    def _redraw(self, erase_from: Optional[int] = None) -> str:
        """Go back to the prompt's row, write prompt and line, clear below, put the cursor in place.
        ``erase_from`` is where the cursor was before the edit (default: where it is now)."""
        width = max(1, self._width())
        before_row = self._place(self.cursor if erase_from is None else erase_from)[0]
        text = self.prompt + self.line
        out = ["\x1b[%dA" % before_row if before_row else "", "\r", text]
        end_row, end_col = divmod(len(text), width)
        if end_col == 0 and end_row:  # the terminal waits at the last column: make the wrap real
            out.append(" \r")
        out.append("\x1b[J")
        out.append(_cursor_motion((end_row, end_col), self._place(self.cursor)))
        return "".join(out)

    def redraw_all(self) -> str:
        """Prompt and line from the start of the current row (after output printed above them)."""
        return self._redraw(erase_from=0)


def _cursor_motion(old: Tuple[int, int], new: Tuple[int, int]) -> str:
    if old == new:
        return ""
    out = []
    if new[0] < old[0]:
        out.append("\x1b[%dA" % (old[0] - new[0]))
    elif new[0] > old[0]:
        out.append("\x1b[%dB" % (new[0] - old[0]))
    out.append("\r")
    if new[1]:
        out.append("\x1b[%dC" % new[1])
    return "".join(out)


_EDITING_KEYS = {
    key("left"): LineEditor._left, key("C-b"): LineEditor._left,
    key("right"): LineEditor._right, key("C-f"): LineEditor._right,
    key("home"): LineEditor._home, key("C-a"): LineEditor._home,
    key("end"): LineEditor._end, key("C-e"): LineEditor._end,
    key("backspace"): LineEditor._backspace, key("C-h"): LineEditor._backspace, key("delete"): LineEditor._delete,
    key("C-k"): LineEditor._kill_to_end, key("C-u"): LineEditor._kill_to_start, key("C-w"): LineEditor._kill_word,
    key("up"): LineEditor._up, key("C-p"): LineEditor._up, key("down"): LineEditor._down, key("C-n"): LineEditor._down,
}

# What ``keymap`` shows (Arthas's keymap table: shortcut, description, readline name), one row per binding
# above and per key the shell itself takes (Enter, Tab, Ctrl-C, Ctrl-D, Ctrl-L).
KEYMAP = [
    ('"\\C-a"', "Ctrl + a", "beginning-of-line"), ('"\\C-e"', "Ctrl + e", "end-of-line"),
    ('"\\C-f"', "Ctrl + f", "forward-char"), ('"\\C-b"', "Ctrl + b", "backward-char"),
    ('"\\e[C"', "Right arrow", "forward-char"), ('"\\e[D"', "Left arrow", "backward-char"),
    ('"\\e[A"', "Up arrow", "previous-history"), ('"\\e[B"', "Down arrow", "next-history"),
    ('"\\C-p"', "Ctrl + p", "previous-history"), ('"\\C-n"', "Ctrl + n", "next-history"),
    ('"\\C-h"', "Ctrl + h", "backward-delete-char"), ('"\\C-?"', "Backspace", "backward-delete-char"),
    ('"\\e[3~"', "Delete", "delete-char"), ('"\\C-d"', "Ctrl + d", "delete-char (on an empty line: quit)"),
    ('"\\C-k"', "Ctrl + k", "kill-line"), ('"\\C-u"', "Ctrl + u", "backward-kill-line"),
    ('"\\C-w"', "Ctrl + w", "backward-delete-word"), ('"\\C-i"', "Tab", "complete"),
    ('"\\C-m"', "Enter", "accept-line"), ('"\\C-c"', "Ctrl + c", "interrupt (the line, or the running job)"),
    ('"\\C-l"', "Ctrl + l", "clear-screen"), ('"\\e[H"', "Home", "beginning-of-line"),
    ('"\\e[F"', "End", "end-of-line"),
]
