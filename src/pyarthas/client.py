"""The public Python client of the pyarthas HTTP session API (see ``pyarthas.cli.client`` for the docs)."""
from .cli.client import *  # noqa: F403
from .cli.client import __all__, __doc__  # noqa: F401
