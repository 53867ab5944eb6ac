"""What the agent does not send unless asked: values that look like credentials, and the process environment.

A value reached under a name that looks like a credential (a mapping's key or an object's attribute:
``*PASSWORD*``, ``*SECRET*``, ``*TOKEN*``, ``*KEY*``, ``Authorization``, ``Cookie``...) is replaced by
``MASKED``. The environment (``os.environ``, and the entries of any mapping that repeat it, such as a WSGI
``environ`` or Django's ``request.META``) is shown by ``sysenv`` only, which masks credentials the same way.
``options mask-secrets false`` shows everything (Arthas's global options are process-wide, so is this one).
"""
import os
import re
from typing import Any, Dict

from .limits import FROM_ENVIRONMENT, MASKED

__all__ = ["MASKED", "FROM_ENVIRONMENT", "set_masking", "masking", "looks_secret", "is_environment",
           "environment"]

_CREDENTIAL = re.compile(r"PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|KEY|CREDENTIAL|COOKIE|AUTHORIZATION"
                         r"|(?<![A-Z])AUTH(?![A-Z])")
_ENVIRON_TYPE = type(os.environ)

_masking = [True]


def set_masking(enabled: bool) -> None:
    """``options mask-secrets``: False shows credentials and the environment in values."""
    _masking[0] = bool(enabled)


def masking() -> bool:
    return _masking[0]


_verdicts: Dict[str, bool] = {}   # names repeat (attributes, headers): each is searched once
_MAX_VERDICTS = 4096


def looks_secret(name: str) -> bool:
    """A name under which a credential is likely kept (case does not matter)."""
    verdict = _verdicts.get(name)
    if verdict is None:
        if len(_verdicts) >= _MAX_VERDICTS:
            _verdicts.clear()
        verdict = _verdicts[name] = _CREDENTIAL.search(name.upper()) is not None
    return verdict


def is_environment(obj: Any) -> bool:
    """``os.environ`` or ``os.environb``."""
    return type(obj) is _ENVIRON_TYPE


def environment() -> Dict[str, str]:
    """A copy of the process environment, to compare many mapping entries with (one per value converted)."""
    try:
        return dict(os.environ)
    except Exception:      # a variable that cannot be decoded: compare with none
        return {}
