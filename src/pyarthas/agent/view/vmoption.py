"""``vmoption`` and ``jvm`` as Arthas prints them: the options table, the change table, and the runtime
groups each under a bold title and a rule."""
from . import view
from .text import cell, key_value_table, table


@view("vmoption")
def render_vmoption(result, ctx):
    change = result.get("changeResult")
    if change:
        return table([(change.get("name"), change.get("beforeValue"), change.get("afterValue"))],
                     ["NAME", "BEFORE-VALUE", "AFTER-VALUE"], style=ctx.style, width=ctx.width)
    rows = [(o.get("name"), o.get("value"), o.get("origin"), o.get("writeable"))
            for o in result.get("vmOptions") or []]
    return table(rows, ["KEY", "VALUE", "ORIGIN", "WRITEABLE"], style=ctx.style, width=ctx.width, flexible=1)


@view("jvm")
def render_jvm(result, ctx):
    rule = "-" * min(ctx.width, 100)
    blocks = []
    for group, items in (result.get("jvmInfo") or {}).items():
        pairs = [(item.get("name"), _value(item.get("value"))) for item in items or []]
        blocks.append("\n".join([ctx.style.bold(" " + group), rule, key_value_table(pairs, width=ctx.width)]))
    return "\n\n".join(blocks)


def _value(value):
    if isinstance(value, list):
        return "\n".join(cell(v) for v in value)
    return value
