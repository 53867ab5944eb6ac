"""The tools' side of the fleet (redis-py): find the live agents of an app, send them signed API requests and
wait for their answers. Key names and the signature come from the agent's own ``fleet.protocol``.

- ``Fleet(url)``: ``apps()``, ``agents(app)``, ``app_of(agent_id)``, ``request(app, agent_id, body, timeout)``,
  and ``fan_out(app, agent_ids, body, timeout)`` (every answer that came within the timeout, by agent).
- ``FleetClient``: a ``cli.client.Client`` whose requests travel through the fleet instead of HTTP, so the
  console (and anything else written against ``Client``) works on any agent of the fleet.
"""
import json
import time
from typing import Any, Callable, Dict, Iterable, List, Optional

import redis
import redis.cluster

from ..agent.fleet import protocol
from .client import AgentUnavailable, Client

CONNECT_TIMEOUT = 5.0


class FleetError(Exception):
    """The fleet cannot be used as asked (no key, unknown agent, Redis unreachable)."""


def connect(url: str):
    """A redis-py client for ``url``: a ``RedisCluster`` when the server is a cluster node."""
    options = {"socket_connect_timeout": CONNECT_TIMEOUT, "socket_timeout": None}
    try:
        single = redis.Redis.from_url(url, **options)
        in_cluster = single.info("cluster").get("cluster_enabled") == 1
    except redis.RedisError as error:
        raise FleetError("cannot use Redis at %s: %s" % (_safe(url), error)) from None
    if not in_cluster:
        return single
    single.close()
    try:
        return redis.cluster.RedisCluster.from_url(url, **options)
    except redis.RedisError as error:
        raise FleetError("cannot use the Redis Cluster at %s: %s" % (_safe(url), error)) from None


def _safe(url: str) -> str:
    from ..agent.fleet.resp import FleetUrl
    try:
        return FleetUrl(url).safe()
    except ValueError:
        return "(bad URL)"


class Fleet:
    def __init__(self, url: str, key: Optional[str] = None):
        self.url = url
        self.redis = connect(url)
        self.key = protocol.fleet_key(key)

    # ---- who is there ----

    def apps(self) -> List[str]:
        names = sorted(name.decode("utf-8") for name in self.redis.smembers(protocol.APPS_KEY))
        return [name for name in names if self.agents(name)]

    def agents(self, app: str) -> List[Dict[str, Any]]:
        """The app's live agents' info, by id; ids whose registration expired are dropped from the index."""
        ids = sorted(member.decode("utf-8") for member in self.redis.smembers(protocol.agents_key(app)))
        if not ids:
            return []
        infos = self.redis.mget([protocol.info_key(app, agent_id) for agent_id in ids])
        live, dead = [], []
        for agent_id, raw in zip(ids, infos):
            info = _json(raw)
            (live if info is not None else dead).append(info if info is not None else agent_id)
        if dead:
            self.redis.srem(protocol.agents_key(app), *dead)
        return live

    def app_of(self, agent_id: str) -> Optional[str]:
        for name in sorted(name.decode("utf-8") for name in self.redis.smembers(protocol.APPS_KEY)):
            if self.redis.exists(protocol.info_key(name, agent_id)):
                return name
        return None

    # ---- requests ----

    def send(self, app: str, agent_id: str, body: bytes) -> str:
        """Send one signed request; returns the key its answer will be pushed to."""
        if self.key is None:
            raise FleetError("no fleet key: set $%s to the key the agents were started with" % protocol.KEY_ENV)
        fields, reply = protocol.signed_request(self.key, app, agent_id, body)
        inbox = protocol.inbox_key(app, agent_id)
        pipe = self.redis.pipeline(transaction=False)
        pipe.xadd(inbox, fields, maxlen=protocol.INBOX_MAXLEN, approximate=True)
        pipe.pexpire(inbox, protocol.REPLY_TTL_MS)
        pipe.execute()
        return reply

    def wait(self, reply_keys: Iterable[str], deadline: float) -> Optional[Dict[str, Any]]:
        """The next answer pushed to any of ``reply_keys`` before ``deadline`` (monotonic), else None."""
        keys = list(reply_keys)
        remaining = deadline - time.monotonic()
        if not keys or remaining <= 0:
            return None
        popped = self.redis.blpop(keys, timeout=max(0.01, remaining))
        if popped is None:
            return None
        answer = _json(popped[1]) or {"state": "FAILED", "message": "unreadable answer"}
        answer["_replyKey"] = popped[0].decode("utf-8")
        return answer

    def request(self, app: str, agent_id: str, body: bytes, timeout: float) -> Dict[str, Any]:
        reply = self.send(app, agent_id, body)
        answer = self.wait([reply], time.monotonic() + timeout)
        if answer is None:
            raise FleetError("no answer from %s within %.0f s" % (agent_id, timeout))
        answer.pop("_replyKey", None)
        return answer

    def fan_out(self, app: str, agent_ids: List[str], body: bytes, timeout: float,
                progress: Optional[Callable[[int, int], None]] = None) -> Dict[str, Dict[str, Any]]:
        """Send ``body`` to every agent and gather the answers that come within ``timeout``, by agent id."""
        waiting = {self.send(app, agent_id, body): agent_id for agent_id in agent_ids}
        answers: Dict[str, Dict[str, Any]] = {}
        deadline = time.monotonic() + timeout
        while waiting:
            if progress is not None:
                progress(len(answers), len(agent_ids))
            answer = self.wait(list(waiting), min(deadline, time.monotonic() + 0.5) if progress else deadline)
            if answer is None:
                if time.monotonic() >= deadline:
                    break
                continue
            agent_id = waiting.pop(answer.pop("_replyKey"), None)
            if agent_id is not None:
                answers[agent_id] = answer
        return answers

    def close(self) -> None:
        self.redis.close()


def _json(raw: Optional[bytes]) -> Optional[Dict[str, Any]]:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class FleetClient(Client):
    """``Client`` over the fleet: each API request goes to ``agent_id`` through Redis."""

    def __init__(self, fleet: Fleet, agent_id: str, app: Optional[str] = None, timeout: float = 10.0):
        super().__init__("http://127.0.0.1:8563", timeout=timeout)
        self.fleet = fleet
        self.agent_id = agent_id
        self.app = app or fleet.app_of(agent_id)
        if self.app is None:
            raise FleetError("no live agent %s in the fleet at %s" % (agent_id, _safe(fleet.url)))

    @property
    def url(self) -> str:
        return "fleet:%s" % self.agent_id

    def _post(self, payload: bytes, timeout: float) -> Dict[str, Any]:
        try:
            answer = self.fleet.request(self.app, self.agent_id, payload, timeout)
        except (FleetError, redis.RedisError) as error:
            raise AgentUnavailable("UNAVAILABLE", "cannot reach %s through the fleet (%s)" % (
                self.agent_id, error)) from None
        answer.pop("agentId", None)
        return answer
