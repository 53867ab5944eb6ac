"""One module per command family. Importing them registers every command in them."""
import importlib
import pkgutil
import sys


def load_all() -> None:
    """Import every command module; one that fails to import is reported on stderr and skipped, so that
    the agent still starts with the others."""
    for info in pkgutil.iter_modules(__path__):
        try:
            importlib.import_module("%s.%s" % (__name__, info.name))
        except Exception as exc:
            sys.stderr.write("pyarthas: command module %s failed to load: %r\n" % (info.name, exc))
