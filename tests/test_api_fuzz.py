"""Generated requests against a live agent: a property-based fuzz of ``/api`` bodies (hypothesis) and the
OpenAPI description in docs/openapi.yaml checked by schemathesis.

Both run against one target, under the newest interpreter only: the cases are generated and judged in this
test process, and what they exercise in the target (the HTTP and request parsing) is the same pure-Python
code on every CPython; test_http_hardening.py and test_api_protocol.py cover each interpreter. Seeded
(``derandomize``) and bounded (a few thousand cases, seconds each run)."""
import http.client
import json
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from harness import ROOT, start_script, target_pythons

OPENAPI = os.path.join(ROOT, "docs", "openapi.yaml")
ACTIONS = ["init_session", "join_session", "pull_results", "async_exec", "exec", "interrupt_job", "close_session",
           "session_info", "EXEC", "nope", ""]
STATES = {"SCHEDULED", "SUCCEEDED", "FAILED", "REFUSED", "INTERRUPTED"}
# Commands that end at once and change nothing; generated text only ever follows ``echo``.
SAFE_COMMANDS = ["version", "help", "session", "echo hi", "nosuch", "echo hi &", "jobs", "", "   ", "sc -d nope.*"]


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory):
    target = start_script(target_pythons()[-1], "import time\nwhile True:\n    time.sleep(3600)\n",
                          tmp_path_factory.mktemp("fuzz"), env={"PYARTHAS_POLL_WAIT": "0.05"})
    yield target
    target.kill()


class KeepAliveClient:
    """One persistent connection (reopened when the agent closes it), so thousands of cases stay fast."""

    def __init__(self, url: str):
        host, port = url.split("//", 1)[1].rsplit(":", 1)
        self.address = (host, int(port))
        self.connection = None

    def post(self, body: bytes):
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(*self.address, timeout=30)
            try:
                self.connection.request("POST", "/api", body=body, headers={"Content-Type": "application/json"})
                response = self.connection.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.connection.close()
                self.connection = None
                if attempt == 2:
                    raise
                continue
            if response.getheader("Connection") == "close":
                self.connection.close()
                self.connection = None
            return response.status, response.getheader("Content-Type"), data


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8)
echo_text = st.text(max_size=30).map(lambda t: "echo " + "".join(c for c in t if c not in "|&>;'\"\\"))
fields = st.fixed_dictionaries({}, optional={
    "action": st.sampled_from(ACTIONS) | json_values,
    "command": st.sampled_from(SAFE_COMMANDS) | echo_text | st.integers() | st.lists(st.integers(), max_size=2),
    "sessionId": st.text(max_size=8) | json_values,
    "consumerId": st.text(max_size=8) | json_values,
    "requestId": json_values,
    "userId": json_values,
    "execTimeout": st.integers(min_value=-10, max_value=60000) | st.sampled_from(["", "100", "x", None, [], {}]),
    "somethingNew": json_values,
})
bodies = (fields.map(lambda f: json.dumps(f).encode())
          | json_values.map(lambda v: json.dumps(v).encode())
          | st.binary(max_size=64)
          | st.text(max_size=64).map(lambda t: t.encode("utf-8", "surrogatepass")))


def test_fuzzed_bodies_answer_in_arthas_form(fuzz_target):
    client = KeepAliveClient(fuzz_target.url)

    @settings(max_examples=2500, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(bodies)
    def answers_in_arthas_form(body):
        status, content_type, data = client.post(body)
        assert status == 200, (status, data)
        assert content_type == "application/json; charset=utf-8"
        reply = json.loads(data)
        assert isinstance(reply, dict) and reply.get("state") in STATES, reply
        if reply["state"] in ("FAILED", "REFUSED"):
            assert isinstance(reply.get("message"), str), reply

    answers_in_arthas_form()
    assert fuzz_target.exec("version")["state"] == "SUCCEEDED"


schema = schemathesis.openapi.from_path(OPENAPI)


@schema.parametrize()
@settings(max_examples=300, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_openapi_description_holds(case, fuzz_target):
    if isinstance(case.body, dict) and isinstance(case.body.get("command"), str):
        case.body["command"] = "echo generated"  # generated command lines could be real commands (stop)
    case.call_and_validate(base_url=fuzz_target.url, timeout=30,
                           checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                                   response_schema_conformance])
