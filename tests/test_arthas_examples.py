"""Every example of Arthas's command pages, as listed in docs/arthas-examples.md, against the demo: the bulk
on one interpreter (in the table's order: some rows set up the next), a smoke subset on every CPython."""
import os
import re
from typing import Dict, List, NamedTuple, Optional

from harness import start_demo, target_pythons

DOC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "arthas-examples.md")

# Features other changes are building: their rows are skipped until the lead takes the name out after merging.
PENDING = {"classloader", "dump", "perfcounter", "mc", "retransform", "mbean", "vmtool heapAnalyze", "jad METHOD",
           "jad -d", "sc -d -f", "sc -cs", "profiler formats", "profiler alloc", "profiler meminfo", "jfr",
           "thread ids", "tt replay"}
SMOKE_PAGES = {"base64", "cat", "echo", "pwd", "history", "auth", "session", "version", "getstatic", "sc", "sm",
               "async", "quit", "cls", "keymap", "sysprop"}
EXEC_TIMEOUT_MS = 4000   # a job still running then is interrupted (status 0), as Q would end it
CELL = re.compile(r"(?:\\\||[^|])*")


class Row(NamedTuple):
    number: int
    page: str
    example: str
    run_as: str
    outcome: str
    status: Optional[int]
    result: str
    pending: str
    note: str

    @property
    def line(self) -> str:
        return self.run_as or self.example


def _cells(line: str) -> List[str]:
    cells = [c.strip().replace("\\|", "|") for c in CELL.findall(line.strip().strip("|"))[::2]]
    return [c[2:-2].strip() if c.startswith("``") and c.endswith("``") else c for c in cells]


def table_rows() -> List[Row]:
    with open(DOC, encoding="utf-8") as handle:
        lines = [line for line in handle if line.startswith("| ") and not line.startswith("| #")]
    rows = []
    for line in lines:
        number, page, example, run_as, outcome, status, result, pending, note = _cells(line)
        rows.append(Row(int(number), page, example, run_as, outcome, int(status) if status else None, result,
                        pending, note))
    return rows


def test_the_table_is_well_formed():
    rows = table_rows()
    assert len(rows) > 250 and [r.number for r in rows] == list(range(1, len(rows) + 1))
    for row in rows:
        assert row.outcome in ("works", "differs", "refused"), row
        assert row.outcome != "differs" or row.note, row            # a difference says how
        assert row.outcome != "refused" or row.note, row            # a refusal says why
    assert rows[-1].example == "stop"                                  # it ends the agent: the last row
    assert {"base64", "cat", "echo", "grep", "tee", "pwd", "history", "cls", "keymap", "quit", "auth",
            "trace", "watch", "stack", "monitor", "tt", "profiler", "jfr"} <= {r.page for r in rows}


def _prepare(folder) -> None:
    (folder / "a.txt").write_text("hello from a.txt\n")


def run_row(target, folder, row: Row) -> Optional[str]:
    """What is wrong with ``row``'s outcome on ``target`` (None when it is as the table says)."""
    steps = [step.replace("/tmp/", str(folder) + "/") for step in row.line.split(" ;; ")]
    for step in steps[:-1]:
        target.exec(step, execTimeout=EXEC_TIMEOUT_MS)
    reply = target.exec(steps[-1], execTimeout=EXEC_TIMEOUT_MS)
    results = reply.get("body", {}).get("results", [])
    statuses = [r for r in results if r.get("type") == "status"]
    status = statuses[0] if statuses else None
    types = sorted({r.get("type") for r in results} - {"status"})
    seen = "state %s, status %s, types %s, message %r" % (
        reply.get("state"), status and status.get("statusCode"), types,
        (status or {}).get("message") or reply.get("message"))
    if row.outcome == "refused":
        message = reply.get("message") if reply.get("state") == "FAILED" else (status or {}).get("message")
        failed = reply.get("state") == "FAILED" or (status is not None and status["statusCode"] != 0)
        if not failed or not _one_sentence(message):
            return "expected a clear refusal, got " + seen
        if row.status is not None and status is not None and status["statusCode"] != row.status:
            return "expected status %s, got %s" % (row.status, seen)
        return None
    expected = 0 if row.status is None else row.status
    if status is None or status["statusCode"] != expected:
        return "expected status %s, got %s" % (expected, seen)
    if row.result and row.result not in types:
        return "expected a %s result, got %s" % (row.result, seen)
    return None


def _one_sentence(message: Optional[str]) -> bool:
    text = (message or "").strip()
    return bool(text) and "\n" not in text and "Traceback" not in text and "command not found" not in text \
        and not text.startswith("Error during processing")


def _run_rows(target, folder, rows: List[Row]) -> Dict[int, str]:
    wrong = {}
    for row in rows:
        if row.pending in PENDING:
            continue
        problem = run_row(target, folder, row)
        if problem is not None:
            wrong[row.number] = "%s (%s): %s" % (row.line, row.outcome, problem)
    return wrong


def test_every_example_on_the_demo(tmp_path):
    """The bulk, on the newest interpreter, in the table's order."""
    _prepare(tmp_path)
    target = start_demo(target_pythons()[-1], tmp_path, env={"PYARTHAS_DEMO_INTERVAL": "0.005"})
    try:
        wrong = _run_rows(target, tmp_path, table_rows())
    finally:
        target.kill()
    assert not wrong, "\n".join("row %d: %s" % item for item in sorted(wrong.items()))


def test_smoke_examples_on_every_interpreter(target_python, tmp_path):
    _prepare(tmp_path)
    target = start_demo(target_python, tmp_path, env={"PYARTHAS_DEMO_INTERVAL": "0.005"})
    try:
        wrong = _run_rows(target, tmp_path, [r for r in table_rows() if r.page in SMOKE_PAGES])
    finally:
        target.kill()
    assert not wrong, "\n".join("row %d: %s" % item for item in sorted(wrong.items()))
