"""reset and stop restore what watch enhanced; the program carries on."""
import time

TARGET = """
import sys, time

class Greeter:
    def hello(self, name):
        return "hello " + name

def shout(text):
    return text.upper()

original = (Greeter.hello.__code__, shout.__code__)
print("ready", flush=True)
while True:
    assert Greeter().hello("x") == "hello x" and shout("a") == "A"
    restored = (Greeter.hello.__code__, shout.__code__) == original
    print("restored" if restored else "enhanced", flush=True)
    time.sleep(0.02)
"""


def wait_line(target, text, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if target.wait_stdout("restored|enhanced", timeout=deadline - time.monotonic()).strip() == text:
            return True
    return False


def test_reset_by_pattern_then_all(spawn):
    target = spawn(TARGET)
    target.wait_stdout("ready")
    for command in ("watch __main__.Greeter hello -n 1000000 &", "watch __main__ shout -n 1000000 &"):
        session = target.session()
        session.async_exec(command)
        session.pull_until(lambda r: r.get("type") == "watch")
    assert wait_line(target, "enhanced")
    regex = target.results("reset -E '__main__\\.G.*'")
    assert regex[0]["affect"]["classCount"] == 1 and regex[0]["affect"]["methodCount"] == 1
    assert regex[-1]["statusCode"] == 0
    assert wait_line(target, "enhanced")          # shout is still watched
    everything = target.results("reset")
    assert everything[0]["affect"]["methodCount"] == 1
    assert wait_line(target, "restored")
    bad = target.results("reset -E '('")
    assert bad[-1]["statusCode"] == -1 and "Invalid regular expression" in bad[-1]["message"]


def test_stop_restores_and_the_program_carries_on(spawn):
    target = spawn(TARGET)
    target.wait_stdout("ready")
    session = target.session()
    session.pull()
    session.async_exec("watch __main__.Greeter hello")
    session.pull_until(lambda r: r.get("type") == "watch")
    assert wait_line(target, "enhanced")
    stopped = target.results("stop")
    resets = [r for r in stopped if r["type"] == "reset"]
    assert resets and resets[0]["affect"]["methodCount"] == 1
    assert wait_line(target, "restored")
    assert all(wait_line(target, "restored") for _ in range(5))   # it keeps running, restored
    assert target.alive()
