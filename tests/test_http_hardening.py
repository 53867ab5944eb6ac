"""The HTTP layer under hostile clients, against a real agent process: who may get in (Host, Origin,
password, token, Unix socket), what slow or greedy clients can cost, and Arthas's protocol on the edges."""
import json
import os
import select
import socket
import stat
import threading
import time

import pytest

from harness import Target, post_raw, target_env

SLEEPER = """
import time
while True:
    time.sleep(3600)
"""
API_BODY = json.dumps({"action": "exec", "command": "version"}).encode()


def start_agent(python, tmp_path, options=(), env=None) -> Target:
    """A sleeping target started by ``pyarthas run --port 0 OPTIONS script``."""
    script = tmp_path / "sleeper.py"
    script.write_text(SLEEPER)
    argv = [python, "-m", "pyarthas", "run", "--port", "0", *options, str(script)]
    return Target(argv, target_env(env), cwd=str(tmp_path))


@pytest.fixture
def agent(target_python, tmp_path):
    started = []

    def _agent(*options, env=None):
        target = start_agent(target_python, tmp_path, options, env)
        started.append(target)
        return target

    yield _agent
    for target in started:
        target.kill()


def connect(port: int, timeout: float = 20.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def read_response(sock: socket.socket):
    """One HTTP response from ``sock``: (status, headers with lower-case names, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before a response head; got %r" % data)
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return int(lines[0].split()[1]), headers, rest[:length]


def exchange(port: int, raw: bytes, timeout: float = 20.0):
    with connect(port, timeout) as sock:
        sock.sendall(raw)
        return read_response(sock)


def api_request(body: bytes = API_BODY, host: str = "127.0.0.1", extra: str = "", method: str = "POST",
                path: str = "/api") -> bytes:
    return ("%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s"
            "Connection: close\r\n\r\n" % (method, path, host, len(body), extra)).encode() + body


def closed_within(sock: socket.socket, seconds: float) -> bytes:
    """Everything the agent sends until it closes ``sock``; fails if it stays open ``seconds``."""
    sock.settimeout(seconds)
    received = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return received
            received += chunk
    except socket.timeout:
        pytest.fail("the connection is still open after %.0f s" % seconds)
    except ConnectionResetError:
        return received


def wait_stderr(target: Target, text: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not any(text in line for line in target.stderr_lines):
        assert time.monotonic() < deadline, "stderr never said %r: %s" % (text, "".join(target.stderr_lines))
        time.sleep(0.05)  # the reader thread appends lines; the deadline bounds the wait


def assert_answers_version(target: Target) -> None:
    assert target.exec("version")["state"] == "SUCCEEDED"


# ---- who may get in ----

def test_dns_rebinding_is_refused_whatever_the_bind_address(agent):
    target = agent("--ip", "0.0.0.0")
    port = target.port
    rebinding = api_request(json.dumps({"action": "exec", "command": "ognl '1+1'"}).encode(),
                            host="evil.example:%d" % port,
                            extra="Origin: http://evil.example:%d\r\nContent-Type: text/plain\r\n" % port)
    status, _, body = exchange(port, rebinding)
    assert (status, body) == (403, b"Forbidden: foreign Host")
    for host in ("127.0.0.1:%d" % port, "localhost:%d" % port, "0.0.0.0:%d" % port,
                 "%s:%d" % (socket.gethostname(), port)):
        status, _, body = exchange(port, api_request(host=host))
        assert status == 200 and json.loads(body)["state"] == "SUCCEEDED", (host, body)


def test_allow_host_adds_names(agent):
    target = agent("--allow-host", "diag.example", "--allow-host", "other.example")
    for host, expected in (("diag.example", 200), ("other.example:1", 200), ("evil.example", 403)):
        assert exchange(target.port, api_request(host=host))[0] == expected, host


def test_presented_credentials_are_checked_even_from_loopback(agent):
    target = agent(env={"PYARTHAS_PASSWORD": "s3cret"})
    wrong = {"Authorization": "Basic YXJ0aGFzOndyb25n"}  # arthas:wrong
    status, headers, body = post_raw(target.url, API_BODY, wrong)
    assert status == 401 and headers["WWW-Authenticate"] == 'Basic realm="arthas webconsole"' and body == b""
    status, _, _ = post_raw(target.url, API_BODY, path="/api?password=wrong")
    assert status == 401
    status, _, body = post_raw(target.url, API_BODY, {"Authorization": "Basic YXJ0aGFzOnMzY3JldA=="})
    assert status == 200 and json.loads(body)["state"] == "SUCCEEDED"
    status, _, body = post_raw(target.url, API_BODY)  # Arthas's localConnectionNonAuth, true by default
    assert status == 200 and json.loads(body)["state"] == "SUCCEEDED"


def test_local_connection_non_auth_false_asks_loopback_for_the_password(agent):
    target = agent("--local-connection-non-auth", "false", env={"PYARTHAS_PASSWORD": "s3cret"})
    assert post_raw(target.url, API_BODY)[0] == 401
    status, _, body = post_raw(target.url, API_BODY, path="/api?password=s3cret")
    assert status == 200 and json.loads(body)["state"] == "SUCCEEDED"


def test_token_file_is_private_and_required(agent, tmp_path):
    runtime = tmp_path / "runtime"
    target = agent("--token", env={"PYARTHAS_RUNTIME_DIR": str(runtime)})
    token_path = runtime / ("agent-%d.token" % target.proc.pid)
    assert stat.S_IMODE(os.stat(token_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(runtime).st_mode) == 0o700
    wait_stderr(target, str(token_path))
    token = token_path.read_text().strip()
    assert post_raw(target.url, API_BODY)[0] == 401
    assert post_raw(target.url, API_BODY, {"Authorization": "Bearer nope"})[0] == 401
    for headers, path in (({"Authorization": "Bearer " + token}, "/api"), ({}, "/api?token=" + token)):
        status, _, body = post_raw(target.url, API_BODY, headers, path=path)
        assert status == 200 and json.loads(body)["state"] == "SUCCEEDED"
    status, _, body = post_raw(target.url, json.dumps({"action": "exec", "command": "stop"}).encode(),
                               {"Authorization": "Bearer " + token})
    assert status == 200
    deadline = time.monotonic() + 15
    while token_path.exists() and time.monotonic() < deadline:
        time.sleep(0.1)  # pacing; the deadline bounds the wait
    assert not token_path.exists(), "the token file outlived the agent"


def test_unix_socket_listener_is_private(agent, tmp_path):
    path = str(tmp_path / "agent.sock")
    target = agent("--unix-socket", path, "--token", env={"PYARTHAS_RUNTIME_DIR": str(tmp_path / "rt")})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(20)
        sock.connect(path)
        sock.sendall(api_request(host="localhost"))
        status, _, body = read_response(sock)
    assert status == 200 and json.loads(body)["state"] == "SUCCEEDED"  # the socket's mode is the credential
    assert post_raw(target.url, API_BODY)[0] == 401  # TCP still needs the token


# ---- slow and greedy clients ----

def _slow_header_connections(port: int, count: int, stop: threading.Event):
    """``count`` connections sending their head one byte at a time, reconnecting when closed."""
    head = b"POST /api HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 10000

    def one() -> None:
        while not stop.is_set():
            try:
                with connect(port, 5) as sock:
                    for byte in head:
                        if stop.wait(0.5):
                            return
                        sock.send(bytes([byte]))
            except OSError:
                stop.wait(0.2)

    workers = [threading.Thread(target=one, daemon=True) for _ in range(count)]
    for worker in workers:
        worker.start()
    return workers


def test_slow_headers_neither_hold_a_slot_nor_lock_others_out(agent):
    target = agent(env={"PYARTHAS_HEAD_TIMEOUT": "2"})
    stop = threading.Event()
    workers = _slow_header_connections(target.port, 140, stop)
    try:
        with connect(target.port) as slow:
            slow.sendall(b"POST /api HTTP/1.1\r\n")
            started = time.monotonic()
            for _ in range(4):
                slow.sendall(b"X")
                time.sleep(0.3)  # a slow client's pace, not a synchronisation
            answer = closed_within(slow, 15)
            assert time.monotonic() - started < 15
            assert answer == b"" or answer.startswith(b"HTTP/1.1 408")
        for _ in range(5):
            assert_answers_version(target)
    finally:
        stop.set()
        for worker in workers:
            worker.join(10)


def test_full_server_answers_503_refused_and_displaces_idle_connections_first(agent):
    target = agent(env={"PYARTHAS_MAX_CONNECTIONS": "6", "PYARTHAS_HEAD_TIMEOUT": "30"})
    idle = [connect(target.port) for _ in range(2)]  # the oldest, sending nothing
    kept = connect(target.port)
    idle.append(kept)
    try:
        kept.sendall(api_request().replace(b"Connection: close\r\n", b""))
        assert read_response(kept)[0] == 200  # now an idle keep-alive connection, newer than the two
        # The agent takes the connection back just after answering: wait for that (the probes' connections
        # leave room enough).
        waiting = "[c.served for c in __import__('pyarthas.agent').agent.current().server._registered()]"
        deadline = time.monotonic() + 10
        while 1 not in target.ognl(waiting):
            assert time.monotonic() < deadline
        idle.extend(connect(target.port) for _ in range(3))  # full, or one short of it
        assert_answers_version(target)
        assert closed_within(kept, 10) == b""  # the idle keep-alive one made room, not the older ones
        for _ in range(10):  # full again: now the oldest that sent nothing is refused
            idle.append(connect(target.port))
            assert_answers_version(target)
            if select.select([idle[0]], [], [], 0.5)[0]:
                break
        assert closed_within(idle[0], 10).startswith(b"HTTP/1.1 503")
        assert not select.select([idle[-1]], [], [], 0)[0]  # the newest is still waiting

        def sleep_in_target() -> None:
            post_raw(target.url, json.dumps({"action": "exec", "command": "ognl '__import__(\"time\").sleep(4)'"})
                     .encode())

        busy = [threading.Thread(target=sleep_in_target) for _ in range(6)]
        for thread in busy:
            thread.start()
        deadline = time.monotonic() + 20
        while True:
            status, _, body = exchange(target.port, api_request())
            if status == 503 or time.monotonic() > deadline:
                break
        assert status == 503, body
        assert json.loads(body) == {"state": "REFUSED", "message": "too many connections, retry later"}
        for thread in busy:
            thread.join(30)
        assert_answers_version(target)
    finally:
        for sock in idle:
            sock.close()


def test_long_polls_cannot_starve_exec(agent):
    target = agent(env={"PYARTHAS_MAX_LONG_POLLS": "2", "PYARTHAS_POLL_WAIT": "3"})
    session = target.session()
    session.pull()  # the welcome
    stop = threading.Event()
    states = []

    def keep_polling() -> None:
        while not stop.is_set():
            states.append(session.api("pull_results", consumerId=session.consumer)["state"])

    pollers = [threading.Thread(target=keep_polling) for _ in range(3)]
    for poller in pollers:
        poller.start()
    try:
        deadline = time.monotonic() + 30
        while "REFUSED" not in states:  # the long-poll slots are full
            assert time.monotonic() < deadline, states
            time.sleep(0.05)  # the pollers report; the deadline bounds the wait
        refused = session.api("pull_results", consumerId=session.consumer)
        started = time.monotonic()
        assert_answers_version(target)
        assert target.api("init_session")["state"] == "SUCCEEDED"
        assert time.monotonic() - started < 2.5  # sooner than any waiting poll returns
    finally:
        stop.set()
        for poller in pollers:
            poller.join(30)
    assert set(states) == {"SUCCEEDED", "REFUSED"}
    if refused["state"] == "REFUSED":
        assert refused == {"state": "REFUSED", "message": "Too many pull_results waiting, retry later"}


# ---- memory ----

def test_bodies_buffered_at_once_are_bounded(agent):
    target = agent(env={"PYARTHAS_MAX_BUFFERED_BODIES": str(1024 * 1024)})
    length = 800 * 1024
    head = ("POST /api HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n" % length).encode()
    with connect(target.port) as first, connect(target.port) as second:
        first.sendall(head + b" " * 1000)  # holds 800 KiB of the budget while its body arrives
        time.sleep(0.5)  # let the agent read the first head before the second (ordering, not waiting for a result)
        second.sendall(head)
        status, _, body = read_response(second)
        assert status == 503
        assert json.loads(body) == {"state": "REFUSED", "message": "too many request bodies in flight, retry later"}
        first.sendall(b" " * (length - 1000))
        status, _, body = read_response(first)
        assert status == 200 and json.loads(body)["message"].endswith("request body is empty")
    assert_answers_version(target)


def test_command_line_length_is_bounded(agent):
    target = agent()
    reply = target.exec("echo " + "x" * 100000)
    assert reply == {"state": "FAILED", "message": "command line too long: 100005 characters, at most 65536"}
    assert target.exec("echo " + "x" * 60000)["state"] == "SUCCEEDED"


# ---- Arthas's protocol on the edges ----

def test_protocol_departures_from_arthas(agent):
    target = agent()
    reply = target.api("exec", command="version", someNewField={"x": 1})
    assert reply["state"] == "SUCCEEDED"  # unknown fields are ignored, as Arthas's JSON binding does
    assert target.api("join_session", sessionId=12345) == {"state": "FAILED", "message": "session not found: 12345"}
    chunked = (b"POST /api HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
               b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n") % (10, API_BODY[:10], len(API_BODY) - 10, API_BODY[10:])
    status, _, body = exchange(target.port, chunked)
    assert status == 200 and json.loads(body)["state"] == "SUCCEEDED"
    status, _, body = post_raw(target.url, b"x" * (10 * 1024 * 1024 + 1))
    assert status == 413
    status, _, _ = post_raw(target.url, b"", method="GET", path="/arthas-output/%00")
    assert status == 400
    status, _, _ = exchange(target.port, b"POST /api HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ten\r\n\r\n")
    assert status == 400
    assert_answers_version(target)


def test_malformed_http(agent):
    target = agent(env={"PYARTHAS_HEAD_TIMEOUT": "2"})
    port = target.port
    # no Content-Length: an empty body, answered in Arthas's form
    status, _, body = exchange(port, b"POST /api HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    assert status == 200 and json.loads(body)["message"].endswith("request body is empty")
    # bad chunked bodies
    for bad in (b"zz\r\nabc\r\n0\r\n\r\n", b"3\r\nabcdef\r\n0\r\n\r\n"):
        status, _, _ = exchange(port, b"POST /api HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                                      + bad)
        assert status == 400
    status, _, _ = exchange(port, b"POST /api HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  b"zz\r\n")
    assert status == 400
    status, _, _ = exchange(port, b"POST /api HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n")
    assert status == 400
    # huge headers
    status, _, _ = exchange(port, b"POST /api HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 200000 + b"\r\n\r\n")
    assert status == 431
    status, _, _ = exchange(port, b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 500 + b"\r\n")
    assert status == 431
    status, _, _ = exchange(port, b"NONSENSE\r\n\r\n")
    assert status == 400
    # slowloris: the head has a deadline, not each read
    with connect(port) as slow:
        slow.sendall(b"POST /api HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        for _ in range(3):
            time.sleep(0.5)  # a slow client's pace, not a synchronisation
            slow.sendall(b"X-Slow: 1\r\n")
        answer = closed_within(slow, 15)
        assert answer == b"" or answer.startswith(b"HTTP/1.1 408")
    # pipelining: requests on one connection are answered in order (made before connecting: this agent
    # closes a connection that sends nothing for 2 s)
    first = api_request(json.dumps({"action": "exec", "command": "echo one"}).encode()).replace(
        b"Connection: close\r\n", b"")
    second = api_request(json.dumps({"action": "exec", "command": "echo two"}).encode())
    with connect(port) as sock:
        sock.sendall(first + second)
        echoes = []
        for _ in range(2):
            status, _, body = read_response(sock)
            assert status == 200
            echoes.append([r["content"] for r in json.loads(body)["body"]["results"] if r["type"] == "echo"])
        assert echoes == [["one"], ["two"]]
        assert closed_within(sock, 10) == b""
    # other methods on /api
    for method in ("GET", "PUT", "OPTIONS", "DELETE"):
        status, _, body = exchange(port, api_request(b"", method=method))
        assert status == 200
        assert json.loads(body) == {"state": "REFUSED", "message": "Unsupported http method: %s" % method}
    assert_answers_version(target)
