"""One ``tools/call``: a job of the MCP session's Arthas session, its results gathered and drawn as text.

The job layer runs the command (``agent.jobs.create_job``); results reach ``Call.sink`` from the job's
thread or, for watch/trace/stack/monitor/tt, from the target's threads, so the sink only appends to a
bounded deque and wakes the waiting request thread; serializing and drawing happen on that agent thread.
"""
import collections
import threading
import time
from typing import Any, Callable, Deque, Dict, List, Tuple

from ..job.controller import JobCreationError
from ..model import to_json_or_message
from ..view import Context, render

MAX_RESULTS = 500
TEXT_WIDTH = 120
SILENT_TYPES = ("input_status", "command")
NOT_CAPTURES = SILENT_TYPES + ("status", "message", "enhancer")   # progress counts the others
ABORT_HINT = "Press Q or Ctrl+C to abort."                           # a console's hint, not an assistant's


class Call:
    def __init__(self, agent, session, line: str):
        self.agent = agent
        self.line = line
        self._pending: Deque[Tuple[int, Any]] = collections.deque(maxlen=MAX_RESULTS)
        self._wakeup = threading.Condition(threading.Lock())
        self.dropped = 0
        self.cancelled = False
        self.expired = False
        self.job = agent.jobs.create_job(line, session, self.sink)  # JobCreationError for unknown commands

    # ---- producers: any thread, never blocks for long ----

    def sink(self, job_id: int, model) -> None:
        with self._wakeup:
            if len(self._pending) == MAX_RESULTS:
                self.dropped += 1
            self._pending.append((job_id, model))
            self._wakeup.notify()

    # ---- the request thread ----

    def start(self) -> None:
        self.job.start()

    def cancel(self) -> None:
        """End the job: its enhancements are undone before its last result."""
        self.cancelled = True
        self.job.interrupt()

    def take(self, timeout: float) -> List[Dict[str, Any]]:
        """The results that arrived (serialized), waiting up to ``timeout`` for the first."""
        with self._wakeup:
            if not self._pending:
                self._wakeup.wait(timeout)
            taken = list(self._pending)
            self._pending.clear()
        return [to_json_or_message(model, job_id) for job_id, model in taken]


def run_call(call: Call, deadline: float, on_result: Callable[[Dict[str, Any]], None],
             client_gone: Callable[[], bool], poll: float = 1.0) -> Tuple[List[Dict[str, Any]], bool]:
    """Start ``call`` and gather its results until its ``status``; returns (results, time_expired).

    ``on_result`` sees each result as it arrives (progress for streaming clients). Past ``deadline`` the job
    is interrupted; when ``client_gone()`` says the client left, the call is cancelled (checked each
    ``poll`` seconds while nothing arrives)."""
    results: List[Dict[str, Any]] = []
    expired = False
    call.start()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 and not expired:
            expired = True
            call.job.interrupt()
            remaining = 5.0
            deadline = time.monotonic() + remaining
        elif remaining <= 0:
            break
        batch = call.take(min(poll, remaining))
        for result in batch:
            results.append(result)
            on_result(result)
        if any(r.get("type") == "status" for r in batch):
            break
        if not batch and client_gone():
            call.cancel()
            call.job.wait_terminated(5.0)
            break
    return results, expired


def result_text(results: List[Dict[str, Any]], base_url: str) -> str:
    ctx = Context(color=False, width=TEXT_WIDTH)
    ctx.base_url = base_url  # the profiler's view prints full URLs with it
    texts = [render(result, ctx) for result in results
             if result.get("type") not in SILENT_TYPES and result.get("message") != ABORT_HINT]
    return "\n".join(text for text in texts if text)


def final_status(results: List[Dict[str, Any]]) -> Dict[str, Any]:
    for result in reversed(results):
        if result.get("type") == "status":
            return result
    return {"type": "status", "statusCode": -1, "message": "the command did not finish"}


__all__ = ["Call", "JobCreationError", "run_call", "result_text", "final_status"]
