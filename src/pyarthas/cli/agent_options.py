"""The agent's options (access, the telnet shell, the API's wire dialect, the ways out: Arthas's tunnel server and
the fleet), shared by ``run``, ``demo`` and ``attach``
(``pyarthas.start()`` takes the same names as keyword arguments)."""
import os


def add_access_arguments(parser) -> None:
    parser.add_argument("--allow-host", dest="allow_hosts", action="append", default=[], metavar="NAME",
                        help="also accept this name in the Host header (repeatable); loopback names, the bound "
                             "address and, bound beyond loopback, this machine's name are accepted already")
    parser.add_argument("--local-connection-non-auth", choices=("true", "false"), default="true",
                        help="as Arthas: 'true' (default) lets connections from 127.0.0.1 in without the "
                             "password; 'false' asks for it from loopback too")
    parser.add_argument("--token", action="store_true",
                        help="require a per-user token on every TCP request (Authorization: Bearer TOKEN or "
                             "?token=TOKEN); the agent writes it to a file only the target's user can read")
    parser.add_argument("--telnet-port", type=int, default=3658,
                        help="telnet port of the shell (default 3658, 0 picks a free one, -1 disables)")
    parser.add_argument("--wire-format", choices=("seed", "arthas4"), default="seed",
                        help="how the HTTP API writes results: 'seed' (default: times as epoch ms, values as "
                             "structured JSON, as Arthas's HTTP API documentation shows) or 'arthas4' (times as "
                             "text, values as Arthas's display text, as Arthas 4 sends them); the global "
                             "option wire-format changes it at run time")
    parser.add_argument("--unix-socket", metavar="PATH",
                        help="also serve the API on this Unix socket (mode 0600: only the target's user)")
    parser.add_argument("--tunnel-server", metavar="URL",
                        help="register with this Arthas tunnel server (ws://HOST:7777/ws), as Arthas's agent does")
    parser.add_argument("--fleet", metavar="redis://[USER:PASS@]HOST:PORT/DB",
                        help="join the fleet on this Redis (or rediss:// for TLS; default $PYARTHAS_FLEET); "
                             "requests must be signed with $PYARTHAS_FLEET_KEY, without which the agent refuses "
                             "to join")
    parser.add_argument("--app-name", metavar="NAME",
                        help="the application's name in the tunnel server and the fleet (default "
                             "$PYARTHAS_APP_NAME; in the fleet, else the program's name)")
    parser.add_argument("--agent-id", metavar="ID",
                        help="the agent's id (default $PYARTHAS_AGENT_ID, else in the tunnel server the server's "
                             "APPNAME_<random>, in the fleet APPNAME@HOST:PID, e.g. shop@web-1:4242)")


def access_options(args) -> dict:
    """Keyword arguments of ``start()``; the fleet key rides along from this environment (for ``attach``, whose
    target has its own environment)."""
    return {"fleet": args.fleet, "fleet_key": os.environ.get("PYARTHAS_FLEET_KEY") or None,
            "allow_hosts": list(args.allow_hosts),
            "local_connection_non_auth": args.local_connection_non_auth == "true",
            "token": args.token, "unix_socket": args.unix_socket, "telnet_port": args.telnet_port,
            "tunnel_server": args.tunnel_server, "app_name": args.app_name, "agent_id": args.agent_id,
            "wire_format": args.wire_format}
