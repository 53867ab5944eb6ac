"""Views of ``profiler`` (as Arthas's ProfilerView, with the output file's URL) and ``redefine`` results."""
from . import view
from .text import table

URL_PREFIX = "profiler output url: "


@view("profiler")
def render_profiler(result: dict, ctx) -> str:
    actions = result.get("supportedActions")
    if actions is not None:
        return "Supported Actions: [%s]" % ", ".join(actions)
    lines = [_clickable(line, ctx) for line in (result.get("executeResult") or "").splitlines()]
    action, output = result.get("action"), result.get("outputFile")
    if action in ("start", "resume") and result.get("duration") is not None:
        lines.append("profiler will silent stop after %d seconds." % result["duration"])
        lines.append("profiler output file will be: %s" % output)
    elif action in ("stop", "dump") and output:
        lines.append("profiler output file: %s" % ctx.style.cyan(output))
    return "\n".join(lines)


def _clickable(line: str, ctx) -> str:
    """The agent gives the file's path on its HTTP server; the console knows the server's address, so it
    prints a full URL that terminals let one click."""
    if not line.startswith(URL_PREFIX):
        return line
    path = line[len(URL_PREFIX):]
    base = getattr(ctx, "base_url", None)
    url = base.rstrip("/") + path if base and path.startswith("/") else path
    return URL_PREFIX + ctx.style.underline(ctx.style.cyan(url))


@view("redefine")
def render_redefine(result: dict, ctx) -> str:
    if result.get("redefineEntries") is not None:
        rows = [[str(e.get("id")), e.get("className", ""), e.get("methodName", ""), str(e.get("redefinitionCount")),
                 e.get("time", ""), e.get("file", "")] for e in result["redefineEntries"]]
        return table(rows, ["ID", "CLASS", "METHOD", "COUNT", "LAST REDEFINED", "FILE"], style=ctx.style,
                     width=ctx.width) + "\nAffect(row-cnt:%d)" % len(rows)
    if result.get("restoredCount") is not None:
        head = "restore success, size: %d" % result["restoredCount"]
        return _with_methods(head, result.get("restoredMethods") or [], ctx)
    head = "redefine success, size: %d, classes:\n%s" % (
        result.get("redefinitionCount", 0), "\n".join(result.get("redefinedClasses") or []))
    return _with_methods(head, result.get("redefinedMethods") or [], ctx)


def _with_methods(head: str, methods: list, ctx) -> str:
    if not methods:
        return head
    rows = [[str(m.get("id")), m.get("className", ""), m.get("methodName", ""), _where(m)] for m in methods]
    return head + "\n" + table(rows, ["ID", "CLASS", "METHOD", "SOURCE"], style=ctx.style, width=ctx.width)


def _where(method: dict) -> str:
    line = method.get("lineNumber")
    return "%s:%s" % (method.get("file", ""), line) if line else method.get("file", "")
