"""Flame graphs as one self-contained interactive SVG, alone (``svg``) or inside an HTML page (``html``).

Python lays the frames out (one ``<g class="f">`` per call-tree node, its position as fractions of the
whole in ``data-x``/``data-w`` and its depth in ``data-d``); one small script, the same in both files,
makes it interactive: hover shows the frame and its share, a click zooms into a frame (Esc or "Reset
Zoom" zooms out), the search box (or "Search" in the bare SVG) highlights frames matching a regular
expression and shows their share; ``#search=REGEX`` in the URL searches on load. No network access.
"""
import html
import zlib
from typing import Iterator, List, Tuple

from .profile import Node, Profile, tree

WIDTH = 1200
PAD = 10              # left and right margin
FRAME_HEIGHT = 16
TOP = 36              # title and controls
BOTTOM = 30           # details line
CHAR_WIDTH = 7        # approximate width of a character at 12px, to fit labels in frames
MIN_SHARE = 0.0001    # narrower frames (0.12 px at full width) are left out
MAX_FRAMES = 40000    # beyond this many frames, the narrowest are left out too

_SCRIPT = r"""
(function () {
  var svg = document.getElementById('flamegraph');
  var width = +svg.getAttribute('data-width'), pad = +svg.getAttribute('data-pad');
  var charWidth = +svg.getAttribute('data-char'), span = width - 2 * pad, EPS = 1e-9;
  var details = document.getElementById('details'), unzoomButton = document.getElementById('unzoom');
  var matched = document.getElementById('matched'), searchButton = document.getElementById('search');
  var box = document.getElementById('searchbox');
  var items = Array.prototype.map.call(svg.querySelectorAll('g.f'), function (g) {
    var title = g.querySelector('title').textContent;
    var item = {g: g, title: title, name: title.slice(0, title.lastIndexOf(' (')),
                x: +g.getAttribute('data-x'), w: +g.getAttribute('data-w'), d: +g.getAttribute('data-d'),
                rect: g.querySelector('rect'), text: g.querySelector('text')};
    item.fill = item.rect.getAttribute('fill');
    g.flameItem = item;
    return item;
  });

  function label(item, px) {
    var fits = Math.floor((px - 6) / charWidth);
    if (fits < 3) return '';
    return item.name.length <= fits ? item.name : item.name.slice(0, fits - 2) + '..';
  }
  function place(item, x, w) {
    var px = w * span;
    item.rect.setAttribute('x', (pad + x * span).toFixed(2));
    item.rect.setAttribute('width', Math.max(px - 0.5, 0.1).toFixed(2));
    item.text.setAttribute('x', (pad + x * span + 3).toFixed(2));
    item.text.textContent = label(item, px);
    item.g.classList.toggle('hide', px < 0.1);
  }
  function zoom(target) {
    var zx = target ? target.x : 0, zw = target ? target.w : 1, zd = target ? target.d : 0;
    items.forEach(function (item) {
      var inside = item.x >= zx - EPS && item.x + item.w <= zx + zw + EPS && item.d >= zd;
      var ancestor = item.d < zd && item.x <= zx + EPS && item.x + item.w >= zx + zw - EPS;
      item.g.classList.toggle('parent', ancestor);
      if (inside) place(item, (item.x - zx) / zw, item.w / zw);
      else if (ancestor) place(item, 0, 1);
      else item.g.classList.add('hide');
    });
    unzoomButton.classList.toggle('hide', !target);
  }
  function pattern(term) {
    try { return new RegExp(term); }
    catch (e) { return new RegExp(term.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')); }
  }
  function search(term) {
    var re = term ? pattern(term) : null, spans = [];
    items.forEach(function (item) {
      var hit = re !== null && re.test(item.name);
      item.rect.setAttribute('fill', hit ? 'rgb(230,0,230)' : item.fill);
      if (hit) spans.push([item.x, item.x + item.w]);
    });
    // the share of samples under any matching frame: nested matches count once
    spans.sort(function (a, b) { return a[0] - b[0] || b[1] - a[1]; });
    var share = 0, end = 0;
    spans.forEach(function (s) {
      if (s[1] > end + EPS) { share += s[1] - Math.max(s[0], end); end = s[1]; }
    });
    matched.textContent = re ? 'Matched: ' + (100 * share).toFixed(2) + '%' : ' ';
    searchButton.classList.toggle('active', re !== null);
    if (box && box.value !== (term || '')) box.value = term || '';
  }
  function frameOf(event) {
    var node = event.target;
    while (node && node !== svg) {
      if (node.flameItem) return node.flameItem;
      node = node.parentNode;
    }
    return null;
  }
  svg.addEventListener('mouseover', function (event) {
    var item = frameOf(event);
    if (item) details.textContent = item.title;
  });
  svg.addEventListener('mouseout', function (event) {
    if (frameOf(event)) details.textContent = ' ';
  });
  svg.addEventListener('click', function (event) {
    var item = frameOf(event);
    if (item) { zoom(item); return; }
    if (event.target === unzoomButton) zoom(null);
    else if (event.target === searchButton) {
      if (box) { box.focus(); return; }
      var term = window.prompt('Search (regular expression)', '');
      if (term !== null) search(term);
    }
  });
  if (box) box.addEventListener('input', function () { search(box.value); });
  document.addEventListener('keydown', function (event) {
    if (event.key === 'Escape') { zoom(null); search(''); }
    else if (box && (event.ctrlKey || event.metaKey) && event.key === 'f') { event.preventDefault(); box.focus(); }
  });
  var wanted = /[#&]search=([^&]*)/.exec(window.location.hash);
  if (wanted) search(decodeURIComponent(wanted[1]));
  svg.setAttribute('data-ready', 'true');
})();
"""

_STYLE = """
text { font-family: Verdana, sans-serif; font-size: 12px; fill: #000; }
#title { font-size: 16px; text-anchor: middle; }
#unzoom, #search { cursor: pointer; fill: #0645ad; }
#search.active { fill: rgb(230,0,230); }
#matched { text-anchor: end; }
g.f { cursor: pointer; }
g.f:hover rect { stroke: #000; stroke-width: 0.5; }
g.f text { pointer-events: none; font-size: 11px; }
g.parent { opacity: 0.6; }
.hide { display: none; }
"""


def render_svg(profile: Profile, standalone: bool = True) -> str:
    root = tree(profile)
    nodes = _layout(root)
    depth = max((d for _, _, d in nodes), default=0)
    height = TOP + (depth + 1) * FRAME_HEIGHT + BOTTOM
    title = "Flame Graph: " + profile.title
    out: List[str] = []
    attrs = ('id="flamegraph" width="%d" height="%d" viewBox="0 0 %d %d" '
             'data-width="%d" data-pad="%d" data-char="%d"' % (WIDTH, height, WIDTH, height, WIDTH, PAD, CHAR_WIDTH))
    if standalone:
        out.append('<?xml version="1.0" standalone="no"?>\n')
        out.append('<svg version="1.1" xmlns="http://www.w3.org/2000/svg" %s>\n' % attrs)
    else:
        out.append('<svg xmlns="http://www.w3.org/2000/svg" %s>\n' % attrs)
    out.append("<style>%s</style>\n" % _STYLE)
    out.append('<rect x="0" y="0" width="%d" height="%d" fill="#f8f8f8"/>\n' % (WIDTH, height))
    out.append('<text id="title" x="%d" y="22">%s</text>\n' % (WIDTH // 2, _escape(title)))
    out.append('<text id="unzoom" class="hide" x="%d" y="22">Reset Zoom</text>\n' % PAD)
    out.append('<text id="search" x="%d" y="22">Search</text>\n' % (WIDTH - PAD - 50))
    out.append('<text id="details" x="%d" y="%d"> </text>\n' % (PAD, height - 10))
    out.append('<text id="matched" x="%d" y="%d"> </text>\n' % (WIDTH - PAD, height - 10))
    out.append('<g id="frames">\n')
    total = root.value or 1
    for node, x, d in nodes:
        out.append(_frame(node, x, d, total, height))
    out.append("</g>\n")
    if standalone:
        out.append('<script type="text/ecmascript"><![CDATA[%s]]></script>\n' % _SCRIPT)
    out.append("</svg>\n")
    return "".join(out)


def render_html(profile: Profile) -> str:
    title = _escape("Flame Graph: " + profile.title)
    return """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>%s</title>
<style>
body { margin: 0; padding: 8px 12px; font: 13px Verdana, sans-serif; background: #fff; }
header { display: flex; gap: 12px; align-items: center; margin-bottom: 6px; flex-wrap: wrap; }
header input { font: inherit; padding: 2px 6px; min-width: 18em; }
header .hint { color: #666; }
#flamegraph { width: 100%%; height: auto; display: block; }
</style>
</head>
<body>
<header>
<input id="searchbox" type="search" placeholder="Search frames (regular expression)" autocomplete="off">
<span class="hint">Hover a frame for its share; click to zoom; Esc resets.</span>
</header>
%s<script>%s</script>
</body>
</html>
""" % (title, render_svg(profile, standalone=False), _SCRIPT)


def _layout(root: Node) -> List[Tuple[Node, float, int]]:
    """(node, x as a share of the whole, depth) for every frame wide enough to draw."""
    total = root.value or 1
    min_value = total * MIN_SHARE
    while True:
        nodes = list(_walk(root, 0, 0, min_value, total))
        if len(nodes) <= MAX_FRAMES:
            return nodes
        min_value *= 2


def _walk(node: Node, x: float, depth: int, min_value: float, total: int) -> Iterator[Tuple[Node, float, int]]:
    stack = [(node, x, depth)]
    while stack:
        current, left, level = stack.pop()
        yield current, left, level
        offset = left
        for child in sorted(current.children.values(), key=lambda n: n.name):
            if child.value >= min_value:
                stack.append((child, offset, level + 1))
            offset += child.value / total


def _frame(node: Node, x: float, depth: int, total: int, height: int) -> str:
    share = node.value / total
    px_x = PAD + x * (WIDTH - 2 * PAD)
    px_w = share * (WIDTH - 2 * PAD)
    y = height - BOTTOM - (depth + 1) * FRAME_HEIGHT
    title = "%s (%s samples, %.2f%%)" % (node.name, "{:,}".format(node.value), 100 * share)
    return ('<g class="f" data-x="%.9f" data-w="%.9f" data-d="%d"><title>%s</title>'
            '<rect x="%.2f" y="%d" width="%.2f" height="%d" fill="%s" rx="2"/>'
            '<text x="%.2f" y="%d">%s</text></g>\n') % (
        x, share, depth, _escape(title), px_x, y, max(px_w - 0.5, 0.1), FRAME_HEIGHT - 1, _color(node.name),
        px_x + 3, y + FRAME_HEIGHT - 4, _escape(_fit(node.name, px_w)))


def _fit(name: str, px: float) -> str:
    fits = int((px - 6) // CHAR_WIDTH)
    if fits < 3:
        return ""
    return name if len(name) <= fits else name[:fits - 2] + ".."


def _color(name: str) -> str:
    """Warm colours as flamegraph.pl, stable per name; pseudo frames (thread roots, ``all``) grey."""
    if name == "all" or name.startswith("["):
        return "rgb(200,200,200)"
    h = zlib.crc32(name.encode("utf-8", "replace"))
    return "rgb(%d,%d,%d)" % (205 + (h >> 16 & 0xFF) * 50 // 255, (h & 0xFF) * 230 // 255, (h >> 8 & 0xFF) * 55 // 255)


def _escape(text: str) -> str:
    return html.escape(text, quote=True)
