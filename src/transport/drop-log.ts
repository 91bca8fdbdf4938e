// drop-log.ts — aggregated, rate-limited logging of connections dropped before they authenticated.
//
// Anyone who reaches the Raft port can open connections that never authenticate. Logging each one
// (about 300 bytes) let 500 reconnecting idle sockets write 17.7 MB in 40 s (issue 15). Here each
// window (default 10 s) logs at most `maxDetailedPerWindow` drops in full (so the first failure of
// a misconfigured peer is still seen with its reason), then one summary line when the window ends:
// how many were dropped, by source address and by code (the busiest sources, bounded).

/** DropLogLogger is the part of a pino logger the drop log uses. */
export interface DropLogLogger {
  warn(fields: Record<string, unknown>, message: string): void;
}

/** DropLogInit configures a DropLog; every field has a default. */
export interface DropLogInit {
  /** windowMs: how long drops are aggregated before a summary line (default 10 s). */
  readonly windowMs?: number;
  /** maxDetailedPerWindow: drops logged in full per window before aggregating (default 5). */
  readonly maxDetailedPerWindow?: number;
  /** maxSourcesPerWindow: source addresses counted one by one per window; the rest count as "other" (default 256). */
  readonly maxSourcesPerWindow?: number;
  /** maxSourcesInSummary: the busiest sources a summary names (default 10). */
  readonly maxSourcesInSummary?: number;
  /** nowMs: the clock (default Date.now). */
  readonly nowMs?: () => number;
}

const OTHER_SOURCES = 'other';

/** DropLog counts dropped unauthenticated connections and logs them aggregated and rate-limited. */
export class DropLog {
  private readonly windowMs: number;
  private readonly maxDetailed: number;
  private readonly maxSources: number;
  private readonly maxInSummary: number;
  private readonly nowMs: () => number;
  private windowStartMs = 0;
  private detailed = 0;
  private total = 0;
  private readonly bySource = new Map<string, number>();
  private readonly byCode = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly logger: DropLogLogger, init: DropLogInit = {}) {
    this.windowMs = init.windowMs ?? 10_000;
    this.maxDetailed = init.maxDetailedPerWindow ?? 5;
    this.maxSources = init.maxSourcesPerWindow ?? 256;
    this.maxInSummary = init.maxSourcesInSummary ?? 10;
    this.nowMs = init.nowMs ?? Date.now;
  }

  /** note records one dropped connection from `source` (an address, without port) with its code and reason. */
  note(source: string, code: string, fields: Record<string, unknown>, message: string): void {
    if (this.total === 0) this.openWindow();
    this.total += 1;
    const key = this.bySource.has(source) || this.bySource.size < this.maxSources ? source : OTHER_SOURCES;
    this.bySource.set(key, (this.bySource.get(key) ?? 0) + 1);
    this.byCode.set(code, (this.byCode.get(code) ?? 0) + 1);
    if (this.detailed < this.maxDetailed) {
      this.detailed += 1;
      this.logger.warn({ ...fields, source, code }, message);
    }
  }

  /** flush logs the summary of the current window now (if it dropped more than it logged in full) and ends it. */
  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.total > this.detailed) {
      const sources = [...this.bySource].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, this.maxInSummary);
      this.logger.warn({
        dropped: this.total, windowMs: this.nowMs() - this.windowStartMs, sources: Object.fromEntries(sources),
        distinctSources: this.bySource.size, codes: Object.fromEntries(this.byCode),
      }, `transport: dropped ${this.total} unauthenticated connections (${this.total - this.detailed} not logged one by one)`);
    }
    this.total = 0;
    this.detailed = 0;
    this.bySource.clear();
    this.byCode.clear();
  }

  private openWindow(): void {
    this.windowStartMs = this.nowMs();
    this.timer = setTimeout(() => this.flush(), this.windowMs);
    this.timer.unref();
  }
}
