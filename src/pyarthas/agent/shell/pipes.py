"""``| grep``, ``| plaintext``, ``| wc -l`` and ``> file`` / ``>> file`` on a command's text output, as
Arthas's shell offers them (the agent's shell and the external console both use this module).

A pipeline is built once per command line and fed the job's text one rendered result at a time, so a
``watch ... | grep x`` filters as results stream in. A redirect writes the plain text to a file (relative
paths land in the output folder, ``arthas-output``) instead of the screen.
"""
import os
import re
from typing import List, Optional, Sequence, Tuple

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
    """Arthas's grep: ``[-i] [-v] [-n] [-e] [-m N] [-A N] [-B N] [-C N] [--trim-end[=false]] pattern``;
    the pattern is a plain string unless ``-e`` makes it a regular expression."""

    def __init__(self, words: Sequence[str]):
        self.ignore_case = self.invert = self.numbers = self.regex = False
        self.max_count: Optional[int] = None
        self.before = self.after = 0
        self.trim_end = True
        pattern = self._parse(list(words))
        flags = re.IGNORECASE if self.ignore_case else 0
        try:
            self.matcher = re.compile(pattern if self.regex else re.escape(pattern), flags)
        except re.error as error:
            raise PipeError("grep: bad regular expression %r: %s" % (pattern, error)) from None
        self.line_number = 0
        self.matched = 0
        self.pending_after = 0
        self.previous: List[str] = []

    def _parse(self, words: List[str]) -> str:
        pattern = None
        while words:
            word = words.pop(0)
            if pattern is None and word.startswith("-") and len(word) > 1:
                self._option(word, words)
            elif pattern is None:
                pattern = word
            else:
                raise PipeError("grep: too many arguments: %s" % word)
        if pattern is None:
            raise PipeError("grep: a pattern is required, e.g. | grep -i error")
        return pattern

    def _option(self, word: str, words: List[str]) -> None:
        name, _, inline = word.partition("=")
        flags = {"-i": "ignore_case", "--ignore-case": "ignore_case", "-v": "invert", "--invert-match": "invert",
                 "-n": "numbers", "--line-number": "numbers", "-e": "regex", "--regex": "regex"}
        if name in flags:
            setattr(self, flags[name], True)
        elif name == "--trim-end":
            self.trim_end = inline.lower() != "false"
        elif name in ("-m", "--max-count", "-A", "--after-context", "-B", "--before-context", "-C", "--context"):
            raw = inline or (words.pop(0) if words else "")
            if not raw.isdigit():
                raise PipeError("grep: %s needs a number" % name)
            value = int(raw)
            if name in ("-m", "--max-count"):
                self.max_count = value
            if name in ("-A", "--after-context", "-C", "--context"):
                self.after = value
            if name in ("-B", "--before-context", "-C", "--context"):
                self.before = value
        else:
            raise PipeError("grep: unknown option %s" % name)

    def feed(self, lines):
        out = []
        for line in lines:
            self.line_number += 1
            plain = strip_ansi(line)
            text = plain.rstrip() if self.trim_end else plain
            hit = bool(self.matcher.search(plain)) != self.invert
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
        return out


def build_pipeline(stages: Sequence[Sequence[str]]) -> List[_Stage]:
    """The stages of ``cmd | a | b``, each a list of words."""
    built: List[_Stage] = []
    for words in stages:
        name, args = words[0], list(words[1:])
        if name == "grep":
            built.append(Grep(args))
        elif name == "plaintext":
            built.append(Plaintext())
        elif name == "wc" and args == ["-l"]:
            built.append(LineCount())
        else:
            raise PipeError("unsupported pipe: | %s (the console offers | grep, | plaintext and | wc -l)"
                            % " ".join(words))
    return built


class Redirect(_Stage):
    """``> file`` (truncate) or ``>> file`` (append): lines go to the file, none to the screen."""

    def __init__(self, path: str, append: bool, output_dir: str):
        self.path = os.path.join(output_dir, os.path.expanduser(path))
        try:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            self.file = open(self.path, "a" if append else "w", encoding="utf-8")
        except OSError as error:
            raise PipeError("cannot redirect to %s: %s" % (path, error.strerror or error)) from None

    def feed(self, lines):
        try:
            self.file.write("".join(strip_ansi(line) + "\n" for line in lines))
            self.file.flush()
        except (OSError, ValueError):  # disk full, or already closed: the job's output is lost, not the shell
            pass
        return []

    def finish(self):
        self.file.close()
        return []


class Pipeline:
    def __init__(self, stages: Sequence[Sequence[str]] = (), redirect: Optional[Tuple[str, bool]] = None,
                 output_dir: str = "arthas-output"):
        self.stages = build_pipeline(stages)
        if redirect is not None:
            self.stages.append(Redirect(redirect[0], redirect[1], output_dir))

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
