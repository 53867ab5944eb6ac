"""Values and frames of the target as the agent sends them: one frame model (``frames``: Java's
StackTraceElement), one value serializer (``serializer.to_json_value``), the one place the target's
``str()`` runs (``tostring``, within a time budget) and the limits they obey (``limits``).

Below the engine and ``inspect`` (both use it), above nothing but ``util``."""
from .frames import frame_element, hide_frames_where, outward, traceback_elements
from .limits import DEFAULT_SIZE_LIMIT, MAX_EXPAND
from .serializer import named_value, to_json_value, type_name

__all__ = ["frame_element", "hide_frames_where", "outward", "traceback_elements", "DEFAULT_SIZE_LIMIT",
           "MAX_EXPAND", "named_value", "to_json_value", "type_name"]
