"""The value serializer and the frame model (agent/values), in process: field expansion runs none of the
target's code, str() runs only for summaries and within the time budget, frames are Java's
StackTraceElement."""
import collections.abc
import os
import sys
import time

from pyarthas.agent.values import (
    frame_element,
    hide_frames_where,
    named_value,
    secrets,
    to_json_value,
    traceback_elements,
)
from pyarthas.agent.values.limits import (
    ENVIRONMENT_ENTRIES,
    FROM_ENVIRONMENT,
    MASKED,
    MAX_ITEMS,
    MAX_STRING,
    TIME_BUDGET_S,
)

CALLS = []


class Guarded:
    """Every way a read could run this class's code records it."""

    __slots__ = ("__dict__", "slot", "__private")

    def __init__(self):
        object.__setattr__(self, "plain", 1)
        object.__setattr__(self, "slot", 2)
        object.__setattr__(self, "_Guarded__private", 3)

    def __getattribute__(self, name):
        CALLS.append("getattribute " + name)
        return object.__getattribute__(self, name)

    def __getattr__(self, name):
        CALLS.append("getattr " + name)
        raise AttributeError(name)

    @property
    def computed(self):
        CALLS.append("property")
        return 0


class Listy(list):
    def __iter__(self):
        CALLS.append("iter")
        return iter([])

    def __len__(self):
        CALLS.append("len")
        return 0


class Mapping(dict):
    def items(self):
        CALLS.append("items")
        return []


class Named:
    def __init__(self, name):
        self.name = name

    def __str__(self):
        return "Named(%s)" % self.name


def test_expansion_runs_no_code_of_the_target():
    CALLS.clear()
    value = to_json_value([Guarded(), Listy([1, 2]), Mapping(a=1)], 1)
    assert value == [{"@type": "test_values_unit.Guarded", "plain": 1, "slot": 2, "__private": 3},
                     [1, 2], {"a": 1}]
    assert CALLS == []


def test_str_runs_for_summaries_only():
    assert to_json_value(Named("x"), 0) == {"@type": "test_values_unit.Named", "@value": "Named(x)"}
    assert to_json_value(Named("x"), 1) == {"@type": "test_values_unit.Named", "name": "x"}
    assert to_json_value({Named("k"): 1}) == {"Named(k)": 1}


def test_a_spent_deadline_cuts_the_rest_with_the_time_marker():
    value = to_json_value([Named(str(i)) for i in range(3)], 0, deadline=time.monotonic() - 1)
    assert value == ["... Serializing this value took longer than %d ms; the rest is left out."
                     % (TIME_BUDGET_S * 1000)]


def test_a_looping_str_is_cut_within_the_budget():
    class Looping:
        def __str__(self):  # noqa: PLE0307 (never returns: the budget must cut it)
            while True:
                pass

    started = time.monotonic()
    value = to_json_value([Looping()], 0, deadline=time.monotonic() + 0.3)
    assert time.monotonic() - started < 5
    assert "object at 0x" in value[0]["@value"] and "did not finish" in value[0]["@value"]


def test_the_size_limit_cuts_with_its_marker():
    value = to_json_value(list(range(1000)), 1, 100)
    assert len(value) < 100 and value[-1].startswith("... Object size exceeds size limit: 100")


def raise_here():
    raise ValueError("bad")


def test_frames_are_java_stack_trace_elements():
    element = frame_element(sys._getframe())
    assert element == {"className": "test_values_unit", "methodName":
                       "test_frames_are_java_stack_trace_elements", "fileName": "test_values_unit.py",
                       "lineNumber": element["lineNumber"], "nativeMethod": False}
    assert element["lineNumber"] > 0
    try:
        raise_here()
    except ValueError as error:
        frames = traceback_elements(error)
    assert [f["methodName"] for f in frames[:2]] == ["raise_here", "test_frames_are_java_stack_trace_elements"]
    method = Named.__str__
    assert frame_element(_frame_in(method))["className"] == "test_values_unit.Named"


def _frame_in(function):
    """A frame of ``function`` (its code run with a throwaway instance), kept after it returned."""
    seen = []

    def tracer(frame, event, arg):
        if frame.f_code is function.__code__:
            seen.append(frame)

    sys.setprofile(tracer)
    try:
        function(Named("f"))
    finally:
        sys.setprofile(None)
    return seen[0]


def test_hidden_frames_are_left_out():
    def hidden_wrapper():
        raise_here()

    hide_frames_where(lambda frame: frame.f_code is hidden_wrapper.__code__)
    try:
        hidden_wrapper()
    except ValueError as error:
        names = [f["methodName"] for f in traceback_elements(error)]
    assert "hidden_wrapper" not in names and names[0] == "raise_here"


class Holder:
    def __init__(self, **attributes):
        self.__dict__.update(attributes)


def test_containers_past_the_expand_depth_are_summaries():
    holder = Holder(mapping={"a": {"b": 1}}, items=[1, 2], empty=())
    assert to_json_value([holder], 1) == [{"@type": "test_values_unit.Holder",
                                           "mapping": {"@type": "builtins.dict", "@value": "isEmpty=false;size=1"},
                                           "items": {"@type": "builtins.list", "@value": "isEmpty=false;size=2"},
                                           "empty": {"@type": "builtins.tuple", "@value": "isEmpty=true;size=0"}}]
    assert to_json_value(holder, 2)["mapping"] == {"a": {"b": 1}}
    assert to_json_value([[1], {"k": [2]}], 0) == [[1], {"k": [2]}], "the value's own containers always expand"


def test_every_value_has_a_budget_with_more_markers():
    assert to_json_value(list(range(250))) == list(range(MAX_ITEMS)) + ["... 150 more"]
    mapping = to_json_value({i: i for i in range(MAX_ITEMS + 7)})
    assert len(mapping) == MAX_ITEMS + 1 and mapping["..."] == "... 7 more"
    assert to_json_value("x" * (MAX_STRING + 9)) == "x" * MAX_STRING + "... 9 more chars"


class Headers(collections.abc.Mapping):
    """A mapping that is not a dict, whose str() shows its entries."""

    def __init__(self):
        self._store = {"authorization": ("Authorization", "Bearer abc"), "accept": ("Accept", "*/*")}

    def __getitem__(self, key):
        return self._store[key.lower()][1]

    def __iter__(self):
        return (name for name, _ in self._store.values())

    def __len__(self):
        return len(self._store)

    def __str__(self):
        return str(dict(self))


def test_credentials_and_the_environment_are_masked_unless_asked(monkeypatch):
    monkeypatch.setenv("PYARTHAS_UNIT_DSN", "dsn-value-1")
    value = {"Authorization": "Bearer abc", "db_password": "pw", "HTTP_COOKIE": "c=1", "name": "n",
             "PYARTHAS_UNIT_DSN": "dsn-value-1"}
    masked = to_json_value([value, os.environ], 1)
    assert masked[0] == {"Authorization": MASKED, "db_password": MASKED, "HTTP_COOKIE": MASKED, "name": "n",
                         "...": ENVIRONMENT_ENTRIES % 1}
    assert masked[1] == {"@type": "os._Environ", "@value": FROM_ENVIRONMENT}
    assert to_json_value(Holder(api_token="t"), 1)["api_token"] == MASKED
    assert named_value("SECRET_KEY", "k") == MASKED and named_value("author", "me") == "me"
    headers = to_json_value(Holder(headers=Headers()), 1)["headers"]["@value"]
    assert "Bearer" not in headers and "-x 3 shows its entries" in headers
    assert to_json_value(Headers(), 2)["_store"] == {"authorization": MASKED, "accept": ["Accept", "*/*"]}
    secrets.set_masking(False)
    try:
        assert to_json_value(value) == value
        assert named_value("SECRET_KEY", "k") == "k"
    finally:
        secrets.set_masking(True)
