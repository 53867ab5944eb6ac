"""Result models: small typed objects that commands emit and one serializer turns into JSON.

A model is a dataclass with a class attribute ``type`` (the Arthas result type) and its fields.
``to_json(model, job_id)`` is the one serializer: it writes ``type`` and ``jobId`` then every field,
omitting fields that are None (as Arthas's fastjson2 does) unless the class lists them in ``keep_none``.
Field values must already be JSON-able (str, int, float, bool, None, list, dict) or models themselves;
values taken from the target go through ``values.to_json_value`` first.

Models that must defer expensive work until an agent thread serializes them (a hook building a model on
the target's thread) can override ``fields()``.

``encode_json(payload)`` is the one encoding of what leaves the agent: UTF-8 JSON that any parser accepts
whatever the strings hold (a lone surrogate becomes the text ``\\udXXX``; a float that JSON cannot write,
``null`` as fastjson2 writes it).
"""
import dataclasses
import json
import math
import re
import time
from typing import Any, ClassVar, Dict, Optional


class ResultModel:
    """Base of every result model. Subclasses are dataclasses and set ``type``."""

    type: ClassVar[str] = ""
    keep_none: ClassVar[tuple] = ()

    def fields(self) -> Dict[str, Any]:
        if dataclasses.is_dataclass(self):
            return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return dict(vars(self))

    def item_count(self) -> int:
        """How many items a pull counts for this model (Arthas's ResultConsumerHelper): the sizes of its
        list and dict fields, at least 1."""
        size = sum(len(v) for v in self.fields().values() if isinstance(v, (list, dict, tuple)))
        return max(1, size)


def to_json(model: ResultModel, job_id: int) -> Dict[str, Any]:
    """The one serializer from a model to the JSON object sent on the wire."""
    out: Dict[str, Any] = {"type": model.type, "jobId": job_id}
    for name, value in model.fields().items():
        if value is None and name not in model.keep_none:
            continue
        out[name] = _plain(value)
    return out


def to_json_or_message(model: ResultModel, job_id: int) -> Dict[str, Any]:
    """``to_json``, or a ``message`` result saying why not: one bad result must not stop the others."""
    try:
        return to_json(model, job_id)
    except Exception as exc:
        return {"type": "message", "jobId": job_id,
                "message": "result of type %s could not be serialized: %r" % (model.type, exc)}


def _plain(value: Any) -> Any:
    kind = type(value)
    if kind is str:
        return value if value.isascii() else valid_text(value)
    if kind is dict:
        return {valid_text(str(k)): _plain(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [_plain(v) for v in value]
    if value is None or kind is int or kind is float or kind is bool:
        return value
    if isinstance(value, ResultModel):
        return {k: _plain(v) for k, v in value.fields().items() if v is not None}
    if isinstance(value, str):
        return valid_text(str(value))
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, dict):
        return _plain(dict(value))
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    raise TypeError("a %s is not a JSON value" % kind.__name__)


_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_text(text: str) -> str:
    """``text`` with every lone surrogate (which UTF-8 cannot encode) written as the text ``\\udXXX``."""
    if _SURROGATE.search(text) is None:
        return text
    return _SURROGATE.sub(lambda match: "\\u%04x" % ord(match.group()), text)


def encode_json(payload: Any) -> bytes:
    """The one JSON encoding of what leaves the agent (see the module's docstring)."""
    try:
        return json.dumps(payload, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (UnicodeEncodeError, ValueError, TypeError, RecursionError):
        return json.dumps(_strict(payload, 0), ensure_ascii=False, allow_nan=False).encode("utf-8")


_MAX_DEPTH = 200


def _strict(value: Any, depth: int) -> Any:
    """``value`` with what JSON or UTF-8 cannot hold replaced (the slow path of ``encode_json``)."""
    if depth > _MAX_DEPTH:
        return "<too deep>"
    if isinstance(value, str):
        return valid_text(str(value))
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {valid_text(str(k)): _strict(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v, depth + 1) for v in value]
    return "<%s>" % type(value).__name__


def now_ms() -> int:
    return int(time.time() * 1000)


def format_time(epoch_seconds: Optional[float] = None) -> str:
    """Arthas's text timestamp: ``yyyy-MM-dd HH:mm:ss.SSS`` in local time."""
    millis = round((time.time() if epoch_seconds is None else epoch_seconds) * 1000)
    seconds, fraction = divmod(millis, 1000)
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds)) + ".%03d" % fraction


# ---- The models of the protocol itself (the result types of https://arthas.aliyun.com/en/doc/http-api.html) ----

@dataclasses.dataclass
class StatusModel(ResultModel):
    type: ClassVar[str] = "status"
    statusCode: int = 0
    message: Optional[str] = None


@dataclasses.dataclass
class MessageModel(ResultModel):
    type: ClassVar[str] = "message"
    message: str = ""


@dataclasses.dataclass
class TerminalMessageModel(MessageModel):
    """A ``message`` Arthas only writes to the terminal (``process.write``: the ``-n`` limit reached, ``-v``'s
    condition results), marked ``terminal``: the agent's shell draws it; the HTTP API sends it only to the
    requests that ask (``terminalMessages``, pyarthas's consoles), as Arthas's API never sends it."""
    terminal: bool = True


@dataclasses.dataclass
class InputStatusModel(ResultModel):
    type: ClassVar[str] = "input_status"
    inputStatus: str = "ALLOW_INPUT"


@dataclasses.dataclass
class CommandRequestModel(ResultModel):
    type: ClassVar[str] = "command"
    command: str = ""
    state: str = "SCHEDULED"
    message: Optional[str] = None


@dataclasses.dataclass
class WelcomeModel(ResultModel):
    type: ClassVar[str] = "welcome"
    pid: str = ""
    time: str = ""
    version: str = ""
    wiki: str = "https://arthas.aliyun.com/doc"
    tutorials: str = "https://arthas.aliyun.com/doc/arthas-tutorials.html"
    mainClass: Optional[str] = None


@dataclasses.dataclass
class RowAffectModel(ResultModel):
    type: ClassVar[str] = "row_affect"
    rowCount: int = 0


@dataclasses.dataclass
class EnhancerAffect(ResultModel):
    """Arthas's EnhancerAffectVO (``effect`` of the enhancer result, ``affect`` of reset)."""
    cost: int = -1
    classCount: int = 0
    methodCount: int = 0
    listenerId: int = -1
    overLimitMsg: Optional[str] = None
    methods: Optional[list] = None
    traceModes: Optional[dict] = None   # trace: "class#method" -> how its child calls are timed


@dataclasses.dataclass
class EnhancerModel(ResultModel):
    type: ClassVar[str] = "enhancer"
    success: bool = True
    effect: Optional[EnhancerAffect] = None
    message: Optional[str] = None
