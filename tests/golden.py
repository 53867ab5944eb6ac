"""The golden harness: one request script run against real Arthas (its agent in its math-game demo) and
against a pyarthas demo, each response reduced to what a client relies on, and the two compared.

The script (``run_script``): the seed's session flow step by step (``_seed_flow``), the error cases that
need a session, then ``COMMAND_STEPS``: every command both have and the error cases of Arthas's API.
What is compared, per step:
- the action-level ``state`` and ``message`` (exact text, ids masked), the JSON types of the other
  ``body`` fields;
- the sequence of result ``type``s (repeats of one type collapse into one: how many ``watch`` results a
  second brings is the demo's business);
- per result type, every key (nested objects as ``a.b``, array elements as ``a[]``, maps whose keys are
  data as ``a{}``) and the JSON type of its value;
- the exact texts of ``status``, ``message``, ``command`` and ``enhancer`` results, Java names replaced by
  the Python ones pyarthas.md gives (``JAVA_TO_PYTHON``).

Every difference has an id (``"<step>: <what>"``) and the two sides' descriptions (a JSON type, ``absent``,
or a text); docs/arthas-differences.md lists the intended ones, each row three glob patterns (field,
Arthas, pyarthas) and a reason. ``unexplained`` returns what no row covers.
"""
import fnmatch
import json
import os
import re
import socket
import subprocess
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

from harness import ROOT, Session, kill_process, post_json, post_raw

DIFFERENCES_DOC = os.path.join(ROOT, "docs", "arthas-differences.md")

# Java names in Arthas's texts -> the names pyarthas uses for the same thing (pyarthas.md)
JAVA_TO_PYTHON = [
    ("java.lang.IllegalArgumentException", "ValueError"),
]

# fields whose keys are data (environment names, property names, line numbers...), not a schema
MAP_FIELDS = {"env", "props", "loggerInfoMap", "mappings", "threadStateCount", "watchResults", "jvmInfo",
              "classLoaderStats", "urlStats", "memoryInfo", "mbeanAttribute", "traceModes"}
TEXT_FIELDS = {"status": ("statusCode", "message"), "message": ("message",), "command": ("state", "message"),
               "enhancer": ("success", "message"), "input_status": ("inputStatus",)}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
CONSUMER = re.compile(r"\b[0-9a-f]{32}_\d+\b")
DATE_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}")
ENHANCING_BUSY = "someone else is enhancing classes, pls. wait."
NO_SESSION = "00000000-0000-4000-8000-000000000000"
NO_CONSUMER = "00000000000000000000000000000000_9"
MAX_DEPTH = 5


# ---- real Arthas

# what Arthas's perfcounter asks of a JDK 9+ (its own error message names these options; JDK 8 ignores them)
JDK_PERF_ACCESS = ["-XX:+IgnoreUnrecognizedVMOptions",
                   "--add-opens=java.base/jdk.internal.perf=ALL-UNNAMED",
                   "--add-exports=java.base/jdk.internal.perf=ALL-UNNAMED",
                   "--add-opens=java.management/sun.management.counter.perf=ALL-UNNAMED",
                   "--add-opens=java.management/sun.management.counter=ALL-UNNAMED"]

def arthas_home() -> Tuple[Optional[str], str]:
    """(the folder scripts/arthas.sh fetched Arthas into, or None; why it is missing). Runs the script,
    which only prints the folder once Arthas is in its cache."""
    try:
        done = subprocess.run(["bash", os.path.join(ROOT, "scripts", "arthas.sh")], capture_output=True,
                              text=True, timeout=600)
    except (OSError, subprocess.SubprocessError) as exc:
        return None, "scripts/arthas.sh did not run: %s" % exc
    if done.returncode != 0:
        return None, (done.stderr.strip().splitlines() or ["scripts/arthas.sh failed"])[-1]
    return done.stdout.strip(), ""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class JavaTarget:
    """Arthas's math-game with the Arthas agent (``-javaagent``), its HTTP API on a free port."""

    def __init__(self, home: str, workdir: str, start_timeout: float = 60.0):
        port = free_port()
        self.url = "http://127.0.0.1:%d" % port
        # user.home: Arthas writes its logs under ~/logs/arthas
        argv = ["java", "-Xshare:off", "-XX:TieredStopAtLevel=1", "-Duser.home=%s" % workdir] + JDK_PERF_ACCESS + [
                "-Darthas.httpPort=%d" % port,
                "-Darthas.telnetPort=%d" % free_port(), "-Darthas.ip=127.0.0.1",
                "-javaagent:%s" % os.path.join(home, "arthas-agent.jar"),
                "-jar", os.path.join(home, "math-game.jar")]
        self.log = open(os.path.join(workdir, "math-game.log"), "wb")
        self.proc = subprocess.Popen(argv, cwd=workdir, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        self._wait_ready(start_timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                if self.api("exec", command="version")["state"] == "SUCCEEDED":
                    return
            except (OSError, AssertionError, ValueError):
                pass
            time.sleep(0.2)    # the JVM is starting: nothing to wait on but its port
        self.kill()
        with open(self.log.name, "rb") as handle:
            raise AssertionError("Arthas did not start: %s" % handle.read()[-2000:].decode("utf-8", "replace"))

    def api(self, action: str, **fields: Any) -> Dict[str, Any]:
        return post_json(self.url, dict(fields, action=action), timeout=30)

    def kill(self) -> None:
        kill_process(self.proc)
        self.log.close()


# ---- the request script

@dataclass
class Step:
    """One request (or a short exchange) and the response the harness keeps of it."""
    name: str
    run: Callable[["Runner"], Dict[str, Any]]


def exec_step(name: str, command: str, python_command: Optional[str] = None, timeout_ms: int = 20000) -> Step:
    """``exec`` of ``command`` (``python_command`` on pyarthas where the two need different words)."""
    def run(runner: "Runner") -> Dict[str, Any]:
        line = python_command if python_command is not None and runner.is_python else command
        return runner.exec(runner.fill(line), timeout_ms)
    return Step(name, run)


def lost_enhancer(reply: Dict[str, Any]) -> bool:
    """Whether an enhancing job's answer lacks its ``enhancer`` result: Arthas registers the listener before
    it appends that result, so a call reaching the ``-n`` limit in between ends the job first and the
    result is dropped. A race of Arthas's own: the harness asks Arthas again (never pyarthas)."""
    kinds = {r.get("type") for r in reply.get("body", {}).get("results", [])}
    return "enhancer" not in kinds and bool(kinds & {"watch", "trace", "stack", "tt", "monitor"})


class Runner:
    """Runs the script against one target, keeping what the steps learn (session ids, tt indexes)."""

    def __init__(self, target, is_python: bool, fields: Optional[Dict[str, Any]] = None):
        self.target = target
        self.is_python = is_python
        self.fields = fields or {}      # sent with every request (a wire dialect)
        self.vars: Dict[str, Any] = {}

    def api(self, action: str, **fields: Any) -> Dict[str, Any]:
        return post_json(self.target.url, dict(self.fields, **fields, action=action), timeout=60)

    def exec(self, line: str, timeout_ms: int = 20000) -> Dict[str, Any]:
        reply = self.api("exec", command=line, execTimeout=timeout_ms)
        for _ in range(20):
            if ENHANCING_BUSY in json.dumps(reply):
                # Arthas lets go of the last enhancing job after answering it; nothing tells when
                time.sleep(0.3)
            elif self.is_python or not lost_enhancer(reply):
                break
            reply = self.api("exec", command=line, execTimeout=timeout_ms)
        return reply

    def job_stream(self, session: Session, command: str) -> Dict[str, Any]:
        """``_job_stream``, run again where Arthas lost the enhancer result (``lost_enhancer``) or was still
        enhancing for an earlier job."""
        stream = _job_stream(session, command)
        for _ in range(20):
            if self.is_python:
                break
            if ENHANCING_BUSY in json.dumps(stream):
                time.sleep(0.3)     # as in ``exec``: Arthas still holds the last enhancing job's lock
            elif not lost_enhancer(stream):
                break
            stream = _job_stream(session, command)
        return stream

    def fill(self, value: str) -> str:
        """``value`` with ``{name}`` replaced by what earlier steps learnt (other braces are left alone)."""
        return re.sub(r"\{(\w+)\}", lambda m: str(self.vars.get(m.group(1), m.group(0))), value)

    def session(self) -> Session:
        return Session(self.target)


def _raw(body: bytes, method: str = "POST") -> Callable[[Runner], Dict[str, Any]]:
    def run(runner: Runner) -> Dict[str, Any]:
        status, _, raw = post_raw(runner.target.url, body, method=method)
        reply = json.loads(raw)
        reply["@http"] = status
        return reply
    return run


def _pull_job(session: Session, job_id: int, until: Callable[[List[dict]], bool], timeout: float = 20.0):
    """Pull the session's results until ``until(results of the job so far)``."""
    collected: List[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        collected.extend(session.pull())
        if until([r for r in collected if r.get("jobId") in (job_id, 0)]):
            break
    return collected


def _seed_flow(runner: Runner) -> Dict[str, Dict[str, Any]]:
    """The seed's session flow (seed-session-api.md) step by step; one response per step."""
    out: Dict[str, Dict[str, Any]] = {}
    init = runner.api("init_session")
    out["init_session"] = init
    session = Session.of(runner.target, init["sessionId"], init["consumerId"])
    out["join_session"] = joined = session.api("join_session")
    out["pull_results (welcome)"] = _pulled(session, lambda rs: any(r.get("inputStatus") == "ALLOW_INPUT"
                                                                      for r in rs))
    second = Session.of(runner.target, session.id, joined["consumerId"])
    out["pull_results (joined)"] = _pulled(second, lambda rs: any(r.get("inputStatus") == "ALLOW_INPUT"
                                                                   for r in rs))
    watch = 'watch demo.MathGame primeFactors "{params, returnObj, throwExp}" '
    scheduled = session.api("async_exec", command=watch)
    out["async_exec watch"] = scheduled
    job_id = scheduled.get("body", {}).get("jobId")
    # once enhanced (while enhancing, Arthas holds the session's lock: "Another command is executing.")
    stream = _pull_job(session, job_id, lambda rs: any(r.get("type") == "enhancer" for r in rs))
    out["async_exec busy"] = session.api("async_exec", command="version")
    # a call that returned and one that threw, as the seed's example shows
    stream += _pull_job(session, job_id, lambda rs: {r.get("accessPoint") for r in rs if r.get("type") == "watch"}
                        >= {"AtExit", "AtExceptionExit"})
    out["interrupt_job"] = session.api("interrupt_job")
    stream += _pull_job(session, job_id, lambda rs: any(r.get("inputStatus") == "ALLOW_INPUT" for r in rs),
                        timeout=10)
    out["pull_results (watch)"] = {"state": "SUCCEEDED", "body": {"results": stream}}
    out["interrupt_job (none)"] = session.api("interrupt_job")
    out["session_info"] = session.api("session_info")
    out["async_exec unknown command"] = session.api("async_exec", command="nosuchcommand")
    out["async_exec parse error"] = _job_stream(session, "watch")
    # a job that ends by its -n limit: what a session's consumer gets (a one-time exec is a step below)
    out["async_exec watch -n 1"] = runner.job_stream(session, "watch demo.MathGame primeFactors -n 1")
    out["close_session"] = session.api("close_session")
    out["pull_results (closed)"] = session.api("pull_results", consumerId=session.consumer)
    return out


def run_seed_flow(target) -> Dict[str, Dict[str, Any]]:
    return _seed_flow(Runner(target, is_python=True))


def _pulled(session: Session, until: Callable[[List[dict]], bool]) -> Dict[str, Any]:
    collected: List[dict] = []
    reply: Dict[str, Any] = {}
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        reply = session.api("pull_results", consumerId=session.consumer)
        collected.extend(reply.get("body", {}).get("results", []))
        if until(collected):
            break
    return dict(reply, body={"results": collected})


def _job_stream(session: Session, command: str) -> Dict[str, Any]:
    scheduled = session.api("async_exec", command=command)
    job_id = scheduled.get("body", {}).get("jobId")
    stream = _pull_job(session, job_id, lambda rs: any(r.get("inputStatus") == "ALLOW_INPUT" for r in rs),
                       timeout=15)
    return dict(scheduled, body=dict(scheduled.get("body", {}), results=stream))


def _remember_tt_index(runner: Runner, reply: Dict[str, Any]) -> None:
    for result in reply.get("body", {}).get("results", []):
        for fragment in result.get("timeFragmentList") or []:
            runner.vars.setdefault("tt_index", fragment.get("index"))


def _tt_record(runner: Runner) -> Dict[str, Any]:
    # a call that returns (the replay then returns too on both sides)
    reply = runner.exec("tt -t demo.MathGame primeFactors 'params[0] > 1' -n 1")
    _remember_tt_index(runner, reply)
    return reply


def _thread_id(runner: Runner) -> Dict[str, Any]:
    reply = runner.api("exec", command="thread --all")
    for result in reply.get("body", {}).get("results", []):
        for stat in result.get("threadStats") or []:
            if stat.get("name") in ("main", "MainThread"):
                runner.vars["thread_id"] = stat.get("id")
    return reply


def _learning(lines: Tuple[str, str], learn: Callable[[Runner, Dict[str, Any]], None]):
    """``exec`` of ``lines`` (Java's, Python's), then ``learn`` from the reply what later steps use."""
    def run(runner: Runner) -> Dict[str, Any]:
        reply = runner.exec(runner.fill(lines[runner.is_python]))
        learn(runner, reply)
        return reply
    return run


def _results_of(reply: Dict[str, Any], kind: str) -> List[dict]:
    return [r for r in reply.get("body", {}).get("results", []) if r.get("type") == kind]


def _remember_loader_hash(runner: Runner, reply: Dict[str, Any]) -> None:
    for result in _results_of(reply, "sc"):
        runner.vars["loader_hash"] = (result.get("classInfo") or {}).get("classLoaderHash")


def _remember_dumped_code(runner: Runner, reply: Dict[str, Any]) -> None:
    for result in _results_of(reply, "dump"):
        for dumped in result.get("dumpedClasses") or []:
            if str(dumped.get("location")).endswith((".class", ".pyc")):
                runner.vars["dumped_code"] = dumped["location"]


def _remember_retransform_id(runner: Runner, reply: Dict[str, Any]) -> None:
    for result in _results_of(reply, "retransform"):
        for entry in (result.get("retransformEntries") or [])[:1]:
            runner.vars["retransform_id"] = entry.get("id")


# what mc compiles: (Java's file name and source, Python's)
MC_SOURCES = (("Hello.java", "public class Hello { public static int answer() { return 42; } }\n"),
              ("hello.py", "def answer():\n    return 42\n"))
MC_BROKEN_SOURCES = (("Broken.java", "public class Broken { int x = ; }\n"),
                     ("broken.py", "def broken(:\n    pass\n"))


def _with_source(sources, line: str):
    """Write the side's source file into the work folder, then ``exec`` ``line`` with ``{source}`` its path."""
    def run(runner: Runner) -> Dict[str, Any]:
        name, text = sources[runner.is_python]
        path = os.path.join(runner.vars["workdir"], name)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        return runner.exec(runner.fill(line.replace("{source}", path)))
    return run


# The commands both have, then the error cases of the reference's table. Where Java and Python need
# different words for the same request (an expression, a file name), the Python one is the third argument.
COMMAND_STEPS = [
    exec_step("version", "version"),
    exec_step("help", "help"),
    exec_step("help watch", "help watch"),
    exec_step("watch -h", "watch -h"),
    exec_step("watch", 'watch demo.MathGame primeFactors "{params, returnObj, throwExp}" -n 1 -x 2'),
    exec_step("watch -b", "watch -b demo.MathGame primeFactors params -n 1"),
    exec_step("watch -e", "watch -e demo.MathGame primeFactors throwExp -n 1"),
    exec_step("watch -M 0", "watch demo.MathGame primeFactors -M 0 -n 1"),
    exec_step("watch no match", "watch demo.NoSuchClass nothing -n 1"),
    exec_step("watch --timeout", "watch demo.MathGame primeFactors params 'false' --timeout 1"),
    exec_step("trace", "trace demo.MathGame run -n 1"),
    exec_step("stack", "stack demo.MathGame primeFactors -n 1"),
    exec_step("monitor", "monitor -c 1 -n 1 demo.MathGame primeFactors"),
    Step("tt -t", _tt_record),
    exec_step("tt -l", "tt -l"),
    exec_step("tt -i", "tt -i {tt_index}"),
    exec_step("tt -i -w", "tt -i {tt_index} -w params"),
    exec_step("tt -i -p", "tt -i {tt_index} -p"),
    exec_step("tt -s", "tt -s 'method.name==\"primeFactors\"'"),
    exec_step("tt -i missing", "tt -i 999999"),
    exec_step("tt -d", "tt -d -i {tt_index}"),
    exec_step("tt --delete-all", "tt --delete-all"),
    Step("thread --all", _thread_id),
    exec_step("thread", "thread"),
    exec_step("thread -n", "thread -n 3 -i 100"),
    exec_step("thread id", "thread {thread_id}"),
    exec_step("thread missing", "thread 999999"),
    exec_step("thread -b", "thread -b"),
    exec_step("thread --state", "thread --state TIMED_WAITING"),
    exec_step("dashboard", "dashboard -n 1 -i 300"),
    exec_step("sc", "sc demo.*"),
    Step("sc -d", _learning(("sc -d demo.MathGame",) * 2, _remember_loader_hash)),
    exec_step("sc -d -f", "sc -d -f demo.MathGame"),
    exec_step("sm", "sm demo.MathGame"),
    exec_step("sm -d", "sm -d demo.MathGame primeFactors"),
    exec_step("jad", "jad demo.MathGame"),
    exec_step("jad missing", "jad demo.NoSuchClass"),
    exec_step("ognl", "ognl '@java.lang.Math@abs(-3)'", "ognl 'abs(-3)'"),
    exec_step("ognl -x", "ognl -x 2 '{1, 2}'", "ognl -x 2 '[1, 2]'"),
    exec_step("ognl error", "ognl 'nosuchname.nothing'"),
    exec_step("getstatic", "getstatic demo.MathGame random"),
    exec_step("getstatic missing", "getstatic demo.MathGame nosuchfield"),
    exec_step("vmtool getInstances", "vmtool --action getInstances --className demo.MathGame -x 1"),
    exec_step("vmtool forceGc", "vmtool --action forceGc"),
    exec_step("logger", "logger"),
    exec_step("memory", "memory"),
    exec_step("heapdump", "heapdump --live {workdir}/golden.hprof"),
    exec_step("jvm", "jvm"),
    exec_step("sysprop", "sysprop"),
    exec_step("sysprop missing", "sysprop no.such.key"),
    exec_step("sysenv", "sysenv"),
    exec_step("sysenv name", "sysenv PATH"),
    exec_step("sysprop set", "sysprop golden.key golden-value"),
    exec_step("vmoption", "vmoption"),
    exec_step("vmoption set", "vmoption PrintConcurrentLocks true", "vmoption sys.switchinterval 0.005"),
    exec_step("options", "options"),
    exec_step("options set", "options json-format false"),
    exec_step("options missing", "options no-such-option 1"),
    exec_step("profiler actions", "profiler actions"),
    exec_step("profiler start", "profiler start -e itimer", "profiler start"),
    exec_step("profiler status", "profiler status"),
    exec_step("profiler stop", "profiler stop --format html"),
    exec_step("reset", "reset"),
    exec_step("session", "session"),
    exec_step("history", "history"),
    exec_step("pwd", "pwd"),
    exec_step("echo", "echo hello"),
    exec_step("classloader", "classloader"),
    exec_step("classloader -l", "classloader -l"),
    exec_step("classloader -t", "classloader -t"),
    exec_step("classloader --url-stat", "classloader --url-stat"),
    exec_step("classloader -c", "classloader -c {loader_hash}"),
    exec_step("classloader -c -r", "classloader -c {loader_hash} -r demo/MathGame.class",
              "classloader -c {loader_hash} -r demo.py"),
    exec_step("classloader --load", "classloader -c {loader_hash} --load demo.MathGame"),
    exec_step("classloader -a -c", "classloader -a -c {loader_hash}"),
    exec_step("classloader --url-classes", "classloader --url-classes -d -c {loader_hash}"),
    exec_step("classloader -c missing", "classloader -c 1234abcd"),
    exec_step("classloader --classLoaderClass missing", "classloader --classLoaderClass no.SuchLoader"),
    exec_step("dump", "dump demo.MathGame -d {workdir}/dump"),
    # what retransform takes: Java the class's bytes, Python the module's .pyc (a class has no code of its own)
    Step("dump -c", _learning(("dump -c {loader_hash} -d {workdir}/dumped demo.MathGame",
                               "dump -c {loader_hash} -d {workdir}/dumped demo"), _remember_dumped_code)),
    exec_step("dump missing", "dump demo.NoSuchClass"),
    exec_step("perfcounter", "perfcounter"),
    exec_step("perfcounter -d", "perfcounter -d"),
    Step("mc", _with_source(MC_SOURCES, "mc -d {workdir}/mc {source}")),
    Step("mc error", _with_source(MC_BROKEN_SOURCES, "mc -d {workdir}/mc {source}")),
    exec_step("mc missing", "mc {workdir}/Missing"),
    exec_step("retransform -l", "retransform -l"),
    exec_step("retransform", "retransform {dumped_code}"),
    Step("retransform -l entries", _learning(("retransform -l",) * 2, _remember_retransform_id)),
    exec_step("retransform --classPattern", "retransform --classPattern demo.MathGame"),
    exec_step("retransform --classPattern missing", "retransform --classPattern demo.NoSuchClass"),
    exec_step("retransform -d", "retransform -d {retransform_id}"),
    exec_step("retransform --deleteAll", "retransform --deleteAll"),
    exec_step("retransform missing", "retransform {workdir}/Missing"),
    exec_step("retransform no paths", "retransform"),
    exec_step("mbean", "mbean"),
    # the idioms of Arthas's docs, in the same words on both sides
    exec_step("watch idioms", "watch demo.MathGame primeFactors '{method.name, method.getName(), "
                              "target.getClass().getName(), params.length}' 'params.length > 0' -n 1"),
    exec_step("watch returnObj.size()", "watch demo.MathGame primeFactors 'returnObj.size()' -s -n 1"),
    exec_step("ognl static call", "ognl '@java.lang.System@currentTimeMillis()'"),
    # the error cases of the reference's table
    exec_step("unknown command", "nosuchcommand"),
    exec_step("empty command", ""),
    exec_step("exec timeout", "watch demo.MathGame primeFactors params 'false' -n 1", timeout_ms=1000),
    Step("empty body", _raw(b"")),
    Step("invalid JSON", _raw(b"{not json")),
    Step("GET", _raw(b"", method="GET")),
    Step("no action", lambda runner: post_json(runner.target.url, {"sessionId": ""})),
    Step("unknown action", lambda runner: runner.api("foo")),
    Step("no sessionId", lambda runner: runner.api("join_session")),
    Step("unknown session", lambda runner: runner.api("join_session", sessionId=NO_SESSION)),
]


def _errors_in_session(runner: Runner) -> Dict[str, Dict[str, Any]]:
    session = runner.session()
    out = {"pull_results no consumerId": session.api("pull_results"),
           "pull_results unknown consumer": session.api("pull_results", consumerId=NO_CONSUMER)}
    session.close()
    return out


def run_script(target, is_python: bool, workdir: str, only: Optional[Callable[[str], bool]] = None,
               fields: Optional[Dict[str, Any]] = None) -> Dict[str, Dict[str, Any]]:
    """Every step's response, by step name, in the script's order; with ``only``, just the COMMAND_STEPS
    whose names it accepts; ``fields`` go with every request."""
    runner = Runner(target, is_python, fields)
    runner.vars.update(workdir=workdir, tt_index=1000, thread_id=1, loader_hash="0", retransform_id=1,
                       dumped_code=os.path.join(workdir, "not-dumped"))
    responses: Dict[str, Dict[str, Any]] = {}
    if only is None:
        responses.update(_seed_flow(runner))
        responses.update(_errors_in_session(runner))
    for step in (s for s in COMMAND_STEPS if only is None or only(s.name)):
        try:
            responses[step.name] = step.run(runner)
        except Exception as exc:     # one broken step is a difference, not the end of the comparison
            responses[step.name] = {"@error": "%s: %s" % (type(exc).__name__, exc)}
    # the folders the two sides write to differ: texts name them as {workdir}
    return json.loads(json.dumps(responses).replace(json.dumps(workdir)[1:-1], "{workdir}"))


# ---- reducing a response to what is compared

def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def key_types(value: Any, prefix: str, out: Dict[str, set], depth: int = 0) -> None:
    """``out[path]`` gets the JSON type of every value under ``value`` (see the module's docstring)."""
    out.setdefault(prefix, set()).add(json_type(value)) if prefix else None
    if depth >= MAX_DEPTH:
        return
    if isinstance(value, dict):
        name = prefix.rsplit(".", 1)[-1].rstrip("[]")
        if name in MAP_FIELDS:
            for item in value.values():
                key_types(item, prefix + "{}", out, depth + 1)
            return
        for key, item in value.items():
            key_types(item, (prefix + "." if prefix else "") + key, out, depth + 1)
    elif isinstance(value, list):
        for item in value:
            key_types(item, prefix + "[]", out, depth + 1)


def mask(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    text = CONSUMER.sub("<consumerId>", UUID.sub("<sessionId>", text))
    for java, python in JAVA_TO_PYTHON:
        text = text.replace(java, python)
    return text


def collapsed_types(results: List[dict]) -> List[str]:
    out: List[str] = []
    for result in results:
        kind = result.get("type", "?")
        if not out or out[-1] != kind:
            out.append(kind)
    return out


def reduce(response: Dict[str, Any]) -> Dict[str, str]:
    """``{what: description}`` of one response (see the module's docstring)."""
    out: Dict[str, str] = {}
    if "@error" in response:
        return {"harness error": response["@error"]}
    out["state"] = str(response.get("state"))
    out["message"] = str(mask(response.get("message"))) if "message" in response else "absent"
    body = response.get("body")
    types: Dict[str, set] = {}
    if isinstance(body, dict):
        key_types({k: v for k, v in body.items() if k != "results"}, "", types)
    for path, kinds in types.items():
        out["body." + path] = "|".join(sorted(kinds))
    results = body.get("results") if isinstance(body, dict) else None
    if isinstance(results, list):
        out["result types"] = " ".join(collapsed_types(results))
        by_type: Dict[str, Dict[str, set]] = {}
        texts: Dict[str, List[str]] = {}
        for result in results:
            kind = result.get("type", "?")
            key_types({k: v for k, v in result.items() if k != "type"}, "", by_type.setdefault(kind, {}))
            for name in TEXT_FIELDS.get(kind, ()):
                if name in result:
                    texts.setdefault("%s.%s =" % (kind, name), []).append(str(mask(result[name])))
        for what, values in texts.items():   # each different text once, in order
            out[what] = " / ".join(dict.fromkeys(values))
        for kind, paths in by_type.items():
            for path, kinds in paths.items():
                out["%s.%s" % (kind, path)] = "|".join(sorted(kinds))
    return out


def differences(arthas: Dict[str, Dict[str, Any]], python: Dict[str, Dict[str, Any]]) -> List[Tuple[str, str, str]]:
    """``[(id, Arthas's description, pyarthas's description)]`` for every step both sides ran."""
    found = []
    for step, java_response in arthas.items():
        a = reduce(java_response)
        p = reduce(python.get(step, {"@error": "step not run"}))
        for what in list(a) + [k for k in p if k not in a]:
            left, right = a.get(what, "absent"), p.get(what, "absent")
            if left != right:
                found.append(("%s: %s" % (step, what), left, right))
    return found


# ---- the table of intended differences

@dataclass
class Row:
    field: str
    arthas: str
    python: str
    why: str
    used: bool = False

    def covers(self, difference: Tuple[str, str, str]) -> bool:
        what, left, right = difference
        return (_glob(what, self.field) and _glob(left, self.arthas) and _glob(right, self.python))


def _glob(text: str, pattern: str) -> bool:
    """``*`` and ``?`` are the only wildcards (``[]`` in a path is literal)."""
    return fnmatch.fnmatchcase(text.replace("\n", "\\n"), pattern.replace("[", "[[]"))


def _cell(text: str) -> str:
    text = text.strip().replace("\\|", "|")
    if text.startswith("`") and text.endswith("`") and len(text) >= 2:
        text = text[1:-1]
    return text


def read_table(path: str = DIFFERENCES_DOC, heading: str = "") -> List[Row]:
    """The rows of the table under the ``## `` heading that starts with ``heading``."""
    rows: List[Row] = []
    inside = False
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("## "):
                inside = line[3:].strip().startswith(heading)
                continue
            if not inside or not line.startswith("|") or line.startswith(("|---", "| field")):
                continue
            cells = [_cell(c) for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if len(cells) == 4:
                rows.append(Row(*cells))
    return rows


def unexplained(found: List[Tuple[str, str, str]], rows: List[Row]) -> List[Tuple[str, str, str]]:
    left = []
    for difference in found:
        row = next((r for r in rows if r.covers(difference)), None)
        if row is None:
            left.append(difference)
        else:
            row.used = True
    return left


def report(found: List[Tuple[str, str, str]]) -> str:
    """The differences as rows of the doc's table, to paste and explain."""
    return "\n".join("| `%s` | `%s` | `%s` | ? |" % tuple(t.replace("|", "\\|").replace("\n", "\\n")
                                                       for t in d) for d in found)
