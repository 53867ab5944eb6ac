"""The agent's options (access and the telnet shell), shared by ``run``, ``demo`` and ``attach``
(``pyarthas.start()`` takes the same names as keyword arguments)."""


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
    parser.add_argument("--telnet-port", type=int, default=None,
                        help="telnet port of the shell (default 3658, or a free one when that is taken; 0 picks "
                             "a free one, -1 disables)")
    parser.add_argument("--unix-socket", metavar="PATH",
                        help="also serve the API on this Unix socket (mode 0600: only the target's user)")


def access_options(args) -> dict:
    return {"allow_hosts": list(args.allow_hosts),
            "local_connection_non_auth": args.local_connection_non_auth == "true",
            "token": args.token, "unix_socket": args.unix_socket, "telnet_port": args.telnet_port}
