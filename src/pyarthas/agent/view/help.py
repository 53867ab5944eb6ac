"""``help`` (a table of commands) and ``help CMD`` (usage, summary, options, arguments)."""
import textwrap

from . import view
from .text import key_value_table, table


@view("help")
def render_help(result, ctx):
    detail = result.get("detailCommand")
    if detail:
        return render_detail(detail, ctx)
    rows = [(c.get("name"), c.get("summary")) for c in result.get("commands") or []]
    return table(rows, ["NAME", "DESCRIPTION"], style=ctx.style, width=ctx.width)


def option_label(option: dict) -> str:
    names = []
    if option.get("shortName"):
        names.append("-" + option["shortName"])
    if option.get("longName"):
        names.append("--" + option["longName"])
    label = ", ".join(names)
    return label + (" <value>" if option.get("acceptValue") else "")


def argument_label(argument: dict) -> str:
    label = "<%s>" % argument.get("argName", "")
    if argument.get("multiValued"):
        label += "..."
    return label if argument.get("required") else "[%s]" % label


def render_detail(detail: dict, ctx) -> str:
    bold = ctx.style.bold
    sections = []
    usage = detail.get("usage") or " ".join(
        [detail.get("name", "")] + ["[%s]" % option_label(o) for o in detail.get("options") or []]
        + [argument_label(a) for a in detail.get("arguments") or []])
    sections.append(bold("USAGE:") + "\n" + _indent(usage, ctx.width))
    if detail.get("summary"):
        sections.append(bold("SUMMARY:") + "\n" + _indent(detail["summary"], ctx.width))
    if detail.get("description") and detail.get("description") != detail.get("summary"):
        sections.append(bold("DESCRIPTION:") + "\n" + _indent(detail["description"], ctx.width))
    rows = [(option_label(o), o.get("description", "")) for o in detail.get("options") or []]
    rows += [(argument_label(a), a.get("description", "")) for a in detail.get("arguments") or []]
    if rows:
        options = key_value_table(rows, width=ctx.width - 2)
        sections.append(bold("OPTIONS:") + "\n" + "\n".join(("  " + line).rstrip() for line in options.split("\n")))
    return "\n\n".join(sections)


def _indent(text: str, width: int) -> str:
    """Indent by two and wrap each line to ``width``, continuation lines under the line's own indent."""
    out = []
    for line in str(text).split("\n"):
        lead = "  " + line[:len(line) - len(line.lstrip())]
        out.extend(textwrap.wrap(line.strip(), max(20, width), initial_indent=lead, subsequent_indent=lead + "  ",
                                 break_on_hyphens=False) or [""])
    return "\n".join(out)
