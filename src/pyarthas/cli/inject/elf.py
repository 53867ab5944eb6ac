"""Just enough of ELF64 (little endian) to find a library's exported functions and the unused bytes at
the end of its code segment."""
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
        with open(path, "rb") as handle:
            self.data = handle.read()
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
        wanted = {name.encode() for name in names}
        found: Dict[str, int] = {}
        for index in range(self.shnum):
            _name, sh_type, _flags, _addr, sh_offset, sh_size, sh_link, _info, _align, sh_entsize = \
                struct.unpack_from("<IIQQQQIIQQ", self.data, self.shoff + index * self.shentsize)
            if sh_type != SHT_DYNSYM or not sh_entsize:
                continue
            strtab_offset = struct.unpack_from("<Q", self.data, self.shoff + sh_link * self.shentsize + 24)[0]
            for position in range(sh_offset, sh_offset + sh_size, sh_entsize):
                st_name, st_info, _other, st_shndx, st_value, _size = struct.unpack_from(
                    "<IBBHQQ", self.data, position)
                if st_shndx == 0 or (st_info & 0xF) != STT_FUNC:
                    continue
                end = self.data.index(b"\0", strtab_offset + st_name)
                name = self.data[strtab_offset + st_name:end]
                if name in wanted:
                    found[name.decode()] = st_value
        return found
