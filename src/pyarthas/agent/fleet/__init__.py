"""The fleet: agents join the Redis their service already runs, and tools reach every one of them through it.

- ``resp``: the stdlib Redis client (RESP2, TLS, ACL, cluster redirects).
- ``protocol``: key names, the signed request envelope, the verifier (shared with the tools).
- ``link``: registration, heartbeat and the request loop of one agent.

``join(agent, ...)`` is what the agent calls at start. Arthas's own tunnel protocol (``--tunnel-server``,
``agent/tunnel``) is the other way out, with the same ``--app-name`` and ``--agent-id``; both reach the agent
through its own action layer, and ``session`` shows whichever the agent has.
"""
import os
import socket
import sys
from typing import Optional, Tuple

from . import protocol
from .resp import FleetUrl

DEFAULT_AGENT_ID = "APPNAME@HOST:PID"   # what --agent-id defaults to (said in the CLI's help)


def default_app_name() -> str:
    """The program's name: ``shop`` for ``python shop.py`` or ``python -m shop``, else ``python``."""
    argv0 = os.path.basename((sys.argv or [""])[0] or "")
    name = argv0[:-3] if argv0.endswith(".py") else argv0
    if name in ("", "-c", "-m", "__main__"):
        main = sys.modules.get("__main__")
        spec = getattr(main, "__spec__", None)
        name = spec.name.rsplit(".", 1)[0] if spec is not None and spec.name else "python"
    cleaned = "".join(c if protocol.APP_NAME.match(c) else "_" for c in name)[:100]
    return cleaned or "python"


def default_agent_id(app: str) -> str:
    return "%s@%s:%d" % (app, socket.gethostname(), os.getpid())


def resolve(url: Optional[str], app: Optional[str], agent_id: Optional[str], key: Optional[str]
            ) -> Tuple[Optional[FleetUrl], str, str, Optional[bytes]]:
    """The fleet settings from the options, else from ``$PYARTHAS_FLEET``, ``$PYARTHAS_APP_NAME`` and
    ``$PYARTHAS_FLEET_KEY``; ValueError for a bad URL, app name or id. (The agent passes the id it was given,
    or ``$PYARTHAS_AGENT_ID``: a pool's workers share their environment, so leave that one unset there.)"""
    url = url or os.environ.get("PYARTHAS_FLEET") or None
    app = protocol.check_app_name(app or os.environ.get("PYARTHAS_APP_NAME") or default_app_name())
    agent_id = protocol.check_agent_id(agent_id or default_agent_id(app))
    return (FleetUrl(url) if url else None), app, agent_id, protocol.fleet_key(key)


def join(agent, url: Optional[str], app: Optional[str], agent_id: Optional[str], key: Optional[str]):
    """(the started ``FleetLink`` or None, a line for the user or None). Never raises: a fleet that cannot be
    joined costs the fleet only, the agent serves on."""
    try:
        fleet_url, app_name, the_id, secret = resolve(url, app, agent_id, key)
    except ValueError as error:
        return None, "pyarthas fleet: not joined: %s" % error
    if fleet_url is None:
        return None, None
    if secret is None:
        return None, ("pyarthas fleet: not joined: no fleet key (set $%s to the secret the fleet's tools share; "
                      "without it anyone who can write to Redis could run commands here)" % protocol.KEY_ENV)
    from .link import FleetLink
    link = FleetLink(agent, fleet_url, app_name, the_id, secret).start()
    return link, "pyarthas fleet: joining %s as %s (app %s)" % (fleet_url.safe(), the_id, app_name)
