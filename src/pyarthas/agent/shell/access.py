"""Who may open a terminal. One place, so that it follows the HTTP server's rules when those change.

``/ws`` arrives through the HTTP server, whose checks (foreign ``Host`` while bound to loopback, foreign
``Origin``, the password as HTTP Basic or ``?username=&password=`` on the URL, as Arthas's web console
sends it) run before the upgrade reaches this package. Telnet has no headers: a client from anywhere but
127.0.0.1 must type the password when one is set (Arthas's rule for local connections), and a client
that speaks HTTP to the telnet port (a browser tricked into posting to it) is refused before any line
runs.
"""
import hmac
import re

LOCAL_CLIENT = "127.0.0.1"
_HTTP_REQUEST_LINE = re.compile(r"^[A-Z]+ \S+ HTTP/\d")


def telnet_needs_password(agent, client_ip: str) -> bool:
    return bool(agent.password) and client_ip != LOCAL_CLIENT


def password_matches(agent, password: str) -> bool:
    return hmac.compare_digest(password.encode("utf-8"), (agent.password or "").encode("utf-8"))


def looks_like_http(line: str) -> bool:
    """A request line or a header a browser sends: such a client is no terminal."""
    return bool(_HTTP_REQUEST_LINE.match(line)) or line.lower().startswith(("host:", "origin:"))
