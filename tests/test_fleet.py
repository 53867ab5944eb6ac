"""The fleet against real Redis servers (tests/redis_fixtures.py) and real targets, under every CPython here:
agents join through environment variables, are listed, answer ``pyarthas fleet -c`` and the gateway's
``/proxy/AGENT_ID/api``, and vanish when they die."""
import json
import os
import re
import signal
import sys
import time

from fleet_helpers import (
    PREFORK_POOL,
    Gateway,
    agent_id_of,
    fleet_demo,
    fleet_env,
    fleet_script,
    fleet_tool,
    http_json,
    listed,
    listed_count,
    proxy,
    pyarthas,
    wait_for,
)
from harness import start_script
from pyarthas.agent.fleet import protocol
from redis_fixtures import needs_redis

pytestmark = needs_redis

SLEEPER = """
import time
print("ready", flush=True)
while True:
    time.sleep(0.05)
"""

def test_agent_joins_is_listed_and_vanishes(target_python, tmp_path, redis_server):
    fleet = fleet_tool(redis_server.url)
    target = fleet_demo(target_python, tmp_path, redis_server.url, "joins")
    try:
        joining = "fleet: joining redis://127.0.0.1:%d/0 as joins@" % redis_server.port
        wait_for(lambda: any(joining in line for line in target.stderr_lines), what=joining)
        agents = wait_for(listed(fleet, "joins", [target.proc.pid]), what="the agent listed")
        info = agents[0]
        assert info["id"] == "joins@%s:%d" % (info["host"], target.proc.pid)   # APPNAME@HOST:PID
        assert info["app"] == "joins" and info["pid"] == target.proc.pid
        assert re.match(r"^3\.\d+\.\d+$", info["python"]) and info["version"]
        assert "joins" in fleet.apps()
        # the agent tells its fleet id about itself (Arthas's session shows its tunnel the same way)
        session = target.results("session")[0]
        assert session["agentId"] == info["id"] and session["tunnelConnected"] is True
        assert session["tunnelServer"] == "redis://127.0.0.1:%d/0" % redis_server.port
    finally:
        target.kill()
    wait_for(lambda: not fleet.agents("joins"), timeout=20, what="the dead agent's registration to expire")
    assert "joins" not in fleet.apps()


def test_stopped_agent_leaves_at_once(target_python, tmp_path, redis_server):
    fleet = fleet_tool(redis_server.url)
    target = fleet_script(target_python, tmp_path, SLEEPER, redis_server.url, "leaves",
                          PYARTHAS_FLEET_HEARTBEAT="30")   # expiry alone would take 90 s
    try:
        wait_for(listed(fleet, "leaves", [target.proc.pid]))
        target.results("stop")
        wait_for(lambda: not fleet.agents("leaves"), timeout=15, what="the registration removed by stop")
        assert target.alive()
    finally:
        target.kill()


def test_without_a_key_the_agent_refuses_to_join(target_python, tmp_path, redis_server):
    target = fleet_script(target_python, tmp_path, SLEEPER, redis_server.url, "keyless", key=None)
    try:
        refusal = "fleet: not joined: no fleet key (set $PYARTHAS_FLEET_KEY"
        wait_for(lambda: any(refusal in line for line in target.stderr_lines), what=refusal)
        assert not fleet_tool(redis_server.url).agents("keyless")
        assert target.results("version")  # the agent itself serves on
    finally:
        target.kill()


def test_seed_session_flow_through_the_gateway(target_python, tmp_path, redis_server):
    """The seed's requests verbatim, through ``/proxy/AGENT_ID/api``, including long polling."""
    fleet = fleet_tool(redis_server.url)
    demo = fleet_demo(target_python, tmp_path, redis_server.url, "seed")
    gateway = Gateway(redis_server.url)
    try:
        agent_id = agent_id_of(fleet, "seed", demo.proc.pid)
        assert "seed" in http_json(gateway.url, "/api/tunnelApps", method="GET")[1]
        status, infos = http_json(gateway.url, "/api/tunnelAgentInfo?app=seed", method="GET")
        assert status == 200 and infos[agent_id]["arthasVersion"] and infos[agent_id]["pid"] == demo.proc.pid

        def api(body):
            status, answer = proxy(gateway.url, agent_id, body)
            assert status == 200, answer
            return answer

        reply = api({"action": "init_session"})
        assert reply["state"] == "SUCCEEDED"
        session_id = reply["sessionId"]
        joined = api({"action": "join_session", "sessionId": session_id})
        assert joined["state"] == "SUCCEEDED" and joined["consumerId"].endswith("_2")
        pulled = api({"action": "pull_results", "sessionId": session_id, "consumerId": joined["consumerId"]})
        results = pulled["body"]["results"]
        assert [r["type"] for r in results] == ["input_status", "message", "welcome", "input_status"]
        assert results[2]["pid"] == str(demo.proc.pid)

        scheduled = api({"action": "async_exec", "sessionId": session_id,
                         "command": "watch demo.MathGame primeFactors \"{params, returnObj, throwExp}\" "})
        assert scheduled["state"] == "SCHEDULED" and scheduled["body"]["jobStatus"] == "READY"
        watched = []
        for _ in range(40):   # long polls: each waits on the agent until results come
            pulled = api({"action": "pull_results", "sessionId": session_id, "consumerId": reply["consumerId"]})
            assert pulled["state"] == "SUCCEEDED"
            watched += [r for r in pulled["body"]["results"] if r["type"] == "watch"]
            if watched:
                break
        assert watched and watched[0]["className"] == "demo.MathGame" and len(watched[0]["value"]) == 3

        interrupted = api({"action": "interrupt_job", "sessionId": session_id})
        assert interrupted["state"] == "SUCCEEDED"
        assert api({"action": "close_session", "sessionId": session_id}) == {"state": "SUCCEEDED"}
        gone = api({"action": "session_info", "sessionId": session_id})
        assert gone == {"state": "FAILED", "message": "session not found: %s" % session_id}
        status, answer = proxy(gateway.url, "nobody@nowhere:1", {"action": "init_session"})
        assert status == 404 and "no live agent nobody@nowhere:1" in answer["message"]
    finally:
        gateway.close()
        demo.kill()


def test_gateway_basic_auth_origin_and_methods(tmp_path, redis_server):
    gateway = Gateway(redis_server.url, "--password", "pw")
    try:
        assert http_json(gateway.url, "/api/tunnelApps", method="GET")[0] == 401
        auth = {"Authorization": "Basic YXJ0aGFzOnB3"}   # arthas:pw
        assert http_json(gateway.url, "/api/tunnelApps", headers=auth, method="GET")[0] == 200
        status, answer = http_json(gateway.url, "/api/tunnelApps", headers=dict(auth, Origin="http://evil.test"),
                                   method="GET")
        assert status == 403 and answer["state"] == "REFUSED"
        status, answer = proxy(gateway.url, "any@host:1", None, headers=auth, method="GET")
        assert answer == {"state": "REFUSED", "message": "Unsupported http method: GET"}
    finally:
        gateway.close()
    beyond = pyarthas("fleet", "gateway", "--fleet", redis_server.url, "--ip", "0.0.0.0", "--port", "0")
    assert beyond.returncode == 2 and "needs --password" in beyond.stderr


def test_fleet_command_on_a_prefork_pool(target_python, tmp_path, redis_server):
    """Three forked workers join through the environment; ``fleet -c`` reaches each, grouped, merged, JSON."""
    pool = start_script(target_python, PREFORK_POOL % 3, tmp_path, agent=False,
                        env=fleet_env(redis_server.url, "pool"))
    pids = []
    try:
        pids += [int(pid) for pid in pool.wait_stdout(r"^pool ", timeout=30).split()[1:]]
        fleet = fleet_tool(redis_server.url)
        wait_for(listed(fleet, "pool", pids), timeout=60, what="three workers listed")

        listing = pyarthas("fleet", "--fleet", redis_server.url, "--app", "pool")
        assert listing.returncode == 0 and listing.stdout.split("\n")[0].split() == [
            "ID", "APP", "HOST", "PID", "PYTHON", "UPTIME"]
        assert all(str(pid) in listing.stdout for pid in pids)

        getpid = "ognl '__import__(\"os\").getpid()'"
        ran = pyarthas("fleet", "--fleet", redis_server.url, "--app", "pool", "-c", getpid, "--json")
        assert ran.returncode == 0, ran.stderr
        document = json.loads(ran.stdout)
        assert document["missing"] == [] and len(document["answers"]) == 3
        answered = {agent_id: next(r["value"] for r in answer["body"]["results"] if r["type"] == "ognl")
                    for agent_id, answer in document["answers"].items()}
        assert sorted(answered.values()) == sorted(pids)
        assert all(agent_id.endswith(":%d" % pid) for agent_id, pid in answered.items())

        grouped = pyarthas("fleet", "--fleet", redis_server.url, "--app", "pool", "-c", "version")
        assert grouped.returncode == 0 and grouped.stdout.count("== pool@") == 3
        merged = pyarthas("fleet", "--fleet", redis_server.url, "--app", "pool", "-c", "version", "--merge",
                          "--agent", "pool@*:%d" % pids[0])
        lines = merged.stdout.strip().splitlines()
        assert merged.returncode == 0 and len(lines) == 1 and re.match(r"^pool@\S+:%d  \d" % pids[0], lines[0])

        # a request to the whole app (its shared inbox): every worker answers on the one reply key
        answers = broadcast(fleet, "pool", {"action": "exec", "command": "version"}, expected=3)
        assert sorted(a["agentId"] for a in answers) == sorted(answered)
    finally:
        pool.kill()
        for pid in pids:
            _kill(pid)
        wait_for(lambda: not fleet_tool(redis_server.url).agents("pool"), timeout=20, what="the pool gone")


def _kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def broadcast(fleet, app, body, expected, timeout=30.0):
    fields, reply = protocol.signed_request(fleet.key, app, protocol.EVERY_AGENT, json.dumps(body).encode())
    fleet.redis.xadd(protocol.inbox_key(app), fields, maxlen=protocol.INBOX_MAXLEN)
    answers = []
    deadline = time.monotonic() + timeout
    while len(answers) < expected:
        answer = fleet.wait([reply], deadline)
        assert answer is not None, answers
        answers.append(answer)
    return answers


def test_agent_killed_mid_command_is_named_missing(target_python, tmp_path, redis_server):
    """One agent dies while running the command: the others' results come, the dead one is named."""
    targets = []
    for n in range(2):
        (tmp_path / str(n)).mkdir()
        targets.append(fleet_script(target_python, tmp_path / str(n), SLEEPER, redis_server.url, "dies"))
    try:
        fleet = fleet_tool(redis_server.url)
        wait_for(listed(fleet, "dies", [t.proc.pid for t in targets]))
        victim, survivor = targets
        command = ("ognl '__import__(\"os\").kill(__import__(\"os\").getpid(), 9) "
                   "if __import__(\"os\").getpid() == %d else \"alive\"'" % victim.proc.pid)
        ran = pyarthas("fleet", "--fleet", redis_server.url, "--app", "dies", "-c", command, "--timeout", "4")
        assert ran.returncode == 1
        assert "alive" in ran.stdout and ":%d (" % survivor.proc.pid in ran.stdout
        assert re.search(r"no answer within 4 s from 1 of 2 agents: dies@\S+:%d" % victim.proc.pid, ran.stderr)
        assert victim.proc.wait(timeout=10) == -9 and survivor.alive()
    finally:
        for target in targets:
            target.kill()


def test_console_over_the_fleet(target_python, tmp_path, redis_server):
    fleet = fleet_tool(redis_server.url)
    target = fleet_script(target_python, tmp_path, SLEEPER, redis_server.url, "console")
    try:
        agent_id = agent_id_of(fleet, "console", target.proc.pid)
        ran = pyarthas("console", "--fleet", redis_server.url, "--agent", agent_id, "-c", "version; session")
        assert ran.returncode == 0, ran.stderr
        assert re.search(r"AGENT_ID\s+%s" % re.escape(agent_id), ran.stdout)
        assert re.search(r"JAVA_PID\s+%d" % target.proc.pid, ran.stdout)
        unknown = pyarthas("console", "--fleet", redis_server.url, "--agent", "ghost@x:1", "-c", "version")
        assert unknown.returncode == 1 and "no live agent ghost@x:1" in unknown.stderr
    finally:
        target.kill()


def test_redis_down_and_back(target_python, tmp_path, redis_factory):
    """Redis killed: the target carries on and its agent answers over HTTP; Redis back on the same port:
    the agent rejoins by itself and answers through the fleet again."""
    server = redis_factory()
    demo = fleet_demo(target_python, tmp_path, server.url, "outage")
    try:
        fleet = fleet_tool(server.url)
        agent_id = agent_id_of(fleet, "outage", demo.proc.pid)
        fleet.close()
        server.kill()
        for _ in range(3):
            demo.wait_stdout(r"\d", timeout=15)   # the demo's own work goes on
        assert demo.results("version")
        session = demo.results("session")[0]
        wait_for(lambda: demo.results("session")[0]["tunnelConnected"] is False, what="the link noticing")
        assert session["agentId"] == agent_id
        server.start()
        fleet = fleet_tool(server.url)
        wait_for(lambda: agent_id_of(fleet, "outage", demo.proc.pid), timeout=30, what="rejoin")
        answer = fleet.request("outage", agent_id, json.dumps({"action": "exec", "command": "version"}).encode(), 30)
        assert answer["state"] == "SUCCEEDED" and demo.alive()
    finally:
        demo.kill()


def test_flood_to_one_agent_stays_bounded(tmp_path, redis_server):
    """Thousands of requests at once: the inbox stays near its cap in Redis, the agent runs a few at a time and
    refuses the rest, and the target's own HTTP API still answers."""
    target = fleet_script(sys.executable, tmp_path, SLEEPER, redis_server.url, "flood")
    try:
        fleet = fleet_tool(redis_server.url)
        agent_id = agent_id_of(fleet, "flood", target.proc.pid)
        inbox = protocol.inbox_key("flood", agent_id)
        body = json.dumps({"action": "exec", "command": "ognl '__import__(\"time\").sleep(0.2)'"}).encode()
        replies, lengths = [], []
        for _ in range(10):
            pipe = fleet.redis.pipeline(transaction=False)
            for _ in range(300):
                fields, reply = protocol.signed_request(fleet.key, "flood", agent_id, body)
                pipe.xadd(inbox, fields, maxlen=protocol.INBOX_MAXLEN, approximate=True)
                replies.append(reply)
            pipe.execute()
            lengths.append(fleet.redis.xlen(inbox))
        assert max(lengths) <= protocol.INBOX_MAXLEN + 300   # approximate trimming works on whole nodes
        states = {}
        for reply in replies[-protocol.INBOX_MAXLEN // 2:]:
            answer = fleet.wait([reply], time.monotonic() + 20)
            if answer is not None:
                states[answer["state"]] = states.get(answer["state"], 0) + 1
        assert states.get("REFUSED", 0) > 0, states   # beyond its workers, refused at once
        assert target.results("version")
        threads = target.ognl("len(__import__('threading').enumerate())")
        assert threads < 30, threads
        wait_for(lambda: fleet.redis.xlen(inbox) == 0, timeout=30, what="the inbox drained")
    finally:
        target.kill()


def test_target_without_fleet_starts_no_link(tmp_path):
    target = start_script(sys.executable, SLEEPER, tmp_path, env={"PYARTHAS_FLEET": ""})
    try:
        names = target.ognl("[t.name for t in __import__('threading').enumerate()]")
        assert "pyarthas-fleet" not in names
        assert not any("fleet" in line for line in target.stderr_lines)
    finally:
        target.kill()



def test_attach_joins_with_the_key_of_the_attaching_shell(target_python, tmp_path, redis_server):
    """``attach --fleet``: the target's environment has no fleet variables; the key comes from the CLI's."""
    target = start_script(target_python, SLEEPER, tmp_path, agent=False)
    try:
        target.wait_stdout("ready", timeout=30)
        attached = pyarthas("attach", str(target.proc.pid), "--port", "0", "--telnet-port", "-1", "--fleet",
                            redis_server.url, "--app-name", "attached", "--agent-id", "attached-%d" % target.proc.pid)
        assert attached.returncode == 0, attached.stderr
        fleet = fleet_tool(redis_server.url)
        assert agent_id_of(fleet, "attached", target.proc.pid) == "attached-%d" % target.proc.pid
        answer = fleet.request("attached", "attached-%d" % target.proc.pid,
                               json.dumps({"action": "exec", "command": "version"}).encode(), 30)
        assert answer["state"] == "SUCCEEDED"
    finally:
        target.kill()


def test_joined_idle_agent_sleeps(target_python, tmp_path, redis_server):
    """Joined and idle, the agent sleeps in Redis (XREAD BLOCK until the next heartbeat): its threads barely
    wake up."""
    from test_api_protocol import _context_switches
    quiet = "import time\nprint('ready', flush=True)\ntime.sleep(3600)\n"
    target = fleet_script(target_python, tmp_path, quiet, redis_server.url, "asleep", PYARTHAS_FLEET_HEARTBEAT="5")
    try:
        agent_id_of(fleet_tool(redis_server.url), "asleep", target.proc.pid)
        switches_before = _context_switches(target.proc.pid)
        time.sleep(2.0)  # the measurement window itself, not a synchronisation
        switches = _context_switches(target.proc.pid) - switches_before
        assert switches <= 12, switches
    finally:
        target.kill()


def test_fleet_command_on_gunicorn_workers(tmp_path, redis_server):
    """gunicorn with 3 sync workers, each starting its agent in post_fork (tests/framework_apps/gunicorn_conf.py,
    the recipe of docs/fleet.md) and joining through the environment alone; ``fleet -c`` under load reaches all
    three, each a child of the master."""
    from frameworks import Load, start_gunicorn
    server = start_gunicorn(workers=3, env=fleet_env(redis_server.url, "gunicorn"))
    agents = []
    try:
        fleet = fleet_tool(redis_server.url)
        agents += wait_for(listed_count(fleet, "gunicorn", 3), timeout=60, what="three gunicorn workers listed")
        with Load(server.http_port, "/hot") as load:
            getpid = "ognl '[__import__(\"os\").getpid(), __import__(\"os\").getppid()]'"
            ran = pyarthas("fleet", "--fleet", redis_server.url, "--app", "gunicorn", "-c", getpid, "--json")
        assert ran.returncode == 0, ran.stderr
        document = json.loads(ran.stdout)
        assert document["missing"] == [] and sorted(document["answers"]) == sorted(a["id"] for a in agents)
        pids = [next(r["value"] for r in answer["body"]["results"] if r["type"] == "ognl")
                for answer in document["answers"].values()]
        assert len({pid for pid, _ in pids}) == 3 and {parent for _, parent in pids} == {server.proc.pid}
        assert load.count > 0 and not load.errors, (load.count, load.errors[:3])
    finally:
        server.kill()
        for info in agents:   # a sync worker would notice its master gone only at its next wake-up
            _kill(info["pid"])


def test_fleet_command_on_uvicorn_workers(tmp_path, redis_server):
    """``uvicorn --workers 2``: each worker starts its agent in the app's lifespan and joins the fleet."""
    from frameworks import FRAMEWORK_PYTHON, Server, free_port
    port = free_port()
    server = Server([FRAMEWORK_PYTHON, "-m", "uvicorn", "fleet_asgi:app", "--workers", "2", "--host", "127.0.0.1",
                     "--port", str(port), "--log-level", "warning"], port, fleet_env(redis_server.url, "uvicorn"))
    agents = []
    try:
        server.wait_ready()
        fleet = fleet_tool(redis_server.url)
        agents += wait_for(listed_count(fleet, "uvicorn", 2), timeout=60, what="two uvicorn workers listed")
        getppid = "ognl '__import__(\"os\").getppid()'"
        ran = pyarthas("fleet", "--fleet", redis_server.url, "--app", "uvicorn", "-c", getppid, "--json")
        assert ran.returncode == 0, ran.stderr
        answers = json.loads(ran.stdout)["answers"]
        assert sorted(answers) == sorted(info["id"] for info in agents)
        assert {next(r["value"] for r in answer["body"]["results"] if r["type"] == "ognl")
                for answer in answers.values()} == {server.proc.pid}
    finally:
        server.kill()
        for info in agents:
            _kill(info["pid"])
