"""The framework servers of tests/frameworks.py start with the agent inside and answer under load; the agent
in each sees the app's own code."""
import pytest

from frameworks import Load, start_django, start_gunicorn, start_uvicorn
from harness import post_json, status_of

STARTERS = {"gunicorn-flask": start_gunicorn, "uvicorn-fastapi": start_uvicorn, "django": start_django}


@pytest.fixture(params=sorted(STARTERS))
def server(request):
    started = STARTERS[request.param]()
    yield started
    started.kill()


def test_every_agent_of_a_loaded_server_sees_the_app(server):
    with Load(server.http_port, "/hot") as load:
        for url in server.urls:
            reply = post_json(url, {"action": "exec", "command": "sc hot_work"})
            assert reply["state"] == "SUCCEEDED", reply
            assert status_of(reply["body"]["results"])["statusCode"] == 0, reply
    assert load.count > 0 and not load.errors, (load.count, load.errors[:3])
    assert server.get("/answer") == (200, "v1\n")
