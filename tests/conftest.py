import os

import pytest

from harness import installed_python314, python_id, start_demo, start_script, target_pythons
from redis_fixtures import acl_redis, redis_cluster, redis_factory, redis_server, tls_redis  # noqa: F401  (the fleet's Redis)

PYTHONS = target_pythons()


def python314_missing():
    """Why CPython 3.14 is not in the matrix, when it is not and nobody chose the interpreters."""
    if "PYARTHAS_TEST_PYTHONS" in os.environ or any(python_id(p) == "py3.14" for p in PYTHONS):
        return None
    return installed_python314()[1]


def pytest_report_header(config):
    missing = python314_missing()
    lines = ["target pythons: " + ", ".join(python_id(p) for p in PYTHONS)]
    if missing:
        lines.append("WARNING: CPython 3.14 is NOT tested: " + missing)
    return lines


def pytest_terminal_summary(terminalreporter):
    missing = python314_missing()
    if missing:
        terminalreporter.write_line("WARNING: CPython 3.14 is NOT tested: " + missing, red=True, bold=True)


@pytest.fixture(params=PYTHONS, ids=[python_id(p) for p in PYTHONS])
def target_python(request):
    """Each CPython the machine has (3.9 up): agent tests run under every one."""
    return request.param


@pytest.fixture
def demo(target_python, tmp_path):
    """The demo (demo.MathGame) with the agent, under each interpreter."""
    target = start_demo(target_python, tmp_path)
    yield target
    target.kill()


@pytest.fixture
def fast_demo(target_python, tmp_path):
    """The demo running every 20 ms, once it has printed its first line."""
    target = start_demo(target_python, tmp_path, env={"PYARTHAS_DEMO_INTERVAL": "0.02"})
    try:
        target.wait_stdout(r"=|illegalArgumentCount", timeout=20)
        yield target
    finally:
        target.kill()


@pytest.fixture
def spawn(target_python, tmp_path):
    """``spawn(code, env=None)`` runs ``code`` as a target's __main__ with the agent started."""
    started = []

    def _spawn(code, env=None, agent=True, args=()):
        target = start_script(target_python, code, tmp_path, env=env, agent=agent, args=args)
        started.append(target)
        return target

    yield _spawn
    for target in started:
        target.kill()
