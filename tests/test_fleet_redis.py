"""The agent's own Redis client against the Redis deployments a service may run: a 3-master Redis Cluster (apps
whose keys live on different masters, reached by following MOVED redirects), an ACL user with a password, TLS."""
import json
import sys

import pytest

from fleet_helpers import agent_id_of, fleet_script, fleet_tool, pyarthas, wait_for
from harness import python_id
from pyarthas.agent.fleet import protocol
from pyarthas.agent.fleet.resp import FleetUrl, Redis, RedisError, key_slot
from redis_fixtures import needs_redis

pytestmark = needs_redis

SLEEPER = """
import time
print("ready", flush=True)
while True:
    time.sleep(0.05)
"""


def _apps_on_different_masters(cluster, prefix, count=2):
    apps, nodes = [], []
    for n in range(200):
        app = "%s-%d" % (prefix, n)
        node = cluster.node_of(protocol.info_key(app, "x"))
        if node not in nodes:
            apps.append(app)
            nodes.append(node)
            if len(apps) == count:
                return apps, nodes
    raise AssertionError("no two apps on different masters")


def test_cluster_apps_on_different_masters(target_python, tmp_path, redis_cluster):
    # the cluster serves the whole module: each interpreter's agents get apps of their own
    apps, nodes = _apps_on_different_masters(redis_cluster, "shop-" + python_id(target_python))
    targets = []
    try:
        for app in apps:
            (tmp_path / app).mkdir()
            targets.append(fleet_script(target_python, tmp_path / app, SLEEPER, redis_cluster.url, app))
        fleet = fleet_tool(redis_cluster.url)
        ids = [agent_id_of(fleet, app, target.proc.pid) for app, target in zip(apps, targets)]
        for app, agent_id, node in zip(apps, ids, nodes):
            assert node.cli("EXISTS", protocol.info_key(app, agent_id)).strip() == "1"   # on that master
        assert set(apps) <= set(fleet.apps())
        for app, agent_id in zip(apps, ids):
            ran = pyarthas("fleet", "--fleet", redis_cluster.url, "--app", app, "-c", "version", "--json")
            assert ran.returncode == 0, ran.stderr
            assert list(json.loads(ran.stdout)["answers"]) == [agent_id]
    finally:
        for target in targets:
            target.kill()


def test_key_slots_match_the_cluster(redis_cluster):
    for key in ("pyarthas:apps", "pyarthas:{shop}:agents", "{}", "a{b}c{d}", "{}x{y}", "plain", "ünïcode"):
        expected = int(redis_cluster.nodes[0].cli("CLUSTER", "KEYSLOT", key).strip())
        assert key_slot(key.encode("utf-8")) == expected, key


def test_the_stdlib_client_follows_redirects_from_any_node(redis_cluster):
    for seed in redis_cluster.nodes:
        client = Redis(FleetUrl("redis://127.0.0.1:%d/0" % seed.port))
        try:
            for n in range(20):
                key = "redirect-test-%d" % n
                assert client.call("SET", key, str(n), key=key) == "OK"
                assert client.call("GET", key, key=key) == str(n).encode()
        finally:
            client.close()


def _joins_and_answers(python, tmp_path, url, app):
    """Start a target joining ``url`` as ``app``; once it answered through the fleet, its ``session``."""
    target = fleet_script(python, tmp_path, SLEEPER, url, app)
    try:
        fleet = fleet_tool(url)
        agent_id = agent_id_of(fleet, app, target.proc.pid)
        answer = fleet.request(app, agent_id, json.dumps({"action": "exec", "command": "version"}).encode(), 30)
        assert answer["state"] == "SUCCEEDED"
        return target.results("session")[0]
    finally:
        target.kill()


def test_acl_user_and_password(target_python, tmp_path, acl_redis):
    session = _joins_and_answers(target_python, tmp_path, acl_redis.url, "acl")
    assert session["tunnelServer"] == "redis://fleet@127.0.0.1:%d/0" % acl_redis.port   # no password shown


def test_wrong_password_is_a_clear_error_and_costs_the_target_nothing(tmp_path, acl_redis):
    url = acl_redis.url.replace(":s3cret-fleet@", ":wrong@")
    with pytest.raises(RedisError, match="refused us: WRONGPASS"):
        Redis(FleetUrl(url)).call("PING")
    target = fleet_script(sys.executable, tmp_path, SLEEPER, url, "wrongpass")
    try:
        def fleet_row():
            runtime = next(r for r in target.results("jvm") if r["type"] == "jvm")["jvmInfo"]["RUNTIME"]
            return next((row["value"] for row in runtime if row["name"] == "FLEET" and "WRONGPASS" in row["value"]),
                        None)
        assert wait_for(fleet_row, what="the fleet's error in jvm").startswith("not joined (")
        assert target.results("session")[0]["tunnelConnected"] is False
        assert not fleet_tool(acl_redis.url).agents("wrongpass")
    finally:
        target.kill()


def test_tls(target_python, tmp_path, tls_redis):
    session = _joins_and_answers(target_python, tmp_path, tls_redis.url, "tls")
    assert session["tunnelServer"].startswith("rediss://127.0.0.1:%d/0" % tls_redis.port)


def test_fleet_url_parsing():
    url = FleetUrl("rediss://user:p%40ss@cache.internal:6380/3?ssl_cert_reqs=none")
    assert (url.tls, url.host, url.port, url.db, url.username, url.password, url.verify) == (
        True, "cache.internal", 6380, 3, "user", "p@ss", False)
    assert url.safe() == "rediss://user@cache.internal:6380/3"
    for bad in ("http://x", "redis://h:port/0", "redis://h/db"):
        with pytest.raises(ValueError):
            FleetUrl(bad)
