"""Help generated from a command's declarations: ``help``, ``help CMD`` and ``CMD -h`` (the job layer emits
it for ``-h`` without running the command)."""
import dataclasses
from typing import Any, ClassVar, Dict, List, Optional

from ..model import ResultModel
from .options import usage


@dataclasses.dataclass
class HelpModel(ResultModel):
    type: ClassVar[str] = "help"
    commands: Optional[List[Dict[str, Any]]] = None
    detailCommand: Optional[Dict[str, Any]] = None


def command_summary(cls) -> Dict[str, Any]:
    return {"name": cls.name, "summary": cls.summary,
            "options": [o.to_json() for o in cls.options], "arguments": [a.to_json() for a in cls.arguments]}


def help_detail(cls) -> HelpModel:
    """The ``help CMD`` / ``CMD -h`` model, generated from the command's declarations."""
    detail = command_summary(cls)
    detail.update(description=cls.description or cls.summary, usage=usage(cls.name, cls.options, cls.arguments),
                  aliases=list(cls.aliases))
    return HelpModel(detailCommand=detail)
