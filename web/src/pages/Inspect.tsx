// ognl expressions, vmtool instances, memory (top types, tracemalloc and its diff), heapdump.
import { useState } from "preact/hooks";
import { quote, Result } from "../api";
import { ErrorLine, Messages, ofType, Table, Tree, useExec } from "../components/common";
import { formatBytes, profilerOutputUrl, valueTree } from "../transforms";

type Site = { fileName: string; lineNumber: number; size: number; count: number; sizeDiff?: number; countDiff?: number };

export function InspectPage() {
  const [expression, setExpression] = useState("__import__('sys').version_info");
  const [className, setClassName] = useState("demo.MathGame");
  const [ognl, execOgnl] = useExec();
  const [vmtool, execVmtool] = useExec();
  const [memory, execMemory] = useExec();

  const value = ofType(ognl.results, "ognl")[0];
  const instances = ofType(vmtool.results, "vmtool")[0];
  const memoryResult = ofType(memory.results, "memory")[0];
  const heapdump = ofType(memory.results, "heapdump")[0];
  return (
    <section class="page">
      <h3>ognl</h3>
      <form class="toolbar" onSubmit={(e) => (e.preventDefault(), execOgnl("ognl -x 3 " + quote(expression)))}>
        <input class="wide" name="expression" value={expression} onInput={(e) => setExpression((e.target as HTMLInputElement).value)} />
        <button type="submit">Evaluate</button>
      </form>
      <ErrorLine text={ognl.error} />
      {value && <Tree node={valueTree(value.value)} open={3} />}

      <h3>Instances (vmtool)</h3>
      <form
        class="toolbar"
        onSubmit={(e) => (e.preventDefault(), execVmtool("vmtool --action getInstances --limit 20 -x 2 --className " + quote(className)))}
      >
        <input class="wide" name="className" value={className} onInput={(e) => setClassName((e.target as HTMLInputElement).value)} />
        <button type="submit">Get instances</button>
      </form>
      <ErrorLine text={vmtool.error} />
      {instances && <Tree node={valueTree(instances.value)} open={2} />}

      <h3>Memory</h3>
      <div class="toolbar">
        <button onClick={() => execMemory("memory --top 20")}>Top types</button>
        <button onClick={() => execMemory("memory --top 20 --sort bytes")}>Top types by bytes</button>
        <button onClick={() => execMemory("memory --trace start")}>tracemalloc start</button>
        <button onClick={() => execMemory("memory --trace snapshot -n 20")}>snapshot and diff</button>
        <button onClick={() => execMemory("memory --trace stop")}>tracemalloc stop</button>
        <button onClick={() => execMemory("heapdump")}>heapdump</button>
      </div>
      <ErrorLine text={memory.error} />
      <Messages results={memory.results} />
      {heapdump && (
        <p>
          Heap dump: <a href={profilerOutputUrl({ type: "heapdump", outputFile: heapdump.dumpFile }) ?? "#"}>{String(heapdump.dumpFile)}</a>
        </p>
      )}
      {memoryResult && <MemoryView result={memoryResult} />}
    </section>
  );
}

function MemoryView({ result }: { result: Result }) {
  const process = (result.process as Record<string, number> | undefined) ?? {};
  const top = (result.topTypes as { className: string; count: number; bytes: number }[] | undefined) ?? [];
  const traceTop = (result.traceTop as Site[] | undefined) ?? [];
  const traceDiff = (result.traceDiff as Site[] | undefined) ?? [];
  const site = (s: Site) => s.fileName + ":" + s.lineNumber;
  return (
    <div>
      {Object.keys(process).length > 0 && (
        <Table head={["rss", "peak rss", "vms"]} rows={[[formatBytes(process.rss), formatBytes(process.rssPeak), formatBytes(process.vms)]]} />
      )}
      {top.length > 0 && (
        <Table head={["type", "objects", "bytes"]} rows={top.map((t) => [t.className, t.count, formatBytes(t.bytes)])} />
      )}
      {traceTop.length > 0 && (
        <Table head={["allocation site", "size", "blocks"]} rows={traceTop.map((s) => [site(s), formatBytes(s.size), s.count])} />
      )}
      {traceDiff.length > 0 && (
        <Table
          head={["allocation site", "size", "change", "blocks", "change"]}
          rows={traceDiff.map((s) => [site(s), formatBytes(s.size), signed(formatBytes(Math.abs(s.sizeDiff ?? 0)), s.sizeDiff ?? 0), s.count, s.countDiff ?? 0])}
        />
      )}
    </div>
  );
}

function signed(text: string, value: number): string {
  return (value < 0 ? "-" : "+") + text;
}
