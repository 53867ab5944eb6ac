"""Views of the protocol's own results and the small commands (status, message, enhancer, welcome,
version, echo, base64, cat, pwd, session, history, reset, shutdown, row_affect)."""
from . import view
from .text import cell, change_table, key_value_table, table

# Arthas's banner (core/.../util/ArthasBanner.java); each letter in its own colour on a terminal.
LOGO_LETTERS = [
    ["  ,---.  ", " /  O  \\ ", "|  .-.  |", "|  | |  |", "`--' `--'"],
    [",------. ", "|  .--. '", "|  '--'.'", "|  |\\  \\ ", "`--' '--'"],
    [",--------.", "'--.  .--'", "   |  |   ", "   |  |   ", "   `--'   "],
    [",--.  ,--.", "|  '--'  |", "|  .--.  |", "|  |  |  |", "`--'  `--'"],
    ["  ,---.  ", " /  O  \\ ", "|  .-.  |", "|  | |  |", "`--' `--'"],
    [" ,---.  ", "'   .-' ", "`.  `-. ", ".-'    |", "`-----' "],
]
LOGO_COLOURS = ["red", "yellow", "cyan", "magenta", "red", "yellow"]


@view("input_status")
def render_input_status(result, ctx):
    return ""


@view("command")
def render_command(result, ctx):
    if result.get("state") == "FAILED":
        return ctx.style.red(result.get("message") or "command failed: %s" % result.get("command", ""))
    return ""


@view("status")
def render_status(result, ctx):
    message = result.get("message")
    if message is None:
        return ""
    return ctx.style.red(message) if result.get("statusCode", 0) != 0 else message


@view("message")
def render_message(result, ctx):
    return cell(result.get("message"))


def affect_text(affect) -> str:
    """Arthas's EnhancerAffect text, shared by ``enhancer`` and ``reset``."""
    affect = affect or {}
    lines = []
    if affect.get("classDumpFiles"):
        lines.append("[dump: %s]" % ", ".join(str(f) for f in affect["classDumpFiles"]))
    if affect.get("methods"):
        lines.extend("[Affect method: %s]" % m for m in affect["methods"])
    lines.append("Affect(class count: %s , method count: %s) cost in %s ms, listenerId: %s" % (
        affect.get("classCount", 0), affect.get("methodCount", 0), affect.get("cost", -1),
        affect.get("listenerId", -1)))
    for method, mode in sorted((affect.get("traceModes") or {}).items()):
        lines.append("[Trace method: %s timed by %s]" % (method, mode))
    if affect.get("overLimitMsg"):
        lines.append(affect["overLimitMsg"])
    if affect.get("throwable"):
        lines.append("Enhance error! exception: %s" % affect["throwable"])
    return "\n".join(lines)


@view("enhancer")
def render_enhancer(result, ctx):
    if result.get("success", True) is False and result.get("message"):
        return ctx.style.red(result["message"])
    return "Press Q or Ctrl+C to abort.\n" + affect_text(result.get("effect"))


@view("reset")
def render_reset(result, ctx):
    return affect_text(result.get("affect"))


@view("welcome")
def render_welcome(result, ctx):
    logo = []
    for row in range(5):
        logo.append("".join(ctx.style.paint(letter[row], colour)
                            for letter, colour in zip(LOGO_LETTERS, LOGO_COLOURS)).rstrip())
    rows = [("wiki", result.get("wiki")), ("tutorials", result.get("tutorials")),
            ("version", result.get("version")), ("main_class", result.get("mainClass")),
            ("app_name", result.get("appName")), ("pid", result.get("pid")),
            ("start_time", result.get("startTime")), ("current_time", result.get("time"))]
    info = key_value_table([(k, v) for k, v in rows if v not in (None, "")], width=ctx.width)
    return "\n".join(logo) + "\n\n" + info + "\n"


@view("version")
def render_version(result, ctx):
    return cell(result.get("version"))


@view("echo")
def render_echo(result, ctx):
    return cell(result.get("content"))


@view("base64")
def render_base64(result, ctx):
    return cell(result.get("content") or "")  # nothing when it went to --output


@view("cat")
def render_cat(result, ctx):
    return cell(result.get("content") or "")


@view("pwd")
def render_pwd(result, ctx):
    return cell(result.get("workingDir"))


_SESSION_ROWS = [("javaPid", "JAVA_PID"), ("pid", "PID"), ("sessionId", "SESSION_ID"), ("agentId", "AGENT_ID"),
                 ("tunnelServer", "TUNNEL_SERVER"), ("statUrl", "STAT_URL"), ("userId", "USER_ID")]


@view("session")
def render_session(result, ctx):
    known = dict(_SESSION_ROWS)
    rows = [(label, result[key]) for key, label in _SESSION_ROWS if key in result]
    rows += [(key, value) for key, value in result.items() if key not in known and key not in ("type", "jobId")]
    return key_value_table(rows, style=ctx.style, width=ctx.width, headers=("Name", "Value"))


@view("history")
def render_history(result, ctx):
    lines = result.get("history") or []
    width = len(str(len(lines)))
    return "\n".join("%s  %s" % (str(i).rjust(width), line) for i, line in enumerate(lines, 1))


@view("shutdown")
def render_shutdown(result, ctx):
    return cell(result.get("message"))


@view("row_affect")
def render_row_affect(result, ctx):
    text = "Affect(row-cnt:%s)" % result.get("rowCount", 0)
    if result.get("cost") is not None:
        text += " cost in %s ms." % result["cost"]
    return text


@view("options")
def render_options(result, ctx):
    change = result.get("changeResult")
    if change:
        return change_table(change, ctx.style, ctx.width)
    rows = [(o.get("level"), o.get("type"), o.get("name"), o.get("value"), o.get("summary"))
            for o in result.get("options") or []]
    return table(rows, ["LEVEL", "TYPE", "NAME", "VALUE", "SUMMARY"], style=ctx.style, width=ctx.width)


def _properties(mapping, ctx) -> str:
    return key_value_table(sorted((mapping or {}).items()), style=ctx.style, width=ctx.width,
                           headers=("KEY", "VALUE"))


@view("sysprop")
def render_sysprop(result, ctx):
    return _properties(result.get("props"), ctx)


@view("sysenv")
def render_sysenv(result, ctx):
    return _properties(result.get("env"), ctx)
