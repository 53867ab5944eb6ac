"""pyarthas: live diagnostics for running Python processes, speaking the Arthas HTTP API.

In a program: ``import pyarthas; pyarthas.start()`` serves the API on ``127.0.0.1:8563``.
Importing this package does nothing else, and pulls in only the standard library.
"""
from typing import Optional

from .agent.version import VERSION as __version__


def start(ip: str = "127.0.0.1", port: int = 8563, output_dir: Optional[str] = None, password: Optional[str] = None,
          username: Optional[str] = None, allow_hosts=(), local_connection_non_auth: bool = True, token: bool = False,
          unix_socket: Optional[str] = None, telnet_port: int = 3658, tunnel_server: Optional[str] = None,
          app_name: Optional[str] = None, agent_id: Optional[str] = None, wire_format: Optional[str] = None,
          fleet: Optional[str] = None, fleet_key: Optional[str] = None):
    """Start the agent in this process; returns it (``agent.url`` tells where it serves).

    ``password``/``username``: HTTP Basic, as Arthas (bound beyond loopback without one, one is generated);
    ``allow_hosts``: more names accepted in the Host header; ``local_connection_non_auth=False`` asks the
    password from loopback too; ``token=True`` requires the per-user token written to ``agent.token_path``;
    ``unix_socket``: also serve on this Unix socket (mode 0600); ``telnet_port``: the shell on telnet
    (0 picks a free port, -1 turns telnet off), also at ``ws://.../ws``; ``tunnel_server``: register with
    this Arthas tunnel server (``ws://HOST:7777/ws``) as ``app_name`` / ``agent_id``, as Arthas's agent does;
    ``wire_format``: how the API writes results, ``"seed"`` (default) or ``"arthas4"`` (the global option
    ``wire-format``).

    ``fleet``: join the fleet on this Redis, ``redis://[user:pass@]HOST:PORT/DB`` or ``rediss://`` (default
    ``$PYARTHAS_FLEET``), as ``agent_id`` (default ``APPNAME@HOST:PID``) of the app ``app_name`` (default
    ``$PYARTHAS_APP_NAME``, else the program's name); requests must be signed with ``fleet_key`` (default
    ``$PYARTHAS_FLEET_KEY``: without a key the agent refuses to join, and says so). With the variables set,
    ``pyarthas.start()`` alone joins: call it in each worker after the fork (see docs/fleet.md)."""
    from .agent import start as _start
    return _start(ip=ip, port=port, output_dir=output_dir, password=password, username=username,
                  allow_hosts=allow_hosts, local_connection_non_auth=local_connection_non_auth, token=token,
                  unix_socket=unix_socket, telnet_port=telnet_port, tunnel_server=tunnel_server, app_name=app_name,
                  agent_id=agent_id, wire_format=wire_format, fleet=fleet, fleet_key=fleet_key)


def stop() -> None:
    """Stop the agent: every session closed, every enhanced function restored; the program carries on."""
    from .agent import stop as _stop
    _stop()


def arm() -> bool:
    """Let ``pyarthas attach PID`` reach this process without ptrace (a signal handler; call it from the
    main thread). True when armed. Importing pyarthas with ``PYARTHAS_ARM=1`` set does the same."""
    from .agent.arm import arm as _arm
    return _arm()


def _arm_if_requested() -> None:
    import os
    if os.environ.get("PYARTHAS_ARM") == "1":
        arm()


_arm_if_requested()

__all__ = ["start", "stop", "arm", "__version__"]
