"""Listeners as Arthas's: ``--listenerId N`` adds functions to the running listener N (Arthas's dynamic trace),
for trace, watch, stack, monitor and tt; the functions stay with N until N's job ends; ``-v`` and
``--exclude-class-pattern``. Against the demo on every interpreter, through the API and the telnet shell."""
import re

import pytest

from harness import of_type, run_in_session, status_of
from shell_client import RawTerminal, prompt_of, start_shell_demo, wait_until


def _code_ids(target):
    return target.ognl("(id(demo.MathGame.primeFactors.__code__), id(demo.MathGame.print.__code__))")


def _listener_of(session):
    pulled = session.pull_until(lambda r: r.get("type") == "enhancer")
    return of_type(pulled, "enhancer")[0]["effect"]["listenerId"]


JOINS = [
    # (first command, the one that joins it, what shows in the first job once the second has joined)
    ("trace demo.MathGame primeFactors -n 100000", "trace demo.MathGame print --listenerId %d",
     lambda r: r.get("type") == "trace" and "'methodName': 'print'" in repr(r)),
    ("watch demo.MathGame primeFactors '{params}' -n 100000", "watch demo.MathGame print '{params}' --listenerId %d",
     lambda r: r.get("type") == "watch" and r.get("methodName") == "print"),
    ("stack demo.MathGame primeFactors -n 100000", "stack demo.MathGame print --listenerId %d",
     lambda r: r.get("type") == "stack" and "print" in repr(r.get("stackTrace", [])[:1])),
    ("monitor -c 1 demo.MathGame primeFactors -n 100000", "monitor -c 1 demo.MathGame print --listenerId %d",
     lambda r: r.get("type") == "monitor" and any(m.get("methodName") == "print"
                                                  for m in r.get("monitorDataList", []))),
    ("tt -t demo.MathGame primeFactors -n 100000", "tt -t demo.MathGame print --listenerId %d",
     lambda r: r.get("type") == "tt" and any(f.get("methodName") == "print"
                                             for f in r.get("timeFragmentList", []))),
]


@pytest.mark.parametrize("first, joining, joined", JOINS, ids=[j[0].split()[0] for j in JOINS])
def test_listener_id_joins_the_running_listener(fast_demo, first, joining, joined):
    target = fast_demo
    before = _code_ids(target)
    owner, other = target.session(), target.session()
    job = owner.async_exec(first)["body"]["jobId"]
    listener_id = _listener_of(owner)
    added = other.run_to_status(joining % listener_id)
    enhancer = of_type(added, "enhancer")[0]
    assert enhancer["success"] and enhancer["effect"]["listenerId"] == listener_id, added
    assert status_of(added)["statusCode"] == 0
    owner.pull_until(joined, timeout=30)          # the joined function's calls reach the first job
    assert _code_ids(target)[1] != before[1]      # the adding job ended; its function stays with listener N
    owner.api("interrupt_job")
    owner.pull_until(lambda r: r.get("type") == "status" and r.get("jobId") == job)
    wait_until(lambda: _code_ids(target) == before, message="both functions restored with listener N's job")


def test_listener_id_of_another_kind_or_of_none(fast_demo):
    target = fast_demo
    owner = target.session()
    owner.async_exec("trace demo.MathGame primeFactors -n 100000")
    listener_id = _listener_of(owner)
    refused = target.results("watch demo.MathGame print --listenerId %d" % listener_id)
    assert status_of(refused)["statusCode"] == -1
    assert "listener %d belongs to trace, not to watch" % listener_id in status_of(refused)["message"]
    # an id no listener has: a listener of its own, as Arthas's getAdviceListenerWithId
    own = target.results("watch demo.MathGame print '{params}' -n 1 --listenerId 9999", execTimeout=30000)
    assert of_type(own, "watch") and of_type(own, "enhancer")[0]["effect"]["listenerId"] != 9999
    owner.api("interrupt_job")


def test_verbose_and_exclude_class_pattern(fast_demo):
    target = fast_demo
    # -v's condition results are terminal text (Arthas writes them to the terminal): a consumer that asks for
    # terminal lines gets them
    verbose = run_in_session(target, "trace demo.MathGame primeFactors 'params[0] > 1' -v -n 1", 30,
                             terminalMessages=True)
    messages = [r["message"] for r in of_type(verbose, "message")]
    assert any(re.match(r"Condition express: params\[0\] > 1 , result: (True|False)$", m) for m in messages)
    assert len(of_type(verbose, "trace")) == 1
    excluded = target.results("trace demo.* primeFactors --exclude-class-pattern *MathGame")
    assert status_of(excluded)["statusCode"] == -1 and not of_type(excluded, "enhancer")[0]["success"]
    kept = target.results("trace demo.* primeFactors -n 1 --exclude-class-pattern *Other", execTimeout=30000)
    assert of_type(kept, "trace") and status_of(kept)["statusCode"] == 0


def test_dynamic_trace_in_two_terminals(target_python, tmp_path):
    """Arthas's trace page, as written: terminal 1 traces run; terminal 2 adds primeFactors with
    --listenerId; terminal 1's trees grow by one level."""
    target = start_shell_demo(target_python, tmp_path)
    first = second = None
    try:
        prompt = prompt_of(target)
        first, second = RawTerminal(target.telnet_port), RawTerminal(target.telnet_port)
        first.screen.expect(re.escape(prompt))
        second.screen.expect(re.escape(prompt))
        first.send("trace demo.MathGame run -n 100000\r\n")
        listener_id = int(first.screen.expect(r"listenerId: (\d+)").group(1))
        first.screen.expect(r"`---\[[\d.]+ms\] demo\.MathGame:run\(\)")
        mark = second.screen.mark()
        second.send("trace demo.MathGame primeFactors --listenerId %d\r\n" % listener_id)
        second.screen.expect(r"Affect\(class count: 1 , method count: 1\) cost in \d+ ms, listenerId: %d\n"
                             r"(\[Trace method: [^\n]*\n)*" % listener_id + re.escape(prompt), after=mark)
        mark = first.screen.mark()  # (before 3.11 the nested call is named after its module: no co_qualname)
        first.screen.expect(r"demo\.MathGame:primeFactors\(\) #\d+[^\n]*\n[ |`]*`---\[[^\]\n]*\] "
                            r"demo(\.MathGame)?:primeFactors\(\)", after=mark, timeout=30)
        first.send("\x03")
        first.screen.expect(re.escape(prompt) + "$", after=mark)
    finally:
        for terminal in (first, second):
            if terminal is not None:
                terminal.close()
        target.kill()
