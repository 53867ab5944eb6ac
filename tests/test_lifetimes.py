"""What the agent keeps of the target goes when the agent stops."""
from harness import of_type

TARGET = """
import gc, time, weakref

class Payload:
    pass

def record(payload):
    return payload

refs = []
print("ready", flush=True)
for _ in range(4000):
    payload = Payload()
    refs.append(weakref.ref(payload))
    record(payload)
    del payload
    gc.collect()
    print("alive %d" % sum(1 for ref in refs if ref() is not None), flush=True)
    time.sleep(0.02)
"""


def test_stop_frees_the_objects_tt_recorded(spawn):
    target = spawn(TARGET)
    target.wait_stdout("ready")
    recorded = of_type(target.results("tt -t __main__ record -n 5"), "tt")
    assert len(recorded) == 5
    target.wait_stdout(r"^alive 5$", timeout=20)
    assert target.results("stop")[-1]["statusCode"] == 0
    target.wait_stdout(r"^alive 0$", timeout=20)
    assert target.alive()


THREADS_TARGET = """
import threading, time

def agent_threads():
    return sorted(t.name for t in threading.enumerate() if t.name.startswith("pyarthas-"))

print("ready", flush=True)
for _ in range(3000):
    print("agent threads %s" % (",".join(agent_threads()) or "none"), flush=True)
    time.sleep(0.02)
"""


def test_stop_ends_every_agent_thread_the_heap_trim_included(spawn):
    target = spawn(THREADS_TARGET)
    target.wait_stdout("ready")
    assert of_type(target.results("tt -t __main__ agent_threads -n 3"), "tt")
    assert target.results("stop")[-1]["statusCode"] == 0
    target.wait_stdout(r"^agent threads none$", timeout=30)
    assert target.alive()
