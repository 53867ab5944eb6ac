"""What agents and tools agree on in Redis: key names, the request envelope and its signature.

Stdlib only and free of agent state, so the tools outside the target (``pyarthas fleet``, the gateway,
``console --fleet``) import this very module rather than a copy.

Keys (every key of one app carries the hash tag ``{APP}``, so in a Redis Cluster an app lives on one slot
and a blocking read can watch two streams of it at once):
- ``pyarthas:{APP}:agents``         set of the app's agent ids (an index; an id whose info expired is dead)
- ``pyarthas:{APP}:agent:ID``       the agent's info (JSON), expiring ``ttl`` after its last heartbeat
- ``pyarthas:{APP}:inbox:ID``       stream of requests to one agent (trimmed by writers, read entries deleted)
- ``pyarthas:{APP}:inbox``          stream of requests to every agent of the app (``agent`` field ``*``)
- ``pyarthas:{APP}:reply:RID``      list the caller waits on (``BLPOP``); replies expire after REPLY_TTL_MS
- ``pyarthas:apps``                 set of app names (the gateway's ``/api/tunnelApps``; an app without
                                    live agents is left out when listed)

A request is a stream entry with the fields ``body`` (the API request, JSON, as POSTed to ``/api``),
``agent`` (the addressed id or ``*``), ``ts`` (the caller's clock, epoch milliseconds), ``nonce``, ``reply``
(the reply key) and ``sig``: hex HMAC-SHA256 with the fleet key over all of these. Whoever can write to Redis
but lacks the key cannot make an agent run anything. A reply is the API's JSON answer plus ``agentId``.
"""
import collections
import hashlib
import hmac
import os
import re
import secrets
import time
from typing import Deque, Dict, Optional, Tuple

PREFIX = "pyarthas"
APPS_KEY = PREFIX + ":apps"
EVERY_AGENT = "*"
SIGNATURE_VERSION = b"pyarthas-fleet-v1"
INBOX_MAXLEN = 256                 # requests waiting for one agent (or one app); older ones are trimmed
REPLY_TTL_MS = 60 * 1000
MAX_AGE = 60.0                      # seconds a request stays valid (either way, for clocks that disagree)
NONCES_KEPT = 4096
APP_NAME = re.compile(r"^[A-Za-z0-9_.:@-]{1,100}$")
AGENT_ID = re.compile(r"^[^\s{}]{1,200}$")
KEY_ENV = "PYARTHAS_FLEET_KEY"


def app_prefix(app: str) -> str:
    return "%s:{%s}:" % (PREFIX, app)


def agents_key(app: str) -> str:
    return app_prefix(app) + "agents"


def info_key(app: str, agent_id: str) -> str:
    return app_prefix(app) + "agent:" + agent_id


def inbox_key(app: str, agent_id: str = EVERY_AGENT) -> str:
    return app_prefix(app) + ("inbox" if agent_id == EVERY_AGENT else "inbox:" + agent_id)


def reply_key(app: str, request_id: str) -> str:
    return app_prefix(app) + "reply:" + request_id


def check_app_name(app: str) -> str:
    if not APP_NAME.match(app or ""):
        raise ValueError("app name %r: use letters, digits and _.:@- (at most 100)" % (app,))
    return app


def check_agent_id(agent_id: str) -> str:
    if not AGENT_ID.match(agent_id or ""):
        raise ValueError("agent id %r: no spaces or braces, at most 200 characters" % (agent_id,))
    return agent_id


def fleet_key(explicit: Optional[str] = None) -> Optional[bytes]:
    """The shared secret: given, or ``$PYARTHAS_FLEET_KEY``; None when there is none."""
    text = explicit if explicit is not None else os.environ.get(KEY_ENV)
    return text.encode("utf-8") if text else None


def signature(key: bytes, agent_id: str, ts: str, nonce: str, reply: str, body: bytes) -> str:
    message = b"\n".join((SIGNATURE_VERSION, agent_id.encode("utf-8"), ts.encode("ascii"),
                          nonce.encode("ascii"), reply.encode("utf-8"), body))
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def signed_request(key: bytes, app: str, agent_id: str, body: bytes, now: Optional[float] = None
                   ) -> Tuple[Dict[str, bytes], str]:
    """(the stream entry's fields, the reply key to wait on) for ``body`` sent to ``agent_id``."""
    nonce = secrets.token_hex(16)
    ts = str(int((time.time() if now is None else now) * 1000))
    reply = reply_key(app, nonce)
    fields = {"body": body, "agent": agent_id.encode("utf-8"), "ts": ts.encode("ascii"),
              "nonce": nonce.encode("ascii"), "reply": reply.encode("utf-8"),
              "sig": signature(key, agent_id, ts, nonce, reply, body).encode("ascii")}
    return fields, reply


class Refused(Exception):
    """A request the agent will not run; the message says why (sent back to the caller)."""


class Verifier:
    """Checks requests for one agent: signed with the key, addressed to it (or to all), fresh, and never seen.

    Nonces are remembered for ``max_age`` (a request older than that is refused as stale anyway), at most
    ``capacity`` of them: when one is forgotten early to make room, every request no newer than it is
    refused from then on (``floor``), so a flood can neither grow the cache nor open a window for replays."""

    def __init__(self, key: bytes, agent_id: str, max_age: float = MAX_AGE, capacity: int = NONCES_KEPT):
        self.key = key
        self.agent_id = agent_id
        self.max_age_ms = int(max_age * 1000)
        self.capacity = capacity
        self._seen: Dict[str, int] = {}
        self._order: Deque[Tuple[int, str]] = collections.deque()
        self.floor_ms = 0

    def verify(self, fields: Dict[str, bytes], now: Optional[float] = None) -> bytes:
        """The request's body, or ``Refused``."""
        try:
            body = fields["body"]
            addressed = fields["agent"].decode("utf-8")
            ts = fields["ts"].decode("ascii")
            nonce = fields["nonce"].decode("ascii")
            reply = fields["reply"].decode("utf-8")
            given = fields.get("sig")
        except (KeyError, UnicodeDecodeError):
            raise Refused("fleet request refused: malformed request (body, agent, ts, nonce, reply expected)"
                          ) from None
        if not given:
            raise Refused("fleet request refused: unsigned (sign it with the fleet key, $%s)" % KEY_ENV)
        if addressed not in (self.agent_id, EVERY_AGENT):
            raise Refused("fleet request refused: addressed to %s, this is %s" % (addressed, self.agent_id))
        expected = signature(self.key, addressed, ts, nonce, reply, body)
        if not hmac.compare_digest(expected.encode("ascii"), given):
            raise Refused("fleet request refused: bad signature (not signed with this fleet's key)")
        if not ts.isdigit():
            raise Refused("fleet request refused: bad timestamp %r" % ts)
        now_ms = int((time.time() if now is None else now) * 1000)
        sent_ms = int(ts)
        self._forget_before(now_ms - self.max_age_ms)
        if abs(now_ms - sent_ms) > self.max_age_ms or sent_ms <= self.floor_ms:
            raise Refused("fleet request refused: stale (sent %.1f s from this agent's clock; at most %.0f s)"
                          % ((now_ms - sent_ms) / 1000.0, self.max_age_ms / 1000.0))
        if nonce in self._seen:
            raise Refused("fleet request refused: replayed (nonce %s already seen)" % nonce)
        self._remember(nonce, sent_ms)
        return body

    def _forget_before(self, oldest_ms: int) -> None:
        while self._order and self._order[0][0] < oldest_ms:
            _, nonce = self._order.popleft()
            self._seen.pop(nonce, None)

    def _remember(self, nonce: str, sent_ms: int) -> None:
        while len(self._order) >= self.capacity:
            forgotten_ms, forgotten = self._order.popleft()
            self._seen.pop(forgotten, None)
            self.floor_ms = max(self.floor_ms, forgotten_ms)
        self._seen[nonce] = sent_ms
        self._order.append((sent_ms, nonce))
