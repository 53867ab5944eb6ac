"""ognl (alias eval) and getstatic against a real target."""
TARGET = """
import time

LIMIT = 10

class Config:
    name = "demo"
    retries = 3
    _hidden = [1, 2]

    def method(self):
        return 1

class Broken:
    def __repr__(self):
        raise RuntimeError("no repr")
    __str__ = __repr__

broken = Broken()
print("ready", flush=True)
while True:
    time.sleep(1)
"""


def test_ognl_and_eval(spawn):
    target = spawn(TARGET)
    target.wait_stdout("ready")
    value = target.results("ognl '__main__.Config.retries + LIMIT'")
    assert value[0] == {"type": "ognl", "jobId": value[0]["jobId"], "value": 13, "expand": 1}
    assert value[-1]["statusCode"] == 0
    assert target.results("eval 'sys.version_info[0]'")[0]["value"] == 3
    assert target.results("eval '@__main__.Config@name'")[0]["value"] == "demo"
    assert target.results("eval '{1, 2}'")[0]["value"] == [1, 2]
    expanded = target.results("ognl -x 2 '{\"cfg\": __main__.Config()}'")[0]
    assert expanded["value"]["cfg"]["@type"] == "__main__.Config" and expanded["value"]["cfg"]["retries"] == 3
    assert expanded["expand"] == 2
    shown = target.results("eval 'broken'")[0]["value"]
    assert shown["@type"] == "__main__.Broken" and "Broken object at 0x" in shown["@value"]

    cyclic = target.results("eval '[l := [1], l.append(l), l][-1]'")[0]["value"]
    assert cyclic == [1, {"@type": "builtins.list", "@value": "<cycle>"}]
    assert target.results("options object-size-limit 1000")[-1]["statusCode"] == 0
    huge = target.results("eval 'set(map(str, range(10 ** 20, 10 ** 20 + 1000000)))'")[0]["value"]
    assert len(huge) < 100 and "exceeds size limit: 1000" in huge[-1]
    huge_map = target.results("eval '{i: i for i in range(1000000)}'")[0]["value"]
    assert len(huge_map) < 1000 and "exceeds size limit: 1000" in huge_map["..."]
    assert target.results("options object-size-limit 10485760")[-1]["statusCode"] == 0
    budget = target.results("eval 'set(range(1000000))'")[0]["value"]
    assert len(budget) == 101 and budget[-1] == "... 999900 more", "at most 100 items by default"

    missing = target.results("ognl 'nope.attribute'")
    assert missing[-1]["statusCode"] == -1
    assert missing[-1]["message"].startswith("Failed to execute ognl, exception message: NameError")
    syntax = target.results("ognl '1 +'")
    assert syntax[-1]["statusCode"] == -1 and "SyntaxError" in syntax[-1]["message"]


def test_getstatic(spawn):
    target = spawn(TARGET)
    target.wait_stdout("ready")
    results = target.results("getstatic __main__.Config *")
    fields = {r["fieldName"]: r["field"] for r in results if r["type"] == "getstatic"}
    assert fields == {"name": "demo", "retries": 3, "_hidden": [1, 2]}
    assert results[-2] == {"type": "row_affect", "jobId": results[0]["jobId"], "rowCount": 3}
    module = target.results("getstatic __main__ LIMIT")
    assert module[0]["fieldName"] == "LIMIT" and module[0]["field"] == 10
    applied = target.results("getstatic __main__.Config _hidden 'sum(value)'")
    assert applied[0]["field"] == 3
    none = target.results("getstatic __main__.Config nothing")
    assert none[-1] == {"type": "status", "jobId": none[-1]["jobId"], "statusCode": -1,
                        "message": "getstatic: no matched static field was found"}
    several = target.results("getstatic '__main__.*' name")
    assert set(several[0]["matchedClasses"]) == {"__main__.Config", "__main__.Broken"}
    assert several[-1]["statusCode"] == -1
