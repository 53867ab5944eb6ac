"""``logger`` as Arthas prints it: one key/value block per logger, its handlers (appenders) nested."""
from . import view
from .text import key_value_table

LOGGER_ROWS = ("name", "class", "level", "effectiveLevel", "additivity", "disabled", "codeSource")
APPENDER_ROWS = ("name", "class", "level", "formatter", "pattern", "file", "target", "appenderRef", "filters")


@view("logger")
def render_logger(result, ctx):
    change = result.get("changeResult")
    if change:
        return "%s: %s -> %s" % (change.get("name"), change.get("beforeValue"), change.get("afterValue"))
    blocks = []
    for info in (result.get("loggerInfoMap") or {}).values():
        pairs = [(key, info.get(key)) for key in LOGGER_ROWS if info.get(key) is not None]
        appenders = info.get("appenders") or []
        if appenders:
            pairs.append(("appenders", "\n\n".join(_appender(a) for a in appenders)))
        blocks.append(key_value_table(pairs, width=ctx.width))
    return "\n\n".join(blocks)


def _appender(appender) -> str:
    pairs = []
    for key in APPENDER_ROWS:
        value = appender.get(key)
        if value not in (None, "", []):
            pairs.append((key, ", ".join(value) if isinstance(value, list) else value))
    return key_value_table(pairs)
