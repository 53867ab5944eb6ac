"""The agent's tunnel client against Arthas's tunnel protocol: registration, a terminal through the tunnel,
HTTP through ``/proxy``, re-registration after the server comes back, and the Java serialization the server
reads. Run against the protocol peer of ``tunnel_peer.py``, and against Arthas's real tunnel server too when
PYARTHAS_TUNNEL_SERVER_JAR names its fatjar."""
import json
import os
import re
import shutil
import subprocess
import time
import urllib.request

import pytest
from websockets.sync.client import connect as ws_connect

from harness import Target, target_env
from shell_client import wait_until
from tunnel_peer import RealTunnelServer, TunnelPeer, read_simple_http_response

REAL_JAR = os.environ.get("PYARTHAS_TUNNEL_SERVER_JAR")
SERVERS = ["peer"] + (["arthas"] if REAL_JAR else [])
REGISTERED = re.compile(r"registered with the tunnel server \S+ as (\S+)")


@pytest.fixture(params=SERVERS)
def tunnel_server(request):
    server = TunnelPeer() if request.param == "peer" else RealTunnelServer(REAL_JAR)
    yield server
    server.close()


def test_the_real_tunnel_server_is_tested_only_when_named():
    if not REAL_JAR:
        pytest.skip("PYARTHAS_TUNNEL_SERVER_JAR is not set: Arthas's tunnel server is not served by this machine's "
                    "registries, so these tests ran against the protocol peer only")
    assert os.path.isfile(REAL_JAR), REAL_JAR


def start_tunnelled_demo(python, tmp_path, server, *extra) -> Target:
    argv = [python, "-m", "pyarthas", "demo", "--port", "0", "--telnet-port", "-1",
            "--tunnel-server", server.ws_url, *extra]
    return Target(argv, target_env(), cwd=str(tmp_path))


def registered_id(target: Target, timeout: float = 30.0) -> str:
    """The id the agent says it registered under (its stderr, read by the harness's thread)."""
    def found():
        return [m.group(1) for m in map(REGISTERED.search, target.stderr_lines) if m]
    wait_until(found, timeout, "the agent to register; stderr:\n" + "".join(target.stderr_lines))
    return found()[0]


@pytest.fixture
def tunnelled(target_python, tmp_path, tunnel_server):
    target = start_tunnelled_demo(target_python, tmp_path, tunnel_server, "--app-name", "shop")
    try:
        yield target, registered_id(target)
    finally:
        target.kill()


def test_agent_registers_under_its_app_with_a_server_given_id(tunnelled, tunnel_server):
    target, agent_id = tunnelled
    assert re.fullmatch(r"shop_[A-Z0-9]{20}", agent_id), agent_id
    if isinstance(tunnel_server, TunnelPeer):
        agent = tunnel_server.agents[agent_id]
        assert agent["appName"] == "shop"
        assert agent["arthasVersion"] == target.results("version")[0]["version"]
    else:
        assert tunnel_server.agent_listed("shop", agent_id)


def test_a_browser_gets_the_agents_terminal_through_the_tunnel(tunnelled, tunnel_server):
    target, agent_id = tunnelled
    version = target.results("version")[0]["version"]
    with ws_connect("%s?method=connectArthas&id=%s" % (tunnel_server.ws_url, agent_id), open_timeout=30) as browser:
        # as a browser does: type once the terminal shows its prompt (Arthas's server relays nothing
        # sent before the agent's openTunnel arrives)
        seen = _receive_until(browser, r"\[arthas@\d+\]\$ $", "")
        browser.send(json.dumps({"action": "resize", "cols": 120, "rows": 40}))
        browser.send(json.dumps({"action": "read", "data": "version\r"}))
        # the echo, the command's output and the next prompt, drawn by the agent's own shell
        _receive_until(browser, r"\$ version\r\n%s\r\n.*\[arthas@" % re.escape(version), seen)


def _receive_until(browser, pattern: str, seen: str) -> str:
    deadline = time.monotonic() + 30
    while not re.search(pattern, seen, re.S):
        assert time.monotonic() < deadline, seen
        seen += browser.recv(timeout=30)
    return seen


def test_http_through_the_proxy_reaches_the_agents_own_server(tunnelled, tunnel_server):
    _, agent_id = tunnelled
    with urllib.request.urlopen("%s/proxy/%s/api" % (tunnel_server.web_url, agent_id), timeout=30) as reply:
        # Arthas's tunnel server replays requests as GET without a body: the agent's API says so, as Arthas's
        assert json.loads(reply.read()) == {"state": "REFUSED", "message": "Unsupported http method: GET"}
        assert reply.headers["Content-Type"].startswith("application/json")
    with urllib.request.urlopen("%s/proxy/%s/" % (tunnel_server.web_url, agent_id), timeout=30) as reply:
        assert reply.status == 200 and reply.read()


def test_the_agent_registers_again_under_the_same_id_when_the_server_comes_back(target_python, tmp_path):
    peer = TunnelPeer()
    target = start_tunnelled_demo(target_python, tmp_path, peer, "--app-name", "shop")
    try:
        agent_id = registered_id(target)
        port = peer.port
        peer.close()
        peer = TunnelPeer(port)
        assert peer.wait_registered(timeout=30) == agent_id
        assert target.results("version")  # the target and its agent carried on meanwhile
    finally:
        target.kill()
        peer.close()


def test_stop_closes_the_tunnel(target_python, tmp_path):
    peer = TunnelPeer()
    target = start_tunnelled_demo(target_python, tmp_path, peer, "--agent-id", "shop_ONE")
    try:
        assert registered_id(target) == "shop_ONE"
        target.exec("stop")
        wait_until(lambda: "shop_ONE" not in peer.agents, 30, "the control connection to close with the agent")
        assert target.alive()
    finally:
        target.kill()
        peer.close()


def test_a_url_that_can_never_connect_is_refused_at_start(target_python, tmp_path):
    argv = [target_python, "-m", "pyarthas", "demo", "--port", "0", "--tunnel-server", "http://example.org/ws"]
    done = subprocess.run(argv, env=target_env(), cwd=str(tmp_path), capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "--tunnel-server takes a URL like ws://HOST:7777/ws" in done.stderr


JAVA_READER = """
package com.alibaba.arthas.tunnel.common;
import java.io.*;
import java.util.*;
// A class of the same name and fields as the tunnel server's: Java's own ObjectInputStream reads what the agent sent
public class SimpleHttpResponse implements Serializable {
    private static final long serialVersionUID = 1L;
    private int status;
    private Map<String, String> headers = new HashMap<String, String>();
    private byte[] content;
    public static void main(String[] args) throws Exception {
        ObjectInputStream in = new ObjectInputStream(new BufferedInputStream(System.in));
        SimpleHttpResponse r = (SimpleHttpResponse) in.readObject();
        System.out.println(r.status + " " + new TreeMap<String, String>(r.headers) + " " + r.content.length);
    }
}
"""


def test_java_reads_the_agents_serialized_response(tunnelled, tunnel_server, tmp_path):
    if not isinstance(tunnel_server, TunnelPeer):
        pytest.skip("the peer keeps what the agent sent; against the real server the proxy test covers it")
    if not shutil.which("javac"):
        pytest.skip("no javac on this machine")
    _, agent_id = tunnelled
    with urllib.request.urlopen("%s/proxy/%s/api" % (tunnel_server.web_url, agent_id), timeout=30) as reply:
        body = reply.read()
    sent = tunnel_server.proxied[-1]
    status, content, headers = read_simple_http_response(sent)
    assert (status, content) == (200, body)
    source = tmp_path / "com" / "alibaba" / "arthas" / "tunnel" / "common" / "SimpleHttpResponse.java"
    source.parent.mkdir(parents=True)
    source.write_text(JAVA_READER)
    subprocess.run(["javac", str(source)], check=True, timeout=120)
    read = subprocess.run(["java", "-cp", str(tmp_path), "com.alibaba.arthas.tunnel.common.SimpleHttpResponse"],
                          input=sent, capture_output=True, timeout=120, check=True).stdout.decode()
    assert read.strip() == "200 {connection=close, content-length=%d, content-type=%s} %d" % (
        len(body), headers["content-type"], len(body))
