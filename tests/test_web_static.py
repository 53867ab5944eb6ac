"""The agent's static-files hook: the built web console, or a page saying how to build it."""
import os

from pyarthas.agent.http import static_files


def test_without_a_build_slash_says_how_to_build_it(tmp_path, monkeypatch):
    monkeypatch.setattr(static_files, "APP_DIR", str(tmp_path / "absent"))
    status, body, content_type = static_files.answer("/")
    assert status == 200 and content_type.startswith("text/html")
    assert b"npm ci &amp;&amp; npm run build" in body and b"bash scripts/setup.sh" in body
    assert static_files.answer("/assets/index.js")[0] == 404


def test_built_files_are_served_read_only_from_the_app_folder(tmp_path, monkeypatch):
    app = tmp_path / "app"
    (app / "assets").mkdir(parents=True)
    (app / "index.html").write_text("<html>console</html>")
    (app / "assets" / "a.js").write_text("1")
    (tmp_path / "secret.txt").write_text("no")
    monkeypatch.setattr(static_files, "APP_DIR", str(app))
    assert static_files.answer("/") == (200, b"<html>console</html>", "text/html; charset=utf-8")
    assert static_files.answer("/assets/a.js") == (200, b"1", "text/javascript; charset=utf-8")
    assert static_files.answer("/assets/../../secret.txt")[0] == 404
    assert static_files.answer("/assets/%2e%2e/%2e%2e/secret.txt")[0] == 404
    assert static_files.answer("/assets/")[0] == 404
    assert static_files.answer("/assets/a.js%00")[0] == 404
    assert not static_files.serves("/api") and not static_files.serves("/arthas-output/x")
    assert os.path.basename(static_files.APP_DIR) == "app"
