"""Arthas's Java idioms in expressions (method.name, method.getName(), target.getClass().getName(),
params.length, returnObj.size(), @java.lang.System@currentTimeMillis()): in the compiler, then in watch,
tt -s and ognl against the demo, as Arthas's docs use them."""
import time

from harness import of_type, only, run, run_ok
from test_express_unit import SELL, SHOP, evaluate


def test_the_idioms_in_the_compiler():
    assert evaluate("method.name") == evaluate("method.getName()") == "sell"
    assert evaluate("target.getClass().getName()") == "test_express_unit.Shop"
    assert evaluate("target.getClass().getSimpleName()") == "Shop"
    assert evaluate("clazz.name") == "test_express_unit.Shop"
    assert evaluate("params.length") == 5 and evaluate("params[0].length()") == 5
    assert evaluate("returnObj.size()", returnObj=[1, 2]) == 2
    assert evaluate("returnObj.isEmpty()", returnObj=[]) is True
    assert evaluate('"sell".equals(method.name) && method.name.startsWith("se")') is True
    assert evaluate("throwExp.getMessage()", throwExp=ValueError("bad"), when="throw") == "bad"
    assert evaluate("returnObj.get('k')", returnObj={"k": 1}) == 1          # the dict's own get
    now = time.time() * 1000
    assert abs(evaluate("@java.lang.System@currentTimeMillis()") - now) < 60000
    assert evaluate("@java.lang.Math@max(params[1], 7)") == 7
    assert SELL[1][0] is SHOP


def test_the_idioms_in_watch(fast_demo):
    results = run_ok(fast_demo, "watch demo.MathGame primeFactors '{method.name, method.getName(), "
                                "target.getClass().getName(), params.length, returnObj.size()}' "
                                "'method.name==\"primeFactors\" && params[0] >= 2 && "
                                "@java.lang.System@currentTimeMillis() > 0' "
                                "-n 2 -x 2")
    watched = of_type(results, "watch")
    assert len(watched) == 2
    for result in watched:
        name, got_name, class_name, count, size = result["value"]
        assert (name, got_name, class_name, count) == ("primeFactors", "primeFactors", "demo.MathGame", 1)
        assert size >= 1


def test_the_docs_tt_search_matches_as_in_arthas(fast_demo):
    recorded = of_type(run_ok(fast_demo, "tt -t demo.MathGame primeFactors 'params[0] >= 2' -n 2"), "tt")
    indexes = {r["timeFragmentList"][0]["index"] for r in recorded}
    found = fast_demo.results("tt -s 'method.name==\"primeFactors\"'")
    assert indexes <= {f["index"] for f in only(found, "tt")["timeFragmentList"]}
    assert only(fast_demo.results("tt -s 'method.name==\"run\"'"), "row_affect")["rowCount"] == 0
    sizes = fast_demo.results("tt -s 'method.getName().equals(\"primeFactors\")' -w 'returnObj.size()'")
    assert all(isinstance(v, int) and v >= 1 for v in only(sizes, "tt")["watchResults"].values())


def test_the_idioms_in_ognl(demo):
    now = demo.ognl("@java.lang.System@currentTimeMillis()")
    assert abs(now - time.time() * 1000) < 60000
    assert "job-" in demo.ognl("@java.lang.Thread@currentThread().getName()")     # the thread running ognl
    assert demo.ognl("@demo.MathGame@random.getClass().getName()") == "random.Random"
    assert demo.ognl("'abc'.length()") == 3
    assert demo.ognl("@java.lang.Integer@parseInt('42')") == 42
    _, status = run(demo, "ognl 'demo.nothing.getName()'")
    assert status["statusCode"] == -1 and "nothing" in status["message"]
