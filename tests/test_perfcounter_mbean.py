"""perfcounter (the interpreter's counters, -d with units and variability) and mbean's refusal."""
from harness import only, run

UNITS = {"None", "Bytes", "Events", "String", "Seconds"}
VARIABILITY = {"Constant", "Monotonic", "Variable"}


def test_perfcounter_shows_the_interpreters_counters(demo):
    results, status = run(demo, "perfcounter")
    model = only(results, "perfcounter")
    assert status["statusCode"] == 0 and model["details"] is False
    counters = {c["name"]: c for c in model["perfCounters"]}
    assert all(set(c) == {"name", "value"} for c in counters.values())
    for name in ("python.gc.gen0.collections", "python.gc.gen2.threshold", "python.mem.allocatedBlocks",
                 "python.threads.live", "python.interp.modules"):
        assert isinstance(counters[name]["value"], int) and counters[name]["value"] >= 0, name
    assert counters["python.threads.live"]["value"] >= 2          # the demo's main thread and the agent's
    assert 0 < counters["python.threads.switchInterval"]["value"] < 1
    assert counters["python.interp.version"]["value"] == demo.ognl("sys.version.split()[0]")
    assert counters["python.process.pid"]["value"] == demo.proc.pid
    assert counters["python.gc.enabled"]["value"] == "true"      # a String counter, as the JVM has no flags

    detailed = only(run(demo, "perfcounter -d")[0], "perfcounter")
    assert detailed["details"] is True
    assert {c["name"] for c in detailed["perfCounters"]} == set(counters)
    assert all(c["units"] in UNITS and c["variability"] in VARIABILITY for c in detailed["perfCounters"])


def test_mbean_is_refused_with_the_reason(demo):
    results, status = run(demo, "mbean")
    assert results == [] and status["statusCode"] == -1
    assert status["message"].startswith("mbean is not supported: a Python process has no JMX MBean server")
    assert run(demo, "mbean -m java.lang:type=Memory")[1]["message"] == status["message"]
