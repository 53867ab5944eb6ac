"""One frame, one form: ``stack``, ``thread`` and a watched exception show a frame as the same Java
StackTraceElement (className with the class, fileName the file's base name, the line)."""
import time

from harness import of_type, only, run

TARGET = """
import threading, time

class Worker:
    def loop(self):
        while True:
            self.attempt(); self.rest()

    def attempt(self):
        try:
            self.step()
        except ValueError:
            pass

    def step(self):
        raise ValueError("step")

    def rest(self):
        time.sleep(0.01)

threading.Thread(target=Worker().loop, name="worker", daemon=True).start()
print("ready", flush=True)
while True:
    time.sleep(10)
"""

FIELDS = ("className", "methodName", "fileName", "lineNumber", "nativeMethod")


def caller_frame(frames):
    """The element of ``Worker.loop`` in a stack (the line both attempt and rest are called from)."""
    found = [f for f in frames if f["methodName"] == "loop"]
    assert found, frames
    return {name: found[0][name] for name in FIELDS}


def test_stack_thread_and_exception_values_show_a_frame_alike(spawn):
    target = spawn(TARGET)
    target.wait_stdout("ready")
    stack = only(target.results("stack __main__.Worker step -n 1"), "stack")["stackTrace"]
    watched = only(target.results("watch __main__.Worker step 'throwExp' -e -n 1 -x 2"), "watch")
    worker = next(vo for vo in only(run(target, "thread --all -i 10")[0], "thread")["threadStats"]
              if vo["name"] == "worker")
    session = target.session()      # rest stays enhanced meanwhile: its wrapper frame must not show
    session.async_exec("watch __main__.Worker rest -n 1000000 &")
    session.pull_until(lambda r: r.get("type") == "enhancer")
    deadline = time.monotonic() + 20
    while True:     # sample until the worker stands in ``rest`` (it does so most of the time)
        info = only(run(target, "thread %d" % worker["id"])[0], "thread")["threadInfo"]
        if info["stackTrace"][0]["methodName"] == "rest" or time.monotonic() > deadline:
            break
    assert [f["methodName"] for f in info["stackTrace"][:2]] == ["rest", "loop"], info["stackTrace"]

    expected = {"className": "__main__.Worker", "methodName": "loop", "fileName": "target_main.py",
                "nativeMethod": False}
    for frames in (stack, watched["value"]["stackTrace"], info["stackTrace"]):
        frame = caller_frame(frames)
        assert {k: v for k, v in frame.items() if k != "lineNumber"} == expected, frame
        assert frame["lineNumber"] == caller_frame(stack)["lineNumber"] > 0
    assert stack[0]["className"] == "__main__.Worker" and stack[0]["methodName"] == "step"
    assert watched["value"]["stackTrace"][0]["methodName"] == "step"
    assert of_type(target.results("version"), "version")
