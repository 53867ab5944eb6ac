"""Who may open a terminal. One place, so that it follows the HTTP server's rules when those change.

``/ws`` arrives through the HTTP server, whose checks (foreign ``Host`` while bound to loopback, foreign
``Origin``, the password as HTTP Basic or ``?username=&password=`` on the URL, as Arthas's web console
sends it) run before the upgrade reaches this package. Telnet has no headers: the same policy
(``http.access.AccessPolicy``) says whether a client must authenticate; its shell then starts locked and
may run only ``auth PASSWORD`` (the token, when the agent requires one) until that succeeds, as Arthas's
telnet does. A client
that speaks HTTP to the telnet port (a browser tricked into posting to it) is refused before any line
runs.
"""
import re

from ..http.access import Peer

_HTTP_REQUEST_LINE = re.compile(r"^[A-Z]+ \S+ HTTP/\d")


def telnet_needs_password(agent, client_ip: str) -> bool:
    return agent.access.needs_credentials(Peer(client_ip))


def looks_like_http(line: str) -> bool:
    """A request line or a header a browser sends: such a client is no terminal."""
    return bool(_HTTP_REQUEST_LINE.match(line)) or line.lower().startswith(("host:", "origin:"))
