// The page's link to one Arthas session: init or join it, long-poll its results, recover when the agent
// restarts. Results go into a bounded store by type; views redraw at most once per animation frame.
import { callApi, LoginRequired, Reply, Result, Unreachable } from "./api";
import { Ring } from "./ring";
import { sessionFromUrl, urlWithSession } from "./transforms";

export type Item = { seq: number; result: Result; received: number };
export type LinkState = {
  status: "connecting" | "connected" | "reconnecting" | "login";
  sessionId: string;
  notice: string;
};

const PER_TYPE = 500; // results kept for each type: a fast watch never grows the tab past this
const RETRY_MS = 1000;

export class ResultStore {
  private rings = new Map<string, Ring<Item>>();
  private listeners = new Set<() => void>();
  private seq = 0;
  private scheduled = false;
  version = 0;

  add(results: Result[]): void {
    const received = Date.now();
    for (const result of results) {
      const type = String(result.type);
      let ring = this.rings.get(type);
      if (!ring) this.rings.set(type, (ring = new Ring<Item>(PER_TYPE)));
      ring.push({ seq: ++this.seq, result, received });
    }
    if (results.length) this.schedule();
  }

  ofType(type: string, count = PER_TYPE): Item[] {
    return this.rings.get(type)?.last(count) ?? [];
  }

  dropped(type: string): number {
    return this.rings.get(type)?.droppedCount ?? 0;
  }

  clear(type: string): void {
    this.rings.get(type)?.clear();
    this.schedule();
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const flush = () => {
      this.scheduled = false;
      this.version += 1;
      this.listeners.forEach((listener) => listener());
    };
    // a hidden tab gets no animation frames: fall back to a timer so the store still settles
    if (document.hidden) setTimeout(flush, 250);
    else requestAnimationFrame(flush);
  }
}

export class SessionLink {
  readonly store = new ResultStore();
  state: LinkState = { status: "connecting", sessionId: "", notice: "" };
  private consumerId = "";
  private listeners = new Set<(state: LinkState) => void>();
  private running = false;
  private abort: AbortController | null = null;

  onState(listener: (state: LinkState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private set(update: Partial<LinkState>): void {
    this.state = { ...this.state, ...update };
    this.listeners.forEach((listener) => listener(this.state));
  }

  /** Joins the session the address names, or starts a new one; then pulls until stopped. */
  start(): void {
    if (this.running) return;
    this.running = true;
    void this.loop();
  }

  stop(): void {
    this.running = false;
    this.abort?.abort();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      try {
        if (!this.consumerId) await this.connect();
        await this.pull();
      } catch (error) {
        if (!this.running) return;
        if (error instanceof LoginRequired) {
          this.set({ status: "login", notice: "The agent asks for a password." });
          this.running = false;
          return;
        }
        this.consumerId = "";
        this.set({ status: "reconnecting", notice: "The agent does not answer (" + describe(error) + "); retrying..." });
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
    }
  }

  private async connect(): Promise<void> {
    const wanted = this.state.sessionId || sessionFromUrl(location.href);
    const wasReconnecting = this.state.status === "reconnecting";
    if (wanted) {
      const joined = await callApi({ action: "join_session", sessionId: wanted });
      if (joined.state === "SUCCEEDED") {
        this.adopt(joined, wasReconnecting ? "Reconnected to session " + wanted + "." : "");
        return;
      }
    }
    const created = await callApi({ action: "init_session" });
    if (created.state !== "SUCCEEDED") throw new Unreachable(created.message || created.state);
    const notice = wanted
      ? "Session " + wanted + " no longer exists (the agent restarted or the session expired): this page started a new one."
      : "";
    this.adopt(created, notice);
  }

  private adopt(reply: Reply, notice: string): void {
    this.consumerId = String(reply.consumerId);
    const sessionId = String(reply.sessionId);
    history.replaceState(null, "", urlWithSession(location.href, sessionId));
    this.set({ status: "connected", sessionId, notice });
  }

  private async pull(): Promise<void> {
    this.abort = new AbortController();
    const reply = await callApi(
      { action: "pull_results", sessionId: this.state.sessionId, consumerId: this.consumerId },
      this.abort.signal,
    );
    if (reply.state !== "SUCCEEDED") {
      this.consumerId = ""; // the consumer or session expired: join again (or start anew)
      return;
    }
    this.store.add(reply.body?.results ?? []);
  }

  /** Starts a command in the session; the results arrive through the pull loop to every consumer. */
  async run(command: string): Promise<Reply> {
    return callApi({ action: "async_exec", sessionId: this.state.sessionId, command });
  }

  async interrupt(): Promise<Reply> {
    return callApi({ action: "interrupt_job", sessionId: this.state.sessionId });
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
