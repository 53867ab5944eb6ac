"""The limits every value the agent sends obeys: how deep objects expand, how large the JSON of one result may
grow (Arthas's ``options object-size-limit``, 10 MiB by default) and how long turning one result into JSON may
take. Views import these too, so the console cuts where the agent does."""
import re

DEFAULT_SIZE_LIMIT = 10 * 1024 * 1024
MAX_EXPAND = 4
SIZE_MARKER = ("... Object size exceeds size limit: %d, try to use `options object-size-limit <bytes>` "
               "to increase the limit.")

# Serializing one result (one watch value, one ognl answer...) may take this long. Past it the rest of the
# value is cut with TIME_MARKER, and user code (``__str__``/``__repr__``) is no longer called.
TIME_BUDGET_S = 1.0
TIME_MARKER = "... Serializing this value took longer than %d ms; the rest is left out."
# The budget of every value, whatever the size limit: a container shows its first MAX_ITEMS items then
# MORE_MARKER (a trailing array element, or the value of a "..." key); a string its first MAX_STRING
# characters then MORE_CHARS_MARKER. A container past the -x depth shows SIZE_SUMMARY, as Arthas's view does.
MAX_ITEMS = 100
MAX_STRING = 4096
MORE_MARKER = "... %d more"
MORE_CHARS_MARKER = "... %d more chars"
SIZE_SUMMARY = "isEmpty=%s;size=%d"
# In place of a credential, and of the process environment (see ``secrets``).
MASKED = "<masked: options mask-secrets false shows it>"
FROM_ENVIRONMENT = "<environment: sysenv shows it>"
ENVIRONMENT_ENTRIES = "<environment: %d entries left out, sysenv shows them>"
MAPPING_SUMMARY = "<a mapping: -x %d shows its entries (its text could show credentials unmasked)>"
# How the markers begin: a view prints a string starting so as it is, not as a value.
MARKER_STARTS = (SIZE_MARKER[:SIZE_MARKER.index(":")], TIME_MARKER[:TIME_MARKER.index("took")], MASKED,
                 FROM_ENVIRONMENT[:FROM_ENVIRONMENT.index(":")])
_MORE = re.compile(r"\.\.\. \d+ more")


def is_marker(text: str) -> bool:
    """``text`` is one of the agent's markers (printed as it is), not a value."""
    return text.startswith(MARKER_STARTS) or _MORE.fullmatch(text) is not None
