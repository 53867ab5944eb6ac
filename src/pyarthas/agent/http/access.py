"""Who may talk to the agent: the one Origin/Host/credentials decision for every front door.

    check_access(policy, headers, peer, query) -> Optional[Refusal]

- ``policy``: the agent's ``AccessPolicy`` (``agent.access``), built once from its options.
- ``headers``: the request's headers, names in lower case (``{"host": ..., "origin": ..., "authorization": ...}``);
  a transport without headers (telnet) passes ``{}``.
- ``peer``: a ``Peer`` (the client's address, the local address it reached, whether it came over the Unix socket).
- ``query``: the URL's query string (``password=...&username=...``, ``token=...``), ``""`` when none.
Returns None when the request may go on, else a ``Refusal`` (HTTP status, text, extra headers) to answer with.

The checks, in order:
1. Host (DNS rebinding): a browser tricked into talking to us sends the attacker's name as ``Host``. Accepted
   names are the loopback names, the bound address, the local address the connection reached, and, when bound
   beyond loopback, the machine's host name; plus whatever the operator allows (``--allow-host``).
2. Origin: a browser request from another origin (``Origin`` that is not ``http://<Host>``) is refused.
3. Credentials, as Arthas's ``HttpAuthenticator``: Basic ``Authorization`` or ``?password=[&username=]``.
   Credentials that are presented are always checked, even from loopback (a wrong password is a 401);
   without any, a connection from ``127.0.0.1`` passes when ``localConnectionNonAuth`` is true (Arthas's
   default). Over the Unix socket (mode 0600: only the target's user reaches it) no credentials are needed.
4. Beyond Arthas, the per-user token (opt-in): every TCP request must present it, as
   ``Authorization: Bearer TOKEN`` or ``?token=TOKEN``; it is written to a file only the target's user can
   read (see ``token_file``), so another local user on a shared host cannot run code in the target. A valid
   token is a credential by itself (it stands in for the password).
"""
import base64
import hmac
import os
import socket
import urllib.parse
from typing import Iterable, Mapping, NamedTuple, Optional, Set, Tuple

from ..util.net import is_loopback

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]", "::1")
REALM_HEADER = {"WWW-Authenticate": 'Basic realm="arthas webconsole"'}


class Peer(NamedTuple):
    address: str                 # the client's IP ("" over the Unix socket)
    local_address: str = ""      # the address of ours it connected to
    unix_socket: bool = False


class Refusal(NamedTuple):
    status: int
    message: str
    headers: Mapping[str, str] = {}


class AccessPolicy:
    def __init__(self, bind_ip: str, username: str, password: Optional[str], allow_hosts: Iterable[str] = (),
                 local_connection_non_auth: bool = True, token: Optional[str] = None):
        self.bind_ip = bind_ip
        self.username = username
        self.password = password
        self.local_connection_non_auth = local_connection_non_auth
        self.token = token
        self.hosts: Set[str] = {_normal(h) for h in LOOPBACK_HOSTS}
        self.hosts.update(_normal(h) for h in allow_hosts)
        self.hosts.add(_normal(bind_ip))  # the address printed in the agent's URL, even 0.0.0.0
        if not is_loopback(bind_ip):
            self.hosts.update(_machine_names())

    def check(self, headers: Mapping[str, str], peer: Peer, query: str = "") -> Optional[Refusal]:
        host = headers.get("host")
        if host is not None and not peer.unix_socket and not self._known_host(_host_name(host), peer):
            return Refusal(403, "Forbidden: foreign Host")
        origin = headers.get("origin")
        if origin is not None and (host is None or origin.rstrip("/").lower() != "http://" + host.strip().lower()):
            return Refusal(403, "Forbidden: cross-origin request")
        return self._authenticate(headers.get("authorization"), peer, query)

    def _known_host(self, name: str, peer: Peer) -> bool:
        return name in self.hosts or (bool(peer.local_address) and name == _normal(peer.local_address))

    def _authenticate(self, authorization: Optional[str], peer: Peer, query: str) -> Optional[Refusal]:
        unauthorized = Refusal(401, "", REALM_HEADER)
        if self.token is not None and not peer.unix_socket:
            presented = _bearer(authorization) or _query_value(query, "token")
            if presented is None or not _same(presented, self.token):
                return unauthorized
            return None
        if not self.password:
            return None
        user, password = _credentials(authorization, query)
        if user is not None and password is not None:  # both or neither
            return None if self.check_password(user, password) else unauthorized
        if not self.needs_credentials(peer):
            return None
        return unauthorized

    @property
    def login_required(self) -> bool:
        """Whether sessions must authenticate at all (Arthas's ``SecurityAuthenticator.needLogin``)."""
        return self.token is not None or bool(self.password)

    def needs_credentials(self, peer: Peer) -> bool:
        """Whether ``peer`` must prove who it is (the token when one is required, else the password when
        one is set): what a shell without headers (telnet) asks for at its prompt."""
        if peer.unix_socket:
            return False
        if self.token is not None:
            return True
        if not self.password:
            return False
        return not (self.local_connection_non_auth and peer.address == "127.0.0.1")  # Arthas: this string only

    def check_password(self, user: str, password: str) -> bool:
        """For shells that authenticate in-band (telnet's ``auth [--username u] password``): with the token
        required, the token is the password."""
        if self.token is not None:
            return _same(password, self.token)
        if not self.password:
            return True
        return _same(user, self.username) and _same(password, self.password)


def check_access(policy: AccessPolicy, headers: Mapping[str, str], peer: Peer, query: str = "") -> Optional[Refusal]:
    return policy.check(headers, peer, query)


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))


def _machine_names() -> Set[str]:
    """The host name (short and as configured); interface addresses are matched per connection instead
    (``Peer.local_address``), which needs no lookup and covers exactly the address the client used."""
    try:
        name = socket.gethostname()
    except OSError:
        return set()
    return {_normal(name), _normal(name.split(".")[0])} if name else set()


def _normal(host: str) -> str:
    host = host.strip().lower()
    if ":" in host and not host.startswith("["):
        host = "[%s]" % host  # a bare IPv6 address, as it appears in a Host header
    return host


def _host_name(host: str) -> str:
    """``localhost:8563`` -> ``localhost``; ``[::1]:8563`` -> ``[::1]``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0] if ":" in host else host


def _bearer(authorization: Optional[str]) -> Optional[str]:
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return None


def _query_value(query: str, name: str) -> Optional[str]:
    values = urllib.parse.parse_qs(query).get(name)
    return values[0] if values else None


def _credentials(authorization: Optional[str], query: str) -> Tuple[Optional[str], Optional[str]]:
    """Arthas's order: the Basic header, else ``?password=`` (username defaults to ``arthas``)."""
    if authorization and authorization[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(authorization[6:].strip()).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return "", ""  # presented but unreadable: a wrong password
        user, _, password = decoded.partition(":")
        return user, password
    query_password = _query_value(query, "password")
    if query_password is not None:
        return _query_value(query, "username") or "arthas", query_password
    return None, None


def new_token() -> str:
    import secrets
    return secrets.token_urlsafe(32)


def token_dir() -> str:
    """Where token files go: ``$PYARTHAS_RUNTIME_DIR``, else ``$XDG_RUNTIME_DIR/pyarthas``, else
    ``~/.pyarthas/runtime`` (as Jupyter keeps ``jpserver-PID.json`` in its runtime folder)."""
    configured = os.environ.get("PYARTHAS_RUNTIME_DIR")
    if configured:
        return configured
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        return os.path.join(xdg, "pyarthas")
    return os.path.join(os.path.expanduser("~"), ".pyarthas", "runtime")


def token_file(pid: int) -> str:
    return os.path.join(token_dir(), "agent-%d.token" % pid)


def write_token_file(pid: int, token: str) -> str:
    """Writes ``token`` to a file only this user can read (folder 0700, file 0600, never group/world
    readable even for an instant); returns its path."""
    folder = token_dir()
    os.makedirs(folder, mode=0o700, exist_ok=True)
    os.chmod(folder, 0o700)
    path = token_file(pid)
    if os.path.lexists(path):
        os.unlink(path)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(token + "\n")
    return path
