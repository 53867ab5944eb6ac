// The web console: a tab per page, the shared session in the header, a login prompt when asked for one.
import { useEffect, useMemo, useState } from "preact/hooks";
import { setCredentials } from "./api";
import { SessionLink, LinkState } from "./session";
import { urlWithSession, StreamKind } from "./transforms";
import { TerminalPage } from "./pages/Terminal";
import { DashboardPage } from "./pages/Dashboard";
import { ThreadsPage } from "./pages/Threads";
import { ClassesPage } from "./pages/Classes";
import { StreamPage } from "./pages/Stream";
import { InspectPage } from "./pages/Inspect";
import { ProfilerPage } from "./pages/Profiler";
import { SettingsPage } from "./pages/Settings";

const TABS = ["terminal", "dashboard", "threads", "classes", "watch", "inspect", "profiler", "settings"] as const;
type Tab = (typeof TABS)[number];
const TITLES: Record<Tab, string> = {
  terminal: "Terminal",
  dashboard: "Dashboard",
  threads: "Threads",
  classes: "Classes",
  watch: "Watch / trace / monitor",
  inspect: "ognl & memory",
  profiler: "Profiler",
  settings: "Settings",
};

function tabFromHash(): Tab {
  const wanted = location.hash.replace("#", "").split("/")[0];
  return (TABS as readonly string[]).includes(wanted) ? (wanted as Tab) : "dashboard";
}

function kindFromHash(): StreamKind {
  const kind = location.hash.split("/")[1];
  return (["watch", "trace", "stack", "monitor", "tt"].includes(kind) ? kind : "watch") as StreamKind;
}

export function App() {
  const link = useMemo(() => new SessionLink(), []);
  const [state, setState] = useState<LinkState>(link.state);
  const [tab, setTab] = useState<Tab>(tabFromHash());
  const [kind, setKind] = useState<StreamKind>(kindFromHash());
  const [visited, setVisited] = useState<Set<Tab>>(new Set([tabFromHash()]));
  const [copied, setCopied] = useState("");

  useEffect(() => {
    const off = link.onState(setState);
    link.start();
    const onHash = () => {
      setTab(tabFromHash());
      setKind(kindFromHash());
    };
    window.addEventListener("hashchange", onHash);
    return () => {
      off();
      link.stop();
      window.removeEventListener("hashchange", onHash);
    };
  }, [link]);

  const open = (next: Tab, nextKind = kind) => {
    setVisited(new Set([...visited, next]));
    history.replaceState(null, "", "#" + next + (next === "watch" ? "/" + nextKind : ""));
    setTab(next);
    setKind(nextKind);
  };

  const share = async () => {
    const url = urlWithSession(location.href, state.sessionId);
    try {
      await navigator.clipboard.writeText(url);
      setCopied("Link copied: " + url);
    } catch {
      setCopied("Share this link: " + url); // clipboard refused (no permission): show it instead
    }
  };

  if (state.status === "login") return <Login onLogin={() => link.start()} />;
  return (
    <div class="app">
      <header>
        <b class="brand">pyarthas</b>
        <nav>
          {TABS.map((t) => (
            <button key={t} class={t === tab ? "active" : ""} data-tab={t} onClick={() => open(t)}>
              {TITLES[t]}
            </button>
          ))}
        </nav>
        <span class="session" data-status={state.status}>
          session <code id="session-id">{state.sessionId || "..."}</code> {state.status}
        </span>
        <button id="share" onClick={share} disabled={!state.sessionId}>
          Share
        </button>
      </header>
      {state.notice && <div class="banner">{state.notice}</div>}
      {copied && <div class="banner share-link">{copied}</div>}
      <main>
        {TABS.filter((t) => visited.has(t) || t === tab).map((t) => (
          <div key={t} class="tab" data-page={t} style={{ display: t === tab ? "block" : "none" }}>
            {t === "terminal" && <TerminalPage visible={tab === "terminal"} />}
            {t === "dashboard" && <DashboardPage visible={tab === "dashboard"} />}
            {t === "threads" && <ThreadsPage />}
            {t === "classes" && <ClassesPage />}
            {t === "watch" && <StreamPage link={link} kind={kind} setKind={(k) => open("watch", k)} />}
            {t === "inspect" && <InspectPage />}
            {t === "profiler" && <ProfilerPage />}
            {t === "settings" && <SettingsPage sessionId={state.sessionId} />}
          </div>
        ))}
      </main>
    </div>
  );
}

function Login({ onLogin }: { onLogin: () => void }) {
  const [username, setUsername] = useState("arthas");
  const [password, setPassword] = useState("");
  return (
    <form
      class="login"
      onSubmit={(e) => {
        e.preventDefault();
        setCredentials({ username, password });
        onLogin();
      }}
    >
      <h2>pyarthas: the agent asks for a password</h2>
      <label>
        user <input name="username" value={username} onInput={(e) => setUsername((e.target as HTMLInputElement).value)} />
      </label>
      <label>
        password{" "}
        <input name="password" type="password" autoFocus value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
      </label>
      <button type="submit">Log in</button>
    </form>
  );
}
