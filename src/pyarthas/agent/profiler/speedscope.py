"""The speedscope file format (https://www.speedscope.app/file-format-schema.json): ``sampled``
profiles whose samples are our aggregated stacks, weighted in milliseconds. With ``--threads`` each
thread is its own profile, named after it."""
import json
from typing import Dict, List, Tuple

from ..version import VERSION
from .frames import Frame
from .profile import Profile, Stack

SCHEMA = "https://www.speedscope.app/file-format-schema.json"


def render_speedscope(profile: Profile) -> str:
    frames: List[Dict] = []
    index_of: Dict[Frame, int] = {}

    def frame_index(frame: Frame) -> int:
        found = index_of.get(frame)
        if found is None:
            found = index_of[frame] = len(frames)
            entry = {"name": frame.name}
            if frame.file:
                entry["file"] = frame.file
                entry["line"] = frame.line
            frames.append(entry)
        return found

    profiles = []
    for name, stacks in _split_by_thread(profile):
        weights = [count * profile.interval * 1000 for _, count in stacks]
        profiles.append({
            "type": "sampled", "name": name, "unit": "milliseconds",
            "startValue": 0, "endValue": sum(weights),
            "samples": [[frame_index(f) for f in stack] for stack, _ in stacks],
            "weights": weights,
        })
    document = {"$schema": SCHEMA, "shared": {"frames": frames}, "profiles": profiles,
                "name": profile.title, "activeProfileIndex": 0, "exporter": "pyarthas %s" % VERSION}
    return json.dumps(document, separators=(",", ":"))


def _split_by_thread(profile: Profile) -> List[Tuple[str, List[Tuple[Stack, int]]]]:
    if not profile.per_thread or not profile.stacks:
        return [("%s (all threads)" % profile.mode, profile.stacks)]
    by_thread: Dict[str, List[Tuple[Stack, int]]] = {}
    for stack, count in profile.stacks:
        by_thread.setdefault(stack[0].name, []).append((stack[1:], count))
    return sorted(by_thread.items())
