"""Commands that read the target's files: ``base64`` and ``cat``, as Arthas's Base64Command and CatCommand.

Paths are the target's own (a relative path is relative to its working directory, as Java's ``new File``).
Both refuse a file larger than ``-M/--sizeLimit`` bytes (128 KiB by default, at most 8 MiB); outside a
terminal (the HTTP API, MCP) the limit cannot be raised above 128 KiB, as Arthas: nothing filters what an
API client receives.
"""
import base64
import binascii
import codecs
import dataclasses
import locale
import os
from typing import ClassVar, Optional

from ..command.base import Command, CommandError, register
from ..command.options import Argument, Option
from ..model import ResultModel

DEFAULT_SIZE_LIMIT = 128 * 1024
MAX_SIZE_LIMIT = 8 * 1024 * 1024
MAX_SIZE_LIMIT_WITHOUT_TTY = 128 * 1024


def size_limit_option() -> Option:
    return Option("sizeLimit", "M", type=int, default=DEFAULT_SIZE_LIMIT,
                  help="Upper size limit in bytes for the result (128 * 1024 by default, the maximum value is "
                       "8 * 1024 * 1024)")


def check_size_limit(process, size_limit: int) -> None:
    if size_limit > MAX_SIZE_LIMIT:
        raise CommandError(-1, "sizeLimit cannot be large than: %d" % MAX_SIZE_LIMIT)
    if not getattr(process.session, "tty", False) and size_limit > MAX_SIZE_LIMIT_WITHOUT_TTY:
        raise CommandError(-1, "When executing in non-tty session, sizeLimit cannot be large than: %d"
                           % MAX_SIZE_LIMIT_WITHOUT_TTY)


@dataclasses.dataclass
class Base64Model(ResultModel):
    type: ClassVar[str] = "base64"
    content: Optional[str] = None


@register
class Base64Command(Command):
    name = "base64"
    summary = "Encode and decode using Base64 representation"
    description = ("Examples:\n  base64 /tmp/test.txt\n  base64 --input /tmp/test.txt --output /tmp/result.txt\n"
                   "  base64 -d /tmp/result.txt")
    options = [Option("decode", "d", flag=True, help="decodes input"),
               Option("input", "i", help="input file"),
               Option("output", "o", help="output file"),
               size_limit_option()]
    arguments = [Argument("file", help="file")]

    def run(self, process, args):
        path = args.file or args.input
        if path is None:
            raise CommandError(-1, ": No file, nor input")
        check_size_limit(process, args.sizeLimit)
        data = _read_bytes(path, args.sizeLimit, prefix="")
        try:
            converted = base64.b64decode(data) if args.decode else base64.b64encode(data)
        except (binascii.Error, ValueError) as error:
            raise CommandError(-1, "%s: not valid base64: %s" % (path, error)) from None
        if args.output is None:
            process.emit(Base64Model(content=converted.decode("utf-8", "replace")))
            return
        try:
            with open(args.output, "wb") as out:
                out.write(converted)
        except OSError as error:
            raise CommandError(1, "write file error: %s" % (error.strerror or error)) from None
        process.emit(Base64Model())


@dataclasses.dataclass
class CatModel(ResultModel):
    type: ClassVar[str] = "cat"
    file: str = ""
    content: str = ""

    def item_count(self) -> int:  # Arthas's CatModel.size(): a hundred characters count as one item
        return len(self.content) // 100 + 1


@register
class CatCommand(Command):
    name = "cat"
    summary = "Concatenate and print files"
    options = [Option("encoding", help="File encoding"), size_limit_option()]
    arguments = [Argument("files", required=True, multi=True, help="files")]

    def run(self, process, args):
        check_size_limit(process, args.sizeLimit)
        encoding = args.encoding or locale.getpreferredencoding(False)
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise CommandError(-1, "cat: unknown encoding %s" % encoding) from None
        for path in args.files:  # every file is checked before any is printed, as Arthas
            _check_readable(path, prefix="cat ")
        for path in args.files:
            data = _read_bytes(path, args.sizeLimit, prefix="cat ")
            process.emit(CatModel(file=path, content=data.decode(encoding, "replace")))


def _check_readable(path: str, prefix: str) -> None:
    if not os.path.exists(path):
        raise CommandError(-1, "%s%s: No such file or directory" % (prefix, path))
    if os.path.isdir(path):
        raise CommandError(-1, "%s%s: Is a directory" % (prefix, path))


def _read_bytes(path: str, size_limit: int, prefix: str) -> bytes:
    """The file's bytes, with Arthas's failures for a missing file, a directory, or one over the limit."""
    _check_readable(path, prefix)
    size = os.path.getsize(path)
    if size > size_limit:
        raise CommandError(-1, "%s%s: Is too large, size: %d" % (prefix, path, size))
    try:
        with open(path, "rb") as handle:
            return handle.read(size_limit + 1)[:size_limit]
    except OSError as error:
        raise CommandError(1, "%sread file error: %s" % (prefix, error.strerror or error)) from None
