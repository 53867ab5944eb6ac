"""``jfr`` as Arthas prints it: its output text."""
from . import view


@view("jfr")
def render_jfr(result, ctx):
    return (result.get("jfrOutput") or "").rstrip("\n")
