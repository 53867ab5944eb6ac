"""tasks (pyarthas's own, no Arthas twin): the asyncio tasks of every running event loop, with their
state, coroutine and the chain of awaits each is suspended in."""
import dataclasses
from typing import Any, ClassVar, Dict, List

from ..command.base import Command, register
from ..command.options import Option
from ..inspect.tasks import task_infos
from ..model import ResultModel, RowAffectModel


@dataclasses.dataclass
class TasksModel(ResultModel):
    type: ClassVar[str] = "tasks"
    tasks: List[Dict[str, Any]] = dataclasses.field(default_factory=list)


@register
class TasksCommand(Command):
    name = "tasks"
    summary = "Display the asyncio tasks of every running event loop and what each awaits"
    description = ("Each task with its state, coroutine, the task or future it waits on, the tasks waiting on "
                   "it, and its chain of awaits (innermost first). Examples: tasks; tasks -n 10")
    options = [Option("number", "n", type=int, default=-1, help="show at most N tasks (default: all)")]

    def run(self, process, args):
        infos = task_infos(args.number)
        process.emit(TasksModel(tasks=infos))
        process.emit(RowAffectModel(rowCount=len(infos)))
