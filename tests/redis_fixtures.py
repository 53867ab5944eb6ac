"""Real Redis servers for the fleet tests: Debian's redis-server (scripts/system-deps.sh installs it) started on
free loopback ports, in a temporary folder, without persistence.

- ``RedisServer``: one instance (optionally with an ACL user and password, or TLS only with a certificate made
  by openssl for 127.0.0.1); ``kill()`` and ``start()`` again on the same port (an outage).
- ``RedisCluster``: three masters (``--cluster-enabled yes``, joined by ``redis-cli --cluster create``).
Fixtures: ``redis_server``, ``acl_redis``, ``tls_redis``, ``redis_cluster``, and ``redis_factory`` for tests that need
their own server.
"""
import os
import random
import shutil
import socket
import subprocess
import time
from typing import Iterable, List, Optional

import pytest

REDIS_SERVER = shutil.which("redis-server")
REDIS_CLI = shutil.which("redis-cli")
START_TIMEOUT = 20.0
ACL_USER, ACL_PASSWORD = "fleet", "s3cret-fleet"

needs_redis = pytest.mark.skipif(REDIS_SERVER is None or REDIS_CLI is None,
                                 reason="redis-server/redis-cli not installed (scripts/system-deps.sh installs them)")


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(with_bus: bool = False) -> int:
    """A free loopback port (and, for a cluster node, its bus port, the port + 10000, free too)."""
    for _ in range(200):
        port = random.randint(20000, 45000)
        if _port_free(port) and (not with_bus or _port_free(port + 10000)):
            return port
    raise RuntimeError("no free port found")


class RedisServer:
    def __init__(self, folder, port: Optional[int] = None, acl: bool = False, cluster: bool = False,
                 tls: bool = False, also_bind: Iterable[str] = ()):
        self.folder = str(folder)
        os.makedirs(self.folder, exist_ok=True)
        self.port = port or free_port(with_bus=cluster)
        self.acl = acl
        self.cluster = cluster
        self.tls = tls
        self.also_bind = list(also_bind)   # more addresses to listen on (a veth of a network namespace test)
        self.ca_file = os.path.join(self.folder, "cert.pem")
        if tls:
            self._make_certificate()
        self.proc: Optional[subprocess.Popen] = None
        self.start()

    @property
    def url(self) -> str:
        auth = "%s:%s@" % (ACL_USER, ACL_PASSWORD) if self.acl else ""
        if self.tls:
            return "rediss://%s127.0.0.1:%d/0?ssl_ca_certs=%s" % (auth, self.port, self.ca_file)
        return "redis://%s127.0.0.1:%d/0" % (auth, self.port)

    def _make_certificate(self) -> None:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                        "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout",
                        os.path.join(self.folder, "key.pem"), "-out", self.ca_file],
                       check=True, capture_output=True, timeout=60)

    def argv(self) -> List[str]:
        ports = ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", self.ca_file, "--tls-key-file",
                 os.path.join(self.folder, "key.pem"), "--tls-ca-cert-file", self.ca_file,
                 "--tls-auth-clients", "no"] if self.tls else ["--port", str(self.port)]
        argv = [REDIS_SERVER, *ports, "--bind", "127.0.0.1", *self.also_bind, "--save", "", "--appendonly", "no",
                "--dir", self.folder, "--daemonize", "no", "--logfile", os.path.join(self.folder, "redis.log")]
        if self.acl:
            argv += ["--user", ACL_USER, "on", ">" + ACL_PASSWORD, "~*", "&*", "+@all", "--user", "default", "off"]
        if self.cluster:
            argv += ["--cluster-enabled", "yes", "--cluster-config-file",
                     os.path.join(self.folder, "nodes-%d.conf" % self.port), "--cluster-node-timeout", "5000"]
        return argv

    def start(self) -> None:
        self.proc = subprocess.Popen(self.argv(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("redis-server exited: %s" % self._log())
            if self.cli("PING").strip() in ("PONG", "NOAUTH Authentication required."):
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not answer on %d: %s" % (self.port, self._log()))

    def cli(self, *args: str, timeout: float = 10.0) -> str:
        argv = [REDIS_CLI, "-p", str(self.port)]
        if self.tls:
            argv += ["--tls", "--cacert", self.ca_file]
        if self.acl:
            argv += ["--user", ACL_USER, "--pass", ACL_PASSWORD, "--no-auth-warning"]
        try:
            return subprocess.run(argv + list(args), capture_output=True, text=True, timeout=timeout).stdout
        except subprocess.TimeoutExpired:
            return ""

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def _log(self) -> str:
        try:
            with open(os.path.join(self.folder, "redis.log")) as handle:
                return handle.read()[-2000:]
        except OSError:
            return "(no log)"


class RedisCluster:
    """Three masters on loopback; ``url`` names the first (the others are found by redirects)."""

    def __init__(self, folder):
        self.nodes = [RedisServer(os.path.join(str(folder), "node%d" % i), cluster=True) for i in range(3)]
        try:
            created = subprocess.run(
                [REDIS_CLI, "--cluster", "create"] + ["127.0.0.1:%d" % node.port for node in self.nodes]
                + ["--cluster-replicas", "0", "--cluster-yes"], capture_output=True, text=True, timeout=60)
            if created.returncode != 0:
                raise RuntimeError("redis-cli --cluster create failed: %s %s" % (created.stdout, created.stderr))
            self._wait_ok()
        except BaseException:
            self.kill()
            raise

    def _wait_ok(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if all("cluster_state:ok" in node.cli("CLUSTER", "INFO") for node in self.nodes):
                return
            time.sleep(0.2)
        raise RuntimeError("the cluster did not become ready")

    @property
    def url(self) -> str:
        return "redis://127.0.0.1:%d/0" % self.nodes[0].port

    def node_of(self, key: str) -> "RedisServer":
        slot = int(self.nodes[0].cli("CLUSTER", "KEYSLOT", key).strip())
        for node in self.nodes:
            for line in node.cli("CLUSTER", "NODES").splitlines():
                fields = line.split()
                if "myself" in fields[2]:
                    for part in fields[8:]:
                        low, _, high = part.partition("-")
                        if low.isdigit() and int(low) <= slot <= int(high or low):
                            return node
        raise AssertionError("no node serves slot %d" % slot)

    def kill(self) -> None:
        for node in self.nodes:
            node.kill()


@pytest.fixture
def redis_factory(tmp_path):
    servers = []

    def make(**options) -> RedisServer:
        server = RedisServer(tmp_path / ("redis%d" % len(servers)), **options)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.kill()


def _server(tmp_path, name: str, **options):
    server = RedisServer(tmp_path / name, **options)
    yield server
    server.kill()


# One server per test (they start in a few milliseconds): no test sees another's agents, even a dead one's
# registration that has not expired yet.
@pytest.fixture
def redis_server(tmp_path):
    yield from _server(tmp_path, "redis")


@pytest.fixture
def acl_redis(tmp_path):
    yield from _server(tmp_path, "redis-acl", acl=True)


@pytest.fixture
def tls_redis(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: no certificate for the TLS Redis")
    yield from _server(tmp_path, "redis-tls", tls=True)


@pytest.fixture(scope="module")
def redis_cluster(tmp_path_factory):
    cluster = RedisCluster(tmp_path_factory.mktemp("redis-cluster"))
    yield cluster
    cluster.kill()
