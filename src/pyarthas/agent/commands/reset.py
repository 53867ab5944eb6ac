"""``reset [-E] [class-pattern]``: restore enhanced functions (all of them without a pattern)."""
import re

from ..command.base import Command, CommandError, register
from ..command.options import Argument, Option
from .basic import ResetModel


@register
class ResetCommand(Command):
    name = "reset"
    summary = "Reset all the enhanced classes"
    description = ("Restores the original code of the functions that watch/trace/stack/monitor/tt enhanced.\n"
                   "Examples:\n  reset\n  reset demo.MathGame\n  reset -E 'demo\\..*'")
    options = [Option("regex", "E", flag=True,
                      help="Enable regular expression to match (wildcard matching by default)")]
    arguments = [Argument("class-pattern", help="Path and classname of Pattern Matching")]

    def run(self, process, args) -> None:
        try:
            affect = process.agent.engine.reset(args.class_pattern or None, regex=args.regex)
        except re.error as error:
            raise CommandError(-1, "Invalid regular expression: %s" % error) from error
        affect.listenerId = 0
        process.emit(ResetModel(affect=affect))
