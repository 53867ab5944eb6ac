import { describe, expect, it } from "vitest";
import {
  appendPoint,
  buildCommand,
  dashboardPoint,
  emptySeries,
  highlightPython,
  monitorRows,
  profilerOutputUrl,
  StreamForm,
  traceTree,
  ttRows,
  urlWithSession,
  sessionFromUrl,
  valueTree,
  watchTree,
} from "../src/transforms";
import { Ring } from "../src/ring";

describe("valueTree", () => {
  it("names the parts of a watch value and keeps strings as text", () => {
    const tree = watchTree([[42, "<script>alert(1)</script>"], [2, 3, 7], null]);
    expect(tree.children!.map((c) => c.key)).toEqual(["params", "returnObj", "throwExp"]);
    expect(tree.children![0].children![1].summary).toBe('"<script>alert(1)</script>"');
    expect(tree.children![1].summary).toBe("list[3]");
    expect(tree.children![2].summary).toBe("None");
  });

  it("shows an object's Python type and hides the @type key", () => {
    const tree = valueTree({ "@type": "builtins.ValueError", message: "bad" });
    expect(tree.summary).toBe("builtins.ValueError {1}");
    expect(tree.children).toEqual([{ key: "message", summary: '"bad"', children: null }]);
    expect(valueTree({ "@type": "random.Random", "@value": "<random.Random>" }).summary).toBe('random.Random "<random.Random>"');
    expect(valueTree(true).summary).toBe("True");
  });
});

describe("traceTree", () => {
  it("converts nanoseconds and gives each call its share of the root call", () => {
    const tree = traceTree({
      type: "thread",
      threadName: "MainThread",
      children: [
        {
          type: "method", className: "demo.MathGame", methodName: "run", lineNumber: -1, cost: 200000,
          children: [{ type: "method", className: "demo.MathGame", methodName: "primeFactors", lineNumber: 22, cost: 50000, throw: true, mark: "throws Exception" }],
        },
      ],
    });
    expect(tree.label).toBe("thread MainThread");
    const run = tree.children[0];
    expect(run.label).toBe("demo.MathGame.run");
    expect(run.costMs).toBeCloseTo(0.2);
    expect(run.share).toBe(1);
    const child = run.children[0];
    expect(child.label).toBe("demo.MathGame.primeFactors #22");
    expect(child.share).toBeCloseTo(0.25);
    expect(child.threw).toBe(true);
  });
});

describe("series", () => {
  it("keeps at most max points", () => {
    let series = emptySeries(["cpu"]);
    for (let i = 0; i < 10; i++) series = appendPoint(series, i, { cpu: i * 2 }, 4);
    expect(series.times).toEqual([6, 7, 8, 9]);
    expect(series.columns.cpu).toEqual([12, 14, 16, 18]);
  });

  it("sums a dashboard's threads' CPU and memory in MiB", () => {
    const point = dashboardPoint({
      type: "dashboard",
      threads: [{ cpu: 1.5 }, { cpu: 2 }],
      memoryInfo: { heap: [{ name: "heap", used: 2097152 }], nonheap: [{ name: "a", used: 1048576 }, { name: "b", used: -1 }] },
      runtimeInfo: { timestamp: 5000 },
    });
    expect(point).toEqual({ time: 5, values: { cpu: 3.5, heap: 2, nonheap: 1 } });
  });

  it("computes monitor averages and failure rates", () => {
    const rows = monitorRows({
      type: "monitor",
      monitorDataList: [{ className: "demo.MathGame", methodName: "primeFactors", total: 4, success: 3, failed: 1, cost: 8, timestamp: 1 }],
    });
    expect(rows[0]).toMatchObject({ key: "demo.MathGame.primeFactors", avgMs: 2, failRate: 0.25 });
  });
});

describe("ttRows", () => {
  it("unwraps params and orders by index, later results replacing earlier ones", () => {
    const record = (index: number, cost: number) => ({
      index, timestamp: 1, cost, return: true, throw: false, className: "m", methodName: "f",
      params: [{ expand: 1, object: index }], returnObj: [1], throwExp: null,
    });
    const rows = ttRows([
      { type: "tt", timeFragmentList: [record(1001, 1)] },
      { type: "tt", timeFragmentList: [record(1000, 2), record(1001, 3)] },
    ]);
    expect(rows.map((r) => [r.index, r.costMs, r.params[0]])).toEqual([[1000, 2, 1000], [1001, 3, 1001]]);
    expect(rows[0].outcome).toBe("return");
  });
});

describe("highlightPython", () => {
  it("splits tokens by line and kind", () => {
    const lines = highlightPython('def f(x):\n    return "a\\"b" # done\n');
    expect(lines).toHaveLength(2);
    expect(lines[0][0]).toEqual({ kind: "keyword", text: "def" });
    expect(lines[1].find((t) => t.kind === "string")!.text).toBe('"a\\"b"');
    expect(lines[1].find((t) => t.kind === "comment")!.text).toBe("# done");
  });

  it("splits a triple-quoted string across lines", () => {
    const lines = highlightPython('x = """one\ntwo"""');
    expect(lines[1]).toEqual([{ kind: "string", text: 'two"""' }]);
  });
});

describe("buildCommand", () => {
  const form: StreamForm = {
    kind: "watch", classPattern: "demo.MathGame", methodPattern: "primeFactors", expression: "{params, returnObj}",
    condition: "", count: "5", expand: "2", cycle: "5", flags: ["-b", "-x"], extra: "",
  };
  it("quotes expressions as one word and keeps only the command's own flags", () => {
    expect(buildCommand(form)).toBe("watch -b -x 2 -n 5 demo.MathGame primeFactors '{params, returnObj}'");
    expect(buildCommand({ ...form, kind: "monitor", condition: "params[0] > 1" })).toBe(
      "monitor -c 5 -n 5 demo.MathGame primeFactors 'params[0] > 1'",
    );
    expect(buildCommand({ ...form, kind: "tt", count: "" })).toBe("tt -t -x 2 demo.MathGame primeFactors");
    expect(buildCommand({ ...form, kind: "stack", count: "", background: true })).toBe("stack demo.MathGame primeFactors &");
    expect(buildCommand({ ...form, kind: "trace", count: "", condition: "it's" })).toBe(`trace demo.MathGame primeFactors "it's"`);
  });
});

describe("addresses", () => {
  it("finds the profiler's output address", () => {
    expect(profilerOutputUrl({ type: "profiler", executeResult: "OK\nprofiler output url: /arthas-output/a.html\n" })).toBe("arthas-output/a.html");
    expect(profilerOutputUrl({ type: "heapdump", outputFile: "/x/arthas-output/h d.json" })).toBe("arthas-output/h%20d.json");
  });

  it("puts the session on the page address", () => {
    const url = urlWithSession("http://127.0.0.1:8563/?session=old#watch", "new-id");
    expect(url).toBe("http://127.0.0.1:8563/?session=new-id#watch");
    expect(sessionFromUrl(url)).toBe("new-id");
  });
});

describe("Ring", () => {
  it("keeps the newest items and counts the dropped ones", () => {
    const ring = new Ring<number>(3);
    ring.push(1, 2, 3, 4, 5);
    expect(ring.toArray()).toEqual([3, 4, 5]);
    expect(ring.droppedCount).toBe(2);
    expect(ring.last(2)).toEqual([4, 5]);
  });
});
