"""One function per Arthas API action (https://arthas.aliyun.com/en/doc/http-api.html), with Arthas's exact
states and texts.

``handle_request(agent, body_bytes)`` returns the response object; the HTTP layer calls it once the agent's
access policy admitted the request (so the request authenticates the session it acts on, see ``auth``) and
writes the answer with status 200 whatever it says. In-process clients (the shell) call ``dispatch``.
"""
import json
import threading
from typing import Any, Callable, Dict, List, Optional

from ..job.controller import JobCreationError
from ..model import CommandRequestModel, to_json_or_message
from ..session.distribution import SharingDistributor
from ..session.manager import Session, TooManySessions
from ..settings import MAX_COMMAND_LENGTH
from .wire import DIALECTS, dialect_of, for_wire

DEFAULT_EXEC_TIMEOUT_MS = 30000
MAX_EXEC_TIMEOUT_MS = 24 * 3600 * 1000      # the default job-timeout: no exec waits longer than a job may run
PACKED_RESULTS_CAPACITY = 500
STRING_FIELDS = ("action", "command", "requestId", "sessionId", "consumerId", "userId", "wireFormat")
LONG_POLL_ACTIONS = ("pull_results",)


class ApiError(Exception):
    def __init__(self, state: str, message: str, **extra: Any):
        super().__init__(message)
        self.state = state
        self.message = message
        self.extra = extra


class Request:
    def __init__(self, fields: Dict[str, Any]):
        self.action = _blank_to_none(fields.get("action"))
        self.command = fields.get("command")
        self.request_id = fields.get("requestId")
        self.session_id = _blank_to_none(fields.get("sessionId"))
        self.consumer_id = _blank_to_none(fields.get("consumerId"))
        self.user_id = _blank_to_none(fields.get("userId"))
        # pyarthas's own clients ask for the dialect their views draw, whatever the global option says
        self.wire_format = _blank_to_none(fields.get("wireFormat"))
        # and the lines Arthas writes only to its terminal, which their consoles show
        self.terminal_messages = fields.get("terminalMessages") in (True, "true")
        # set by the parser (_exec_timeout); requests made in-process (the shell) may leave it out
        self.exec_timeout: int = fields.get("execTimeout") or DEFAULT_EXEC_TIMEOUT_MS
        # the HTTP door admitted it (credentials, or a connection that needs none): as Arthas copies the HTTP
        # session's subject into the session it acts on, such a request authenticates that session
        self.authenticated = False


def _blank_to_none(value: Optional[str]) -> Optional[str]:
    return value if value is not None and value.strip() else None


def handle_request(agent, body: bytes, long_polls: Optional[threading.BoundedSemaphore] = None) -> Dict[str, Any]:
    """``long_polls``: the slots long polls may hold (the HTTP layer's budget); when none is free a long
    poll is refused at once, so that waiting pulls cannot take every thread from ``exec``."""
    request_id = None
    try:
        request = parse_request(body)
        request.authenticated = True  # the HTTP layer checked the access policy before handing the body over
        request_id = request.request_id
        if long_polls is not None and (request.action or "").strip().lower() in LONG_POLL_ACTIONS:
            if not long_polls.acquire(blocking=False):
                raise ApiError("REFUSED", "Too many pull_results waiting, retry later")
            try:
                response = dispatch(agent, request)
            finally:
                long_polls.release()
        else:
            response = dispatch(agent, request)
    except ApiError as exc:
        response = dict(exc.extra, state=exc.state, message=exc.message)
    except Exception as exc:  # never let a bug of ours take the server down
        response = {"state": "FAILED", "message": "process http api request failed: %s" % (exc,)}
    if request_id is not None:
        response["requestId"] = request_id
    return response


def parse_request(body: bytes) -> Request:
    def fail(reason: str) -> ApiError:
        return ApiError("FAILED", "Process request error: parse request failed: %s" % reason)

    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise fail("request body is not UTF-8: %s" % exc) from None
    if not text.strip():
        raise fail("request body is empty")
    try:
        fields = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise fail("invalid JSON: %s" % (exc,)) from None
    if not isinstance(fields, dict):
        raise fail("the request must be a JSON object, not %s" % type(fields).__name__)
    # Fields Arthas does not know are ignored, as its JSON binding does (newer clients keep working).
    for name in STRING_FIELDS:
        fields[name] = _as_string(fields.get(name))
    command = fields.get("command")
    if command is not None and len(command) > MAX_COMMAND_LENGTH:
        raise ApiError("FAILED", "command line too long: %d characters, at most %d"
                       % (len(command), MAX_COMMAND_LENGTH))
    fields["execTimeout"] = _exec_timeout(fields.get("execTimeout"), fail)
    wire_format = _blank_to_none(fields.get("wireFormat"))
    if wire_format is not None and wire_format not in DIALECTS:
        raise ApiError("FAILED", "'wireFormat' must be one of %s, not %s" % (", ".join(DIALECTS), wire_format))
    return Request(fields)


def _as_string(value: Any) -> Optional[str]:
    """Arthas binds the body to String fields with fastjson, which turns a number, a boolean or a nested
    value into its JSON text (``"sessionId": 5`` is the session ``"5"``)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _exec_timeout(value: Any, fail: Callable[[str], ApiError]) -> int:
    """Milliseconds, decided before any job starts: not positive means the default (as Arthas), more than
    MAX_EXEC_TIMEOUT_MS (1e300, infinity) is cut to it; NaN or not a number is refused."""
    if value is None or value == "":
        return DEFAULT_EXEC_TIMEOUT_MS
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise fail("'execTimeout' must be a number of milliseconds")
    try:
        millis = float(value)
    except (ValueError, OverflowError):
        raise fail("'execTimeout' must be a number of milliseconds") from None
    if millis != millis:
        raise fail("'execTimeout' must be a number of milliseconds, not NaN")
    if millis <= 0:
        return DEFAULT_EXEC_TIMEOUT_MS
    return int(min(millis, MAX_EXEC_TIMEOUT_MS))


def dispatch(agent, request: Request) -> Dict[str, Any]:
    if request.action is None:
        raise ApiError("FAILED", "'action' is required")
    action = ACTIONS.get(request.action.strip().lower())
    if action is None:
        raise ApiError("FAILED", "unknown action: %s" % request.action)
    if action is init_session:
        return init_session(agent, request)
    session = _find_session(agent, request, required=action is not exec_command)
    return action(agent, request, session)


def _find_session(agent, request: Request, required: bool) -> Optional[Session]:
    if request.session_id is None:
        if required:
            raise ApiError("FAILED", "'sessionId' is required")
        return None
    session = agent.sessions.get(request.session_id)
    if session is None:
        raise ApiError("FAILED", "session not found: %s" % request.session_id)
    session.touch()
    if request.user_id is not None:
        session.user_id = request.user_id
    if request.authenticated:
        session.authenticated = True
    return session


# ---- actions ----

def init_session(agent, request: Request) -> Dict[str, Any]:
    try:
        session = agent.sessions.create()
    except TooManySessions as exc:
        raise ApiError("FAILED", "create api session failed: %s" % exc) from None
    if request.user_id is not None:
        session.user_id = request.user_id
    consumer = _require_distributor(session).add_consumer(replay_history=False)
    agent.sessions.welcome(session)
    return {"sessionId": session.session_id, "consumerId": consumer.id, "state": "SUCCEEDED"}


def join_session(agent, request: Request, session: Session) -> Dict[str, Any]:
    consumer = _require_distributor(session).add_consumer(replay_history=True)
    return {"sessionId": session.session_id, "consumerId": consumer.id, "state": "SUCCEEDED"}


def pull_results(agent, request: Request, session: Session) -> Dict[str, Any]:
    if request.consumer_id is None:
        raise ApiError("FAILED", "'consumerId' is required")
    consumer = _require_distributor(session).consumer(request.consumer_id)
    if consumer is None:
        raise ApiError("FAILED", "consumer not found: %s" % request.consumer_id)
    results = _on_wire(agent, request, consumer.poll())
    return {"state": "SUCCEEDED", "sessionId": session.session_id, "consumerId": consumer.id,
            "body": {"results": results}}


def _on_wire(agent, request: Request, results: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Results as the API sends them, in the wire dialect the request or the global option chose; the
    lines Arthas writes only to its terminal (``terminal`` messages) only to a request that asks for them."""
    dialect = request.wire_format or dialect_of(agent)
    size_limit = agent.options.get("object-size-limit")
    return [for_wire(result, dialect, size_limit) for result in results
            if request.terminal_messages or result.get("terminal") is not True]


def _require_distributor(session: Session) -> SharingDistributor:
    if session.distributor is None:
        raise ApiError("FAILED", "session not found: %s" % session.session_id)
    return session.distributor


def async_exec(agent, request: Request, session: Session) -> Dict[str, Any]:
    command = _require_command(request)
    with _SessionLock(session, command):
        try:
            job = agent.jobs.create_job(command, session, session.sink)
        except JobCreationError as exc:
            message = "Async exec command failed:%s" % exc
            session.append(0, CommandRequestModel(command=command, state="FAILED", message=message))
            raise ApiError("FAILED", message, sessionId=session.session_id, body={"command": command}) from None
        body = {"command": command, "jobId": job.job_id, "jobStatus": job.status}
        session.append(job.job_id, CommandRequestModel(command=command, state="SCHEDULED"))
        _run_job(session, job)
    return {"sessionId": session.session_id, "state": "SCHEDULED", "body": body}


def exec_command(agent, request: Request, session: Optional[Session]) -> Dict[str, Any]:
    command = _require_command(request)
    if session is not None:
        return _exec_in(agent, request, session, command)
    session = agent.sessions.create(one_time=True)
    if request.user_id is not None:
        session.user_id = request.user_id
    try:
        return _exec_in(agent, request, session, command)
    finally:
        agent.sessions.remove(session.session_id)


def _exec_in(agent, request: Request, session: Session, command: str) -> Dict[str, Any]:
    packed: List[Any] = []

    def pack(job_id: int, model) -> None:
        if len(packed) < PACKED_RESULTS_CAPACITY:
            packed.append((job_id, model))

    with _SessionLock(session, command):
        try:
            job = agent.jobs.create_job(command, session, pack)
        except JobCreationError as exc:
            raise ApiError("FAILED", "Exec command failed:%s" % exc, sessionId=session.session_id,
                           body={"command": command}) from None
        _run_job(session, job)
    timeout_ms = request.exec_timeout
    try:
        expired = not job.wait_terminated(timeout_ms / 1000.0)
    finally:
        if not job.ended:         # expired, or anything failed here: the job never outlives its answer
            job.interrupt()
            job.wait_terminated(5.0)
    body = {"command": command, "jobId": job.job_id, "jobStatus": job.status, "timeExpired": expired,
            "results": _on_wire(agent, request, [to_json_or_message(model, job_id) for job_id, model in packed[:]])}
    response = {"state": "SUCCEEDED", "sessionId": session.session_id, "body": body}
    if expired:
        body["timeout"] = timeout_ms
        response.update(state="INTERRUPTED", message="The job is exceeded time limit, force interrupt")
    return response


def _run_job(session: Session, job) -> None:
    """Start ``job`` in ``session``: foreground unless it ends with ``&``; the input status follows."""
    if job.background:
        job.start()
        return
    session.foreground_job = job
    job.on_terminated(lambda finished: _release_foreground(session, finished))
    session.set_input_status("ALLOW_INTERRUPT")
    job.start()


def bring_to_foreground(session: Session, job) -> None:
    """Arthas's ``fg``: a background job of ``session`` becomes its foreground job (``interrupt_job`` and the
    input status apply to it as if it had been started without ``&``)."""
    if session is None:
        raise ApiError("FAILED", "session not found")
    with _SessionLock(session, job.line):
        job.background = False
        session.foreground_job = job
        session.set_input_status("ALLOW_INTERRUPT")
        job.on_terminated(lambda finished: _release_foreground(session, finished))
    if job.wait_terminated(0):  # ended before the listener was in place
        _release_foreground(session, job)


def _release_foreground(session: Session, job) -> None:
    if session.foreground_job is job:
        session.foreground_job = None
        session.set_input_status("ALLOW_INPUT")


def interrupt_job(agent, request: Request, session: Session) -> Dict[str, Any]:
    job = session.foreground_job
    if job is None:
        raise ApiError("FAILED", "no foreground job is running")
    job.interrupt()
    return {"state": "SUCCEEDED", "body": {"jobId": job.job_id, "jobStatus": job.status}}


def close_session(agent, request: Request, session: Session) -> Dict[str, Any]:
    agent.sessions.remove(session.session_id)
    return {"state": "SUCCEEDED"}


def session_info(agent, request: Request, session: Session) -> Dict[str, Any]:
    return {"state": "SUCCEEDED", "sessionId": session.session_id,
            "body": {"createTime": session.create_time, "lastAccessTime": session.last_access,
                     "pid": session.pid}}


def _require_command(request: Request) -> str:
    if request.command is None:
        raise ApiError("FAILED", "'command' is required")
    return request.command


class _SessionLock:
    """Arthas's tryLock + foreground check around creating and starting a job."""

    def __init__(self, session: Session, command: str):
        self.session = session
        self.command = command

    def __enter__(self):
        if not self.session.try_lock():
            raise ApiError("REFUSED", "Another command is executing.", sessionId=self.session.session_id,
                           body={"command": self.command})
        if self.session.foreground_job is not None:
            self.session.unlock()
            raise ApiError("REFUSED", "Another job is running.", sessionId=self.session.session_id,
                           body={"command": self.command})
        return self

    def __exit__(self, *exc_info):
        self.session.unlock()
        return False


ACTIONS: Dict[str, Callable] = {
    "init_session": init_session,
    "join_session": join_session,
    "pull_results": pull_results,
    "async_exec": async_exec,
    "exec": exec_command,
    "interrupt_job": interrupt_job,
    "close_session": close_session,
    "session_info": session_info,
}
