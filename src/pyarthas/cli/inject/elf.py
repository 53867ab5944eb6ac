"""Just enough of ELF64 (little endian) to find a library's exported functions and the unused bytes at
the end of its code segment."""
import mmap
import re
import struct
from typing import Dict, Iterable, List, NamedTuple

PT_LOAD = 1
PF_X = 1
SHT_DYNSYM = 11
STT_FUNC = 2
ET_EXEC = 2


class Segment(NamedTuple):
    vaddr: int
    memsz: int
    offset: int
    filesz: int
    executable: bool


class ElfFile:
    def __init__(self, path: str):
        with open(path, "rb") as handle:  # mapped, not read: a libpython is 20 MB and we need a few pages
            self.data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        if self.data[:4] != b"\x7fELF" or self.data[4] != 2 or self.data[5] != 1:
            raise ValueError("%s is not a 64-bit little-endian ELF file" % path)
        (self.type, _machine, _version, _entry, self.phoff, self.shoff, _flags, _ehsize, self.phentsize,
         self.phnum, self.shentsize, self.shnum, _shstrndx) = struct.unpack_from("<HHIQQQIHHHHHH", self.data, 16)

    @property
    def is_position_independent(self) -> bool:
        return self.type != ET_EXEC

    def segments(self) -> List[Segment]:
        found = []
        for index in range(self.phnum):
            p_type, p_flags, p_offset, p_vaddr, _paddr, p_filesz, p_memsz, _align = struct.unpack_from(
                "<IIQQQQQQ", self.data, self.phoff + index * self.phentsize)
            if p_type == PT_LOAD:
                found.append(Segment(p_vaddr, p_memsz, p_offset, p_filesz, bool(p_flags & PF_X)))
        return found

    def functions(self, names: Iterable[str]) -> Dict[str, int]:
        """Addresses (relative to the load bias) of the exported functions among ``names``."""
        found: Dict[str, int] = {}
        for index in range(self.shnum):
            _name, sh_type, _flags, _addr, sh_offset, sh_size, sh_link, _info, _align, sh_entsize = \
                struct.unpack_from("<IIQQQQIIQQ", self.data, self.shoff + index * self.shentsize)
            if sh_type != SHT_DYNSYM or sh_entsize != 24:
                continue
            strtab_offset, strtab_size = struct.unpack_from("<QQ", self.data,
                                                            self.shoff + sh_link * self.shentsize + 24)
            strings = self.data[strtab_offset:strtab_offset + strtab_size]
            # where each name starts in the string table (a name may also end a longer string)
            wanted = {}
            for name in names:
                for match in re.finditer(re.escape(name.encode()) + b"\0", strings):
                    wanted[match.start()] = name
            symbols = self.data[sh_offset:sh_offset + sh_size]
            for st_name, st_info, _other, st_shndx, st_value, _size in struct.iter_unpack("<IBBHQQ", symbols):
                if st_name in wanted and st_shndx != 0 and (st_info & 0xF) == STT_FUNC:
                    found[wanted[st_name]] = st_value
        return found
