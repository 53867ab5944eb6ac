// A live line chart on uPlot: created once, then fed new data without re-creating it.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { Series } from "../transforms";

const COLORS = ["#e8803a", "#3a8ee8", "#46b35a", "#c94fc9"];

export function Chart({ title, series, labels }: { title: string; series: Series; labels: Record<string, string> }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const names = Object.keys(series.columns);

  useEffect(() => {
    const width = Math.max(300, (box.current!.clientWidth || 600) - 10);
    plot.current = new uPlot(
      {
        title,
        width,
        height: 200,
        series: [{}, ...names.map((name, i) => ({ label: labels[name] ?? name, stroke: COLORS[i % COLORS.length] }))],
        axes: [{}, { size: 60 }],
      },
      toData(series),
      box.current!,
    );
    return () => plot.current?.destroy();
  }, []);

  useEffect(() => {
    plot.current?.setData(toData(series));
  }, [series]);

  return <div class="chart" ref={box} data-points={series.times.length} />;
}

function toData(series: Series): uPlot.AlignedData {
  return [series.times, ...Object.values(series.columns)];
}
