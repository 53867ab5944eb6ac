"""What the fleet tests share: targets that join a fleet through environment variables, the ``pyarthas fleet``
CLI as a subprocess, and waits (with timeouts) for the fleet to show what a test expects."""
import json
import re
import subprocess
import sys
import time
import urllib.parse
from typing import Any, Callable, Dict, List, Optional

from harness import post_raw, start_demo, start_script, target_env

KEY = "test-fleet-key-0123456789"
HEARTBEAT = "0.5"           # registrations expire after three heartbeats: 1.5 s
GATEWAY_LINE = re.compile(r"gateway serving (http://\S+)")

# A Celery-style prefork pool: the parent forks its workers; each worker starts the agent after the fork, and
# joins the fleet through the environment variables alone.
PREFORK_POOL = """
import os, sys, time
parent, children = os.getpid(), []
for n in range(%d):
    pid = os.fork()
    if pid == 0:
        import pyarthas
        pyarthas.start(port=0, telnet_port=-1)
        print("worker", os.getpid(), flush=True)
        while os.getppid() == parent:   # a worker outlives no pool
            time.sleep(0.05)
        os._exit(0)
    children.append(pid)
print("pool", " ".join(map(str, children)), flush=True)
try:
    while True:
        time.sleep(0.2)
finally:
    for pid in children:
        os.kill(pid, 9)
"""


def fleet_env(url: str, app: str, key: Optional[str] = KEY, **more: str) -> Dict[str, str]:
    env = {"PYARTHAS_FLEET": url, "PYARTHAS_APP_NAME": app, "PYARTHAS_FLEET_HEARTBEAT": HEARTBEAT,
           "PYARTHAS_FLEET_BACKOFF_MAX": "1"}
    if key is not None:
        env["PYARTHAS_FLEET_KEY"] = key
    env.update(more)
    return env


def fleet_demo(python: str, tmp_path, url: str, app: str, **more: str):
    return start_demo(python, tmp_path, env=fleet_env(url, app, **more))


def fleet_script(python: str, tmp_path, code: str, url: str, app: str, **more: str):
    return start_script(python, code, tmp_path, env=fleet_env(url, app, **more))


def tool_env(key: Optional[str] = KEY) -> Dict[str, str]:
    env = target_env()
    env.pop("PYARTHAS_FLEET_KEY", None)
    if key is not None:
        env["PYARTHAS_FLEET_KEY"] = key
    return env


def pyarthas(*args: str, key: Optional[str] = KEY, timeout: float = 90.0) -> subprocess.CompletedProcess:
    """``pyarthas ARGS`` in a subprocess of the tools' interpreter."""
    return subprocess.run([sys.executable, "-m", "pyarthas", *args], capture_output=True, text=True,
                          env=tool_env(key), timeout=timeout)


def fleet_tool(url: str):
    from pyarthas.cli.fleet_client import Fleet
    return Fleet(url, KEY)


def wait_for(check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1, what: str = "") -> Any:
    """Ask ``check`` until it returns something true; that value, or AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what or check, last))


def listed(fleet, app: str, pids: List[int]) -> Callable[[], Optional[List[Dict[str, Any]]]]:
    """A check for ``wait_for``: the app's agents once those of ``pids`` are all listed."""
    def check():
        agents = fleet.agents(app)
        return agents if set(pids) <= {info["pid"] for info in agents} else None
    return check


def listed_count(fleet, app: str, count: int) -> Callable[[], Optional[List[Dict[str, Any]]]]:
    """A check for ``wait_for``: the app's agents once there are ``count`` of them."""
    def check():
        agents = fleet.agents(app)
        return agents if len(agents) == count else None
    return check


def agent_id_of(fleet, app: str, pid: int) -> str:
    info = wait_for(lambda: next((a for a in fleet.agents(app) if a["pid"] == pid), None), what="agent %d" % pid)
    return info["id"]


class Gateway:
    """``pyarthas fleet gateway`` as a real process on a free port."""

    def __init__(self, url: str, *args: str):
        self.proc = subprocess.Popen([sys.executable, "-m", "pyarthas", "fleet", "gateway", "--fleet", url,
                                      "--port", "0", *args], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     env=tool_env(), text=True)
        line = self.proc.stderr.readline()
        match = GATEWAY_LINE.search(line)
        assert match, line + self.proc.stderr.read()
        self.url = match.group(1)

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)


def proxy(gateway_url: str, agent_id: str, body: Any, headers: Optional[Dict[str, str]] = None, method="POST"):
    """(HTTP status, JSON answer) of ``body`` sent to ``/proxy/AGENT_ID/api`` of the gateway."""
    return http_json(gateway_url, "/proxy/%s/api" % urllib.parse.quote(agent_id, safe="@:"), body, headers, method)


def http_json(url: str, path: str, body: Any = None, headers: Optional[Dict[str, str]] = None, method="POST"):
    data = json.dumps(body).encode("utf-8") if body is not None else b""
    status, _, raw = post_raw(url, data, headers, method=method, path=path)
    return status, (json.loads(raw) if raw else None)
