"""Arthas commands that pyarthas refuses, each with the one sentence that says why (so a user copying
Arthas's documentation learns what to use instead, rather than reading "command not found")."""
from ..command.base import Command, CommandError, register

REFUSALS = {
    "classloader-metaspace": "Python has no metaspace: a module's code objects live on the heap, which memory and "
                             "vmtool --action getInstances show.",
    "line": "line (watching local variables at chosen source lines) is not available in pyarthas yet; watch and tt "
            "show a function's arguments, result and exception, trace its calls by line.",
}


def _refusing(name: str, sentence: str) -> type:
    class Refused(Command):
        summary = sentence
        hidden = True
        parses_options = False  # the refusal comes first, whatever the line holds

        def run(self, process, args):
            raise CommandError(-1, sentence)

    Refused.name = name
    Refused.__name__ = Refused.__qualname__ = "%sCommand" % name.title().replace("-", "")
    return Refused


for _name, _sentence in REFUSALS.items():
    register(_refusing(_name, _sentence))
