// Rendering: JSON for scripts, tables and key-value blocks for people. Results go to stdout;
// progress and diagnostics go to stderr so `--json` output stays parseable.
import Table from "cli-table3";

export interface Output {
  json: boolean;
  /** stderr is an interactive terminal: updating lines and progress bars are allowed. */
  interactive: boolean;
  out(text: string): void;
  err(text: string): void;
}

export function createOutput(json: boolean, plain: boolean): Output {
  return {
    json,
    interactive: Boolean(process.stderr.isTTY) && !plain,
    out: (text) => void process.stdout.write(text.endsWith("\n") ? text : `${text}\n`),
    err: (text) => void process.stderr.write(text.endsWith("\n") ? text : `${text}\n`),
  };
}

export function printJson(output: Output, value: unknown): void {
  output.out(JSON.stringify(value, null, 2));
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

export function humanBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return "-";
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${UNITS[unit]}`;
}

export function humanDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, "0")}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h${String(minutes % 60).padStart(2, "0")}m`;
  return `${Math.floor(hours / 24)}d`;
}

/** "2026-11-26 08:20:01 UTC (3m ago)"; "-" for null. */
export function humanTime(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "-";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const stamp = `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
  const delta = now - date.getTime();
  if (Math.abs(delta) < 1000) return `${stamp} (just now)`;
  return delta >= 0 ? `${stamp} (${humanDuration(delta)} ago)` : `${stamp} (in ${humanDuration(-delta)})`;
}

/** Short form for table cells: "2026-11-26 08:20 UTC". */
export function shortTime(iso: string | null | undefined): string {
  if (!iso) return "-";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

export function printTable(output: Output, head: string[], rows: Array<Array<string | number>>): void {
  const table = new Table({ head, style: { head: [], border: [] } });
  table.push(...rows.map((row) => row.map(String)));
  output.out(table.toString());
}

export function printKeyValue(output: Output, entries: Array<[string, string | number | boolean | null | undefined]>): void {
  const width = Math.max(...entries.map(([key]) => key.length));
  output.out(entries.map(([key, value]) => `${`${key}:`.padEnd(width + 2)}${value === null || value === undefined ? "-" : String(value)}`).join("\n"));
}

/** The last `lines` lines of a captured stream, indented for display under a heading. */
export function tail(text: string | null | undefined, lines = 20): string | undefined {
  if (!text || text.trim() === "") return undefined;
  return text
    .trimEnd()
    .split("\n")
    .slice(-lines)
    .map((line) => `  ${line}`)
    .join("\n");
}
