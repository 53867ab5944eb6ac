"""Reading the new source: compile a file (nothing in it runs) and list the functions and class bodies it
defines, by qualified name inside the file."""
import importlib.util
import inspect
import marshal
import os
import sys
import types
from typing import Dict, List, Tuple

MAX_FILE_SIZE = 10 * 1024 * 1024


class RedefineError(Exception):
    """The redefinition is refused as a whole (nothing was changed); ``message`` says why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class Definition:
    """A function the new source defines: where (class path inside the namespace), its name and code."""

    def __init__(self, classes: Tuple[str, ...], name: str, code: types.CodeType):
        self.classes = classes
        self.name = name
        self.code = code

    @property
    def qualname(self) -> str:
        return ".".join(self.classes + (self.name,))


class Source:
    """A compiled file: its functions (in source order) and class bodies, found without running it."""

    def __init__(self, path: str, code: types.CodeType):
        self.path = path
        self.functions: List[Definition] = []
        self.class_bodies: Dict[Tuple[str, ...], types.CodeType] = {}
        self._collect(code, ())

    def _collect(self, code: types.CodeType, classes: Tuple[str, ...]) -> None:
        for const in code.co_consts:
            if not isinstance(const, types.CodeType) or _is_synthetic(const.co_name):
                continue
            if const.co_flags & inspect.CO_NEWLOCALS:       # a function (its nested ones come with it)
                self.functions.append(Definition(classes, const.co_name, const))
            else:                                           # a class body
                path = classes + (const.co_name,)
                self.class_bodies[path] = const
                self._collect(const, path)

    def looked_through(self, class_name: str) -> "Source":
        """With ``-c pkg.Cls`` and a file that defines ``class Cls:``: the definitions inside it."""
        if (class_name,) not in self.class_bodies or any(not d.classes for d in self.functions):
            return self
        inner = Source.__new__(Source)
        inner.path = self.path
        inner.functions = [Definition(d.classes[1:], d.name, d.code) for d in self.functions
                           if d.classes[:1] == (class_name,)]
        inner.class_bodies = {path[1:]: body for path, body in self.class_bodies.items()
                              if path[:1] == (class_name,) and len(path) > 1}
        return inner


def _is_synthetic(name: str) -> bool:
    """Comprehensions, lambdas, generic parameter scopes and annotation functions: never replaced alone."""
    return name.startswith(("<", "__annotate"))


def compile_file(path: str) -> Source:
    if not os.path.isfile(path):
        raise RedefineError("file does not exist, path:%s" % path)
    size = os.path.getsize(path)
    if size >= MAX_FILE_SIZE:
        raise RedefineError("file size: %d >= %d, path: %s" % (size, MAX_FILE_SIZE, path))
    with open(path, "rb") as stream:
        text = stream.read()
    if path.endswith(".pyc"):
        return Source(path, code_of_pyc(text, path))
    try:
        code = compile(text, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        raise RedefineError("redefine error! %s: %s" % (type(exc).__name__, exc)) from None
    return Source(path, code)


def code_of_pyc(data: bytes, path: str) -> types.CodeType:
    """The module code a ``.pyc`` holds (what ``mc`` writes): this interpreter's magic number, a 16-byte
    header (PEP 552), then the marshalled code."""
    if data[:4] != importlib.util.MAGIC_NUMBER:
        raise RedefineError("redefine error! %s was not compiled by this Python (%s)" % (path, sys.version.split()[0]))
    try:
        code = marshal.loads(data[16:])
    except (EOFError, ValueError, TypeError) as exc:
        raise RedefineError("redefine error! %s: %s" % (path, exc)) from None
    if not isinstance(code, types.CodeType):
        raise RedefineError("redefine error! %s holds no module code" % path)
    return code


def pyc_bytes(code: types.CodeType, source: bytes) -> bytes:
    """A ``.pyc`` for ``code`` that checks nothing against its source file (PEP 552 hash-based,
    unchecked): ``code_of_pyc`` and the import system both read it."""
    header = importlib.util.MAGIC_NUMBER + (0b01).to_bytes(4, "little") + importlib.util.source_hash(source)
    return header + marshal.dumps(code)
