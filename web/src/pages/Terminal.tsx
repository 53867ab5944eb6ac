// The agent's shell over /ws, spoken as Arthas's web console speaks it: text frames
// {"action":"read","data":keys} and {"action":"resize","cols":C,"rows":R}; the server sends terminal output.
import { useEffect, useRef, useState } from "preact/hooks";
import { Terminal } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import "@xterm/xterm/css/xterm.css";
import { getCredentials } from "../api";

export function shellUrl(location: Location): string {
  const url = new URL("ws", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  url.search = "";
  const credentials = getCredentials();
  if (credentials) {
    // a browser cannot put headers on a WebSocket: Arthas's console passes them on the URL too
    url.searchParams.set("username", credentials.username);
    url.searchParams.set("password", credentials.password);
  }
  return url.toString();
}

export function TerminalPage({ visible }: { visible: boolean }) {
  const box = useRef<HTMLDivElement>(null);
  const fit = useRef<FitAddon | null>(null);
  const [state, setState] = useState("connecting");

  useEffect(() => {
    const term = new Terminal({ convertEol: false, fontSize: 13, scrollback: 2000, cursorBlink: true });
    const fitAddon = new FitAddon();
    fit.current = fitAddon;
    term.loadAddon(fitAddon);
    term.open(box.current!);
    const socket = new WebSocket(shellUrl(location));
    const send = (message: object) => socket.readyState === WebSocket.OPEN && socket.send(JSON.stringify(message));
    const resize = () => {
      try {
        fitAddon.fit();
      } catch {
        return; // not laid out yet
      }
      send({ action: "resize", cols: term.cols, rows: term.rows });
    };
    socket.onopen = () => {
      setState("connected");
      resize();
      term.focus();
    };
    socket.onmessage = (event) => term.write(typeof event.data === "string" ? event.data : new Uint8Array(event.data));
    socket.onclose = () => {
      setState("closed");
      term.write("\r\n[connection closed]\r\n");
    };
    const typed = term.onData((data) => send({ action: "read", data }));
    const observer = new ResizeObserver(resize);
    observer.observe(box.current!);
    return () => {
      observer.disconnect();
      typed.dispose();
      socket.close();
      term.dispose();
    };
  }, []);

  useEffect(() => {
    if (visible) requestAnimationFrame(() => fit.current && safeFit(fit.current));
  }, [visible]);

  return (
    <section class="page terminal-page">
      <div class="toolbar">
        <span>
          Agent shell: <b data-state={state}>{state}</b>
        </span>
      </div>
      <div class="terminal" ref={box} />
    </section>
  );
}

function safeFit(addon: FitAddon): void {
  try {
    addon.fit();
  } catch {
    /* hidden */
  }
}
