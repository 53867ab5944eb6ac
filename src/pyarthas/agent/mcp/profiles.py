"""The top frames of a profile, as text an assistant reads, from the profiler's collapsed stacks
(``frame;frame;leaf count`` per line, the format of ``profiler dump -o collapsed``)."""
import os
from typing import Any, Dict, List, Tuple

TOP = 15


def top_frames_text(path: str, output_root: str, top: int = TOP) -> Tuple[str, List[Dict[str, Any]]]:
    """(text, frames): the frames holding the most samples, by self and by total (inclusive) samples."""
    if not os.path.isabs(path):
        path = os.path.join(output_root, path.lstrip("/"))
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return "", []
    self_counts: Dict[str, int] = {}
    total_counts: Dict[str, int] = {}
    samples = 0
    for line in lines:
        stack, _, count_text = line.rpartition(" ")
        try:
            count = int(count_text)
        except ValueError:
            continue
        frames = stack.split(";")
        samples += count
        self_counts[frames[-1]] = self_counts.get(frames[-1], 0) + count
        for frame in set(frames):
            total_counts[frame] = total_counts.get(frame, 0) + count
    if not samples:
        return "No samples were taken.", []
    ranked = sorted(self_counts, key=lambda f: (-self_counts[f], -total_counts[f]))[:top]
    top_frames: List[Dict[str, Any]] = [
        {"frame": f, "selfSamples": self_counts[f], "totalSamples": total_counts[f],
         "selfPercent": round(100.0 * self_counts[f] / samples, 1),
         "totalPercent": round(100.0 * total_counts[f] / samples, 1)} for f in ranked]
    rows = ["Top frames by self samples (%d samples):" % samples, "   SELF%  TOTAL%  FRAME"]
    rows += ["  %5.1f%%  %5.1f%%  %s" % (f["selfPercent"], f["totalPercent"], f["frame"]) for f in top_frames]
    return "\n".join(rows), top_frames
