// journal.ts — a simulator's memory of the commands it received: one JSON line per command appended to a
// file (reloaded at start), so a test can count how often each id was carried out, and a restarted
// simulator still recognises an id it carried out before (docs/devices.md: the id travels to the device).
import { appendFileSync, existsSync, readFileSync } from 'node:fs';

/** JournalEntry is one received command; `executed` is false for a repeat answered as a duplicate. */
export interface JournalEntry {
  device: string;
  id: number | null;
  command: string;
  args: Record<string, unknown>;
  executed: boolean;
  atMs: number;
}

/** MAX_REMEMBERED_IDS bounds the ids kept in memory per simulator process (a fleet shares one journal). */
const MAX_REMEMBERED_IDS = 100_000;

/** CommandJournal remembers executed ids in memory and appends every command to its file. */
export class CommandJournal {
  private readonly executed = new Set<string>();

  constructor(private readonly path: string | null) {
    if (path === null || !existsSync(path)) return;
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      const entry = JSON.parse(line) as JournalEntry;
      if (entry.executed && entry.id !== null) this.remember(entry.device, entry.id);
    }
  }

  /** seen says whether `device` has carried out command `id` before. */
  seen(device: string, id: number): boolean {
    return this.executed.has(`${device}/${id}`);
  }

  /** record appends a received command (synchronously: it is on disk before the device answers). */
  record(entry: Omit<JournalEntry, 'atMs'>): void {
    if (entry.executed && entry.id !== null) this.remember(entry.device, entry.id);
    if (this.path !== null) appendFileSync(this.path, `${JSON.stringify({ ...entry, atMs: Date.now() })}\n`);
  }

  private remember(device: string, id: number): void {
    if (this.executed.size >= MAX_REMEMBERED_IDS) this.executed.delete(this.executed.values().next().value ?? '');
    this.executed.add(`${device}/${id}`);
  }
}

/** readJournal reads a journal file's entries (for tests). */
export function readJournal(path: string): JournalEntry[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as JournalEntry);
}
