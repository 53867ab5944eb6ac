// Classes and modules: search with sc / sm, then a function's or class's source (jad) with highlighting.
import { useState } from "preact/hooks";
import { quote, Result } from "../api";
import { ErrorLine, ofType, useExec } from "../components/common";
import { highlightPython } from "../transforms";

type MethodInfo = { declaringClass: string; methodName: string; descriptor: string; modifier: string; lineNumber: number };

export function ClassesPage() {
  const [pattern, setPattern] = useState("demo.*");
  const [list, execList] = useExec(); // sc: classes and modules
  const [members, execMembers] = useExec(); // sm: their functions
  const [source, execSource] = useExec();

  const classes = ofType(list.results, "sc").flatMap((r) => (r.classNames as string[]) ?? []);
  const methods = ofType(members.results, "sm").map((r) => r.methodInfo as MethodInfo);
  const jad = ofType(source.results, "jad")[0];
  return (
    <section class="page">
      <form class="toolbar" onSubmit={(e) => (e.preventDefault(), execList("sc " + quote(pattern)))}>
        <input class="wide" value={pattern} placeholder="class or module pattern, e.g. demo.*" onInput={(e) => setPattern((e.target as HTMLInputElement).value)} />
        <button type="submit">Search classes (sc)</button>
        <button type="button" onClick={() => execMembers("sm " + quote(pattern))}>
          Search methods (sm)
        </button>
      </form>
      <ErrorLine text={list.error || members.error} />
      <div class="columns">
        <div class="listing">
          <div class="classes">
          {classes.map((name) => (
            <div key={name} class="class-row">
              <a href="#" onClick={(e) => (e.preventDefault(), execMembers("sm " + quote(name)))}>
                {name}
              </a>{" "}
              <a href="#" class="small" onClick={(e) => (e.preventDefault(), execSource("jad " + quote(name)))}>
                source
              </a>
            </div>
          ))}
          </div>
          <div class="methods">
          {methods.map((m) => (
            <div key={m.declaringClass + m.methodName} class="method-row">
              <a href="#" onClick={(e) => (e.preventDefault(), execSource("jad " + quote(m.declaringClass) + " " + quote(m.methodName)))}>
                {m.declaringClass}.{m.methodName}
                {m.descriptor}
              </a>{" "}
              <span class="small">{m.modifier}</span>
            </div>
          ))}
          </div>
        </div>
        <div>
          <ErrorLine text={source.error} />
          {jad && <Source result={jad} />}
        </div>
      </div>
    </section>
  );
}

function Source({ result }: { result: Result }) {
  const start = Number(result.startLine) || 1;
  const lines = highlightPython(String(result.source ?? ""));
  return (
    <div class="source">
      <div class="small">{String(result.location ?? "")}</div>
      <pre>
        {lines.map((tokens, i) => (
          <div key={i} class="line">
            <span class="lineno">{start + i}</span>
            {tokens.map((token, j) => (
              <span key={j} class={"tok-" + token.kind}>
                {token.text}
              </span>
            ))}
          </div>
        ))}
      </pre>
    </div>
  );
}
