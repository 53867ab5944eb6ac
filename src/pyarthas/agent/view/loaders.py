"""``classloader``, ``dump``, ``mc``, ``retransform`` and ``perfcounter`` as Arthas prints them
(ClassLoaderView, DumpClassView, MemoryCompilerView, RetransformView, PerfCounterView)."""
import json

from . import view
from .classes import render_sc
from .text import cell, key_value_table, table


def _class_vos(vos, ctx):
    rows = [(vo.get("classLoaderHash"), vo.get("name"), " -> ".join(vo.get("classloader") or [])) for vo in vos]
    return table(rows, ["HASHCODE", "CLASSNAME", "CLASSLOADER"], style=ctx.style, width=ctx.width)


def _loader_tree(vos, depth=0):
    lines = []
    for vo in vos:
        lines.append("  " * depth + ("+-" if depth else "") + "%s (hash %s, loaded %s)" % (
            vo.get("name"), vo.get("hash"), vo.get("loadedCount", 0)))
        lines.extend(_loader_tree(vo.get("children") or [], depth + 1))
    return lines


def _loader_of_key(key):
    """``name, hash:HASH`` of a ``--url-stat`` key (a ClassLoaderVO as JSON text, as Arthas sends it)."""
    try:
        loader = json.loads(key)
        return "%s, hash:%s" % (loader["name"], loader["hash"])
    except (ValueError, TypeError, KeyError):
        return key


@view("classloader")
def render_classloader(result, ctx):
    if result.get("classLoaderStats") is not None:
        stats = [(name, stat.get("numberOfInstance"), stat.get("loadedCount"))
                 for name, stat in result["classLoaderStats"].items()]
        return table(stats, ["name", "numberOfInstances", "loadedCountTotal"], style=ctx.style, width=ctx.width)
    if result.get("classLoaders") is not None:
        if result.get("tree"):
            return "\n".join(_loader_tree(result["classLoaders"]))
        loaders = [(vo.get("name"), vo.get("loadedCount"), vo.get("hash"), vo.get("parent") or "null")
                   for vo in result["classLoaders"]]
        return table(loaders, ["name", "loadedCount", "hash", "parent"], style=ctx.style, width=ctx.width)
    if result.get("urlStats") is not None:
        parts = []
        for key, stat in result["urlStats"].items():
            parts.append(_loader_of_key(key))
            parts.append("Used URLs:\n" + "\n".join(stat.get("usedUrls") or []))
            parts.append("Unused URLs:\n" + "\n".join(stat.get("unUsedUrls") or []))
        return "\n".join(parts)
    if result.get("classSet") is not None:
        class_set = result["classSet"]
        head = "hash:%s, %s" % ((class_set.get("classloader") or {}).get("hash"),
                                (class_set.get("classloader") or {}).get("name"))
        return "\n".join(([head] if not class_set.get("segment") else []) + list(class_set.get("classes") or []))
    if result.get("loadClass") is not None:
        return render_sc({"detailed": True, "classInfo": result["loadClass"]}, ctx)
    if result.get("urlClassStats") is not None:
        url_stats = [(s.get("url"), s.get("loadedClassCount"), s.get("matchedClassCount", ""),
                      "\n".join(s.get("classes") or [])) for s in result["urlClassStats"]]
        return table(url_stats, ["url", "loadedCount", "matchedCount", "modules"], style=ctx.style, width=ctx.width)
    if result.get("matchedClassLoaders") is not None:
        matched = [(vo.get("hash"), vo.get("name")) for vo in result["matchedClassLoaders"]]
        return "Matched classloaders:\n" + table(matched, ["HASHCODE", "NAME"], style=ctx.style, width=ctx.width)
    for key in ("urls", "resources"):
        if result.get(key) is not None:
            return "\n".join(result[key])
    return ""


@view("dump")
def render_dump(result, ctx):
    if result.get("dumpedClasses") is not None:
        rows = [(vo.get("classLoaderHash"), " -> ".join(vo.get("classloader") or []), vo.get("location"))
                for vo in result["dumpedClasses"]]
        return table(rows, ["HASHCODE", "CLASSLOADER", "LOCATION"], style=ctx.style, width=ctx.width)
    return _class_vos(result.get("matchedClasses") or [], ctx)


@view("mc")
def render_mc(result, ctx):
    return "Memory compiler output:\n" + "\n".join(result.get("files") or [])


@view("retransform")
def render_retransform(result, ctx):
    if result.get("retransformEntries") is not None:
        rows = [(e.get("id"), e.get("className"), e.get("methodName"), e.get("transformCount"), e.get("hashCode"),
                 e.get("classLoaderClass")) for e in result["retransformEntries"]]
        return table(rows, ["Id", "ClassName", "MethodName", "TransformCount", "LoaderHash", "LoaderClassName"],
                     style=ctx.style, width=ctx.width)
    if result.get("retransformClasses") is not None:
        return "\n".join(["retransform success, size: %s, classes:" % result.get("retransformCount", 0)]
                         + list(result["retransformClasses"]))
    return ""


@view("perfcounter")
def render_perfcounter(result, ctx):
    counters = result.get("perfCounters") or []
    if result.get("details"):
        rows = [(c.get("name"), c.get("variability"), c.get("units"), cell(c.get("value"))) for c in counters]
        return table(rows, ["Name", "Variability", "Units", "Value"], style=ctx.style, width=ctx.width)
    return key_value_table([(c.get("name"), c.get("value")) for c in counters], width=ctx.width)
