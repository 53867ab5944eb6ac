// watch / trace / stack / monitor / tt: a form that starts the command in the shared session, and a view
// for each command's results as they stream in (every member of the session sees the same results).
import { Component } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { Result } from "../api";
import { Chart } from "../components/Chart";
import { ErrorLine, Table, Tree, useExec, useResults } from "../components/common";
import { StackTrace, Frame } from "../components/Stack";
import { TraceTree } from "../components/TraceTree";
import type { Item, SessionLink } from "../session";
import { Ring } from "../ring";
import {
  appendPoint,
  buildCommand,
  emptySeries,
  formatMs,
  monitorRows,
  StreamForm,
  StreamKind,
  traceTree,
  ttRows,
  valueTree,
  watchTree,
} from "../transforms";

const SHOWN = 100; // results drawn at once; older ones stay in the bounded store until they fall out
const KINDS: StreamKind[] = ["watch", "trace", "stack", "monitor", "tt"];

declare global {
  interface Window {
    /** [produced, received, drawn] (ms) of the watch results drawn: read by bench/bench_web.py. */
    __pyarthasDrawn?: Ring<[number, number, number]>;
  }
}

export function StreamPage({ link, kind, setKind }: { link: SessionLink; kind: StreamKind; setKind: (k: StreamKind) => void }) {
  const [form, setForm] = useState<StreamForm>({
    kind,
    classPattern: "demo.MathGame",
    methodPattern: "primeFactors",
    expression: "{params, returnObj, throwExp}",
    condition: "",
    count: "",
    expand: "2",
    cycle: "5",
    flags: [],
    extra: "",
  });
  const [error, setError] = useState("");
  const full = { ...form, kind };
  const command = buildCommand(full);
  const update = (change: Partial<StreamForm>) => setForm({ ...form, ...change });
  const field = (name: keyof StreamForm, label: string, placeholder = "", cls = "") => (
    <label class={cls}>
      {label}{" "}
      <input
        name={name}
        value={form[name] as string}
        placeholder={placeholder}
        onInput={(e) => update({ [name]: (e.target as HTMLInputElement).value })}
      />
    </label>
  );

  const start = async () => {
    setError("");
    try {
      const reply = await link.run(command);
      if (reply.state !== "SCHEDULED") setError(reply.message || reply.state);
    } catch (e) {
      setError(String(e instanceof Error ? e.message : e));
    }
  };
  const stop = async () => {
    try {
      const reply = await link.interrupt();
      if (reply.state !== "SUCCEEDED") {
        // the agent has no `kill`: a background job ends at its -n or --timeout, or with reset (Settings)
        setError((reply.message || reply.state) + " (a background job ends at its -n or --timeout, or with reset)");
      }
    } catch (e) {
      setError(String(e instanceof Error ? e.message : e));
    }
  };

  return (
    <section class="page">
      <div class="subtabs">
        {KINDS.map((k) => (
          <button key={k} class={k === kind ? "active" : ""} onClick={() => setKind(k)}>
            {k}
          </button>
        ))}
      </div>
      <form class="stream-form" onSubmit={(e) => (e.preventDefault(), start())}>
        {field("classPattern", "class", "demo.MathGame")}
        {field("methodPattern", "method", "primeFactors")}
        {kind === "watch" && field("expression", "express", "{params, returnObj, throwExp}", "grow")}
        {field("condition", "condition", "params[0] > 100", "grow")}
        {field("count", "-n", "times")}
        {(kind === "watch" || kind === "tt") && field("expand", "-x", "depth")}
        {kind === "monitor" && field("cycle", "-c", "seconds")}
        {kind === "watch" &&
          ["-b", "-e", "-s", "-f"].map((flag) => (
            <label key={flag}>
              <input
                type="checkbox"
                checked={form.flags.includes(flag)}
                onChange={(e) =>
                  update({ flags: (e.target as HTMLInputElement).checked ? [...form.flags, flag] : form.flags.filter((f) => f !== flag) })
                }
              />
              {flag}
            </label>
          ))}
        {field("extra", "options", "--timeout 30", "grow")}
        <label title="run as a background job (&): the session stays free for other commands">
          <input type="checkbox" name="background" checked={!!form.background} onChange={(e) => update({ background: (e.target as HTMLInputElement).checked })} />
          background
        </label>
        <button type="submit">Start</button>
        <button type="button" onClick={stop}>
          Stop
        </button>
        <button type="button" onClick={() => link.store.clear(kind)}>
          Clear
        </button>
      </form>
      <div class="command-line">
        <code>{command}</code>
      </div>
      <ErrorLine text={error} />
      <JobMessages link={link} />
      {kind === "watch" && <WatchResults link={link} />}
      {kind === "trace" && <TraceResults link={link} />}
      {kind === "stack" && <StackResults link={link} />}
      {kind === "monitor" && <MonitorResults link={link} />}
      {kind === "tt" && <TtResults link={link} />}
    </section>
  );
}

function JobMessages({ link }: { link: SessionLink }) {
  const statuses = useResults(link.store, "status", 3).filter((item) => item.result.statusCode !== 0);
  const messages = useResults(link.store, "message", 3).filter((item) => item.result.jobId !== 0); // not the welcome
  const shown = [...statuses, ...messages].sort((a, b) => a.seq - b.seq).slice(-3);
  return (
    <div class="job-messages">
      {shown.map((item) => (
        <div key={item.seq} class={item.result.type === "status" ? "error" : "note"}>
          job {String(item.result.jobId)}: {String(item.result.message ?? "")}
        </div>
      ))}
    </div>
  );
}

function Dropped({ link, type }: { link: SessionLink; type: string }) {
  const dropped = link.store.dropped(type);
  return dropped ? <div class="small">{dropped} older results dropped (the page keeps the newest 500)</div> : null;
}

function timeOf(result: Result): string {
  return new Date(Number(result.ts) || Date.now()).toLocaleTimeString();
}

function WatchResults({ link }: { link: SessionLink }) {
  const items = useResults(link.store, "watch", SHOWN);
  useDrawnMetrics(items);
  return (
    <div class="results">
      <Dropped link={link} type="watch" />
      {items
        .slice()
        .reverse()
        .map((item) => (
          <WatchItem key={item.seq} item={item} />
        ))}
    </div>
  );
}

/** One watch result; drawn once (a result never changes), so a fast stream redraws only the new ones. */
class WatchItem extends Component<{ item: Item }> {
  shouldComponentUpdate(next: { item: Item }): boolean {
    return next.item !== this.props.item;
  }

  render({ item }: { item: Item }) {
    return (
      <div class="watch-result">
        <div class="result-head">
          {timeOf(item.result)} {String(item.result.className)}.{String(item.result.methodName)} {String(item.result.accessPoint)}{" "}
          cost={formatMs(Number(item.result.cost))}
        </div>
        <Tree node={watchTree(item.result.value)} open={3} />
      </div>
    );
  }
}

/** Records when the newest watch results reached the screen, for the latency benchmark. */
function useDrawnMetrics(items: Item[]): void {
  const [last, setLast] = useState(0);
  useEffect(() => {
    const fresh = items.filter((item) => item.seq > last);
    if (!fresh.length) return;
    const drawn = Date.now();
    const ring = (window.__pyarthasDrawn ??= new Ring<[number, number, number]>(5000));
    ring.push(...fresh.map((item): [number, number, number] => [Number(item.result.ts), item.received, drawn]));
    setLast(fresh[fresh.length - 1].seq);
  }, [items.length ? items[items.length - 1].seq : 0]);
}

function TraceResults({ link }: { link: SessionLink }) {
  const items = useResults(link.store, "trace", 30);
  return (
    <div class="results">
      <Dropped link={link} type="trace" />
      {items
        .slice()
        .reverse()
        .map((item) => (
          <div class="trace-result" key={item.seq}>
            <TraceTree node={traceTree(item.result.root as never)} />
          </div>
        ))}
    </div>
  );
}

function StackResults({ link }: { link: SessionLink }) {
  const items = useResults(link.store, "stack", 30);
  return (
    <div class="results">
      {items
        .slice()
        .reverse()
        .map((item) => (
          <div class="stack-result" key={item.seq}>
            <div class="result-head">
              {timeOf(item.result)} thread "{String(item.result.threadName)}" cost={formatMs(Number(item.result.cost))}
            </div>
            <StackTrace frames={(item.result.stackTrace as Frame[]) ?? []} />
          </div>
        ))}
    </div>
  );
}

function MonitorResults({ link }: { link: SessionLink }) {
  const items = useResults(link.store, "monitor", 300);
  const newest = items.length ? items[items.length - 1].seq : 0;
  const series = useMemo(() => {
    let series = emptySeries(["total", "failed", "avgMs"]);
    for (const item of items) {
      const rows = monitorRows(item.result);
      if (!rows.length) continue;
      const sum = (key: "total" | "failed") => rows.reduce((s, r) => s + r[key], 0);
      const avg = rows.reduce((s, r) => s + r.avgMs * r.total, 0) / Math.max(1, sum("total"));
      series = appendPoint(series, rows[0].timestamp / 1000, { total: sum("total"), failed: sum("failed"), avgMs: avg }, 300);
    }
    return series;
  }, [newest]);
  const latest = items.length ? monitorRows(items[items.length - 1].result) : [];
  return (
    <div class="results">
      <Chart title="Calls per cycle" series={series} labels={{ total: "calls", failed: "failed", avgMs: "avg ms" }} />
      <Table
        head={["time", "method", "total", "success", "failed", "avg rt", "fail-rate"]}
        rows={latest.map((r) => [
          new Date(r.timestamp).toLocaleTimeString(),
          r.key,
          r.total,
          r.success,
          r.failed,
          formatMs(r.avgMs),
          (r.failRate * 100).toFixed(2) + "%",
        ])}
      />
    </div>
  );
}

function TtResults({ link }: { link: SessionLink }) {
  const items = useResults(link.store, "tt", 500);
  const [detail, exec] = useExec();
  const rows = ttRows(items.map((item) => item.result).filter((r) => Array.isArray(r.timeFragmentList))).slice(-200);
  const shown = detail.results.find((r) => r.type === "tt");
  const record = shown && (shown.replayResult ?? (shown.timeFragmentList as unknown[] | undefined)?.[0] ?? shown);
  return (
    <div class="results columns">
      <div>
        <Table
          head={["index", "time", "cost", "outcome", "method", "params", ""]}
          rows={rows
            .slice()
            .reverse()
            .map((r) => [
              r.index,
              new Date(r.timestamp).toLocaleTimeString(),
              formatMs(r.costMs),
              r.outcome,
              r.method,
              JSON.stringify(r.params),
              <span>
                <button onClick={() => exec("tt -i " + r.index)}>show</button>{" "}
                <button onClick={() => exec("tt -i " + r.index + " -p")}>replay</button>
              </span>,
            ])}
        />
      </div>
      <div>
        <ErrorLine text={detail.error} />
        {record && <Tree node={valueTree(record)} open={2} />}
      </div>
    </div>
  );
}
