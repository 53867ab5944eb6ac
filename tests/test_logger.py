"""logger: the loggers with levels and handlers, and a level changed at run time that the next log call
obeys."""
from harness import only, run

LOGGING_TARGET = """
import logging, sys, time

class PrintHandler(logging.Handler):
    def emit(self, record):
        print("logged %s %s" % (record.levelname, record.getMessage()), flush=True)

db = logging.getLogger("app.db")
db.setLevel(logging.WARNING)
db.propagate = False
db.addHandler(PrintHandler())
logging.getLogger("app.quiet")
file_logger = logging.getLogger("app.file")
file_handler = logging.FileHandler("app.log")
file_handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
file_logger.addHandler(file_handler)

count = 0
while True:
    count += 1
    db.debug("debug-%d", count)
    db.warning("warn-%d", count)
    time.sleep(0.02)
"""


def test_logger_lists_and_changes_a_level_that_the_next_call_obeys(spawn):
    target = spawn(LOGGING_TARGET)
    target.wait_stdout("logged WARNING warn-1")
    loggers = only(run(target, "logger")[0], "logger")["loggerInfoMap"]
    assert {"root", "app.db", "app.file"} <= set(loggers)
    assert "app.quiet" not in loggers  # no handlers
    db = loggers["app.db"]
    assert (db["level"], db["effectiveLevel"], db["additivity"]) == ("WARNING", "WARNING", False)
    assert db["appenders"][0]["class"] == "__main__.PrintHandler"
    file_appender = loggers["app.file"]["appenders"][0]
    assert file_appender["class"] == "logging.FileHandler"
    assert file_appender["file"].endswith("app.log")
    assert file_appender["pattern"] == "%(asctime)s %(message)s"

    everything = only(run(target, "logger --include-no-handlers")[0], "logger")["loggerInfoMap"]
    assert everything["app.quiet"]["effectiveLevel"] == "WARNING"
    assert list(only(run(target, "logger -n app.quiet")[0], "logger")["loggerInfoMap"]) == ["app.quiet"]

    # before the change no debug line is logged
    lines = [target.wait_stdout("logged")]
    while "warn-3" not in lines[-1]:
        lines.append(target.wait_stdout("logged"))
    assert not any("DEBUG" in line for line in lines)
    results, status = run(target, "logger -n app.db -l debug")
    assert status == {"type": "status", "jobId": status["jobId"], "statusCode": 0,
                      "message": "Update logger level success."}
    change = only(results, "logger")["changeResult"]
    assert change == {"name": "app.db", "beforeValue": "WARNING", "afterValue": "DEBUG"}
    target.wait_stdout(r"logged DEBUG debug-\d+")


def test_logger_errors(spawn):
    target = spawn(LOGGING_TARGET)
    target.wait_stdout("logged WARNING warn-1")
    _, status = run(target, "logger -n app.db -l LOUD")
    assert status["statusCode"] == -1 and status["message"].startswith("Unknown level: LOUD")
    _, status = run(target, "logger -n no.such -l DEBUG")
    assert status["statusCode"] == -1 and status["message"] == "Can not find logger by name: no.such"


def test_logger_view():
    from pyarthas.agent.view import Context, render
    result = {"type": "logger", "jobId": 1, "loggerInfoMap": {"app.db": {
        "name": "app.db", "class": "logging.Logger", "level": "WARNING", "effectiveLevel": "WARNING",
        "additivity": False, "appenders": [{"name": "", "class": "logging.FileHandler", "file": "/x/app.log"}]}}}
    lines = render(result, Context()).splitlines()
    assert lines[0] == "name            app.db"
    assert "additivity      false" in lines
    assert "appenders       class  logging.FileHandler" in lines
    assert "                file   /x/app.log" in lines
    change = {"type": "logger", "jobId": 1, "changeResult": {"name": "app.db", "beforeValue": "WARNING",
                                                             "afterValue": "DEBUG"}}
    assert render(change, Context()) == "app.db: WARNING -> DEBUG"
