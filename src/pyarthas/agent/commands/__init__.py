"""One module per command family. Importing this package registers every command in it."""
import importlib
import pkgutil


def load_all() -> None:
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module("%s.%s" % (__name__, info.name))
