"""jfr: a flight record of a real target (stack samples, gc, threads, log records, monitor cycles) with
Arthas's commands and messages, bounded by its limits, leaving nothing behind, and read back by
``pyarthas jfr``."""
import json
import os
import re
import subprocess
import sys

import pytest

from harness import ROOT, of_type, status_of, target_env
from shell_client import WsTerminal, prompt_of, wait_until

# A target that works, collects, logs warnings and starts short threads, all the time.
BUSY_TARGET = """
import gc, logging, threading, time

log = logging.getLogger("shop.orders")

def compute(n):
    return sum(i * i for i in range(n))

def short_job():
    compute(2000)

def loop():
    rounds = 0
    while True:
        compute(20000)
        rounds += 1
        if rounds % 20 == 0:
            gc.collect()
            log.warning("order %d is late", rounds)
            threading.Thread(target=short_job, name="short-%d" % rounds).start()
            time.sleep(0.002)

print("ready", flush=True)
loop()
"""

PROBE = ("[len(__import__('gc').callbacks), len(__import__('logging').getLogger().handlers), "
         "sorted(t.name for t in __import__('threading').enumerate() if t.name == 'pyarthas-jfr')]")


@pytest.fixture
def busy(spawn):
    target = spawn(BUSY_TARGET)
    target.wait_stdout("ready", timeout=30)
    return target


def jfr(target, command):
    """(jfr results, status) of one ``jfr`` command."""
    results = target.results(command)
    return of_type(results, "jfr"), status_of(results)


def read_record(path):
    done = subprocess.run([sys.executable, "-m", "pyarthas", "jfr", path], capture_output=True, text=True,
                          timeout=60, env=target_env(), cwd=ROOT)
    assert done.returncode == 0, done.stderr
    with open(path) as source:
        lines = [json.loads(line) for line in source]
    return lines[0], lines[1:], done.stdout


def test_a_recording_from_start_to_stop(busy, tmp_path):
    before = busy.ognl(PROBE)
    (started,), status = jfr(busy, "jfr start")
    assert status["statusCode"] == 0
    assert started["jfrOutput"] == "Started recording 1. No limit specified, using maxsize=16MB as default."
    monitored = busy.results("monitor -c 1 -n 1 __main__ compute")
    assert of_type(monitored, "monitor")

    def has(kind):
        return any(kind in line for line in busy_events(busy))
    wait_until(lambda: all(has(k) for k in ("'log'", "'thread-end'", "'gc'")), 30, "log, thread and gc events")

    (listed,), _ = jfr(busy, "jfr status")
    assert listed["jfrOutput"] == "Recording: recording=1 name=Recording-1 (running)\n"

    (dumped,), _ = jfr(busy, "jfr dump -r 1")
    path = re.fullmatch(r"Dump recording 1, The result will be written to:\n(.+)", dumped["jfrOutput"]).group(1)
    assert path.startswith(os.path.join(str(tmp_path), "arthas-output")) and os.path.isfile(path)
    assert os.path.isfile(dumped["flameGraph"]) and "<svg" in open(dumped["flameGraph"]).read()

    (stopped,), _ = jfr(busy, "jfr stop -r 1 -f %s" % (tmp_path / "orders.jfr"))
    assert stopped["jfrOutput"] == "Stop recording 1, The result will be written to:\n%s" % (tmp_path / "orders.jfr")
    header, events, summary = read_record(str(tmp_path / "orders.jfr"))
    assert header["format"] == "pyarthas-jfr/1" and header["name"] == "Recording-1"
    kinds = {e["type"] for e in events}
    assert {"pyarthas.ExecutionSample", "pyarthas.GarbageCollection", "pyarthas.ThreadStart",
            "pyarthas.ThreadEnd", "pyarthas.LogRecord", "pyarthas.MonitorCycle"} <= kinds, kinds
    samples = [e for e in events if e["type"] == "pyarthas.ExecutionSample"]
    assert samples and all(e["stackTrace"] for e in samples)
    assert any(frame["method"].startswith("__main__.") for e in samples for frame in e["stackTrace"])
    assert not any(e["thread"].startswith("pyarthas-") for e in events if "thread" in e)
    log = next(e for e in events if e["type"] == "pyarthas.LogRecord")
    assert (log["level"], log["logger"]) == ("WARNING", "shop.orders") and re.fullmatch(r"order \d+ is late",
                                                                                      log["message"])
    assert "hot functions" in summary and "__main__." in summary and "shop.orders" in summary
    assert busy.ognl(PROBE) == before  # no gc callback, log handler or thread left behind


def busy_events(target):
    """The kinds of the events recording 1 holds so far (through the agent's own objects)."""
    return target.ognl("[repr(e[0]) for e in __import__('pyarthas.agent.runtime', fromlist=['x'])"
                       ".current()._flight_recorder.get(1).events()]")


def test_the_ring_keeps_to_its_size_and_age(busy):
    jfr(busy, "jfr start -n small --maxsize 32k")
    jfr(busy, "jfr start -n young --maxage 1s -s profile")

    def recordings():
        (listed,), _ = jfr(busy, "jfr status")
        return {r["name"]: r for r in listed["recordings"]}
    wait_until(lambda: recordings()["small"]["dropped"] > 0 and recordings()["young"]["dropped"] > 0, 60,
               "both rings to drop their oldest events")
    small, young = recordings()["small"], recordings()["young"]
    assert small["bytes"] <= 32 * 1024
    oldest = busy.ognl("min(e[1] for e in __import__('pyarthas.agent.runtime', fromlist=['x'])"
                       ".current()._flight_recorder.get(2).events())")
    now = busy.ognl("__import__('time').time()")
    assert now - oldest < 3.0, (now, oldest, young)


def test_duration_writes_the_file_and_stop_of_the_agent_dumps_on_exit(busy, tmp_path):
    timed = tmp_path / "timed.jfr"
    (started,), _ = jfr(busy, "jfr start -n timed --duration 1s -f %s" % timed)
    assert started["jfrOutput"] == "Started recording 1. The result will be written to:\n%s" % timed
    wait_until(timed.exists, 30, "the recording to write its file when its duration ends")
    (listed,), _ = jfr(busy, "jfr status -r 1")
    assert listed["jfrOutput"] == "Recording: recording=1 name=timed duration=PT1S (stopped)\n"
    wait_until(lambda: read_record(str(timed))[1], 30, "the timed file to be complete")

    at_exit = tmp_path / "at-exit.jfr"
    jfr(busy, "jfr start --dumponexit true -f %s" % at_exit)
    busy.results("stop")
    wait_until(at_exit.exists, 30, "the agent's stop to dump the recording")
    assert busy.alive()


@pytest.mark.parametrize("command, message", [
    ("jfr status", "No available recordings.\n Use jfr start to start a recording.\n"),
    ("jfr dump -r 1", "No recordings to dump. Use jfr start to start a recording."),
    ("jfr stop -r 1", "No recordings to stop. Use jfr start to start a recording."),
    ("jfr begin", "Please input correct jfr command (start status stop dump)"),
    ("jfr start --maxsize lots",
     "'lots' is not a valid size. Should be numeric value followed by a unit, i.e. 20M. Valid units k, M, G"),
    ("jfr start -f /nonexistent/dir/x.jfr",
     "Could not start recording, not able to write to file /nonexistent/dir/x.jfr"),
])
def test_errors_are_arthas_own(demo, command, message):
    status = status_of(demo.results(command))
    assert (status["statusCode"], status["message"]) == (-1, message)


def test_errors_that_need_a_recording(demo):
    jfr(demo, "jfr start")
    for command, message in (("jfr status -r 7", "recording not exit"),
                             ("jfr dump", "Failed to dump. Please input recording id"),
                             ("jfr stop", "Failed to stop. please input recording id")):
        status = status_of(demo.results(command))
        assert (status["statusCode"], status["message"]) == (-1, message)
    jfr(demo, "jfr stop -r 1")


def test_jfr_in_the_shell(target_python, tmp_path):
    from shell_client import start_shell_demo
    target = start_shell_demo(target_python, tmp_path)
    terminal = WsTerminal(target.url)
    try:
        prompt = prompt_of(target)
        terminal.screen.expect(re.escape(prompt) + r"$")
        mark = terminal.screen.mark()
        terminal.send("jfr start -n shell\r")
        terminal.screen.expect(r"Started recording 1\. No limit specified, using maxsize=16MB as default\.\r?\n",
                               after=mark)
        terminal.send("jfr status\r")
        terminal.screen.expect(r"Recording: recording=1 name=shell \(running\)", after=mark)
    finally:
        terminal.close()
        target.kill()


# gc runs on almost every allocation: a collection starting inside the recorder's own bookkeeping (a log
# record or a thread start being added) must never wait for the recorder on the same thread
GC_EVERYWHERE_TARGET = """
import gc, logging, threading, time
gc.set_threshold(1, 1, 1)
log = logging.getLogger("gc.everywhere")
count = 0
while True:
    log.warning("tick %d", count)
    threading.Thread(target=len, args=([count],)).start()
    count += 1
    if count % 200 == 0:
        print("alive", count, flush=True)
    time.sleep(0.001)
"""


def test_collections_inside_the_recorder_never_hang_the_target(spawn):
    target = spawn(GC_EVERYWHERE_TARGET)
    target.wait_stdout("alive", timeout=30)
    jfr(target, "jfr start")
    for _ in range(3):   # the target keeps logging and starting threads while recording
        target.wait_stdout("alive", timeout=30)
    (listed,), _ = jfr(target, "jfr status")
    assert listed["recordings"][0]["events"] > 0
    jfr(target, "jfr stop -r 1")


# one thread computes, one waits: the sampler asks a thread's CPU clock only when its top frame stood still,
# so the waiting one is sampled at most twice (when first seen, and once against its first clock reading)
COMPUTE_AND_WAIT_TARGET = """
import threading, time
threading.Thread(target=time.sleep, args=(3600,), name="waiter", daemon=True).start()

def compute(n):
    return sum(i * i for i in range(n))

print("ready", flush=True)
while True:
    compute(20000)
"""


def test_a_waiting_thread_is_not_sampled_while_a_computing_one_is(spawn, tmp_path):
    target = spawn(COMPUTE_AND_WAIT_TARGET)
    target.wait_stdout("ready", timeout=30)
    jfr(target, "jfr start")

    def samples_of(name):
        return target.ognl("len([e for e in __import__('pyarthas.agent.runtime', fromlist=['x']).current()"
                           "._flight_recorder.get(1).events() if e[0] == 'sample' and e[3] == %r])" % name)
    wait_until(lambda: samples_of("MainThread") >= 20, 60, "20 samples of the computing thread")
    jfr(target, "jfr stop -r 1 -f %s" % (tmp_path / "waiting.jfr"))
    _, events, _ = read_record(str(tmp_path / "waiting.jfr"))
    threads = [e["thread"] for e in events if e["type"] == "pyarthas.ExecutionSample"]
    assert threads.count("MainThread") >= 20 and threads.count("waiter") <= 2, threads
