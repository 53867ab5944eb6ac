// Threads: the busiest N, one thread's stack (with --locals), the blocking lock holder, asyncio tasks.
import { useState } from "preact/hooks";
import { Result } from "../api";
import { ErrorLine, ofType, Table, useExec } from "../components/common";
import { Frame, StackTrace } from "../components/Stack";

type ThreadInfo = {
  id: number;
  name: string;
  state: string;
  cpu: number;
  lockName?: string | null;
  lockOwnerName?: string | null;
  stackTrace?: Frame[];
};
type Task = {
  name: string;
  state: string;
  coroutine: string | null;
  threadName: string | null;
  awaiting?: { kind: string; name?: string; repr?: string; children?: { name: string }[] };
  awaitedBy?: string[];
  stackTrace?: Frame[];
};

export function ThreadsPage() {
  const [busiest, setBusiest] = useState(5);
  const [locals, setLocals] = useState(false);
  const [run, exec] = useExec();

  const threads = threadsOf(run.results);
  const tasks = ofType(run.results, "tasks").flatMap((r) => (r.tasks as Task[]) ?? []);
  const blocking = ofType(run.results, "thread").find((r) => r.blockingLockInfo || r.blockedCount);
  return (
    <section class="page">
      <div class="toolbar">
        <label>
          Busiest <input type="number" min={1} value={busiest} onInput={(e) => setBusiest(Number((e.target as HTMLInputElement).value))} />
        </label>
        <button onClick={() => exec("thread -n " + busiest)}>Busiest threads</button>
        <button onClick={() => exec("thread --all")}>All threads</button>
        <button onClick={() => exec("thread -b")}>Blocking lock holder</button>
        <button onClick={() => exec("tasks")}>asyncio tasks</button>
        <label>
          <input type="checkbox" checked={locals} onChange={(e) => setLocals((e.target as HTMLInputElement).checked)} /> --locals
        </label>
        {run.busy && <span class="busy">running...</span>}
      </div>
      <ErrorLine text={run.error} />
      {blocking && <p class="note">{String(blocking.blockingLockInfo ?? "")}</p>}
      {threads.map((t) => (
        <div class="thread" key={t.id}>
          <div class="thread-head">
            <a href="#" onClick={(e) => (e.preventDefault(), exec("thread " + (locals ? "--locals " : "") + t.id))}>
              {t.name}
            </a>{" "}
            id={t.id} state={t.state} cpu={t.cpu}%
            {t.lockOwnerName && <span class="lock"> blocked on {t.lockName} held by {t.lockOwnerName}</span>}
          </div>
          {t.stackTrace && <StackTrace frames={t.stackTrace} />}
        </div>
      ))}
      {ofType(run.results, "tasks").length > 0 && (
        <>
          <h3>asyncio tasks ({tasks.length})</h3>
          {tasks.map((task, i) => (
            <div class="task" key={i}>
              <div class="thread-head">
                "{task.name}" {task.state} coroutine={String(task.coroutine)} thread={String(task.threadName)}
                {task.awaiting && <span> awaiting {awaitingText(task.awaiting)}</span>}
                {task.awaitedBy && task.awaitedBy.length > 0 && <span> awaited by {task.awaitedBy.join(", ")}</span>}
              </div>
              <StackTrace frames={task.stackTrace ?? []} />
            </div>
          ))}
        </>
      )}
      {threads.length === 0 && !run.busy && ofType(run.results, "thread").length > 0 && (
        <Table head={["result"]} rows={ofType(run.results, "thread").map((r) => [JSON.stringify(r)])} />
      )}
    </section>
  );
}

function threadsOf(results: Result[]): ThreadInfo[] {
  return ofType(results, "thread").flatMap((r) => {
    if (Array.isArray(r.busyThreads)) return r.busyThreads as ThreadInfo[];
    if (Array.isArray(r.threadStats)) return r.threadStats as ThreadInfo[];
    if (r.threadInfo) {
      // a single thread's info uses Java's ThreadInfo names
      const info = r.threadInfo as Record<string, unknown>;
      return [{ ...info, id: info.threadId, name: info.threadName, state: info.threadState, cpu: info.cpu ?? "-" } as ThreadInfo];
    }
    return [];
  });
}

function awaitingText(awaiting: NonNullable<Task["awaiting"]>): string {
  if (awaiting.kind === "task") return 'Task "' + awaiting.name + '"';
  if (awaiting.kind === "gather") return "gather(" + (awaiting.children ?? []).map((c) => c.name).join(", ") + ")";
  return awaiting.repr ?? awaiting.kind;
}
