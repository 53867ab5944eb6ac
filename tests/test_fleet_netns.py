"""Agents on separate hosts: each in its own network namespace (``ip netns``, a veth pair to this namespace) and
its own host name (``unshare --uts``), reaching Redis across the virtual network; ``pyarthas fleet -c`` reaches
them all through Redis although their agents' HTTP ports are only on their own loopback."""
import os
import random
import shutil
import subprocess

import pytest

from fleet_helpers import fleet_env, fleet_tool, listed, pyarthas, wait_for
from harness import Target, target_env
from redis_fixtures import needs_redis

pytestmark = needs_redis

SLEEPER = "import pyarthas, time\npyarthas.start(port=0, telnet_port=-1)\nwhile True:\n    time.sleep(0.05)\n"


def _ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20, check=check)


def _netns_unavailable():
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None or shutil.which("unshare") is None:
        return "ip (iproute2) or unshare (util-linux) is not installed"
    probe = "pyarthas-probe-%d" % os.getpid()
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return "ip netns add does not work here: %s" % made.stderr.strip()
    _ip("netns", "del", probe, check=False)
    return None


class Hosts:
    """``count`` namespaces; namespace i reaches this one at 10.X.i.1 (its own address 10.X.i.2)."""

    def __init__(self, count):
        self.tag = "%x" % (os.getpid() & 0xFFFF)
        self.net = random.randint(100, 250)
        self.names = []
        try:
            for i in range(count):
                name, outside, inside = "pya%s-%d" % (self.tag, i), "pya%so%d" % (self.tag, i), "pya%si%d" % (
                    self.tag, i)
                _ip("netns", "add", name)
                self.names.append(name)
                _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
                _ip("link", "set", inside, "netns", name)
                _ip("addr", "add", "%s/24" % self.gateway(i), "dev", outside)
                _ip("link", "set", outside, "up")
                _ip("-n", name, "addr", "add", "10.%d.%d.2/24" % (self.net, i), "dev", inside)
                _ip("-n", name, "link", "set", inside, "up")
                _ip("-n", name, "link", "set", "lo", "up")
        except BaseException:
            self.remove()
            raise

    def gateway(self, i):
        return "10.%d.%d.1" % (self.net, i)

    def run(self, i, argv, env):
        """``argv`` inside namespace i, under the host name ``host-i``."""
        script = 'hostname "$0" && exec "$@"'
        return ["ip", "netns", "exec", self.names[i], "unshare", "--uts", "sh", "-c", script, "host-%d" % i, *argv]

    def remove(self):
        for i, name in enumerate(self.names):
            _ip("link", "del", "pya%so%d" % (self.tag, i), check=False)
            _ip("netns", "del", name, check=False)


def test_agents_in_separate_network_namespaces(target_python, tmp_path, redis_factory):
    reason = _netns_unavailable()
    if reason:
        pytest.skip(reason)
    hosts = Hosts(2)
    targets = []
    try:
        # reached from beyond loopback, Redis wants a password (its protected mode): the ACL user, as in production
        server = redis_factory(acl=True, also_bind=[hosts.gateway(0), hosts.gateway(1)])
        script = tmp_path / "worker.py"
        script.write_text(SLEEPER)
        for i in range(2):
            url = server.url.replace("@127.0.0.1:", "@%s:" % hosts.gateway(i))
            env = target_env(fleet_env(url, "netns"))
            targets.append(Target(hosts.run(i, [target_python, str(script)], env), env, cwd=str(tmp_path)))
        fleet = fleet_tool(server.url)
        agents = wait_for(listed(fleet, "netns", [target.proc.pid for target in targets]), timeout=60,
                          what="both namespaced agents listed")
        assert sorted(info["host"] for info in agents) == ["host-0", "host-1"]
        assert all(info["id"].startswith("netns@host-") for info in agents)
        ran = pyarthas("fleet", "--fleet", server.url, "--app", "netns", "-c", "version", "--merge")
        assert ran.returncode == 0, ran.stderr
        assert sorted(line.split("@")[1].split(":")[0] for line in ran.stdout.splitlines()) == ["host-0", "host-1"]
    finally:
        for target in targets:
            target.kill()
        hosts.remove()
