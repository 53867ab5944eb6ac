// The sampling profiler: start / stop with event, interval and duration; the flame graph shown in the page
// (the agent's own HTML flame graph from /arthas-output/).
import { useEffect, useState } from "preact/hooks";
import { Result } from "../api";
import { ErrorLine, ofType, useExec } from "../components/common";
import { profilerOutputUrl } from "../transforms";

export function ProfilerPage() {
  const [event, setEvent] = useState("cpu");
  const [interval, setIntervalText] = useState("10ms");
  const [duration, setDuration] = useState("");
  const [run, exec] = useExec();
  const [graph, setGraph] = useState<string | null>(null);

  const result: Result | undefined = ofType(run.results, "profiler")[0];
  const url = result ? profilerOutputUrl(result) : null;
  const finished = result && (result.action === "stop" || result.action === "dump");

  useEffect(() => {
    if (!url) return;
    if (finished) {
      setGraph(url);
      return;
    }
    if (result?.action === "start" && result.duration) {
      // started with -d: the agent writes the graph by itself when the duration ends
      const timer = setTimeout(() => setGraph(url), (Number(result.duration) + 1) * 1000);
      return () => clearTimeout(timer);
    }
  }, [url]);

  const startCommand = "profiler start -e " + event + " -i " + (interval.trim() || "10ms") + (duration.trim() ? " -d " + duration.trim() : "");
  return (
    <section class="page">
      <div class="toolbar">
        <label>
          event{" "}
          <select value={event} onChange={(e) => setEvent((e.target as HTMLSelectElement).value)}>
            <option value="cpu">cpu</option>
            <option value="wall">wall</option>
          </select>
        </label>
        <label>
          interval <input name="interval" value={interval} onInput={(e) => setIntervalText((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          duration (s) <input name="duration" value={duration} placeholder="until stopped" onInput={(e) => setDuration((e.target as HTMLInputElement).value)} />
        </label>
        <button onClick={() => exec(startCommand)}>Start</button>
        <button onClick={() => exec("profiler stop")}>Stop and show</button>
        <button onClick={() => exec("profiler dump")}>Snapshot</button>
        <button onClick={() => exec("profiler status")}>Status</button>
      </div>
      <ErrorLine text={run.error} />
      {result && <pre class="note">{String(result.executeResult ?? "")}</pre>}
      {graph && (
        <div>
          <a href={graph} target="_blank" rel="noopener">
            open the flame graph alone
          </a>
          <iframe class="flamegraph" src={graph} title="flame graph" />
        </div>
      )}
    </section>
  );
}
