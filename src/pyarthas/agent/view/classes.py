"""``sc``, ``sm`` and ``jad`` as Arthas prints them: class names one a line, class and method details as
key/value blocks, and the source under ``ClassLoader:`` and ``Location:`` headers."""
from . import view
from .text import cell, key_value_table

# (field of ClassDetailVO, label Arthas prints)
CLASS_ROWS = [("classInfo", "class-info"), ("codeSource", "code-source"), ("name", "name"), ("module", "module"),
              ("isModule", "isModule"), ("interface", "isAbstract"), ("enum", "isEnum"),
              ("localClass", "isLocalClass"), ("memberClass", "isMemberClass"), ("nativeClass", "isNative"),
              ("simpleName", "simple-name"), ("modifier", "modifier"), ("annotations", "decorators"),
              ("interfaces", "bases"), ("superClass", "super-class"), ("classloader", "class-loader"),
              ("classLoaderHash", "classLoaderHash"), ("methods", "methods")]

METHOD_ROWS = [("declaringClass", "declaring-class"), ("methodName", "method-name"), ("modifier", "modifier"),
               ("annotations", "decorators"), ("parameters", "parameters"), ("returnType", "return"),
               ("descriptor", "signature"), ("fileName", "file"), ("lineNumber", "line"),
               ("classLoaderHash", "classLoaderHash")]


def _tree(names):
    """Arthas's ``+-`` chain, each level indented two more spaces."""
    return "\n".join("  " * depth + "+-" + str(name) for depth, name in enumerate(names))


def _field_value(key, value, ctx):
    if key in ("superClass", "classloader"):
        return _tree(value or [])
    if isinstance(value, list):
        return "\n".join(cell(v) for v in value)
    return value


@view("sc")
def render_sc(result, ctx):
    if not result.get("detailed"):
        return "\n".join(result.get("classNames") or [])
    info = result.get("classInfo") or {}
    pairs = [(label, _field_value(key, info.get(key), ctx)) for key, label in CLASS_ROWS if key in info]
    fields = info.get("fields")
    if fields is not None:
        pairs.append(("fields", "\n\n".join(_field_block(f, ctx) for f in fields)))
    return key_value_table(pairs, width=ctx.width)


def _field_block(field, ctx):
    pairs = [("modifier", field.get("modifier")), ("type", field.get("type")), ("name", field.get("name"))]
    if "value" in field:
        pairs.append(("value", ctx.value(field["value"], 1)))
    return key_value_table(pairs)


@view("sm")
def render_sm(result, ctx):
    info = result.get("methodInfo") or {}
    if not result.get("detail"):
        kinds = " ".join("[%s]" % k for k in info.get("kinds") or [])
        return ("%s %s%s %s" % (info.get("declaringClass"), info.get("methodName"), info.get("descriptor") or "",
                                kinds)).rstrip()
    pairs = [(label, _field_value(key, info.get(key), ctx)) for key, label in METHOD_ROWS if key in info]
    return key_value_table(pairs, width=ctx.width) + "\n"


@view("jad")
def render_jad(result, ctx):
    matched = result.get("matchedClasses")
    if matched:
        return "Matched classes:\n" + "\n".join(
            " %s  %s" % (c.get("name"), c.get("classLoaderHash") or "") for c in matched)
    source = _numbered(result) if result.get("lineNumber", True) and result.get("kind") == "source" \
        else (result.get("source") or "")
    if result.get("sourceOnly"):
        return source.rstrip("\n")
    info = result.get("classInfo") or {}
    loaders = info.get("classloader") or []
    parts = [ctx.style.bold("ClassLoader:"),
             _tree(["%s@%s" % (name, info.get("classLoaderHash")) for name in loaders[:1]] + loaders[1:]),
             ctx.style.bold("Location:"), result.get("location") or "", ""]
    if result.get("sourceDiffers"):
        parts.append(ctx.style.yellow("WARNING: the file on disk no longer matches the loaded code:"))
        parts.extend(ctx.style.yellow("  " + d) for d in result.get("differences") or [])
        parts.append("")
    parts.append(source.rstrip("\n"))
    if result.get("disassembly"):
        parts.extend(["", ctx.style.bold("What runs (disassembly of the loaded code):"),
                      result["disassembly"].rstrip("\n")])
    return "\n".join(parts)


def _numbered(result) -> str:
    source = result.get("source") or ""
    start = result.get("startLine") or 1
    lines = source.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    width = len(str(start + len(lines)))
    return "\n".join("%*d  %s" % (width, start + i, line) for i, line in enumerate(lines))
