"""The agent's link to its fleet: registration, heartbeat and the request loop, on one agent thread.

The ``fleet`` thread connects, registers the agent's info with an expiry (``ttl``, three heartbeats), then
waits in ``XREAD BLOCK`` on the agent's inbox and its app's inbox until a request comes or the next heartbeat
is due: it sleeps in Redis, never polls. A verified request runs on a worker thread (at most
``max_workers`` at once; beyond that it is refused at once) through ``api.actions.handle_request``, the same
action layer, limits and long-poll budget as a request to ``/api``; the answer is pushed to the reply key the
caller waits on, which expires. When Redis goes away the thread reconnects with backoff (capped, with
jitter); the target never notices: nothing of this runs on its threads, and every Redis call has a timeout.
"""
import json
import random
import socket
import sys
import threading
import time
from typing import Any, Dict, Optional

from ..api.actions import handle_request
from ..model import encode_json
from ..settings import _env_seconds
from ..util import threads
from . import protocol
from .resp import FleetUrl, Redis, RedisError, pairs

READ_COUNT = 16
BACKOFF_FIRST = 0.5
STOP_TIMEOUT = 1.0


class FleetLink:
    def __init__(self, agent, url: FleetUrl, app: str, agent_id: str, key: bytes):
        self.agent = agent
        self.url = url
        self.app = app
        self.agent_id = agent_id
        self.heartbeat = max(0.2, _env_seconds("PYARTHAS_FLEET_HEARTBEAT", 5.0))
        self.ttl_ms = int(self.heartbeat * 3000)
        self.backoff_max = max(BACKOFF_FIRST, _env_seconds("PYARTHAS_FLEET_BACKOFF_MAX", 10.0))
        self.max_workers = int(_env_seconds("PYARTHAS_FLEET_MAX_WORKERS", 8))
        self.verifier = protocol.Verifier(key, agent_id, max_age=_env_seconds("PYARTHAS_FLEET_MAX_AGE",
                                                                            protocol.MAX_AGE))
        self.inbox = protocol.inbox_key(app, agent_id)
        self.app_inbox = protocol.inbox_key(app)
        self.info_key = protocol.info_key(app, agent_id)
        self.reply_prefix = protocol.reply_key(app, "")
        self._reader = Redis(url)
        self._writer = Redis(url)
        self._writer_lock = threading.Lock()
        self._workers = threading.BoundedSemaphore(self.max_workers)
        self._stopping = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.joined = threading.Event()
        self.joins = 0
        self.last_error: Optional[str] = None
        self.refused = 0
        self.served = 0

    # ---- what the agent shows about itself ----

    def info(self) -> Dict[str, Any]:
        agent = self.agent
        return {"id": self.agent_id, "app": self.app, "host": socket.gethostname(), "pid": agent.pid,
                "python": "%d.%d.%d" % sys.version_info[:3], "implementation": sys.implementation.name,
                "version": agent.version, "startTime": int(agent.start_time * 1000), "ip": agent.ip,
                "port": agent.port}

    # What ``session`` and ``jvm`` show of the link.

    @property
    def server(self) -> str:
        return self.url.safe()

    @property
    def connected(self) -> bool:
        return self.joined.is_set()

    def status(self) -> str:
        if self.joined.is_set():
            return "joined %s as %s (app %s)" % (self.url.safe(), self.agent_id, self.app)
        error = self.last_error or "connecting"
        return "not joined (%s), retrying" % (error if len(error) <= 300 else error[:300] + "...")

    # ---- life cycle ----

    def start(self) -> "FleetLink":
        self._thread = threads.spawn("fleet", self._run)
        return self

    def stop(self) -> None:
        """Leave the fleet: the request loop ends and the registration is removed (best effort, quickly)."""
        self._stopping.set()
        self._reader.abort()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT)
        leaving = Redis(self.url)
        try:
            leaving.call("DEL", self.info_key, self.inbox, key=self.info_key, timeout=STOP_TIMEOUT)
            leaving.call("SREM", protocol.agents_key(self.app), self.agent_id, key=self.info_key,
                         timeout=STOP_TIMEOUT)
        except RedisError:
            pass  # the registration expires by itself
        finally:
            leaving.close()
            with self._writer_lock:
                self._writer.close()

    def _run(self) -> None:
        backoff = BACKOFF_FIRST
        first = True
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                self._serve(first)
            except RedisError as error:
                self.last_error = str(error)
            except Exception as error:  # a bug of ours: keep the link (and the target) alive
                self.last_error = "fleet link error: %r" % (error,)
            first = False
            self.joined.clear()
            self._reader.close()
            if time.monotonic() - started > self.backoff_max:
                backoff = BACKOFF_FIRST  # it had been working: come back quickly
            if self._stopping.wait(backoff * random.uniform(0.8, 1.2)):
                break
            backoff = min(backoff * 2, self.backoff_max)

    def _serve(self, first: bool) -> None:
        redis = self._reader
        if first:
            redis.call("DEL", self.inbox, key=self.inbox)  # whatever a dead process of the same id left
        last_ids = {self.inbox: "0-0", self.app_inbox: self._last_id(self.app_inbox)}
        self._register()
        self.joins += 1
        self.joined.set()
        next_beat = time.monotonic() + self.heartbeat
        while not self._stopping.is_set():
            wait_ms = max(1, int((next_beat - time.monotonic()) * 1000))
            reply = redis.call("XREAD", "COUNT", READ_COUNT, "BLOCK", wait_ms, "STREAMS", self.inbox,
                               self.app_inbox, last_ids[self.inbox], last_ids[self.app_inbox],
                               key=self.inbox, timeout=wait_ms / 1000.0 + 5.0)
            for stream, entries in reply or ():
                stream_key = stream.decode("utf-8")
                read = []
                for entry_id, flat in entries:
                    last_ids[stream_key] = entry_id.decode("ascii")
                    read.append(entry_id)
                    self._take(pairs(flat))
                if stream_key == self.inbox and read:
                    redis.call("XDEL", self.inbox, *read, key=self.inbox)  # the caller's copy is served
            if time.monotonic() >= next_beat:
                self._register()
                next_beat = time.monotonic() + self.heartbeat

    def _last_id(self, stream: str) -> str:
        """Only requests to the app sent from now on are this agent's."""
        newest = self._reader.call("XREVRANGE", stream, "+", "-", "COUNT", 1, key=stream)
        return newest[0][0].decode("ascii") if newest else "0-0"

    def _register(self) -> None:
        redis = self._reader
        redis.call("SET", self.info_key, json.dumps(self.info()), "PX", self.ttl_ms, key=self.info_key)
        redis.call("SADD", protocol.agents_key(self.app), self.agent_id, key=self.info_key)
        redis.call("PEXPIRE", self.inbox, self.ttl_ms + protocol.REPLY_TTL_MS, key=self.inbox)
        redis.call("SADD", protocol.APPS_KEY, self.app, key=protocol.APPS_KEY)

    # ---- requests ----

    def _take(self, fields: Dict[str, bytes]) -> None:
        reply_key = fields.get("reply", b"").decode("utf-8", "replace")
        if not reply_key.startswith(self.reply_prefix) or len(reply_key) > len(self.reply_prefix) + 64:
            self.refused += 1  # nowhere we may write to: a request of no caller of ours
            return
        try:
            body = self.verifier.verify(fields)
        except protocol.Refused as refusal:
            self.refused += 1
            self._answer(reply_key, {"state": "REFUSED", "message": str(refusal)})
            return
        if len(body) > self.agent.limits.max_body:
            self._answer(reply_key, {"state": "REFUSED", "message": "request body too large: %d bytes, at most %d"
                                     % (len(body), self.agent.limits.max_body)})
            return
        if not self._workers.acquire(blocking=False):
            self.refused += 1
            self._answer(reply_key, {"state": "REFUSED", "message": "Too many fleet requests running (%d), retry "
                                     "later" % self.max_workers})
            return
        try:
            threads.spawn("fleet-request", lambda: self._run_request(reply_key, body))
        except RuntimeError:  # no thread to be had: say so rather than leave the caller waiting
            self._workers.release()
            self._answer(reply_key, {"state": "REFUSED", "message": "cannot start a thread for the request"})

    def _run_request(self, reply_key: str, body: bytes) -> None:
        try:
            server = self.agent.server
            long_polls = getattr(server, "_long_polls", None)
            self._answer(reply_key, handle_request(self.agent, body, long_polls))
            self.served += 1
        finally:
            self._workers.release()

    def _answer(self, reply_key: str, response: Dict[str, Any]) -> None:
        response["agentId"] = self.agent_id
        data = encode_json(response)
        with self._writer_lock:  # also while stopping: the answer to ``stop`` itself is still due
            try:
                self._writer.call("RPUSH", reply_key, data, key=reply_key)
                self._writer.call("PEXPIRE", reply_key, protocol.REPLY_TTL_MS, key=reply_key)
            except RedisError as error:
                self.last_error = str(error)  # the caller times out and names this agent as missing
