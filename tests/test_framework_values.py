"""Values taken from a real framework request (Django's runserver under a bounded load): a watched request
shows no secret of the server's environment, stays bounded, and ``options mask-secrets false`` shows what
was masked."""
import http.client
import json
import threading

import pytest

from frameworks import Load, start_django
from harness import of_type, status_of
from pyarthas.agent.view import Context, render

SECRET_TOKEN = "tok-3f9a1c77e2"          # under a credential-like name
DATABASE_URL = "postgres://app:pw-8d2e41@db/app"   # under a harmless name: only sysenv shows it


@pytest.fixture(scope="module")
def django():
    server = start_django(env={"PYARTHAS_TEST_API_TOKEN": SECRET_TOKEN, "DATABASE_URL": DATABASE_URL})
    yield server
    server.kill()


def watched(server, command: str):
    """The watch value of one request, as JSON text and as the console prints it."""
    with Load(server.http_port, "/hot", clients=1) as load:
        results = server.results(command, execTimeout=60000)
    assert load.count > 0 and not load.errors, load.errors[:3]
    assert status_of(results)["statusCode"] == 0, results
    watch = of_type(results, "watch")
    assert len(watch) == 1, results
    return json.dumps(watch[0]["value"]), render(watch[0], Context(width=120))


def test_a_watched_django_request_shows_no_environment_secret_and_is_bounded(django):
    raw, text = watched(django, "watch django_app cpu -n 1")
    for secret in (SECRET_TOKEN, DATABASE_URL, "pw-8d2e41"):
        assert secret not in raw and secret not in text
    assert "WSGIRequest" in text and "META=@dict[isEmpty=false;size=" in text, text
    assert len(text.splitlines()) < 60 and len(raw) < 20000, text

    raw, text = watched(django, "watch django_app cpu -n 1 -x 2")   # the environ dicts expanded
    assert SECRET_TOKEN not in raw and "pw-8d2e41" not in raw
    assert "/hot" in raw, "the request's own entries stay"
    assert "entries left out, sysenv shows them" in text, text
    assert len(raw) < 100000


def test_credentials_a_request_carries_are_masked(django):
    """Authorization and Cookie headers of the watched request itself (in META at -x 2)."""
    done = threading.Event()

    def send_with_credentials():
        while not done.is_set():
            conn = http.client.HTTPConnection("127.0.0.1", django.http_port, timeout=30)
            try:
                conn.request("GET", "/hot", headers={"Authorization": "Bearer bearer-5e1f",
                                                     "Cookie": "sessionid=cookie-77ab"})
                conn.getresponse().read()
            except OSError:
                done.wait(0.05)
            finally:
                conn.close()

    sender = threading.Thread(target=send_with_credentials, daemon=True)
    sender.start()
    try:
        results = django.results("watch django_app cpu params 'params[0].META.get(\"HTTP_AUTHORIZATION\")' "
                                 "-n 1 -x 2", execTimeout=60000)
    finally:
        done.set()
        sender.join(timeout=30)
    raw = json.dumps(of_type(results, "watch")[0]["value"])
    assert "HTTP_AUTHORIZATION" in raw and "HTTP_COOKIE" in raw, raw
    assert "bearer-5e1f" not in raw and "cookie-77ab" not in raw, raw


def test_getstatic_masks_a_credential_a_pattern_matched(django):
    matched = {r["fieldName"]: r["field"] for r in of_type(
        django.results("getstatic django.conf.global_settings 'SECRET_KEY*'"), "getstatic")}
    assert matched["SECRET_KEY"].startswith("<masked") and matched["SECRET_KEY_FALLBACKS"].startswith("<masked")
    asked = of_type(django.results("getstatic django.conf.global_settings SECRET_KEY"), "getstatic")
    assert asked[0]["field"] == "", "asked for by its exact name"


def test_sysenv_masks_credentials_and_the_option_shows_them(django):
    env = of_type(django.results("sysenv"), "sysenv")[0]["env"]
    assert env["PYARTHAS_TEST_API_TOKEN"].startswith("<masked") and env["DATABASE_URL"] == DATABASE_URL
    assert status_of(django.results("options mask-secrets false"))["statusCode"] == 0
    try:
        assert of_type(django.results("sysenv PYARTHAS_TEST_API_TOKEN"), "sysenv")[0]["env"] == {
            "PYARTHAS_TEST_API_TOKEN": SECRET_TOKEN}
        raw, _ = watched(django, "watch django_app cpu -n 1 -x 2")
        assert SECRET_TOKEN in raw
    finally:
        django.results("options mask-secrets true")
