"""The web console's built files (package data under ``static/app/``), served read-only at ``/``.

The front-end project (``web/`` in the source tree) builds into ``static/app/``; the agent only serves the
files, it runs no Node. When the build is absent (an sdist installed without Node), ``/`` answers a page
saying how to build it, and the API works as before.
"""
import os
import urllib.parse
from typing import Optional, Tuple

APP_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static", "app")
HTML = "text/html; charset=utf-8"
CONTENT_TYPES = {".html": HTML, ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".json": "application/json",
                 ".png": "image/png", ".ico": "image/x-icon", ".woff2": "font/woff2", ".map": "application/json"}

NOT_BUILT = b"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>pyarthas: web console not built</title></head>
<body style="font: 14px/1.5 system-ui, sans-serif; max-width: 46em; margin: 3em auto">
<h1>pyarthas</h1>
<p>The agent is running and its HTTP API answers at <code>/api</code>, but the web console was not built
into this installation.</p>
<p>To build it (Node.js and npm needed), in a source checkout run <code>bash scripts/setup.sh</code>, or
<code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code>, then reinstall or restart the target.</p>
<p>Meanwhile: <code>pyarthas console</code>, or <code>curl -XPOST http://127.0.0.1:8563/api -d
'{"action":"exec","command":"version"}'</code>.</p>
</body></html>
"""


def serves(path: str) -> bool:
    """Whether ``path`` belongs to the web console: ``/``, ``/index.html`` and ``/assets/...``."""
    return path in ("/", "/index.html") or path.startswith("/assets/")


def answer(path: str) -> Tuple[int, bytes, str]:
    """(status, body, content type) for a GET of ``path``; ``serves(path)`` is true."""
    if path in ("/", "/index.html"):
        data = _read(os.path.join(APP_DIR, "index.html"))
        return 200, (data if data is not None else NOT_BUILT), HTML
    relative = urllib.parse.unquote(path).lstrip("/")
    if "\x00" in relative:  # no file has one; os.path would raise
        return 404, b"Not found", HTML
    root = os.path.realpath(APP_DIR)
    target = os.path.realpath(os.path.join(root, relative))
    data = _read(target) if target.startswith(root + os.sep) else None
    if data is None:
        return 404, b"Not found", HTML
    content_type = CONTENT_TYPES.get(os.path.splitext(target)[1].lower(), "application/octet-stream")
    return 200, data, content_type


def _read(path: str) -> Optional[bytes]:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:  # absent, a folder, unreadable: all the same to a browser
        return None
