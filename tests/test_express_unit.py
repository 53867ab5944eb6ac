"""The expression compiler (engine/express.py), in process: Arthas idioms rewritten outside string literals,
the advice names computed from a real call tuple, names resolved as documented, errors at compile time."""
import json
import sys
import time

import pytest

from pyarthas.agent.engine import express, weaver
from pyarthas.agent.engine.express import ExpressionError, compile_expression, evaluate_standalone, translate
from pyarthas.agent.engine.hooks import Site


class Shop:
    def sell(self, item, count=1, *extra, discount=0, **options):
        return count


def free(a, b=2):
    return a + b


def call_of(function, owner, has_self, values, cost=1.5):
    """The raw tuple the engine hands listeners: (site, values in parameter order, start, cost, thread)."""
    signature = weaver.Signature(function.__code__)
    site = Site(function, owner, "tests.Shop", function.__name__, has_self, signature.layout(),
                signature.names())
    return (site, tuple(values), time.perf_counter(), cost, 1)


SHOP = Shop()
SELL = call_of(Shop.sell, Shop, True, [SHOP, "apple", 3, ("x",), 10, {"gift": True}])
FREE = call_of(free, sys.modules[__name__], False, [1, 5], cost=0.25)


def evaluate(text, call=SELL, has_self=True, returnObj=None, throwExp=None, when="return"):
    evaluator = compile_expression(text).bind(globals(), has_self)
    return evaluator(call, returnObj, throwExp, when == "before", when == "return", when == "throw")


@pytest.mark.parametrize("source, python", [
    ("#cost > 5 && !isThrow || isBefore", "cost > 5 and not isThrow or isBefore"),
    ('#{"k": params[0]}', '{"k": params[0]}'),
    ("@json.decoder@JSONDecoder", "json.decoder.JSONDecoder"),
    ('"a && b || !c #d @x@y"', '"a && b || !c #d @x@y"'),
    ("'it''s' != 'x'", "'it''s' != 'x'"),
    ('"""#cost && x"""', '"""#cost && x"""'),
    ("a != b", "a != b"),
    ("user@host.name", "user@host.name"),
])
def test_translate_rewrites_idioms_outside_strings(source, python):
    assert " ".join(translate(source).split()) == python


def test_a_top_level_set_display_is_a_list():
    assert evaluate("{params, target, returnObj, #cost}", returnObj=3) == [
        ["apple", 3, ("x",), 10, {"gift": True}], SHOP, 3, 1.5]
    assert evaluate("[{1, 1}]") == [{1}]           # only the top level


def test_params_skip_self_and_index_directly():
    assert evaluate("params[0]") == "apple"
    assert evaluate("params[-1]") == {"gift": True}
    assert evaluate("(params[0], len(params))") == ("apple", 5)
    assert evaluate("params[1]", call=FREE, has_self=False) == 5
    assert evaluate("target", call=FREE, has_self=False) is None


def test_advice_names_come_from_the_call():
    assert evaluate("clazz") is Shop and evaluate("method") is Shop.sell
    assert evaluate("args") == ("apple", 3, "x") and evaluate("kwargs") == {"discount": 10, "gift": True}
    assert evaluate("cost", call=FREE, has_self=False) == 0.25
    assert evaluate("(isBefore, isReturn, isThrow)", when="before") == (True, False, False)
    error = ValueError("bad")
    assert evaluate("throwExp", throwExp=error, when="throw") is error


def test_names_resolve_in_globals_then_builtins_then_loaded_modules():
    assert evaluate("free(1)") == 3                                   # the module's globals
    assert evaluate("len(params)") == 5                               # builtins
    assert evaluate("json.dumps(params[0])") == '"apple"'             # a loaded module, not imported here
    assert evaluate("null is None and true and not false")            # the Java constants


def test_comprehension_variables_are_not_free_names():
    expression = compile_expression("[x * 2 for x in params[1:2]] + [y for y in (1,)]")
    assert expression.names == {"params"}
    assert evaluate("[x * 2 for x in params[1:2]]") == [6]


def test_errors_surface_when_compiled():
    for text, kind in (("", "empty expression"), ("1 +", "SyntaxError"), ("params[", "SyntaxError")):
        with pytest.raises(ExpressionError) as raised:
            compile_expression(text)
        assert kind in str(raised.value)


def test_one_compiled_expression_binds_per_module_and_self():
    expression = compile_expression("params[0]")
    assert expression.bind(globals(), True)(SELL, None, None, False, True, False) == "apple"
    assert expression.bind({"__builtins__": __builtins__}, False)(FREE, None, None, False, True, False) == 1


def test_standalone_evaluation_for_ognl():
    assert evaluate_standalone("json.loads('[1]')") == [1]
    assert evaluate_standalone("@json@dumps(#{'a': 1})") == '{"a": 1}'
    assert evaluate_standalone("value * 2", {"value": 21}) == 42
    assert evaluate_standalone("{1, 2}") == [1, 2]
    with pytest.raises(NameError):
        evaluate_standalone("no_such_name_anywhere")
    assert json is sys.modules["json"] and express.JAVA_CONSTANTS["null"] is None


@pytest.mark.parametrize("text", ["#cost > 100", "#cost >= 0.5", "#cost < 0", "#cost <= 7", "cost > 3"])
def test_a_condition_on_the_cost_alone_is_a_bound_that_agrees_with_the_expression(text):
    bound = compile_expression(text).cost_bound
    assert bound is not None, text
    compare, limit = bound
    for cost in (0.0, 0.25, 0.5, 3.0, 7.0, 99.0, 100.0, 101.0):
        call = call_of(free, sys.modules[__name__], False, [1, 5], cost=cost)
        assert compare(cost, limit) == evaluate(text, call, has_self=False), (text, cost)


@pytest.mark.parametrize("text", ["#cost > 100", "#cost >= 0.5", "#cost < 0", "#cost <= 7", "cost > 3",
                                  "#cost > 1e-7", "#cost < 1e30", "#cost > 3.0000001", "#cost >= 0"])
def test_the_costs_a_bound_admits_are_one_range_in_ns_that_agrees_with_the_expression_at_its_edges(text):
    # the stamped wrapper compares a call's cost in ns with this range instead of running the expression
    low, high = express.cost_range_ns(compile_expression(text).cost_bound)
    edges = {0, 1, low - 1, low, low + 1, high - 1, high, high + 1, 10 ** 6, 10 ** 9, express.NO_COST_LIMIT}
    for ns in sorted(n for n in edges if 0 <= n <= express.NO_COST_LIMIT):
        call = call_of(free, sys.modules[__name__], False, [1, 5], cost=ns / 1e6)
        assert (low <= ns <= high) == bool(evaluate(text, call, has_self=False)), (text, ns, low, high)


def test_without_a_bound_every_cost_is_in_range():
    assert express.cost_range_ns(None) == (0, express.NO_COST_LIMIT)


@pytest.mark.parametrize("text", ["#cost > 1 && params[0] == 1", "#cost == 3", "100 < #cost", "#cost > -1",
                                  "#cost > True", "#cost > limit", "returnObj > 1"])
def test_other_conditions_have_no_cost_bound(text):
    assert compile_expression(text).cost_bound is None
