"""``watch``: two lines per result, as Arthas's WatchView prints them::

    method=demo.MathGame.primeFactors location=AtExit
    ts=2026-05-01 10:00:00.123; [cost=0.071499ms] result=@list[
        ...
    ]
"""
from . import view
from .text import format_cost, format_ts


@view("watch")
def render_watch(result, ctx):
    head = "method=%s.%s location=%s" % (result.get("className", ""), result.get("methodName", ""),
                                          result.get("accessPoint", ""))
    value = result.get("value")
    if not (isinstance(value, str) and "expand" not in result):  # Arthas itself sends the text already drawn
        value = ctx.value(value, result.get("expand", 1), result.get("sizeLimit"))
    return "%s\nts=%s; [cost=%sms] result=%s" % (head, format_ts(result.get("ts")), format_cost(result.get("cost")),
                                                  value)
