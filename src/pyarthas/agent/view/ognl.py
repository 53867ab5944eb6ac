"""``ognl`` and ``getstatic``: the value as Arthas's ObjectView draws it (OgnlView, GetStaticView)::

    @int[42]

    field: random
    @Random[<random.Random object at 0x55>]
"""
from . import view


@view("ognl")
def render_ognl(result, ctx):
    return ctx.value(result.get("value"), result.get("expand", 1))


@view("getstatic")
def render_getstatic(result, ctx):
    classes = result.get("matchedClasses")
    if classes is not None:
        return "\n".join(" %s" % name for name in classes)
    return "field: %s\n%s" % (result.get("fieldName", ""), ctx.value(result.get("field"), result.get("expand", 1)))
