"""``pyarthas.client``: drive a pyarthas (or Arthas) agent from Python over its HTTP session API.

One-shot commands need no session::

    from pyarthas.client import Client
    reply = Client("http://127.0.0.1:8563").exec("version")
    reply.results        # [{"type": "version", ...}, {"type": "status", "statusCode": 0, ...}]

Long-running commands run in a session and stream their results::

    from pyarthas.client import Session
    with Session.init("http://127.0.0.1:8563") as session:
        job = session.async_exec('watch demo.MathGame primeFactors "{params, returnObj}" -n 3')
        for result in session.job_results(job.id, timeout=30):
            print(result["type"], result.get("value"))

A ``Session`` keeps its consumer alive (a background pull when you have not pulled for ``keepalive``
seconds; what it pulls is kept for your next ``pull``), and when the agent says the consumer expired it
joins the session again with a new consumer, skipping the history replay it has already delivered. Every
failure the API reports raises a subclass of ``ApiError`` carrying the API's ``state`` and ``message``;
an unreachable agent raises ``AgentUnavailable``.

Stdlib only (``http.client``): the API closes the connection after every reply, so a connection pool
would buy nothing, and the module stays importable in any interpreter.
"""
import base64
import collections
import dataclasses
import http.client
import json
import socket
import threading
import time
import urllib.parse
from typing import Any, Callable, Deque, Dict, Iterator, List, Optional

DEFAULT_URL = "http://127.0.0.1:8563"
# A pull returns after about 2 s without data; leave room for a slow agent before calling it unreachable.
PULL_SOCKET_TIMEOUT = 30.0
DEFAULT_KEEPALIVE = 60.0
LOCAL_BUFFER = 1000

__all__ = ["Client", "Session", "Job", "ExecResult", "ApiError", "AgentUnavailable", "AuthenticationFailed",
           "SessionNotFound", "ConsumerNotFound", "Refused", "DEFAULT_URL"]


# ---- errors ----

class ApiError(Exception):
    """The API refused or failed a request: ``state`` (``FAILED``, ``REFUSED``...) and ``message`` as sent."""

    def __init__(self, state: str, message: str, response: Optional[Dict[str, Any]] = None):
        super().__init__(message)
        self.state = state
        self.message = message
        self.response = response or {}

    def __str__(self) -> str:
        return self.message


class AgentUnavailable(ApiError):
    """Nothing answered at the URL (agent not started, stopped, or not an Arthas API)."""


class AuthenticationFailed(ApiError):
    """HTTP 401: the agent wants a user name and password."""


class SessionNotFound(ApiError):
    """``session not found: ID``: closed, expired, or the agent restarted."""


class ConsumerNotFound(ApiError):
    """``consumer not found: ID``: the consumer was idle too long (``Session`` rejoins by itself)."""


class Refused(ApiError):
    """``REFUSED``: the session is busy (``Another job is running.``) or the method was wrong."""


def _error_for(response: Dict[str, Any]) -> ApiError:
    state = str(response.get("state", ""))
    message = str(response.get("message", "") or "request %s" % (state.lower() or "failed"))
    if state == "REFUSED":
        return Refused(state, message, response)
    if message.startswith("session not found"):
        return SessionNotFound(state, message, response)
    if message.startswith("consumer not found"):
        return ConsumerNotFound(state, message, response)
    return ApiError(state, message, response)


# ---- replies ----

@dataclasses.dataclass
class ExecResult:
    """The reply of ``exec``: ``state`` is ``SUCCEEDED``, or ``INTERRUPTED`` when ``execTimeout`` passed."""
    state: str
    results: List[Dict[str, Any]]
    session_id: Optional[str] = None
    job_id: Optional[int] = None
    job_status: Optional[str] = None
    time_expired: bool = False
    message: Optional[str] = None

    @property
    def status_code(self) -> Optional[int]:
        """The job's ``statusCode`` (0 = success), None when no status came back."""
        for result in reversed(self.results):
            if result.get("type") == "status":
                return result.get("statusCode")
        return None

    @property
    def ok(self) -> bool:
        return self.state == "SUCCEEDED" and self.status_code == 0


@dataclasses.dataclass
class Job:
    """A job started by ``async_exec``; its results come through the session's pulls."""
    id: int
    command: str
    status: str


# ---- transport ----

class Client:
    """Requests to one agent's ``/api``. ``url`` may carry ``user:password@`` for HTTP Basic auth;
    ``token``: the agent's per-user token (sent as ``Authorization: Bearer``)."""

    def __init__(self, url: str = DEFAULT_URL, timeout: float = 10.0, username: Optional[str] = None,
                 password: Optional[str] = None, user_id: Optional[str] = None, token: Optional[str] = None):
        parsed = urllib.parse.urlsplit(url if "//" in url else "http://" + url)
        if parsed.scheme not in ("http", "https"):
            raise ValueError("unsupported URL scheme: %s" % url)
        self.scheme = parsed.scheme
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or (443 if parsed.scheme == "https" else 8563)
        self.path = (parsed.path.rstrip("/") or "") + "/api"
        self.timeout = timeout
        self.user_id = user_id
        username = username or (urllib.parse.unquote(parsed.username) if parsed.username else None)
        password = password or (urllib.parse.unquote(parsed.password) if parsed.password else None)
        self._auth = None
        if password is not None:
            pair = "%s:%s" % (username or "arthas", password)
            self._auth = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
        if token is not None:
            self._auth = "Bearer " + token

    @property
    def url(self) -> str:
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "%s://%s:%d" % (self.scheme, host, self.port)

    def request(self, action: str, timeout: Optional[float] = None, **fields: Any) -> Dict[str, Any]:
        """POST one action; returns the reply when its state is SUCCEEDED, SCHEDULED or INTERRUPTED,
        raises the matching ``ApiError`` otherwise."""
        body = {k: v for k, v in fields.items() if v is not None}
        body["action"] = action
        body.setdefault("wireFormat", "seed")   # the dialect the views draw, whatever the agent's option
        body.setdefault("terminalMessages", True)   # and the lines Arthas writes only to its terminal
        if self.user_id and "userId" not in body:
            body["userId"] = self.user_id
        reply = self._post(json.dumps(body).encode("utf-8"), timeout or self.timeout)
        if reply.get("state") not in ("SUCCEEDED", "SCHEDULED", "INTERRUPTED"):
            raise _error_for(reply)
        return reply

    def _post(self, payload: bytes, timeout: float) -> Dict[str, Any]:
        connection_class = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        connection = connection_class(self.host, self.port, timeout=timeout)
        headers = {"Content-Type": "application/json"}
        if self._auth:
            headers["Authorization"] = self._auth
        try:
            connection.request("POST", self.path, body=payload, headers=headers)
            response = connection.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as error:
            raise AgentUnavailable("UNAVAILABLE", "cannot reach the agent at %s (%s)" % (
                self.url, _describe(error))) from None
        finally:
            connection.close()
        if response.status == 401:
            raise AuthenticationFailed("UNAUTHORIZED", "authentication failed at %s (give user:password@ in "
                                                       "the URL)" % self.url)
        try:
            reply = json.loads(raw.decode("utf-8"))
        except ValueError:
            reply = None
        if response.status != 200 or not isinstance(reply, dict):
            raise AgentUnavailable("UNAVAILABLE", "%s/api is not an Arthas API (HTTP %d)" % (
                self.url, response.status))
        return reply

    # ---- actions without a session ----

    def exec(self, command: str, exec_timeout_ms: Optional[int] = None, session_id: Optional[str] = None
             ) -> ExecResult:
        """Run ``command`` to its end (or ``exec_timeout_ms``, default 30000 on the agent) and return all its
        results. Without ``session_id`` the agent uses a one-time session."""
        socket_timeout = max(self.timeout, (exec_timeout_ms or 30000) / 1000.0 + 10.0)
        reply = self.request("exec", timeout=socket_timeout, command=command, execTimeout=exec_timeout_ms,
                             sessionId=session_id)
        body = reply.get("body") or {}
        return ExecResult(state=reply["state"], results=list(body.get("results") or []),
                          session_id=reply.get("sessionId"), job_id=body.get("jobId"),
                          job_status=body.get("jobStatus"), time_expired=bool(body.get("timeExpired")),
                          message=reply.get("message"))

    def init_session(self, keepalive: Optional[float] = DEFAULT_KEEPALIVE) -> "Session":
        reply = self.request("init_session")
        return Session(self, reply["sessionId"], reply["consumerId"], owned=True, keepalive=keepalive)

    def join_session(self, session_id: str, keepalive: Optional[float] = DEFAULT_KEEPALIVE) -> "Session":
        reply = self.request("join_session", sessionId=session_id)
        return Session(self, reply["sessionId"], reply["consumerId"], owned=False, keepalive=keepalive)


def _describe(error: BaseException) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, socket.timeout):
        return "timed out"
    return str(error) or type(error).__name__


# ---- sessions ----

class Session:
    """A session and this client's consumer of its results. Use ``Session.init(url)`` to open a new one,
    ``Session.join(url, session_id)`` to share one somebody else opened (you then see its history)."""

    def __init__(self, client: Client, session_id: str, consumer_id: str, owned: bool = True,
                 keepalive: Optional[float] = DEFAULT_KEEPALIVE):
        self.client = client
        self.id = session_id
        self.consumer_id = consumer_id
        self.owned = owned
        self.rejoins = 0
        self.on_rejoin: Optional[Callable[["Session"], None]] = None
        self._pull_lock = threading.Lock()
        self._buffer: Deque[Dict[str, Any]] = collections.deque(maxlen=LOCAL_BUFFER)
        self._recent: Deque[Dict[str, Any]] = collections.deque(maxlen=50)
        self._replay_to_skip = False
        self._last_pull = time.monotonic()
        self._closed = threading.Event()
        self._keepalive_thread = None
        if keepalive:
            self._keepalive_thread = threading.Thread(target=self._keep_alive, args=(keepalive,),
                                                      name="pyarthas-client-keepalive", daemon=True)
            self._keepalive_thread.start()

    @classmethod
    def init(cls, url: str = DEFAULT_URL, keepalive: Optional[float] = DEFAULT_KEEPALIVE, **client_options
             ) -> "Session":
        return Client(url, **client_options).init_session(keepalive=keepalive)

    @classmethod
    def join(cls, url: str, session_id: str, keepalive: Optional[float] = DEFAULT_KEEPALIVE, **client_options
             ) -> "Session":
        return Client(url, **client_options).join_session(session_id, keepalive=keepalive)

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc_info) -> None:
        """Close a session this client opened; only leave one it joined (others may be using it)."""
        if self.owned:
            self.close()
        else:
            self.detach()

    def __repr__(self) -> str:
        return "<Session %s consumer %s at %s>" % (self.id, self.consumer_id, self.client.url)

    def _request(self, action: str, **fields: Any) -> Dict[str, Any]:
        return self.client.request(action, sessionId=self.id, **fields)

    # ---- results ----

    def pull(self) -> List[Dict[str, Any]]:
        """One long poll: up to 20 results, or ``[]`` after about 2 s without any. Results the keepalive
        pulled meanwhile come first. Rejoins when the consumer expired."""
        with self._pull_lock:
            if self._buffer:
                batch = list(self._buffer)
                self._buffer.clear()
                return batch
            return self._pull_locked()

    def _pull_locked(self) -> List[Dict[str, Any]]:
        try:
            batch = self._pull_once()
        except ConsumerNotFound:
            self._rejoin()
            batch = self._pull_once()
        if self._replay_to_skip:
            batch = self._skip_replay(batch)
        self._recent.extend(r for r in batch if r.get("type") != "input_status")
        return batch

    def _pull_once(self) -> List[Dict[str, Any]]:
        try:
            reply = self.client.request("pull_results", timeout=PULL_SOCKET_TIMEOUT, sessionId=self.id,
                                        consumerId=self.consumer_id)
        finally:
            self._last_pull = time.monotonic()
        return list((reply.get("body") or {}).get("results") or [])

    def _rejoin(self) -> None:
        reply = self._request("join_session")
        self.consumer_id = reply["consumerId"]
        self.rejoins += 1
        self._replay_to_skip = True
        if self.on_rejoin:
            self.on_rejoin(self)

    def _skip_replay(self, batch: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        """A new consumer first gets ``input_status DISABLED``, the session's history, then the last input
        status. Drop what this client already delivered; keep what it missed while it had no consumer."""
        replay = list(batch)
        for _ in range(5):  # the history is at most 50 results, 20 a pull
            if not replay or _ends_replay(replay):
                break
            more = self._pull_once()
            if not more:
                break
            replay.extend(more)
        self._replay_to_skip = False
        end = next((i for i, r in enumerate(replay) if _is_input_status(r) and r.get("inputStatus") != "DISABLED"),
                   len(replay) - 1)
        history = [r for r in replay[:end + 1] if not _is_input_status(r)]
        tail = replay[end:end + 1] if end < len(replay) and _is_input_status(replay[end]) else []
        return history[_seen_prefix(history, list(self._recent)):] + tail + replay[end + 1:]

    def results(self, timeout: Optional[float] = None) -> Iterator[Dict[str, Any]]:
        """Every result as it arrives; ends after ``timeout`` seconds (never, when None)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while deadline is None or time.monotonic() < deadline:
            for result in self.pull():
                yield result

    __iter__ = results  # ``for result in session:`` follows the session for ever

    def job_results(self, job_id: int, timeout: Optional[float] = None) -> Iterator[Dict[str, Any]]:
        """The results of one job, ending with its ``status``. Results of other jobs pulled meanwhile are
        dropped. Raises ``TimeoutError`` when the job has not ended after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while deadline is None or time.monotonic() < deadline:
            for result in self.pull():
                if result.get("jobId") != job_id:
                    continue
                yield result
                if result.get("type") == "status":
                    return
        raise TimeoutError("job %s did not end within %s s" % (job_id, timeout))

    # ---- commands ----

    def async_exec(self, command: str) -> Job:
        """Start ``command`` as the session's foreground job (a trailing ``&`` puts it in the background)."""
        reply = self._request("async_exec", command=command)
        body = reply.get("body") or {}
        return Job(id=body.get("jobId"), command=body.get("command", command), status=body.get("jobStatus", ""))

    def run(self, command: str, timeout: Optional[float] = None) -> List[Dict[str, Any]]:
        """``async_exec`` then collect the job's results up to its ``status``."""
        job = self.async_exec(command)
        return list(self.job_results(job.id, timeout=timeout))

    def exec(self, command: str, exec_timeout_ms: Optional[int] = None) -> ExecResult:
        """Synchronous ``exec`` in this session: the results come back in the reply, not to consumers."""
        return self.client.exec(command, exec_timeout_ms=exec_timeout_ms, session_id=self.id)

    def interrupt(self) -> Optional[Dict[str, Any]]:
        """Interrupt the foreground job; returns ``{"jobId", "jobStatus"}``, or None when none runs."""
        try:
            return self._request("interrupt_job").get("body") or {}
        except ApiError as error:
            if error.message == "no foreground job is running":
                return None
            raise

    def info(self) -> Dict[str, Any]:
        """``session_info``: ``createTime``, ``lastAccessTime`` (epoch ms) and the target's ``pid``."""
        return self._request("session_info").get("body") or {}

    def close(self) -> None:
        """Close the session (its jobs end). A session that was already gone is not an error."""
        self._closed.set()
        try:
            self._request("close_session")
        except (SessionNotFound, AgentUnavailable):
            pass

    def detach(self) -> None:
        """Stop keeping the consumer alive without closing the session (others may still use it)."""
        self._closed.set()

    def renew(self) -> "Session":
        """Open a fresh session at the same URL in place of this one (after the agent restarted)."""
        reply = self.client.request("init_session")
        with self._pull_lock:
            self.id, self.consumer_id, self.owned = reply["sessionId"], reply["consumerId"], True
            self._buffer.clear()
            self._recent.clear()
            self._replay_to_skip = False
        return self

    # ---- keepalive ----

    def _keep_alive(self, interval: float) -> None:
        while not self._closed.wait(max(0.05, interval - (time.monotonic() - self._last_pull))):
            if time.monotonic() - self._last_pull < interval:
                continue
            if not self._pull_lock.acquire(blocking=False):
                continue  # somebody is pulling: the consumer is alive
            try:
                self._buffer.extend(self._pull_locked())
            except ApiError:
                pass  # the next pull of the user reports it
            finally:
                self._pull_lock.release()


def _is_input_status(result: Dict[str, Any]) -> bool:
    return result.get("type") == "input_status"


def _ends_replay(replay: List[Dict[str, Any]]) -> bool:
    return any(_is_input_status(r) and r.get("inputStatus") != "DISABLED" for r in replay)


def _seen_prefix(history: List[Dict[str, Any]], recent: List[Dict[str, Any]]) -> int:
    """How many leading results of ``history`` this client already delivered: the end of the last place
    where ``history`` matches the tail of ``recent`` (0 when nothing matches)."""
    if not recent:
        return 0
    for end in range(len(history), 0, -1):
        overlap = min(end, len(recent), 3)
        if history[end - overlap:end] == recent[-overlap:]:
            return end
    return 0
