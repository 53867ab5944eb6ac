"""Shell-like tokenizing of a command line, as Arthas's CliTokens do.

``'...'`` quotes strongly, ``"..."`` weakly (a backslash escapes inside), a bare backslash escapes the
next character, blanks are space and tab. A ``|`` standing alone (blank before it) starts a pipe:
``thread | grep x``, ``thread |grep x`` and ``thread| grep x`` all give ``[thread, |, grep, x]``, while
``thread|grep`` stays one token, so regular expressions such as ``a|b`` survive. A lone ``>`` or ``>>``
followed by one word at the end of the line (before a trailing ``&``) redirects the text output to a file,
as Arthas's shell does (with no word, to the job's cache file: the file name is then ``""``); the command
never sees it.
"""
from typing import List, NamedTuple, Optional, Tuple


class CommandLine(NamedTuple):
    words: List[str]        # the command and its arguments, pipe, redirect and trailing ``&`` removed
    pipes: List[List[str]]  # each ``| cmd args`` stage, for text clients (grep, plaintext)
    background: bool        # the line ended with a lone ``&``
    redirect: Optional[Tuple[str, bool]] = None  # (file, append) of ``> file`` / ``>> file``


class TokenizeError(ValueError):
    pass


def tokenize(line: str) -> List[str]:
    tokens: List[str] = []
    current: List[str] = []
    in_token = False
    quote = ""
    i = 0
    while i < len(line):
        ch = line[i]
        if quote == "'":
            if ch == "'":
                quote = ""
            else:
                current.append(ch)
        elif quote == '"':
            if ch == "\\" and i + 1 < len(line) and line[i + 1] in '"\\$`':
                i += 1
                current.append(line[i])
            elif ch == '"':
                quote = ""
            else:
                current.append(ch)
        elif ch in " \t":
            if in_token:
                tokens.append("".join(current))
                current, in_token = [], False
        elif ch == "\\" and i + 1 < len(line):
            i += 1
            current.append(line[i])
            in_token = True
        elif ch in "'\"":
            quote = ch
            in_token = True
        elif ch == "|" and _starts_pipe(line, i, in_token):
            if in_token:
                tokens.append("".join(current))
                current, in_token = [], False
            tokens.append("|")
        else:
            current.append(ch)
            in_token = True
        i += 1
    if quote:
        raise TokenizeError("unclosed quote %s in: %s" % (quote, line))
    if in_token:
        tokens.append("".join(current))
    return tokens


def _starts_pipe(line: str, i: int, in_token: bool) -> bool:
    before_blank = i == 0 or line[i - 1] in " \t"
    after_blank = i + 1 >= len(line) or line[i + 1] in " \t"
    if before_blank:
        return True
    # ``thread| grep``: a pipe glued to the word before it but followed by a blank.
    return in_token and after_blank


def parse_command_line(line: str) -> CommandLine:
    tokens = tokenize(line)
    background = bool(tokens) and tokens[-1] == "&"
    if background:
        tokens = tokens[:-1]
    redirect = None
    if len(tokens) >= 3 and tokens[-2] in (">", ">>"):
        redirect = (tokens[-1], tokens[-2] == ">>")
        tokens = tokens[:-2]
    elif len(tokens) >= 2 and tokens[-1] in (">", ">>"):  # no file: the job's cache file, as Arthas
        redirect = ("", tokens[-1] == ">>")
        tokens = tokens[:-1]
    stages: List[List[str]] = [[]]
    for token in tokens:
        if token == "|":
            stages.append([])
        else:
            stages[-1].append(token)
    return CommandLine(stages[0], [s for s in stages[1:] if s], background, redirect)
