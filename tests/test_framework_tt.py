"""tt on real framework servers: a Flask view replayed after its request ended runs in the request's
recorded context; a coroutine of a FastAPI app replays on uvicorn's own loop in its recorded context; ``-n``
records exactly that many calls under concurrent load."""
import pytest

from frameworks import Load, start_gunicorn, start_uvicorn
from harness import of_type, status_of


def record_one(server, url: str, command: str, path: str) -> dict:
    """The record ``command`` (a ``tt -t ... -n 1``) makes of one call while ``path`` is requested."""
    with Load(server.http_port, path, clients=1) as load:
        results = server.api("exec", command=command, execTimeout=60000)["body"]["results"]
    assert load.count > 0 and not load.errors, load.errors[:3]
    assert status_of(results)["statusCode"] == 0, results
    return of_type(results, "tt")[0]["timeFragmentList"][0]


def replay(server, index: int) -> dict:
    results = server.results("tt -i %d -p" % index)
    assert status_of(results)["statusCode"] == 0, results
    return of_type(results, "tt")[0]["replayResult"]


@pytest.fixture(scope="module")
def flask_server():
    server = start_gunicorn(workers=1)
    yield server
    server.kill()


@pytest.fixture(scope="module")
def uvicorn_server():
    server = start_uvicorn()
    yield server
    server.kill()


def test_a_flask_view_replays_in_its_recorded_request_context(flask_server):
    record = record_one(flask_server, flask_server.url, "tt -t flask_app greet -n 1", "/hello?name=ada")
    assert record["returnObj"] == "hello ada from /hello\n"
    assert record["context"].startswith("recorded with the call")
    replayed = replay(flask_server, record["index"])
    assert replayed["throw"] is False, replayed.get("throwExp")
    assert replayed["returnObj"] == "hello ada from /hello\n"
    assert replayed["context"].startswith("a copy of the recorded context")
    assert replayed["eventLoop"] == "none (not a coroutine)"
    detail = of_type(flask_server.results("tt -i %d" % record["index"]), "tt")[0]["timeFragment"]
    assert detail["context"] == record["context"] and detail["eventLoop"] == "none"


def test_a_coroutine_replays_on_the_apps_running_loop(uvicorn_server):
    record = record_one(uvicorn_server, uvicorn_server.url, "tt -t starlette_app whoami -n 1", "/whoami?name=grace")
    assert record["returnObj"].startswith("grace on loop "), record
    replayed = replay(uvicorn_server, record["index"])
    assert replayed["throw"] is False, replayed.get("throwExp")
    assert replayed["returnObj"] == record["returnObj"], "same context variable, same loop"
    assert replayed["eventLoop"].startswith("the recorded call's event loop, running")
    assert replayed["eventLoop"].endswith(record["eventLoop"] + ")")


def test_tt_records_exactly_n_calls_under_concurrent_load(uvicorn_server):
    uvicorn_server.results("tt --delete-all")
    with Load(uvicorn_server.http_port, "/nap", clients=8) as load:   # a sync route: calls overlap in threads
        results = uvicorn_server.api("exec", command="tt -t hot_work nap -n 5",
                                     execTimeout=60000)["body"]["results"]
    assert not load.errors, load.errors[:3]
    assert status_of(results)["statusCode"] == 0, results
    assert sum(len(r["timeFragmentList"]) for r in of_type(results, "tt")) == 5
    listed = of_type(uvicorn_server.results("tt -l"), "tt")[0]["timeFragmentList"]
    assert len(listed) == 5, [r["index"] for r in listed]
