// Small shared pieces: a tree of values, a command runner hook, error and table helpers.
// Every value is rendered as text (Preact escapes it); nothing from the target is ever parsed as HTML.
import { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { execCommand, failureOf, Result } from "../api";
import type { Item, ResultStore } from "../session";
import type { TreeNode } from "../transforms";

export function Tree({ node, open = 2 }: { node: TreeNode; open?: number }) {
  const [expanded, setExpanded] = useState(open > 0);
  const label = (
    <>
      {node.key !== "" && <span class="key">{node.key}: </span>}
      <span class="summary">{node.summary}</span>
    </>
  );
  if (!node.children) return <div class="tree-leaf">{label}</div>;
  return (
    <div class="tree">
      <div class="tree-toggle" onClick={() => setExpanded(!expanded)}>
        <span class="caret">{expanded ? "▾" : "▸"}</span> {label}
      </div>
      {expanded && (
        <div class="tree-children">
          {node.children.map((child, i) => (
            <Tree key={i} node={child} open={open - 1} />
          ))}
        </div>
      )}
    </div>
  );
}

/** Re-renders with the store (at most once per frame) and returns the newest items of `type`. */
export function useResults(store: ResultStore, type: string, count: number): Item[] {
  const [, setVersion] = useState(0);
  useEffect(() => store.subscribe(() => setVersion(store.version)), [store]);
  return store.ofType(type, count);
}

export type Run = { busy: boolean; error: string; results: Result[] };

/** Runs commands with `exec` (outside the shared session, so they never wait for its foreground job). */
export function useExec(): [Run, (command: string) => Promise<Result[]>] {
  const [run, setRun] = useState<Run>({ busy: false, error: "", results: [] });
  const start = async (command: string) => {
    setRun((old) => ({ ...old, busy: true, error: "" }));
    try {
      const results = await execCommand(command);
      setRun({ busy: false, error: failureOf(results) ?? "", results });
      return results;
    } catch (error) {
      setRun({ busy: false, error: error instanceof Error ? error.message : String(error), results: [] });
      return [];
    }
  };
  return [run, start];
}

export function ErrorLine({ text }: { text: string }) {
  return text ? <div class="error">{text}</div> : null;
}

export function Messages({ results }: { results: Result[] }) {
  const lines = results.filter((r) => r.type === "message").map((r) => String(r.message));
  return lines.length ? (
    <div class="messages">
      {lines.map((line, i) => (
        <div key={i}>{line}</div>
      ))}
    </div>
  ) : null;
}

export function Table({ head, rows }: { head: string[]; rows: ComponentChildren[][] }) {
  return (
    <table>
      <thead>
        <tr>
          {head.map((h) => (
            <th key={h}>{h}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((row, i) => (
          <tr key={i}>
            {row.map((cell, j) => (
              <td key={j}>{cell}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function ofType(results: Result[], type: string): Result[] {
  return results.filter((r) => r.type === type);
}
