// Logger levels (changed in place), vmoption, sysenv, sysprop, options, session info, reset and stop.
import { useEffect } from "preact/hooks";
import { quote, Result } from "../api";
import { ErrorLine, Messages, ofType, Table, useExec } from "../components/common";

const LEVELS = ["NOTSET", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];
type Logger = { name: string; class: string; level: string; effectiveLevel: string; appenders: unknown[] };

export function SettingsPage({ sessionId }: { sessionId: string }) {
  const [loggers, execLoggers] = useExec();
  const [view, execView] = useExec();
  const [action, execAction] = useExec();
  useEffect(() => void execLoggers("logger"), []);

  const loggerMap = (ofType(loggers.results, "logger")[0]?.loggerInfoMap as Record<string, Logger> | undefined) ?? {};
  const changeLevel = async (name: string, level: string) => {
    await execAction("logger -n " + quote(name) + " -l " + level);
    await execLoggers("logger");
  };
  return (
    <section class="page">
      <h3>Loggers</h3>
      <ErrorLine text={loggers.error} />
      <Table
        head={["name", "class", "level", "effective", "handlers"]}
        rows={Object.values(loggerMap).map((l) => [
          l.name,
          l.class,
          <select aria-label={"level of " + l.name} value={l.level} onChange={(e) => changeLevel(l.name, (e.target as HTMLSelectElement).value)}>
            {LEVELS.map((level) => (
              <option key={level} value={level}>
                {level}
              </option>
            ))}
          </select>,
          l.effectiveLevel,
          (l.appenders ?? []).length,
        ])}
      />
      <h3>Process and agent</h3>
      <div class="toolbar">
        {["vmoption", "sysenv", "sysprop", "options", "session", "version"].map((command) => (
          <button key={command} onClick={() => execView(command)}>
            {command}
          </button>
        ))}
        <button class="danger" onClick={() => execAction("reset")}>
          reset (restore all functions)
        </button>
        <button class="danger" onClick={() => confirm("Stop the agent? The program carries on.") && execAction("stop")}>
          stop the agent
        </button>
      </div>
      <div class="small">This page's session: {sessionId}</div>
      <ErrorLine text={action.error || view.error} />
      <Messages results={action.results} />
      {ofType(action.results, "reset").map((r, i) => (
        <div key={i} class="note">
          {JSON.stringify(r.affect ?? r)}
        </div>
      ))}
      <KeyValues results={view.results} />
    </section>
  );
}

/** Each known shape of vmoption / sysenv / sysprop / options / session / version as a two-column table. */
function KeyValues({ results }: { results: Result[] }) {
  const rows: [string, string][] = [];
  for (const r of results) {
    if (Array.isArray(r.vmOptions)) (r.vmOptions as { name: string; value: string }[]).forEach((o) => rows.push([o.name, o.value]));
    else if (Array.isArray(r.options)) (r.options as { name: string; value: string }[]).forEach((o) => rows.push([o.name, o.value]));
    else if (r.env || r.props) Object.entries((r.env ?? r.props) as Record<string, string>).forEach(([k, v]) => rows.push([k, String(v)]));
    else if (r.type !== "status" && r.type !== "message")
      Object.entries(r).forEach(([k, v]) => k !== "type" && k !== "jobId" && rows.push([k, String(v)]));
  }
  return rows.length ? <Table head={["name", "value"]} rows={rows} /> : null;
}
