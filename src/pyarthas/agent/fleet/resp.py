"""A small Redis client on a plain socket (RESP2, https://redis.io/docs/latest/develop/reference/protocol-spec/):
what the fleet link needs and nothing more, so the agent stays stdlib only.

- ``redis://[user:password@]HOST:PORT/DB`` and ``rediss://`` (TLS through ``ssl``; ``?ssl_cert_reqs=none``
  and ``?ssl_ca_certs=PATH`` as redis-py reads them). ``AUTH user password`` (ACL) or ``AUTH password``.
- Redis Cluster: a ``MOVED slot host:port`` reply teaches which node serves the slot and the command is sent
  there; ``ASK`` sends it once to the other node after ``ASKING`` (the slot is migrating). Callers name the
  key a command is about, so the node is chosen by slot before sending.
- Every call has a socket timeout; a blocking command passes its own (its block time plus a margin).
Not thread-safe: each thread of the link owns its client.
"""
import socket
import ssl
import urllib.parse
from typing import Any, Dict, List, Optional, Tuple

CONNECT_TIMEOUT = 5.0
CALL_TIMEOUT = 10.0
MAX_REDIRECTS = 5
MAX_BULK = 64 * 1024 * 1024   # a reply bigger than this is not ours: the connection is dropped
CLUSTER_SLOTS = 16384


class RedisError(Exception):
    """Redis is unreachable or broke the protocol (the link reconnects)."""


class ReplyError(RedisError):
    """Redis answered ``-ERR ...`` (or another error reply) to one command."""


class FleetUrl:
    def __init__(self, url: str):
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("redis", "rediss"):
            raise ValueError("the fleet must be a redis:// or rediss:// URL, not %r" % url)
        self.tls = parsed.scheme == "rediss"
        self.host = parsed.hostname or "127.0.0.1"
        try:
            self.port = parsed.port or 6379
        except ValueError:
            raise ValueError("bad port in %r" % url) from None
        self.username = urllib.parse.unquote(parsed.username) if parsed.username else None
        self.password = urllib.parse.unquote(parsed.password) if parsed.password else None
        path = parsed.path.strip("/")
        if path and not path.isdigit():
            raise ValueError("the database in %r must be a number" % url)
        self.db = int(path or 0)
        query = urllib.parse.parse_qs(parsed.query)
        self.verify = (query.get("ssl_cert_reqs") or ["required"])[0].lower() not in ("none", "0", "false")
        self.ca_file: Optional[str] = (query.get("ssl_ca_certs") or [""])[0] or None

    def safe(self) -> str:
        """The URL without its password (for messages)."""
        user = (self.username + "@") if self.username else ("***@" if self.password else "")
        return "%s://%s%s:%d/%d" % ("rediss" if self.tls else "redis", user, self.host, self.port, self.db)


def key_slot(key: bytes) -> int:
    """Redis Cluster's slot of ``key``: CRC16 (XMODEM) of the hash tag ``{...}`` when it has one."""
    start = key.find(b"{")
    if start >= 0:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            key = key[start + 1:end]
    crc = 0
    for byte in key:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc % CLUSTER_SLOTS


class _Connection:
    def __init__(self, url: FleetUrl, host: str, port: int, ssl_context: Optional[ssl.SSLContext],
                 timeout: float):
        sock = socket.create_connection((host, port), timeout=timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if ssl_context is not None:
                sock = ssl_context.wrap_socket(sock, server_hostname=host)
        except (OSError, ssl.SSLError):
            sock.close()
            raise
        self.sock = sock
        self.reader = sock.makefile("rb")
        self.in_cluster = False
        if url.password is not None:
            self.call(("AUTH", url.username, url.password) if url.username else ("AUTH", url.password), timeout)
        if url.db:
            self.call(("SELECT", str(url.db)), timeout)

    def call(self, args, timeout: float = CALL_TIMEOUT) -> Any:
        self.sock.settimeout(timeout)
        self.sock.sendall(_encode(args))
        reply = self._read()
        if isinstance(reply, ReplyError):
            raise reply
        return reply

    def _read(self) -> Any:
        line = self.reader.readline(MAX_BULK)
        if not line.endswith(b"\r\n"):
            raise RedisError("connection closed by Redis")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode("utf-8", "replace")
        if kind == b"-":
            return ReplyError(rest.decode("utf-8", "replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            if size > MAX_BULK:
                raise RedisError("reply of %d bytes refused" % size)
            data = self.reader.read(size + 2)
            if len(data) != size + 2:
                raise RedisError("connection closed by Redis")
            return data[:-2]
        if kind == b"*":
            count = int(rest)
            return None if count < 0 else [self._read() for _ in range(count)]
        raise RedisError("not a Redis reply: %r" % line[:40])

    def close(self) -> None:
        for closer in (self.reader.close, self.sock.close):
            try:
                closer()
            except OSError:
                pass

    def abort(self) -> None:
        """From another thread: wake a blocked read (it then fails) without waiting for it."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _encode(args) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode("utf-8")
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class Redis:
    """Connections to the seed node and to whichever cluster nodes redirects name, one per node."""

    def __init__(self, url: FleetUrl):
        self.url = url
        self._ssl = _ssl_context(url) if url.tls else None
        self._connections: Dict[Tuple[str, int], _Connection] = {}
        self._slots: Dict[int, Tuple[str, int]] = {}
        self._closed = False

    def call(self, *args: Any, key: Optional[str] = None, timeout: float = CALL_TIMEOUT) -> Any:
        """Run one command (``key``: the key it is about, to route it in a cluster)."""
        slot = key_slot(key.encode("utf-8")) if key is not None else None
        node = self._slots.get(slot, (self.url.host, self.url.port)) if slot is not None else (
            self.url.host, self.url.port)
        asking = False
        for _ in range(MAX_REDIRECTS):
            connection = self._connection(node, min(timeout, CONNECT_TIMEOUT))
            try:
                if asking:
                    connection.call(("ASKING",))
                return connection.call(args, timeout)
            except ReplyError as error:
                redirect = _redirect(error)
                if redirect is None:
                    raise
                kind, redirect_slot, node = redirect
                node = (node[0] or self.url.host, node[1])  # "MOVED 1 :7001": the node does not know its address
                asking = kind == "ASK"
                if not asking:
                    self._slots[redirect_slot] = node
            except (OSError, ValueError) as error:  # ssl.SSLError is an OSError
                self._forget(node)
                raise RedisError("%s:%d: %s" % (node[0], node[1], error)) from None
            except RedisError:
                self._forget(node)
                raise
        raise RedisError("too many cluster redirects for %s" % (args[0],))

    def _connection(self, node: Tuple[str, int], timeout: float) -> _Connection:
        connection = self._connections.get(node)
        if connection is None:
            if self._closed:
                raise RedisError("closed")
            try:
                connection = _Connection(self.url, node[0], node[1], self._ssl, timeout)
            except ReplyError as error:
                raise RedisError("%s:%d refused us: %s" % (node[0], node[1], error)) from None
            except (OSError, ValueError) as error:
                raise RedisError("cannot reach Redis at %s:%d (%s)" % (node[0], node[1], error)) from None
            self._connections[node] = connection
        return connection

    def _forget(self, node: Tuple[str, int]) -> None:
        """A node that failed: its slots are asked of the seed again (after a failover it redirects to the new
        master)."""
        self._drop(node)
        self._slots = {slot: known for slot, known in self._slots.items() if known != node}

    def _drop(self, node: Tuple[str, int]) -> None:
        connection = self._connections.pop(node, None)
        if connection is not None:
            connection.close()

    def close(self) -> None:
        for node in list(self._connections):
            self._drop(node)

    def abort(self) -> None:
        """From another thread: wake whatever blocking call is under way and refuse new ones."""
        self._closed = True
        for connection in list(self._connections.values()):
            connection.abort()


def _redirect(error: ReplyError) -> Optional[Tuple[str, int, Tuple[str, int]]]:
    words = str(error).split()
    if len(words) != 3 or words[0] not in ("MOVED", "ASK"):
        return None
    host, _, port = words[2].rpartition(":")
    return words[0], int(words[1]), (host.strip("[]"), int(port))


def _ssl_context(url: FleetUrl) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=url.ca_file)
    if not url.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def pairs(flat: Optional[List[Any]]) -> Dict[str, bytes]:
    """A stream entry's ``[field, value, ...]`` as a dict (field names decoded)."""
    flat = flat or []
    return {flat[i].decode("utf-8", "replace"): flat[i + 1] for i in range(0, len(flat) - 1, 2)}
