// Dashboard: live CPU and memory charts, the busiest threads, gc and runtime, refreshed every interval.
import { useEffect, useState } from "preact/hooks";
import { execCommand, Result } from "../api";
import { Chart } from "../components/Chart";
import { ErrorLine, Table } from "../components/common";
import { appendPoint, dashboardPoint, emptySeries, formatBytes, Series } from "../transforms";

const MAX_POINTS = 300;
type Thread = { id: number; name: string; state: string; cpu: number; time: number; daemon: boolean };
type Gc = { name: string; collectionCount: number; collected: number; threshold: number; count: number };

export function DashboardPage({ visible }: { visible: boolean }) {
  const [interval, setIntervalMs] = useState(2000);
  const [latest, setLatest] = useState<Result | null>(null);
  const [error, setError] = useState("");
  const [cpu, setCpu] = useState<Series>(emptySeries(["cpu"]));
  const [memory, setMemory] = useState<Series>(emptySeries(["heap", "nonheap"]));

  useEffect(() => {
    if (!visible || interval <= 0) return;
    let stopped = false;
    let timer = 0;
    const tick = async () => {
      try {
        const result = (await execCommand("dashboard -n 1")).find((r) => r.type === "dashboard");
        if (stopped || !result) return;
        const point = dashboardPoint(result);
        setLatest(result);
        setCpu((old) => appendPoint(old, point.time, point.values, MAX_POINTS));
        setMemory((old) => appendPoint(old, point.time, point.values, MAX_POINTS));
        setError("");
      } catch (e) {
        if (!stopped) setError(String(e instanceof Error ? e.message : e));
      }
      if (!stopped) timer = window.setTimeout(tick, interval);
    };
    void tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [visible, interval]);

  const threads = ((latest?.threads as Thread[] | undefined) ?? []).slice().sort((a, b) => b.cpu - a.cpu).slice(0, 20);
  const gcs = (latest?.gcInfos as Gc[] | undefined) ?? [];
  const runtime = (latest?.runtimeInfo as Record<string, unknown> | undefined) ?? {};
  const memoryRows = Object.values((latest?.memoryInfo as Record<string, Record<string, number | string>[]>) ?? {}).flat();
  return (
    <section class="page">
      <div class="toolbar">
        <label>
          Refresh every{" "}
          <select value={interval} onChange={(e) => setIntervalMs(Number((e.target as HTMLSelectElement).value))}>
            {[1000, 2000, 5000, 10000, 0].map((ms) => (
              <option key={ms} value={ms}>
                {ms ? ms / 1000 + " s" : "paused"}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorLine text={error} />
      <div class="charts">
        <Chart title="CPU % (all threads)" series={cpu} labels={{ cpu: "cpu %" }} />
        <Chart title="Memory (MiB)" series={memory} labels={{ heap: "heap", nonheap: "non-heap" }} />
      </div>
      <h3>Threads</h3>
      <Table
        head={["id", "name", "state", "cpu %", "time ms", "daemon"]}
        rows={threads.map((t) => [t.id, t.name, t.state, t.cpu, t.time, String(t.daemon)])}
      />
      <div class="columns">
        <div>
          <h3>Memory</h3>
          <Table
            head={["kind", "name", "used", "total"]}
            rows={memoryRows.map((m) => [m.type, m.name, formatBytes(Number(m.used)), formatBytes(Number(m.total))])}
          />
          <h3>GC</h3>
          <Table
            head={["generation", "collections", "collected", "count / threshold"]}
            rows={gcs.map((g) => [g.name, g.collectionCount, g.collected, g.count + " / " + g.threshold])}
          />
        </div>
        <div>
          <h3>Runtime</h3>
          <Table head={["name", "value"]} rows={Object.entries(runtime).map(([k, v]) => [k, String(v)])} />
        </div>
      </div>
    </section>
  );
}
