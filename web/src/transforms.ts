// Pure data transforms from the agent's JSON results to what the views draw (unit-tested with Vitest).
import type { Result } from "./api";

// ---- values as a tree (watch, ognl, vmtool, tt) ----

export type TreeNode = { key: string; summary: string; children: TreeNode[] | null };

const TYPE_KEY = "@type";

/** A JSON value as a tree: objects and arrays have children; `@type` names an object's Python type. */
export function valueTree(value: unknown, key = ""): TreeNode {
  if (Array.isArray(value)) {
    return { key, summary: "list[" + value.length + "]", children: value.map((item, i) => valueTree(item, String(i))) };
  }
  if (value !== null && typeof value === "object") {
    const record = value as Record<string, unknown>;
    const type = typeof record[TYPE_KEY] === "string" ? (record[TYPE_KEY] as string) : "";
    if (type && "@value" in record && Object.keys(record).length === 2) {
      return { key, summary: type + " " + scalarText(record["@value"]), children: null };
    }
    const entries = Object.entries(record).filter(([name]) => name !== TYPE_KEY);
    return {
      key,
      summary: type ? type + " {" + entries.length + "}" : "{" + entries.length + "}",
      children: entries.map(([name, item]) => valueTree(item, name)),
    };
  }
  return { key, summary: scalarText(value), children: null };
}

export function scalarText(value: unknown): string {
  if (value === null || value === undefined) return "None";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "boolean") return value ? "True" : "False";
  return String(value);
}

/** Watch's usual `{params, returnObj, throwExp}` value, with the parts named. */
export function watchTree(value: unknown): TreeNode {
  if (Array.isArray(value) && value.length === 3) {
    const names = ["params", "returnObj", "throwExp"];
    return { key: "", summary: "value", children: value.map((item, i) => valueTree(item, names[i])) };
  }
  return valueTree(value);
}

// ---- trace ----

export type TraceNode = {
  label: string;
  costMs: number;
  share: number; // of the root call's cost, 0..1
  times: number;
  mark: string;
  threw: boolean;
  children: TraceNode[];
};

type RawTraceNode = {
  type?: string;
  className?: string;
  methodName?: string;
  lineNumber?: number;
  cost?: number;
  totalCost?: number;
  times?: number;
  mark?: string;
  throw?: boolean;
  threadName?: string;
  children?: RawTraceNode[];
};

/** The call tree of one trace result; costs arrive in nanoseconds. */
export function traceTree(root: RawTraceNode): TraceNode {
  const top = (root.children ?? [])[0];
  const total = Math.max(1, (top && (top.totalCost ?? top.cost)) || 1);
  const convert = (node: RawTraceNode): TraceNode => {
    const cost = node.totalCost ?? node.cost ?? 0;
    const line = node.lineNumber && node.lineNumber > 0 ? " #" + node.lineNumber : "";
    return {
      label: node.type === "thread" ? "thread " + (node.threadName ?? "") : node.className + "." + node.methodName + line,
      costMs: cost / 1e6,
      share: Math.min(1, cost / total),
      times: node.times ?? 1,
      mark: node.mark ?? "",
      threw: !!node.throw,
      children: (node.children ?? []).map(convert),
    };
  };
  const tree = convert(root);
  if (root.type === "thread") tree.share = 1;
  return tree;
}

// ---- bounded time series (dashboard, monitor) ----

export type Series = { times: number[]; columns: Record<string, number[]> };

export function emptySeries(names: string[]): Series {
  return { times: [], columns: Object.fromEntries(names.map((name) => [name, [] as number[]])) };
}

/** Appends one point (seconds, values by column), keeping at most `max` points. */
export function appendPoint(series: Series, time: number, values: Record<string, number>, max: number): Series {
  const cut = Math.max(0, series.times.length + 1 - max);
  const columns: Record<string, number[]> = {};
  for (const name of Object.keys(series.columns)) {
    columns[name] = series.columns[name].slice(cut).concat([values[name] ?? NaN]);
  }
  return { times: series.times.slice(cut).concat([time]), columns };
}

type MemoryRow = { name: string; used: number };

/** CPU % (sum over threads) and memory (MiB) of one dashboard result. */
export function dashboardPoint(result: Result): { time: number; values: Record<string, number> } {
  const threads = (result.threads as { cpu?: number }[] | undefined) ?? [];
  const memory = (result.memoryInfo as Record<string, MemoryRow[]> | undefined) ?? {};
  const used = (kind: string) => (memory[kind] ?? []).reduce((sum, row) => sum + (row.used > 0 ? row.used : 0), 0);
  const runtime = (result.runtimeInfo as { timestamp?: number } | undefined) ?? {};
  return {
    time: (runtime.timestamp ?? Date.now()) / 1000,
    values: {
      cpu: threads.reduce((sum, t) => sum + (t.cpu ?? 0), 0),
      heap: used("heap") / 1048576,
      nonheap: used("nonheap") / 1048576,
    },
  };
}

export type MonitorRow = {
  key: string;
  timestamp: number;
  total: number;
  success: number;
  failed: number;
  avgMs: number;
  failRate: number;
};

export function monitorRows(result: Result): MonitorRow[] {
  const list = (result.monitorDataList as Record<string, number | string>[] | undefined) ?? [];
  return list.map((row) => {
    const total = Number(row.total) || 0;
    return {
      key: row.className + "." + row.methodName,
      timestamp: Number(row.timestamp) || Date.now(),
      total,
      success: Number(row.success) || 0,
      failed: Number(row.failed) || 0,
      avgMs: total ? Number(row.cost) / total : 0,
      failRate: total ? (Number(row.failed) || 0) / total : 0,
    };
  });
}

// ---- tt ----

export type TtRow = {
  index: number;
  timestamp: number;
  costMs: number;
  outcome: "return" | "throw";
  method: string;
  params: unknown[];
  returnObj: unknown;
  throwExp: unknown;
};

/** The records of tt results, one row per index (a later result for an index replaces an earlier one). */
export function ttRows(results: Result[]): TtRow[] {
  const rows = new Map<number, TtRow>();
  for (const result of results) {
    for (const raw of (result.timeFragmentList as Record<string, unknown>[] | undefined) ?? []) {
      const params = ((raw.params as { object?: unknown }[] | undefined) ?? []).map((p) =>
        p && typeof p === "object" && "object" in p ? p.object : p,
      );
      rows.set(Number(raw.index), {
        index: Number(raw.index),
        timestamp: Number(raw.timestamp),
        costMs: Number(raw.cost),
        outcome: raw.throw ? "throw" : "return",
        method: raw.className + "." + raw.methodName,
        params,
        returnObj: raw.returnObj,
        throwExp: raw.throwExp,
      });
    }
  }
  return [...rows.values()].sort((a, b) => a.index - b.index);
}

// ---- source highlighting (jad) ----

export type Token = { kind: "keyword" | "string" | "comment" | "number" | "name" | "text"; text: string };

const KEYWORDS = new Set(
  ("False None True and as assert async await break class continue def del elif else except finally for from " +
    "global if import in is lambda nonlocal not or pass raise return try while with yield match case").split(" "),
);
const TOKEN = /(#[^\n]*)|("""[\s\S]*?"""|'''[\s\S]*?'''|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')|(\b\d[\d_]*(?:\.\d+)?\b)|([A-Za-z_]\w*)/g;

/** Python source as lines of tokens; strings spanning lines are split at the line ends. */
export function highlightPython(source: string): Token[][] {
  const flat: Token[] = [];
  let at = 0;
  for (const match of source.matchAll(TOKEN)) {
    if (match.index! > at) flat.push({ kind: "text", text: source.slice(at, match.index) });
    const [text, comment, string, number, name] = match;
    const kind = comment ? "comment" : string ? "string" : number ? "number" : KEYWORDS.has(name) ? "keyword" : "name";
    flat.push({ kind, text });
    at = match.index! + text.length;
  }
  if (at < source.length) flat.push({ kind: "text", text: source.slice(at) });
  const lines: Token[][] = [[]];
  for (const token of flat) {
    token.text.split("\n").forEach((part, i) => {
      if (i > 0) lines.push([]);
      if (part) lines[lines.length - 1].push({ kind: token.kind, text: part });
    });
  }
  if (lines.length > 1 && lines[lines.length - 1].length === 0) lines.pop();
  return lines;
}

// ---- profiler ----

/** The `/arthas-output/...` address a profiler result names, relative to the page. */
export function profilerOutputUrl(result: Result): string | null {
  const text = String(result.executeResult ?? "");
  const match = /profiler output url: (\/arthas-output\/\S+)/.exec(text);
  if (match) return match[1].slice(1);
  const file = String(result.outputFile ?? "");
  const name = file.split("/").pop();
  return name ? "arthas-output/" + encodeURIComponent(name) : null;
}

// ---- formatting ----

export function formatBytes(bytes: number): string {
  if (!(bytes >= 0)) return "-";
  const units = ["B", "KiB", "MiB", "GiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return (unit === 0 ? String(value) : value.toFixed(1)) + " " + units[unit];
}

export function formatMs(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) + " ms" : ms >= 1 ? ms.toFixed(2) + " ms" : ms.toFixed(3) + " ms";
}

/** The `session=` of a page address, or null. */
export function sessionFromUrl(href: string): string | null {
  return new URL(href).searchParams.get("session");
}

/** The page address with `session=` set (the share link). */
export function urlWithSession(href: string, sessionId: string): string {
  const url = new URL(href);
  url.searchParams.set("session", sessionId);
  return url.toString();
}

// ---- the watch / trace / stack / monitor / tt form ----

export type StreamKind = "watch" | "trace" | "stack" | "monitor" | "tt";
export type StreamForm = {
  kind: StreamKind;
  classPattern: string;
  methodPattern: string;
  expression: string;
  condition: string;
  count: string; // -n
  expand: string; // -x
  cycle: string; // monitor -c
  flags: string[]; // watch -b -e -s -f
  extra: string; // more options, as typed
  background?: boolean; // "&": a background job, so the session stays free for other commands
};

const QUOTE_NEEDED = /[\s'"\\$`#{}[\]()|&;<>*?]/;

function word(text: string): string {
  if (!QUOTE_NEEDED.test(text)) return text;
  if (!text.includes("'")) return "'" + text + "'";
  return '"' + text.replace(/(["\\$`])/g, "\\$1") + '"';
}

/** The command line a form stands for; patterns and expressions are quoted as single words. */
export function buildCommand(form: StreamForm): string {
  const parts: string[] = [form.kind];
  if (form.kind === "tt") parts.push("-t");
  if (form.kind === "watch") parts.push(...form.flags.filter((f) => ["-b", "-e", "-s", "-f"].includes(f)));
  if ((form.kind === "watch" || form.kind === "tt") && form.expand.trim()) parts.push("-x", word(form.expand.trim()));
  if (form.kind === "monitor" && form.cycle.trim()) parts.push("-c", word(form.cycle.trim()));
  if (form.count.trim()) parts.push("-n", word(form.count.trim()));
  if (form.extra.trim()) parts.push(form.extra.trim());
  parts.push(word(form.classPattern.trim() || "*"), word(form.methodPattern.trim() || "*"));
  if (form.kind === "watch") parts.push(word(form.expression.trim() || "{params, returnObj, throwExp}"));
  if (form.condition.trim()) parts.push(word(form.condition.trim()));
  if (form.background) parts.push("&");
  return parts.join(" ");
}
