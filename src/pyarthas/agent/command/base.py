"""What a command is and what it sees while it runs.

Adding a command is one small module under ``agent/commands/``::

    from ..command.base import Command, CommandError, register
    from ..command.options import Option, Argument

    @register
    class EchoCommand(Command):
        name = "echo"
        summary = "write arguments to the standard output"
        arguments = [Argument("message", multi=True)]

        def run(self, process, args):
            process.emit(EchoModel(content=" ".join(args.message)))

``run(process, args)`` runs on the job's own worker thread (an agent thread). When it returns the job
ends with status 0, unless it already ended. ``raise CommandError(status, message)`` ends it with that
status (-1 for command-level failures, as Arthas's ``process.end(-1, msg)``); any other exception ends it
with status 1 and Arthas's "Error during processing the command" text.

A long-running command (watch, dashboard, monitor) blocks in ``process.wait(timeout)``, which returns
True once the job has ended (interrupt, ``-n`` limit, ``--timeout``, session closed, agent stopping), and
registers its cleanup with ``process.on_end`` so that it runs before the final ``status`` is emitted.
"""
from typing import Any, Callable, ClassVar, Dict, List, Optional, Sequence, Type

from .options import Argument, Namespace, Option


class CommandError(Exception):
    """Ends the job with ``status`` and ``message`` (a failure the user should read, not a bug)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class Process:
    """The job as a command sees it. Implemented by the job layer; documented here as the contract."""

    job_id: int
    session: Any      # .session_id, .user_id, .pid
    agent: Any        # agent-wide services, see agent/runtime.py

    def emit(self, model) -> None:
        """Append a result model. Thread-safe, never blocks, may be called from target threads; a no-op
        once the job has ended."""
        raise NotImplementedError

    def end(self, status: int = 0, message: Optional[str] = None) -> None:
        """End the job (idempotent, the first call wins): runs the ``on_end`` callbacks, then emits the one
        ``status`` result."""
        raise NotImplementedError

    @property
    def ended(self) -> bool:
        raise NotImplementedError

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Block until the job has ended or ``timeout`` seconds pass; True when it has ended."""
        raise NotImplementedError

    def on_end(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once when the job ends, whatever the reason, before ``status`` is emitted (at
        once when it has already ended)."""
        raise NotImplementedError

    def resume_when(self, signal, finish: Callable[[], None]) -> None:
        """Let ``run`` return without ending the job; once ``signal`` (``util.threads.Signal``) is set,
        ``finish()`` runs as the rest of ``run`` would, then the job ends. For commands that only wait for
        a listener: no thread is held meanwhile."""
        raise NotImplementedError


class Command:
    name: ClassVar[str] = ""
    aliases: ClassVar[Sequence[str]] = ()
    summary: ClassVar[str] = ""
    description: ClassVar[str] = ""
    options: ClassVar[List[Option]] = []
    arguments: ClassVar[List[Argument]] = []
    hidden: ClassVar[bool] = False
    # False: ``run`` gets the words as they are (``args.words``), for commands that refuse any line
    parses_options: ClassVar[bool] = True

    def run(self, process: Process, args: Namespace) -> None:
        raise NotImplementedError


_REGISTRY: Dict[str, Type[Command]] = {}


def register(cls: Type[Command]) -> Type[Command]:
    """Class decorator: make ``cls`` available by its name and aliases."""
    for name in (cls.name, *cls.aliases):
        _REGISTRY[name] = cls
    return cls


def registered() -> Dict[str, Type[Command]]:
    return _REGISTRY


def register_refusal(name: str, sentence: str, status: int = -1, **attributes: Any) -> Type[Command]:
    """Register a command that only refuses, with ``sentence`` (a shell's own command run through the API,
    an Arthas command without a Python meaning). ``attributes``: the class's others (``summary``,
    ``options``, ``aliases``...); without options the line is not parsed, so that any line gets the
    refusal."""
    def run(self, process, args):
        raise CommandError(status, sentence)

    fields: Dict[str, Any] = {"name": name, "summary": attributes.pop("summary", sentence), "run": run}
    if "options" not in attributes and "arguments" not in attributes:
        fields["parses_options"] = False
    fields.update(attributes)
    class_name = "%sCommand" % "".join(part.title() for part in name.split("-"))
    return register(type(class_name, (Command,), fields))
