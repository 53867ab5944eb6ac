"""Tab completion for the console: command names and options from the agent's ``help``, and class, module
and function names from the target (``sc`` / ``sm``), each asked once and cached.

The completion rules themselves (which word completes to what) are the agent shell's
(``agent/shell/completion.py``); this module answers them over HTTP. Everything degrades to "no
suggestion" when the agent is down or lacks a command: completion must never disturb typing. Requests use
one-time ``exec`` sessions, so they never collide with the console's job.
"""
import threading
import time
from typing import Dict, List, Optional, Tuple

from ...agent.shell.completion import suggestions
from ..client import ApiError, Client

NAME_LIMIT = 200
CACHE_SECONDS = 30.0
REQUEST_TIMEOUT_MS = 3000


class Catalog:
    """What the agent can do (``help``) and what the target holds (``sc``, ``sm``), cached."""

    builtins = {"quit": "Leave the console (the agent keeps running)", "exit": "Leave the console",
                "cls": "Clear the screen"}

    def __init__(self, client: Client):
        self.client = client
        self._commands: Optional[Dict[str, dict]] = None
        self._names: Dict[Tuple[str, ...], Tuple[float, List[str]]] = {}
        self._lock = threading.Lock()

    def _results(self, command: str) -> List[dict]:
        try:
            reply = self.client.exec(command, exec_timeout_ms=REQUEST_TIMEOUT_MS)
        except ApiError:
            return []
        return reply.results

    def commands(self) -> Dict[str, dict]:
        """``{name: {summary, options, arguments}}`` from ``help`` (fetched once it answers)."""
        if self._commands is None:
            found = {}
            for result in self._results("help"):
                for command in result.get("commands") or []:
                    if isinstance(command, dict) and command.get("name"):
                        found[command["name"]] = command
            if found:
                self._commands = found
            return found
        return self._commands

    def command(self, name: str) -> dict:
        return self.commands().get(name) or {}

    def _cached(self, key: Tuple[str, ...], fetch) -> List[str]:
        now = time.monotonic()
        with self._lock:
            hit = self._names.get(key)
            if hit and now - hit[0] < CACHE_SECONDS:
                return hit[1]
        names = sorted(set(fetch()))[:NAME_LIMIT]
        with self._lock:
            self._names[key] = (now, names)
        return names

    def classes(self, prefix: str) -> List[str]:
        """Classes and modules whose qualified name starts with ``prefix``."""
        def fetch():
            for result in self._results("sc %s*" % _quote(prefix)):
                yield from (n for n in result.get("classNames") or [] if isinstance(n, str))
                info = result.get("classInfo")
                if isinstance(info, dict) and info.get("name"):
                    yield info["name"]
        return [n for n in self._cached(("sc", prefix), fetch) if n.startswith(prefix)]

    def methods(self, class_name: str, prefix: str) -> List[str]:
        """Function names defined in ``class_name`` (a class or module) starting with ``prefix``."""
        def fetch():
            for result in self._results("sm %s %s*" % (_quote(class_name), _quote(prefix))):
                info = result.get("methodInfo")
                if isinstance(info, dict) and info.get("methodName"):
                    yield info["methodName"]
        return [n for n in self._cached(("sm", class_name, prefix), fetch) if n.startswith(prefix)]


def _quote(word: str) -> str:
    return "'%s'" % word.replace("'", "") if word else "''"


def make_completer(catalog: Catalog):
    """A prompt_toolkit completer over ``suggestions`` (imported here: prompt_toolkit is not stdlib)."""
    from prompt_toolkit.completion import Completer, Completion, ThreadedCompleter

    class ArthasCompleter(Completer):
        def get_completions(self, document, complete_event):
            try:
                found = list(suggestions(catalog, document.text_before_cursor))
            except Exception:  # completion must never break the prompt
                return
            for text, replaced, meta in found:
                yield Completion(text, start_position=-len(replaced), display_meta=meta or None)

    return ThreadedCompleter(ArthasCompleter())
