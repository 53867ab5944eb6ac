"""A finished profile: named stacks with their sample counts, ready for the writers.

Stacks are tuples of ``Frame`` from the outermost frame (the thread's root, with ``--threads`` the
thread itself) to the innermost. ``--include``/``--exclude`` patterns (``*`` wildcards, as
async-profiler) keep only the stacks with a frame matching an include pattern and drop those with a frame
matching an exclude pattern.
"""
import fnmatch
import re
import time
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from .frames import Frame

Stack = Tuple[Frame, ...]


class Profile:
    def __init__(self, stacks: List[Tuple[Stack, int]], mode: str, interval: float, per_thread: bool,
                 started: float, ended: float, unit: str = "samples"):
        self.stacks = stacks
        self.mode = mode
        self.interval = interval
        self.per_thread = per_thread
        self.started = started
        self.ended = ended
        self.unit = unit     # what a count is: samples (of the interval), or bytes (alloc)

    @property
    def total(self) -> int:
        return sum(count for _, count in self.stacks)

    @property
    def title(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started))
        if self.unit != "samples":
            return "%s profile, %s %s, %s" % (self.mode, "{:,}".format(self.total), self.unit, when)
        return "%s profile, %s samples every %g ms, %s" % (
            self.mode, "{:,}".format(self.total), self.interval * 1000, when)


def from_engine(engine, started: float, includes: Sequence[str] = (), excludes: Sequence[str] = ()) -> Profile:
    """A snapshot of what an engine (``engines.Engine``) collected so far; stacks that name the same frames
    (distinct lines of one function, threads merged without --threads) add up."""
    merged: Dict[Stack, int] = {}
    for stack, count in engine.stacks():
        merged[stack] = merged.get(stack, 0) + count
    stacks = filter_stacks(list(merged.items()), includes, excludes)
    stacks.sort(key=lambda item: [f.name for f in item[0]])
    return Profile(stacks, engine.mode, engine.interval, engine.per_thread, started, time.time(), engine.unit)


def filter_stacks(stacks: List[Tuple[Stack, int]], includes: Sequence[str],
                  excludes: Sequence[str]) -> List[Tuple[Stack, int]]:
    include = _pattern(includes)
    exclude = _pattern(excludes)
    if include is None and exclude is None:
        return list(stacks)
    return [(stack, count) for stack, count in stacks
            if (include is None or _any_frame(include, stack)) and not (exclude and _any_frame(exclude, stack))]


def _pattern(globs: Iterable[str]) -> Optional["re.Pattern"]:
    globs = [g for g in globs if g]
    if not globs:
        return None
    return re.compile("|".join("(?:%s)" % fnmatch.translate(g) for g in globs))


def _any_frame(pattern, stack: Stack) -> bool:
    return any(pattern.match(frame.name) for frame in stack)


def collapsed(profile: Profile) -> str:
    """Brendan Gregg's folded format, one ``frame;frame;frame count`` line per stack (read by
    flamegraph.pl, speedscope, inferno...)."""
    return "".join("%s %d\n" % (";".join(_folded_name(f.name) for f in stack), count)
                   for stack, count in profile.stacks)


def _folded_name(name: str) -> str:
    return name.replace(";", ":").replace("\n", " ")


class Node:
    __slots__ = ("name", "value", "children")

    def __init__(self, name: str):
        self.name = name
        self.value = 0
        self.children: Dict[str, "Node"] = {}


def tree(profile: Profile) -> Node:
    """Stacks merged into a call tree by frame name, under a root named ``all``."""
    root = Node("all")
    for stack, count in profile.stacks:
        node = root
        node.value += count
        for frame in stack:
            child = node.children.get(frame.name)
            if child is None:
                child = node.children[frame.name] = Node(frame.name)
            child.value += count
            node = child
    return root
