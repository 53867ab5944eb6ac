"""The one Java object Arthas's tunnel server accepts from an agent: its ``SimpleHttpResponse``, in Java's
object serialization stream format (the Java Object Serialization Specification, chapter 6: "Object
Serialization Stream Protocol"). Only what that class needs is written: an ``int``, a ``byte[]`` and a
``java.util.HashMap<String, String>``, each object new (no back references).
"""
import struct
from typing import Dict

MAGIC, VERSION = 0xACED, 5
TC_NULL, TC_CLASSDESC, TC_OBJECT, TC_STRING, TC_ARRAY = 0x70, 0x72, 0x73, 0x74, 0x75
TC_BLOCKDATA, TC_ENDBLOCKDATA = 0x77, 0x78
SC_WRITE_METHOD, SC_SERIALIZABLE = 0x01, 0x02

RESPONSE_CLASS = "com.alibaba.arthas.tunnel.common.SimpleHttpResponse"
RESPONSE_UID = 1
BYTE_ARRAY_UID = -0x530CE807F9F7AB20  # byte[]'s serialVersionUID, fixed by the JDK
HASHMAP_UID = 362498820763181265  # java.util.HashMap's serialVersionUID
LOAD_FACTOR = 0.75


def simple_http_response(status: int, content: bytes, headers: Dict[str, str]) -> bytes:
    """``SimpleHttpResponse{status, content, headers}`` serialized. Fields go primitive first, then by name,
    as ``ObjectStreamClass`` orders them."""
    fields = [("I", "status", None), ("[", "content", "[B"), ("L", "headers", "Ljava/util/Map;")]
    out = bytearray(struct.pack(">HH", MAGIC, VERSION))
    out += bytes([TC_OBJECT]) + _class_desc(RESPONSE_CLASS, RESPONSE_UID, SC_SERIALIZABLE, fields)
    out += struct.pack(">i", status)
    out += bytes([TC_ARRAY]) + _class_desc("[B", BYTE_ARRAY_UID, SC_SERIALIZABLE, []) + struct.pack(
        ">i", len(content)) + content
    out += _hash_map(headers)
    return bytes(out)


def _hash_map(entries: Dict[str, str]) -> bytes:
    """A HashMap as its ``writeObject`` writes it: the default fields, then a block with the table's
    capacity and size, then each key and value."""
    capacity = 16
    while capacity * LOAD_FACTOR < len(entries):
        capacity *= 2
    fields = [("F", "loadFactor", None), ("I", "threshold", None)]
    out = bytearray([TC_OBJECT])
    out += _class_desc("java.util.HashMap", HASHMAP_UID, SC_SERIALIZABLE | SC_WRITE_METHOD, fields)
    out += struct.pack(">fi", LOAD_FACTOR, int(capacity * LOAD_FACTOR))
    out += struct.pack(">BBii", TC_BLOCKDATA, 8, capacity, len(entries))
    for key, value in entries.items():
        out += _string(key) + _string(value)
    out.append(TC_ENDBLOCKDATA)
    return bytes(out)


def _class_desc(name: str, uid: int, flags: int, fields) -> bytes:
    out = bytearray([TC_CLASSDESC]) + _utf(name) + struct.pack(">qBH", uid, flags, len(fields))
    for type_code, field_name, type_name in fields:
        out += type_code.encode("ascii") + _utf(field_name)
        if type_name is not None:
            out += _string(type_name)
    out += bytes([TC_ENDBLOCKDATA, TC_NULL])  # no class annotations; no serializable superclass
    return bytes(out)


def _string(text: str) -> bytes:
    return bytes([TC_STRING]) + _utf(text)


def _utf(text: str) -> bytes:
    """Java's "modified UTF-8" with a two-byte length: NUL as two bytes, characters beyond the BMP as
    surrogate pairs of three bytes each."""
    encoded = bytearray()
    for char in text.encode("utf-16-be", "surrogatepass").decode("utf-16-be", "surrogatepass"):
        code = ord(char)
        if code == 0:
            encoded += b"\xc0\x80"
        elif code > 0xFFFF:
            high, low = divmod(code - 0x10000, 0x400)
            for unit in (0xD800 + high, 0xDC00 + low):
                encoded += bytes([0xE0 | unit >> 12, 0x80 | (unit >> 6) & 0x3F, 0x80 | unit & 0x3F])
        else:
            encoded += char.encode("utf-8", "surrogatepass")
    if len(encoded) > 0xFFFF:
        raise ValueError("a Java string in a serialization stream holds at most 65535 bytes")
    return struct.pack(">H", len(encoded)) + bytes(encoded)
