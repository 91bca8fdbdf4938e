// format.ts — how times and values read on the page.

/** when writes a time as UTC "HH:MM:SS" with the date when it is not today. */
export function when(ms: number): string {
  if (ms <= 0) return '—';
  const iso = new Date(ms).toISOString();
  const today = new Date().toISOString().slice(0, 10);
  return iso.slice(0, 10) === today ? `${iso.slice(11, 19)} UTC` : `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}

/** ago writes how long before `nowMs` a time was ("12 s ago"). */
export function ago(ms: number, nowMs: number): string {
  if (ms <= 0) return '';
  const s = Math.max(0, Math.round((nowMs - ms) / 1000));
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

/** value writes a reading. */
export function value(v: number | boolean | string): string {
  return typeof v === 'number' ? String(Math.round(v * 100) / 100) : String(v);
}
