import pytest

from harness import python_id, start_demo, start_script, target_pythons

PYTHONS = target_pythons()


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
