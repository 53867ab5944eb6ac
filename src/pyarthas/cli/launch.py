"""``pyarthas demo`` and ``pyarthas run``: start the agent in this very process, then run the program."""
import argparse
import os
import runpy
import sys

from .agent_options import access_options, add_access_arguments


def configure(name, parser) -> None:
    parser.add_argument("--ip", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None,
                        help="HTTP port (default 8563, or a free one when that is taken; 0 picks a free one)")
    add_access_arguments(parser)
    if name == "run":
        parser.add_argument("-m", dest="module", metavar="MODULE", help="run a library module as a script")
        parser.add_argument("program", nargs=argparse.REMAINDER, metavar="script.py [args...]",
                            help="the script to run and its arguments (or the module's arguments with -m)")


def run(args) -> int:
    from ..agent import start
    if args.subcommand == "demo":
        return run_demo(args)
    program = list(args.program)
    if args.module:
        start(ip=args.ip, port=args.port, **access_options(args))
        sys.argv = [args.module] + program
        runpy.run_module(args.module, run_name="__main__", alter_sys=True)
        return 0
    if not program:
        sys.stderr.write("pyarthas run: give a script.py or -m module\n")
        return 2
    start(ip=args.ip, port=args.port, **access_options(args))
    sys.argv = program
    sys.path.insert(0, os.path.dirname(os.path.abspath(program[0])))
    runpy.run_path(program[0], run_name="__main__")
    return 0


def run_demo(args) -> int:
    """The demo's module ``demo`` lives in pyarthas's own folder, not in site-packages: put that folder on
    this process's path only. It is imported before the agent starts, so that ``demo.MathGame`` exists
    as soon as the agent answers."""
    from ..agent import start
    demo_dir = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "demo_app")
    sys.path.insert(0, demo_dir)
    import demo  # the demo's module, found on the path just added
    agent = start(ip=args.ip, port=args.port, **access_options(args))
    agent.main_class = "demo.MathGame"
    demo.main()
    return 0
