"""sc and sm: classes, modules and functions of __main__, of packages and of C extensions."""
import re
import time
import urllib.request

from harness import Target, only, run, target_env

CLASSES_TARGET = """
import array, json.decoder, math, time

def register_shape(cls):
    return cls

class Shape:
    sides = 0
    def area(self):
        return 0

@register_shape
class Circle(Shape):
    unit_name = "cm"
    radius: float

    def __init__(self, radius):
        self.radius = radius

    @staticmethod
    def unit():
        return "cm"

    @classmethod
    def from_diameter(cls, diameter: float) -> "Circle":
        return cls(diameter / 2)

    @property
    def diameter(self):
        return self.radius * 2

    async def fetch(self, url, *, timeout=1.0):
        return url

    def points(self):
        yield 1

def helper(a, b=2):
    return a + b

print("ready", flush=True)
while True:
    time.sleep(10)
"""


def methods(target, command):
    results, status = run(target, command)
    assert status["statusCode"] == 0, status
    infos = {r["methodInfo"]["methodName"]: r["methodInfo"] for r in results if r["type"] == "sm"}
    assert only(results, "row_affect")["rowCount"] == len(infos)
    return infos


def test_sc_finds_classes_and_modules(spawn):
    target = spawn(CLASSES_TARGET)
    target.wait_stdout("ready")
    results, status = run(target, "sc __main__.*")
    assert status["statusCode"] == 0
    page = only(results, "sc")
    assert {"__main__.Shape", "__main__.Circle"} <= set(page["classNames"])
    assert page["detailed"] is False and page["withField"] is False
    assert only(results, "row_affect")["rowCount"] == len(page["classNames"])

    assert "json.decoder.JSONDecoder" in only(run(target, "sc json.decoder.*")[0], "sc")["classNames"]
    assert only(run(target, "sc json.decoder")[0], "sc")["classNames"] == ["json.decoder"]
    assert only(run(target, "sc -E __main__\\.C.*")[0], "sc")["classNames"] == ["__main__.Circle"]
    results, _ = run(target, "sc no.such.Thing")
    assert only(results, "row_affect")["rowCount"] == 0


def test_sc_details_and_fields(spawn):
    target = spawn(CLASSES_TARGET)
    target.wait_stdout("ready")
    model = only(run(target, "sc -d __main__.Circle")[0], "sc")
    assert model["detailed"] is True
    info = model["classInfo"]
    assert info["name"] == "__main__.Circle"
    assert info["interfaces"] == ["__main__.Shape"]
    assert info["superClass"] == ["__main__.Shape", "builtins.object"]
    assert info["annotations"] == ["@register_shape"]
    assert info["nativeClass"] is False
    assert info["codeSource"].endswith("target_main.py")
    assert {"__init__", "unit", "from_diameter", "diameter", "fetch", "points"} <= set(info["methods"])
    assert "fields" not in info

    fields = {f["name"]: f for f in only(run(target, "sc -d -f __main__.Circle")[0], "sc")["classInfo"]["fields"]}
    assert fields["unit_name"]["value"] == "cm" and fields["unit_name"]["static"] is True
    assert fields["radius"]["static"] is False and fields["radius"]["type"] == "builtins.float"

    c_class = only(run(target, "sc -d array.array")[0], "sc")["classInfo"]
    assert c_class["nativeClass"] is True
    module = only(run(target, "sc -d json.decoder")[0], "sc")["classInfo"]
    assert module["isModule"] is True and module["codeSource"].endswith("decoder.py")

    _, status = run(target, "sc -d -n 2 *")
    assert status["statusCode"] == -1
    assert status["message"].startswith("The number of matching classes is greater than : 2.")


def test_sm_methods_kinds_and_signatures(spawn):
    target = spawn(CLASSES_TARGET)
    target.wait_stdout("ready")
    infos = methods(target, "sm __main__.Circle")
    assert set(infos) == {"__init__", "unit", "from_diameter", "diameter", "fetch", "points"}
    assert infos["__init__"]["constructor"] is True
    assert infos["unit"]["kinds"] == ["staticmethod"]
    assert infos["from_diameter"]["kinds"] == ["classmethod"]
    assert infos["from_diameter"]["descriptor"] == "(cls, diameter: float) -> 'Circle'"
    assert infos["from_diameter"]["returnType"] == "Circle"
    assert infos["diameter"]["kinds"] == ["property"]
    assert infos["fetch"]["kinds"] == ["coroutine"]
    assert infos["fetch"]["parameters"] == ["self", "url", "timeout=1.0"]
    assert infos["fetch"]["descriptor"] == "(self, url, *, timeout=1.0)"
    assert infos["points"]["kinds"] == ["generator"]
    assert infos["points"]["fileName"].endswith("target_main.py") and infos["points"]["lineNumber"] > 1
    assert all(i["declaringClass"] == "__main__.Circle" for i in infos.values())

    assert set(methods(target, "sm __main__.Circle <init>")) == {"__init__"}
    assert set(methods(target, "sm __main__ help*")) == {"helper"}
    assert methods(target, "sm -d __main__ helper")["helper"]["descriptor"] == "(a, b=2)"
    decode = methods(target, "sm json.decoder.JSONDecoder decode")["decode"]
    assert decode["fileName"].endswith("decoder.py")

    append = methods(target, "sm array.array append")["append"]
    assert "builtin" in append["kinds"]
    assert "builtin" in methods(target, "sm math sqrt")["sqrt"]["kinds"]


def test_sc_sm_views():
    from pyarthas.agent.view import Context, render
    names = {"type": "sc", "jobId": 1, "classNames": ["demo.MathGame", "demo.Other"], "detailed": False}
    assert render(names, Context()) == "demo.MathGame\ndemo.Other"
    detail = {"type": "sc", "jobId": 1, "detailed": True, "withField": True, "classInfo": {
        "name": "demo.MathGame", "superClass": ["builtins.object"], "classloader": ["SourceFileLoader"],
        "fields": [{"name": "random", "type": "random.Random", "modifier": "static", "value": 3}]}}
    text = render(detail, Context(width=100))
    assert text.splitlines()[:4] == ["name          demo.MathGame", "super-class   +-builtins.object",
                                     "class-loader  +-SourceFileLoader", "fields        modifier  static"]
    assert text.splitlines()[-1] == "              value     @int[3]"
    method = {"type": "sm", "jobId": 1, "detail": False, "methodInfo": {
        "declaringClass": "demo.MathGame", "methodName": "print", "descriptor": "(number, primeFactors)",
        "kinds": ["staticmethod"]}}
    assert render(method, Context()) == "demo.MathGame print(number, primeFactors) [staticmethod]"


def test_a_module_run_as_main_is_found_under_its_own_name(target_python, tmp_path):
    """``python -m http.server``: the module runs as ``__main__``; sc, sm and watch find it as http.server."""
    target = Target([target_python, "-m", "pyarthas", "run", "--port", "0", "--telnet-port", "-1", "-m",
                     "http.server", "0", "--bind", "127.0.0.1"], target_env({"PYTHONUNBUFFERED": "1"}),
                    cwd=str(tmp_path))
    try:
        port = int(re.search(r"port (\d+)", target.wait_stdout(r"Serving HTTP", timeout=30)).group(1))
        page = only(run(target, "sc 'http.server*'")[0], "sc")
        assert {"__main__", "__main__.SimpleHTTPRequestHandler"} <= set(page["classNames"]), page
        assert "do_GET" in methods(target, "sm http.server.SimpleHTTPRequestHandler do_*")
        session = target.session()
        session.async_exec("watch http.server.SimpleHTTPRequestHandler do_GET 'params' -n 1")
        deadline = time.monotonic() + 30
        seen: list = []
        while not seen and time.monotonic() < deadline:
            urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=10).read()
            seen = [r for r in session.pull() if r["type"] == "watch"]
        assert seen and seen[0]["className"] == "__main__.SimpleHTTPRequestHandler", seen
    finally:
        target.kill()
