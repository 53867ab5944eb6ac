"""What the web console costs and how fast it draws (issue: web console).

    .venv/bin/python bench/bench_web.py [--latency-seconds 20] [--memory-seconds 60] [--python EXE]

Headless Chromium (Debian's ``chromium``, through Playwright) opens the console of a real target:
- latency: the demo (``demo.MathGame``, one run every 20 ms) watched from the page's watch form; for each
  result the page records when it was drawn (``window.__pyarthasDrawn``: the result's ``ts``, taken in the
  target, the time the pull answer arrived, and ``Date.now()`` after the redraw, one clock on one machine).
  p50/p99 of drawn - produced, the long-poll flush included (goal p99 < 250 ms).
- memory: a target calling a function about 1000 times a second (a 1 ms sleep between calls), watched on
  every call as a background job from the page for ``--memory-seconds``; the page's JS heap (after a
  forced GC, through the Chrome DevTools Protocol) every 5 s (goal: flat after the first 10 s; the page
  keeps the newest 500 results of each type).
- size: the built files under ``src/pyarthas/agent/http/static/app`` (raw and gzip -9; goal: first load
  under 1 MB compressed).
"""
import argparse
import gzip
import os
import pathlib
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

from harness import ROOT, python_id, start_demo, start_script, target_pythons  # noqa: E402

APP = os.path.join(ROOT, "src", "pyarthas", "agent", "http", "static", "app")

FAST_TARGET = """
    import time

    def tick(n):
        return n + 1

    print("ready", flush=True)
    n = 0
    while True:
        n = tick(n)
        time.sleep(0.001)
"""


def asset_sizes():
    rows = []
    for folder, _, names in os.walk(APP):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as handle:
                data = handle.read()
            rows.append((os.path.relpath(path, APP), len(data), len(gzip.compress(data, 9))))
    return sorted(rows)


def open_console(browser, url):
    page = browser.new_context(viewport={"width": 1360, "height": 900}).new_page()
    page.set_default_timeout(60000)
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url + "/#watch/watch")
    page.wait_for_selector("#session-id:not(:text('...'))")
    return page, errors


def start_watch(page, class_pattern, method, background=False):
    page.fill(".stream-form input[name=classPattern]", class_pattern)
    page.fill(".stream-form input[name=methodPattern]", method)
    page.fill(".stream-form input[name=expression]", "{params, returnObj}")
    page.fill(".stream-form input[name=count]", "100000000")  # Arthas's default -n is 100
    if background:
        page.check(".stream-form input[name=background]")
    page.click(".stream-form button:text-is('Start')")
    page.wait_for_selector(".watch-result")


def drawn_count(page):
    return page.evaluate("() => { const r = window.__pyarthasDrawn; return r ? r.size + r.droppedCount : 0 }")


def measure_latency(browser, python, seconds):
    target = start_demo(python, tempfile.mkdtemp(), env={"PYARTHAS_DEMO_INTERVAL": "0.02"})
    try:
        page, errors = open_console(browser, target.url)
        start_watch(page, "demo.MathGame", "primeFactors")
        time.sleep(seconds)  # the benchmark's measuring window, not a synchronisation
        pairs = page.evaluate("() => window.__pyarthasDrawn.toArray()")
        page.click(".stream-form button:text-is('Stop')")
        page.context.close()  # before the target goes: a page left open would retry, logging errors
        kept = pairs[len(pairs) // 10:]  # skip the warm-up
        delays = sorted(drawn - produced for produced, _, drawn in kept)
        in_page = sorted(drawn - received for _, received, drawn in kept)
        return delays, in_page, errors
    finally:
        target.kill()


def measure_memory(browser, python, seconds):
    target = start_script(python, FAST_TARGET, pathlib.Path(tempfile.mkdtemp()))
    try:
        target.wait_stdout("ready", timeout=30)
        page, errors = open_console(browser, target.url)
        cdp = page.context.new_cdp_session(page)
        cdp.send("HeapProfiler.enable")
        start_watch(page, "__main__", "tick", background=True)
        started = time.monotonic()
        samples = []
        while True:
            elapsed = time.monotonic() - started
            if elapsed >= seconds:
                break
            time.sleep(min(5.0, seconds - elapsed))  # the sampling period of the measurement
            cdp.send("HeapProfiler.collectGarbage")
            heap = cdp.send("Runtime.getHeapUsage")["usedSize"]
            samples.append((time.monotonic() - started, heap, drawn_count(page)))
        page.context.close()
        return samples, errors
    finally:
        target.kill()


def percentile(values, share):
    return values[min(len(values) - 1, round(share * (len(values) - 1)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latency-seconds", type=float, default=20.0)
    parser.add_argument("--memory-seconds", type=float, default=60.0)
    parser.add_argument("--python", default=target_pythons()[-1])
    args = parser.parse_args()
    if not os.path.exists(os.path.join(APP, "index.html")):
        sys.exit("the web console is not built: bash scripts/setup.sh")
    from playwright.sync_api import sync_playwright

    rows = asset_sizes()
    print("built assets (raw / gzip -9):")
    for name, raw, packed in rows:
        print("  %-40s %8d B %8d B" % (name, raw, packed))
    print("  %-40s %8d B %8d B  (goal: first load < 1 MB compressed)" % (
        "total", sum(r[1] for r in rows), sum(r[2] for r in rows)))

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        delays, in_page, errors = measure_latency(browser, args.python, args.latency_seconds)
        print("latency, result produced in the target -> drawn in the page (%s, %d results, demo every 20 ms):"
              % (python_id(args.python), len(delays)))
        print("  p50 %.0f ms, p99 %.0f ms, max %.0f ms  (goal p99 < 250 ms)" % (
            statistics.median(delays), percentile(delays, 0.99), delays[-1]))
        print("  of which in the page (pull answer received -> drawn): p50 %.0f ms, p99 %.0f ms; the rest is the"
              " agent's 100 ms long-poll flush, HTTP and the machine's load" % (
                  statistics.median(in_page), percentile(in_page, 0.99)))
        samples, more_errors = measure_memory(browser, args.python, args.memory_seconds)
        print("page JS heap during a watch on every call of a ~1000/s function (%.0f s):" % args.memory_seconds)
        previous = 0
        for at, heap, drawn in samples:
            rate = (drawn - previous) / 5.0
            previous = drawn
            print("  %5.1f s  heap %6.2f MB  results drawn %7d (%.0f/s)" % (at, heap / 1e6, drawn, rate))
        after_10 = [heap for at, heap, _ in samples if at >= 10]
        if after_10:
            print("  heap after 10 s: min %.2f MB, max %.2f MB, last/first %.2f  (goal: flat)" % (
                min(after_10) / 1e6, max(after_10) / 1e6, after_10[-1] / after_10[0]))
        if errors or more_errors:
            print("console errors:", errors + more_errors)
        browser.close()


if __name__ == "__main__":
    main()
