// A client of the agent's Arthas HTTP API (POST /api). Credentials, once the user gives them, travel in
// an Authorization header, never in the URL (the WebSocket terminal is the one exception, as in Arthas).

export type Result = { type: string; jobId?: number; [key: string]: unknown };
export type Reply = {
  state: string;
  message?: string;
  sessionId?: string;
  consumerId?: string;
  body?: { results?: Result[]; jobId?: number; jobStatus?: string; [key: string]: unknown };
};

export class LoginRequired extends Error {
  constructor() {
    super("the agent requires a password");
  }
}

export class Unreachable extends Error {}

export type Credentials = { username: string; password: string };

const CREDENTIALS_KEY = "pyarthas.credentials";

let credentials: Credentials | null = loadCredentials();

function loadCredentials(): Credentials | null {
  try {
    const saved = sessionStorage.getItem(CREDENTIALS_KEY);
    return saved ? (JSON.parse(saved) as Credentials) : null;
  } catch {
    return null;
  }
}

export function setCredentials(given: Credentials | null): void {
  credentials = given;
  try {
    if (given) sessionStorage.setItem(CREDENTIALS_KEY, JSON.stringify(given));
    else sessionStorage.removeItem(CREDENTIALS_KEY);
  } catch {
    /* storage may be disabled: the credentials then last as long as the page */
  }
}

export function getCredentials(): Credentials | null {
  return credentials;
}

export async function callApi(body: Record<string, unknown>, signal?: AbortSignal): Promise<Reply> {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (credentials) headers.Authorization = "Basic " + btoa(credentials.username + ":" + credentials.password);
  let response: Response;
  try {
    // the seed dialect, which this console draws, whatever the agent's wire-format option says, and the
    // lines Arthas writes only to its terminal (the -n limit reached), which this console shows as notes
    const sent = JSON.stringify({ wireFormat: "seed", terminalMessages: true, ...body });
    response = await fetch("api", { method: "POST", headers, body: sent, signal });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new Unreachable(String(error));
  }
  if (response.status === 401) throw new LoginRequired();
  if (!response.ok) throw new Unreachable("HTTP " + response.status);
  return (await response.json()) as Reply;
}

/** Runs one command outside any session (`exec`) and returns its results, or throws its failure text. */
export async function execCommand(command: string, execTimeout = 30000): Promise<Result[]> {
  const reply = await callApi({ action: "exec", command, execTimeout });
  if (reply.state !== "SUCCEEDED") throw new Error(reply.message || reply.state);
  return reply.body?.results ?? [];
}

/** The first non-zero status message of a command's results, if it failed. */
export function failureOf(results: Result[]): string | null {
  const status = results.find((r) => r.type === "status");
  if (status && status.statusCode !== 0) return String(status.message ?? "failed (" + status.statusCode + ")");
  return null;
}

/** Quotes one word for the agent's shell-like tokenizer. */
export function quote(text: string): string {
  if (!text.includes("'")) return "'" + text + "'";
  return '"' + text.replace(/(["\\$`])/g, "\\$1") + '"';
}
