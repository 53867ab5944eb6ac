"""Random identifiers in Arthas's formats, without importing ``uuid`` (and what it pulls in)."""
import os


def random_uuid() -> str:
    """A version 4 UUID as text, as Java's ``UUID.randomUUID().toString()``."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    text = raw.hex()
    return "%s-%s-%s-%s-%s" % (text[:8], text[8:12], text[12:16], text[16:20], text[20:])


def random_hex32() -> str:
    """32 lowercase hex digits (a UUID without dashes, as Arthas's consumer ids)."""
    return random_uuid().replace("-", "")
