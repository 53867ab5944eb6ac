"""The fleet (agents joined through Redis): fan-out, the cost of a joined idle agent, rejoin after an outage.

    .venv/bin/python bench/bench_fleet.py [--sizes 1,10,50] [--rounds N]

1. Fan-out: ``exec version`` to N agents (N workers forked by one pool process, each joined through the
   environment), time until every answer is in: through the fleet (one signed request per agent, answers
   gathered with BLPOP) beside the same requests sent straight to each agent's HTTP port (in parallel, one
   thread per agent), both measured in the same run, alternating. Median of ``--rounds``.
2. Idle cost: bench_api.py's idle overhead (a CPU-bound loop with the agent started and a session open), the agent
   joined to the fleet, over the loop without the agent, ABBA order (goal: ratio >= 0.99). With the default
   heartbeat (5 s) and with a 0.5 s one (ten times the Redis traffic).
   Under a loaded machine that ratio is mostly noise, so also: the CPU the idle agent's threads use per second
   (the process otherwise asleep), joined and not, from getrusage.
3. Rejoin: Redis killed, down for a while, started again on the same port (empty): the CPU the agent used
   meanwhile (reconnecting with backoff), and the time from the restart until it is registered again.
Needs redis-server (scripts/system-deps.sh).
"""
import argparse
import concurrent.futures
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

from bench_api import IDLE_OVERHEAD  # noqa: E402
from fleet_helpers import PREFORK_POOL  # noqa: E402
from harness import SRC, Target, post_json, target_env  # noqa: E402
from pyarthas.agent.fleet import protocol  # noqa: E402
from pyarthas.cli.fleet_client import Fleet  # noqa: E402
from redis_fixtures import RedisServer  # noqa: E402

KEY = "bench-fleet-key"
BODY = json.dumps({"action": "exec", "command": "version"}).encode()

# bench_api's idle-overhead program (ABBA rounds of a CPU-bound loop, with the agent started and a session
# open but idle), its agent joined to the fleet.
STARTED = "agent = start_agent(port=0, quiet=True)"
JOINED = ("agent = start_agent(port=0, quiet=True, telnet_port=-1, fleet=%(url)r, app_name='idle', fleet_key='k')\n"
          "    assert agent.fleet.joined.wait(10), 'did not join'")
assert STARTED in IDLE_OVERHEAD
IDLE = IDLE_OVERHEAD.replace(STARTED, JOINED)


def wait_until(check, timeout, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise SystemExit("timed out")


def fan_out(server, sizes, rounds):
    print("## fan-out of exec version (median of %d rounds, ms)" % rounds)
    print("| agents | through the fleet | direct HTTP (parallel) | ratio |")
    print("|---|---|---|---|")
    for size in sizes:
        fleet_ms, http_ms = fan_out_to(server, size, rounds)
        print("| %d | %.1f | %.1f | %.2f |" % (size, fleet_ms, http_ms, fleet_ms / http_ms))


def fan_out_to(server, size, rounds):
    app = "bench%d" % size
    env = target_env({"PYARTHAS_FLEET": server.url, "PYARTHAS_APP_NAME": app, "PYARTHAS_FLEET_KEY": KEY})
    with tempfile.TemporaryDirectory() as folder:
        script = os.path.join(folder, "pool.py")
        with open(script, "w") as handle:
            handle.write(PREFORK_POOL % size)
        pool = Target([sys.executable, script], env, wait_for_agent=False)
        fleet = Fleet(server.url, KEY)
        try:
            agents = wait_until(lambda: all_listed(fleet, app, size), timeout=60 + size * 2, interval=0.2)
            ids = [info["id"] for info in agents]
            urls = ["http://%s:%d" % (info["ip"], info["port"]) for info in agents]
            through, direct = [], []
            with concurrent.futures.ThreadPoolExecutor(max_workers=size) as threads:
                for _ in range(rounds):
                    started = time.perf_counter()
                    answers = fleet.fan_out(app, ids, BODY, timeout=30)
                    through.append(time.perf_counter() - started)
                    assert len(answers) == size, answers
                    started = time.perf_counter()
                    replies = list(threads.map(exec_version, urls))
                    direct.append(time.perf_counter() - started)
                    assert all(r["state"] == "SUCCEEDED" for r in replies)
            return statistics.median(through) * 1000, statistics.median(direct) * 1000
        finally:
            fleet.close()
            pool.kill()


def all_listed(fleet, app, size):
    agents = fleet.agents(app)
    return agents if len(agents) == size else None


def exec_version(url):
    return post_json(url, {"action": "exec", "command": "version"})


IDLE_CPU = r"""
import json, resource, sys, time
sys.path.insert(0, %(src)r)
from pyarthas.agent import start as start_agent
fleet = %(url)r or None
agent = start_agent(port=0, quiet=True, telnet_port=-1, fleet=fleet, app_name="idlecpu", fleet_key="k")
if fleet:
    assert agent.fleet.joined.wait(10), "did not join"
time.sleep(1)
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
before, started = cpu(), time.monotonic()
time.sleep(%(seconds)f)   # the main thread sleeps: every CPU second now is the agent's
print(json.dumps({"cpu": cpu() - before, "wall": time.monotonic() - started}))
"""


def idle_cpu(server, seconds):
    """CPU the idle agent's own threads use per second, joined and not (the load of other processes on the
    machine does not enter this figure, as it does the loop's ratio)."""
    print("\n## CPU used by an idle agent's threads (process otherwise asleep, %.0f s)" % seconds)
    print("| agent | CPU ms per s | implied throughput ratio |")
    print("|---|---|---|")
    for label, url, heartbeat in (("not joined", "", "5"), ("joined, heartbeat 5 s", server.url, "5"),
                                  ("joined, heartbeat 0.5 s", server.url, "0.5")):
        code = IDLE_CPU % {"src": SRC, "url": url, "seconds": seconds}
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=seconds + 60,
                             env=target_env({"PYARTHAS_FLEET_HEARTBEAT": heartbeat}))
        measured = json.loads(out.stdout.strip().splitlines()[-1])
        share = measured["cpu"] / measured["wall"]
        print("| %s | %.3f | %.5f |" % (label, share * 1000, 1 - share))


def idle_cost(server, rounds):
    print("\n## idle cost of a joined agent (CPU-bound loop, with / without, %d rounds ABBA)" % rounds)
    print("| heartbeat | ratio (goal >= 0.99) |")
    print("|---|---|")
    for heartbeat in ("5", "0.5"):
        env = target_env({"PYARTHAS_FLEET_HEARTBEAT": heartbeat})
        code = IDLE % {"src": SRC, "url": server.url, "rounds": rounds}
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
        if out.returncode != 0:
            print("| %s s | failed: %s |" % (heartbeat, out.stderr.strip()[-200:]))
            continue
        times = json.loads(out.stdout.strip().splitlines()[-1])
        ratio = statistics.median(times["without"]) / statistics.median(times["with"])
        print("| %s s | %.3f |" % (heartbeat, ratio))


def process_cpu(pid):
    """CPU seconds process ``pid`` used so far (utime + stime from /proc)."""
    with open("/proc/%d/stat" % pid) as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rejoin(server, outages):
    print("\n## Redis down, then restarted (default backoff)")
    print("| Redis down for | target's CPU while down (ms; tick 10 ms) | rejoined after restart (s) |")
    print("|---|---|---|")
    env = target_env({"PYARTHAS_FLEET": server.url, "PYARTHAS_APP_NAME": "rejoin", "PYARTHAS_FLEET_KEY": KEY})
    target = Target([sys.executable, "-c", "import pyarthas, time; pyarthas.start(port=0, telnet_port=-1)\n"
                                           "while True: time.sleep(3600)"], env)
    try:
        fleet = Fleet(server.url, KEY)
        agent_key = protocol.info_key("rejoin", wait_until(lambda: fleet.agents("rejoin"), 30)[0]["id"])
        fleet.close()
        for down in outages:
            server.kill()
            cpu_before = process_cpu(target.proc.pid)
            time.sleep(down)
            cpu_down = process_cpu(target.proc.pid) - cpu_before
            server.start()
            restarted = time.monotonic()
            wait_until(lambda: server.cli("EXISTS", agent_key).strip() == "1", timeout=60)
            print("| %.0f s | %.0f | %.2f |" % (down, cpu_down * 1000, time.monotonic() - restarted))
    finally:
        target.kill()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1,10", help="numbers of agents for the fan-out (default 1,10)")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        server = RedisServer(folder)
        try:
            fan_out(server, [int(size) for size in args.sizes.split(",")], args.rounds)
            idle_cost(server, args.rounds)
            idle_cpu(server, args.idle_seconds)
            rejoin(server, (2.0, 8.0, 30.0))
        finally:
            server.kill()


if __name__ == "__main__":
    main()
