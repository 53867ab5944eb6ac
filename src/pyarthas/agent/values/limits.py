"""The limits every value the agent sends obeys: how deep objects expand, how large the JSON of one result may
grow (Arthas's ``options object-size-limit``, 10 MiB by default) and how long turning one result into JSON may
take. Views import these too, so the console cuts where the agent does."""

DEFAULT_SIZE_LIMIT = 10 * 1024 * 1024
MAX_EXPAND = 4
SIZE_MARKER = ("... Object size exceeds size limit: %d, try to use `options object-size-limit <bytes>` "
               "to increase the limit.")

# Serializing one result (one watch value, one ognl answer...) may take this long. Past it the rest of the
# value is cut with TIME_MARKER, and user code (``__str__``/``__repr__``) is no longer called.
TIME_BUDGET_S = 1.0
TIME_MARKER = "... Serializing this value took longer than %d ms; the rest is left out."
# How the markers begin: a view prints a string starting so as it is, not as a value.
MARKER_STARTS = (SIZE_MARKER[:SIZE_MARKER.index(":")], TIME_MARKER[:TIME_MARKER.index("took")])
