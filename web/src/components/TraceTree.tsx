// A trace result as a collapsible call tree; each call has a bar for its share of the root call's cost.
import { useState } from "preact/hooks";
import { formatMs, TraceNode } from "../transforms";

export function TraceTree({ node, depth = 0 }: { node: TraceNode; depth?: number }) {
  const [open, setOpen] = useState(true);
  const hasChildren = node.children.length > 0;
  return (
    <div class="trace-node">
      <div class={"trace-row" + (node.threw ? " threw" : "")} onClick={() => hasChildren && setOpen(!open)}>
        <span class="caret">{hasChildren ? (open ? "▾" : "▸") : " "}</span>
        <span class="cost-bar">
          <span style={{ width: (node.share * 100).toFixed(1) + "%" }} />
        </span>
        <span class="cost">{depth === 0 ? "" : "[" + (node.share * 100).toFixed(1) + "% " + formatMs(node.costMs) + "]"}</span>{" "}
        <span class="label">{node.label}</span>
        {node.times > 1 && <span class="small"> x{node.times}</span>}
        {node.mark && <span class="mark"> {node.mark}</span>}
      </div>
      {open && hasChildren && (
        <div class="trace-children">
          {node.children.map((child, i) => (
            <TraceTree key={i} node={child} depth={depth + 1} />
          ))}
        </div>
      )}
    </div>
  );
}
