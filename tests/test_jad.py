"""jad (alias source): the loaded source with line numbers, a warning when the file changed, the
disassembly or a stub without source."""
from harness import only, run

CHANGING_TARGET = """
import array, os, sys, time
sys.path.insert(0, os.getcwd())
with open("shapes.py", "w") as handle:
    handle.write("def area(width, height):\\n    return width * height\\n")
import shapes
with open("shapes.py", "w") as handle:  # the file changes after the import: what runs is the old code
    handle.write("def area(width, height):\\n    return width + height\\n")

namespace = {}
exec(compile("def generated(x):\\n    return x * 2\\n", "<generated>", "exec"), namespace)
generated = namespace["generated"]
print("ready", flush=True)
while True:
    time.sleep(10)
"""


def test_jad_of_the_demo_prime_factors(demo):
    demo.wait_stdout(".")  # the agent is up before the demo's module is imported: wait for its first line
    results, status = run(demo, "jad demo.MathGame primeFactors")
    assert status["statusCode"] == 0
    model = only(results, "jad")
    assert model["kind"] == "source"
    assert model["source"].lstrip().startswith("def primeFactors(self, number):")
    assert "raise ValueError" in model["source"]
    assert model["location"].endswith("demo.py")
    assert model["sourceDiffers"] is False
    first = model["startLine"]
    assert model["mappings"]["1"] == first
    assert len(model["mappings"]) == model["source"].count("\n")
    assert model["classInfo"]["name"] == "demo.MathGame.primeFactors"

    dotted = only(run(demo, "source demo.MathGame.primeFactors")[0], "jad")
    assert dotted["source"] == model["source"]

    whole = only(run(demo, "jad demo.MathGame")[0], "jad")
    assert whole["source"].startswith("class MathGame")
    assert "def primeFactors" in whole["source"]


def test_jad_errors(demo):
    demo.wait_stdout(".")
    _, status = run(demo, "jad no.such.Thing")
    assert status["statusCode"] == -1
    assert status["message"] == "No class found for: no.such.Thing"
    results, status = run(demo, "jad json.decoder.JSONDecode*")
    assert status["statusCode"] == -1
    # Arthas's text, its leading blank included
    assert status["message"] == (" Found more than one class for: json.decoder.JSONDecode*, Please use "
                                 "jad -c <hashcode> json.decoder.JSONDecode*")
    matched = {c["name"] for c in only(results, "jad")["matchedClasses"]}
    assert matched == {"json.decoder.JSONDecoder", "json.decoder.JSONDecodeError"}


def test_jad_says_when_the_file_differs_and_falls_back_without_source(spawn):
    target = spawn(CHANGING_TARGET)
    target.wait_stdout("ready")
    model = only(run(target, "jad shapes area")[0], "jad")
    assert "width + height" in model["source"]  # what the file says now
    assert model["sourceDiffers"] is True
    assert model["differences"][0].startswith("area (line 1)")
    assert "BINARY_MULTIPLY" in model["disassembly"] or "BINARY_OP" in model["disassembly"]

    generated = only(run(target, "jad __main__.generated")[0], "jad")
    assert generated["kind"] == "disassembly"
    assert "Disassembly of generated" in generated["source"]

    c_class = only(run(target, "jad array.array")[0], "jad")
    assert c_class["kind"] == "stub"
    assert c_class["source"].startswith("class array(builtins.object):  # defined in C")
    assert "def append" in c_class["source"]


def test_jad_view_numbers_lines_and_warns():
    from pyarthas.agent.view import Context, render
    result = {"type": "jad", "jobId": 1, "classInfo": {"name": "m.f", "classloader": ["SourceFileLoader"],
                                                     "classLoaderHash": "7f0"},
              "location": "/app/m.py", "source": "def f():\n    return 1\n", "startLine": 9, "kind": "source",
              "sourceDiffers": True, "differences": ["f (line 9): the loaded code differs from the file"],
              "disassembly": "Disassembly of f", "lineNumber": True}
    lines = render(result, Context()).splitlines()
    assert lines[:4] == ["ClassLoader:", "+-SourceFileLoader@7f0", "Location:", "/app/m.py"]
    assert " 9  def f():" in lines and "10      return 1" in lines
    assert lines[5].startswith("WARNING: the file on disk no longer matches the loaded code")
    assert lines[-1] == "Disassembly of f"
    source_only = dict(result, sourceOnly=True, lineNumber=False)
    assert render(source_only, Context()) == "def f():\n    return 1"
