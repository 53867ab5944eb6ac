"""The console in batch mode on a real framework server (Django's runserver under a bounded load): output
follows ``$COLUMNS`` and never cuts a timestamp, ``CMD -h`` is a success, an enhancing command prints its
banner once (``trace -p`` included), and the module running as ``__main__`` is found under its own name."""
import os
import re
import subprocess
import sys

import pytest

from frameworks import Load, start_django
from harness import ROOT

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}")


@pytest.fixture(scope="module")
def django():
    server = start_django(env={"PYARTHAS_POLL_WAIT": "0.3"})
    yield server
    server.kill()


def console(url: str, commands: str, columns=None, timeout: float = 90):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"))
    env.pop("COLUMNS", None)
    if columns is not None:
        env["COLUMNS"] = str(columns)
    return subprocess.run([sys.executable, "-m", "pyarthas", "console", url, "-c", commands],
                          capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL)


def test_batch_output_follows_columns_and_keeps_timestamps_whole(django):
    with Load(django.http_port, "/hot", clients=1):
        done = console(django.url, "tt --delete-all; tt -t django_app cpu -n 2", columns=72)
    assert done.returncode == 0, done.stdout + done.stderr
    for columns in (72, 200):
        listed = console(django.url, "tt -l", columns=columns)
        rows = [line for line in listed.stdout.splitlines() if line.startswith("10")]
        assert len(rows) == 2, listed.stdout
        assert all(TIMESTAMP.search(row) for row in rows), listed.stdout
        assert all(len(line) <= columns for line in rows) and ("…" in listed.stdout) == (columns == 72)
    wide = console(django.url, "tt -l")          # no terminal, no $COLUMNS: nothing is cut
    assert "…" not in wide.stdout and "__main__  cpu" in wide.stdout, wide.stdout


def test_help_is_a_success_and_banners_print_once(django):
    done = console(django.url, "watch -h")
    assert done.returncode == 0 and "USAGE" in done.stdout, done.stdout + done.stderr
    assert console(django.url, "watch --no-such-option x y").returncode == 1
    with Load(django.http_port, "/hot", clients=1):
        traced = console(django.url, "trace django_app cpu -n 1 -p hot_work.burn")
        monitored = console(django.url, "monitor -c 1 -n 1 django_app cpu")
    assert traced.returncode == 0, traced.stdout + traced.stderr
    assert traced.stdout.count("Press Q or Ctrl+C to abort.") == 1, traced.stdout
    assert "Affect(class count: 2 , method count: 2)" in traced.stdout, traced.stdout
    assert "hot_work:burn()" in traced.stdout, "the -p function nests in the tree"
    assert monitored.returncode == 0 and monitored.stdout.count("Press Q or Ctrl+C to abort.") == 1, monitored.stdout


def test_the_main_module_is_found_under_its_own_name(django):
    done = console(django.url, "sc django_app; sm django_app cpu; sc -d 'django_app*'")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "__main__" in done.stdout and "cpu" in done.stdout
