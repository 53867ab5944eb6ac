// A stack trace as lines, innermost first, in Arthas's "at module.function (file:line)" form.
export type Frame = { className?: string; methodName?: string; fileName?: string; lineNumber?: number; locals?: unknown };

export function frameText(frame: Frame): string {
  return "at " + frame.className + "." + frame.methodName + " (" + frame.fileName + ":" + frame.lineNumber + ")";
}

export function StackTrace({ frames }: { frames: Frame[] }) {
  return (
    <pre class="stack">
      {frames.map((frame, i) => (
        <div key={i}>
          {frameText(frame)}
          {frame.locals != null && <div class="locals">{JSON.stringify(frame.locals)}</div>}
        </div>
      ))}
    </pre>
  );
}
