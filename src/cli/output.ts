// output.ts — rendering for humans (aligned tables, one-line summaries) and for scripts (JSON only).

/** OutputFormat is `table` (for people) or `json` (for scripts: stdout holds JSON and nothing else). */
export type OutputFormat = 'table' | 'json';

/** renderTable aligns rows under headers with two spaces between columns; cells are made single-line. */
export function renderTable(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const clean = (cell: string): string => cell.replace(/[\r\n\t]+/g, ' ');
  const all = [headers.map(clean), ...rows.map((row) => headers.map((_, i) => clean(row[i] ?? '')))];
  const widths = headers.map((_, i) => Math.max(...all.map((row) => (row[i] ?? '').length)));
  return all.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd()).join('\n') + '\n';
}

/** shortHash keeps the first 12 hex digits of a hash for a table (JSON output keeps all of it). */
export function shortHash(hash: unknown): string {
  return typeof hash === 'string' && hash.length > 12 ? hash.slice(0, 12) : String(hash ?? '');
}

/** cell renders any JSON value for a table cell. */
export function cell(value: unknown): string {
  if (value === undefined || value === null) return '-';
  if (Array.isArray(value)) return value.map(cell).join(',');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** toJson renders a value as JSON with a trailing newline (Uint8Array as hex, never base64 of secrets). */
export function toJson(value: unknown): string {
  return `${JSON.stringify(value, (_key, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v), 2)}\n`;
}
