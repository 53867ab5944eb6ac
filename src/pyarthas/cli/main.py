"""``pyarthas`` / ``python -m pyarthas``: one subcommand per module, each with ``configure(parser)`` and
``run(args) -> int``."""
import argparse
import importlib
import os
import sys
from typing import List, Optional

from ..agent import VERSION

# subcommand -> (module under pyarthas.cli, one-line help)
SUBCOMMANDS = {
    "demo": ("launch", "run the demo (demo.MathGame) with the agent started"),
    "run": ("launch", "run a script or module (-m) with the agent started"),
    "attach": ("attach", "load the agent into a running Python process"),
    "ps": ("attach", "list the Python processes this user can see"),
    "console": ("console", "interactive console over the HTTP API"),
    "fleet": ("fleet", "the agents of a fleet (Redis): list them, run a command on all, or serve a gateway"),
    "mcp": ("mcp", "MCP server on stdin/stdout for AI assistants (bridges to an agent's /mcp)"),
    "jfr": ("jfr_view", "read a flight record written by the agent's jfr command (dump/stop)"),
}
# Subcommands that start the agent in this process: --mcp-allow-writes lets its /mcp tools change it.
STARTS_AGENT = ("demo", "run")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pyarthas",
        description="Live diagnostics for running Python processes, speaking the Arthas HTTP API. "
                    "Without a subcommand: choose a Python process, attach to it and open the console.")
    parser.add_argument("--version", action="version", version="pyarthas " + VERSION)
    sub = parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        try:
            module = _module(module_name)
        except ImportError as exc:  # one broken subcommand must not take the others down
            sub_parser.set_defaults(_module=_Unavailable(name, exc))
            continue
        module.configure(name, sub_parser)
        if name in STARTS_AGENT:
            sub_parser.add_argument("--mcp-allow-writes", action="store_true",
                                    help="let MCP clients (/mcp) run the tools that change the process")
        sub_parser.set_defaults(_module=module)
    return parser


class _Unavailable:
    def __init__(self, name: str, error: Exception):
        self.message = "pyarthas %s is not available here: %s\n" % (name, error)

    def run(self, args) -> int:
        sys.stderr.write(self.message)
        return 2

    def choose_and_attach(self, args) -> int:
        return self.run(args)


def _module(module_name: str):
    return importlib.import_module("%s.%s" % (__package__, module_name))


def main(argv: Optional[List[str]] = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.subcommand is None:
        args = parser.parse_args(argv)
        try:
            chooser = _module("attach")
        except ImportError as exc:
            chooser = _Unavailable("attach", exc)
        sys.exit(chooser.choose_and_attach(args))
    if extra:
        parser.parse_args(argv)  # reports the unknown arguments the usual way
    if getattr(args, "mcp_allow_writes", False):
        os.environ["PYARTHAS_MCP_ALLOW_WRITES"] = "1"  # read by the agent's settings when it starts
    sys.exit(args._module.run(args) or 0)
