"""Arthas commands that pyarthas refuses, each with the one sentence that says why (so a user copying
Arthas's documentation learns what to use instead, rather than reading "command not found")."""
from ..command.base import register_refusal

register_refusal("classloader-metaspace", "Python has no metaspace: a module's code objects live on the heap, which "
                                          "memory and vmtool --action getInstances show.", hidden=True)
register_refusal("line", "line (watching local variables at chosen source lines) is not available in pyarthas yet; "
                         "watch and tt show a function's arguments, result and exception, trace its calls by line.",
                 hidden=True)
