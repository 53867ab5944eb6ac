"""``--format md[=N]``: the profile as a Markdown report (Arthas's ProfilerMarkdown shape), which AI
assistants read best: the top N functions by self samples, the top N stacks, the call tree's hottest
branches, and each hot function's top stacks."""
from typing import Dict, List, Tuple

from .profile import Node, Profile, tree

TREE_DEPTH = 8
TREE_CHILDREN = 5
TREE_ROOTS = 10
STACKS_PER_FUNCTION = 3


def render_markdown(profile: Profile, top: int = 10) -> str:
    total = profile.total
    stacks = [(_stack_text(profile, stack), _leaf(profile, stack), count) for stack, count in profile.stacks]
    self_counts: Dict[str, int] = {}
    by_leaf: Dict[str, List[Tuple[int, str]]] = {}
    for text, leaf, count in stacks:
        if not leaf:
            continue
        self_counts[leaf] = self_counts.get(leaf, 0) + count
        by_leaf.setdefault(leaf, []).append((count, text))
    hotspots = sorted(self_counts.items(), key=lambda item: -item[1])[:top]
    hottest_stacks = sorted(stacks, key=lambda item: -item[2])[:top]

    lines = ["# pyarthas profiler report (Markdown)", "",
             "- event: %s" % profile.mode,
             "- threads: %s" % ("true" if profile.per_thread else "false"),
             "- total %s: %d" % (profile.unit, total), ""]
    lines += ["## Top %d hotspots (self)" % top, "",
              "| rank | function | self_%s | self_percent |" % profile.unit, "| ---: | --- | ---: | ---: |"]
    lines += ["| %d | %s | %d | %s |" % (rank, _cell(name), count, _percent(count, total))
              for rank, (name, count) in enumerate(hotspots, 1)] or ["| - | - | 0 | 0.00% |"]
    lines += ["", "## Top %d stacks" % top, "",
              "| rank | %s | percent | stack |" % profile.unit, "| ---: | ---: | ---: | --- |"]
    lines += ["| %d | %d | %s | %s |" % (rank, count, _percent(count, total), _cell(text))
              for rank, (text, _, count) in enumerate(hottest_stacks, 1)] or ["| - | 0 | 0.00% | - |"]
    lines += ["", "## Call tree (top)", "", "```text"]
    lines += _tree_lines(profile, total, min(top, TREE_ROOTS)) or ["-"]
    lines += ["```", "", "## Function details", ""]
    for name, count in hotspots:
        lines += ["### %s" % name, "", "- self: %d (%s)" % (count, _percent(count, total)), "- top stacks:"]
        for stack_count, text in sorted(by_leaf[name], key=lambda item: -item[0])[:STACKS_PER_FUNCTION]:
            lines.append("  - %d (%s) %s" % (stack_count, _percent(stack_count, total), text))
        lines.append("")
    lines += ["## Notes", "",
              "- `hotspots (self)` count a function when it is the innermost frame of a sample.",
              "- `stacks` are whole call paths, outermost first; `--format flamegraph` draws them.", ""]
    return "\n".join(lines)


def _stack_text(profile: Profile, stack) -> str:
    frames = stack[1:] if profile.per_thread else stack
    return ";".join(frame.name for frame in frames)


def _leaf(profile: Profile, stack) -> str:
    frames = stack[1:] if profile.per_thread else stack
    return frames[-1].name if frames else ""


def _tree_lines(profile: Profile, total: int, roots: int) -> List[str]:
    root = tree(profile)
    if profile.per_thread:   # the thread frames are not code: merge the threads' trees
        merged = Node("all")
        for thread in root.children.values():
            _merge(merged, thread)
        root = merged
    lines: List[str] = []
    for child in _hottest(root, roots):
        _tree_node(lines, child, total, 0)
    return lines


def _merge(into: Node, node: Node) -> None:
    for name, child in node.children.items():
        target = into.children.get(name)
        if target is None:
            target = into.children[name] = Node(name)
        target.value += child.value
        _merge(target, child)


def _tree_node(lines: List[str], node: Node, total: int, depth: int) -> None:
    if depth >= TREE_DEPTH:
        return
    lines.append("%s(%s) %d %s" % ("  " * depth, _percent(node.value, total), node.value, node.name))
    for child in _hottest(node, TREE_CHILDREN):
        _tree_node(lines, child, total, depth + 1)


def _hottest(node: Node, limit: int) -> List[Node]:
    return sorted(node.children.values(), key=lambda child: -child.value)[:limit]


def _percent(part: int, total: int) -> str:
    return "%.2f%%" % (100.0 * part / total) if total > 0 else "0.00%"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")
