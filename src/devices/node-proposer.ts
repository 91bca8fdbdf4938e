// node-proposer.ts — every command a gateway signs with its own key (telemetry: readings, alerts,
// discoveries, deadline ticks; deviceCommandsDone) goes through one proposer, one at a time.
//
// Why one at a time: the state machine accepts a signer's command only if its sequence number exceeds the
// last one applied for that signer. Two of a node's commands in flight at once may commit in either order,
// and the later-signed one committing first makes the other stale for ever. So the proposer signs a command
// only when it is about to propose it, and proposes the next only when the previous one committed, was
// rejected, or expired. A command that could not be committed yet (no leader, a timeout) is proposed again
// with the same bytes, so it applies at most once (a repeat is answered `duplicate`).
//
// Commands that arrive already signed (the data plane's alert batches, signed when they were batched) go
// before any command still to be signed: their sequence number was taken earlier.
//
// Readings wait unsigned in a bounded buffer while the proposer is busy or the cluster has no leader:
// the oldest are dropped first and counted, so a long outage costs the oldest readings, never memory.
import { strict as assert } from 'node:assert';
import type { CheckedReading } from './reading-check.js';

/** DeviceAlert is an alert the node raises itself about a device it serves (e.g. device-unreachable). */
export interface DeviceAlert {
  deviceId: string;
  alertType: string;
  source: string;
}

/** BufferedEvent is a reading or an alert waiting for a telemetry batch. */
type BufferedEvent = ({ kind: 'reading' } & CheckedReading) | ({ kind: 'alert' } & DeviceAlert);

/** ProposeOutcome is what proposing one signed command gave. */
export type ProposeOutcome =
  | { kind: 'committed'; index: number; ok: boolean; code?: string; reason?: string }
  | { kind: 'retry'; reason: string }
  | { kind: 'fatal'; reason: string };

/** NodePayload is a command body's payload this proposer builds (the shapes of src/commands' Payload). */
export type NodePayload =
  | { kind: 'telemetry'; events: unknown[] }
  | { kind: 'deviceCommandsDone'; ids: number[]; failures: { id: number; reason: string; final: boolean }[] };

/** NodeProposerInit wires the proposer. */
export interface NodeProposerInit {
  /** sign builds and signs a command of the node's key for `domain` ('' = cluster-wide) with the next sequence number. */
  sign: (domain: string, payload: NodePayload) => Uint8Array;
  /** propose proposes signed bytes through Raft and says what became of them. */
  propose: (signed: Uint8Array) => Promise<ProposeOutcome>;
  /** domainOf names the domain of a device this node serves, or null (its readings are then dropped). */
  domainOf: (deviceId: string) => string | null;
  /** onCommitted reports each proposed command's result (for logs and counters). */
  onResult?: (what: string, outcome: ProposeOutcome) => void;
  maxBufferedReadings?: number;
  maxEventsPerBatch?: number;
  flushDelayMs?: number;
  /** giveUpAfterMs: how long one command is proposed again before it is dropped (its signature expires at 60 s). */
  giveUpAfterMs?: number;
  clock?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** NodeProposerStats are the proposer's counters (the node's /v1/status and metrics). */
export interface NodeProposerStats {
  queuedReadings: number;
  queuedCommands: number;
  submittedReadings: number;
  committedBatches: number;
  rejectedBatches: number;
  droppedReadings: Record<string, number>;
  retries: number;
  lastError: string | null;
}

interface QueuedCommand {
  what: string;
  domain: string;
  payload: NodePayload;
  done?: (outcome: ProposeOutcome) => void;
}

const DEFAULTS = { maxBufferedReadings: 50_000, maxEventsPerBatch: 512, flushDelayMs: 25, giveUpAfterMs: 45_000 };
/** MAX_QUEUED_COMMANDS bounds the non-reading commands waiting (alert batches, done reports, discoveries). */
const MAX_QUEUED_COMMANDS = 1024;

/** NodeProposer proposes the node's own signed commands, one at a time, in sequence order. */
export class NodeProposer {
  private readonly init: NodeProposerInit & typeof DEFAULTS;
  private readonly presigned: { what: string; signed: Uint8Array; done?: (outcome: ProposeOutcome) => void }[] = [];
  private readonly commands: QueuedCommand[] = [];
  /** readings[readingsHead..] wait for a batch; the head moves instead of shifting the array (a full buffer drops one per reading). */
  private readings: BufferedEvent[] = [];
  private readingsHead = 0;
  private wake: (() => void) | null = null;
  private filling = false;
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  private readonly stats: NodeProposerStats = {
    queuedReadings: 0, queuedCommands: 0, submittedReadings: 0, committedBatches: 0, rejectedBatches: 0,
    droppedReadings: {}, retries: 0, lastError: null,
  };

  constructor(init: NodeProposerInit) {
    this.init = { ...DEFAULTS, ...init };
    assert(this.init.maxBufferedReadings > 0 && this.init.maxEventsPerBatch > 0, 'proposer bounds are positive');
  }

  /** start runs the proposing loop until stop(). */
  start(): void {
    assert(!this.running, 'the proposer is started once');
    this.running = true;
    this.loop = this.run();
  }

  /** stop ends the loop after the command in flight settles; what is queued is dropped (readings are re-sampled). */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  /** addReadings queues checked readings; when the buffer is full the oldest are dropped and counted. */
  addReadings(readings: readonly CheckedReading[]): void {
    for (const reading of readings) this.readings.push({ kind: 'reading', ...reading });
    this.trimAndWake();
  }

  /**
   * addAlert queues a node-raised alert with the readings: it goes in the next telemetry batch of its
   * device's domain (thousands of devices going silent at once make a few batches, not thousands of commands
   * ahead of every reading).
   */
  addAlert(alert: DeviceAlert): void {
    this.readings.push({ kind: 'alert', ...alert });
    this.trimAndWake();
  }

  private queuedReadings(): number {
    return this.readings.length - this.readingsHead;
  }

  /** compactReadings drops the consumed prefix once it is half the array (amortized O(1) per reading). */
  private compactReadings(): void {
    if (this.readingsHead === this.readings.length) {
      this.readings = [];
      this.readingsHead = 0;
    } else if (this.readingsHead > 1024 && this.readingsHead * 2 > this.readings.length) {
      this.readings = this.readings.slice(this.readingsHead);
      this.readingsHead = 0;
    }
    assert(this.readingsHead <= this.readings.length, 'the head is within the buffer');
  }

  private trimAndWake(): void {
    const excess = this.queuedReadings() - this.init.maxBufferedReadings;
    if (excess > 0) {
      this.readingsHead += excess;
      this.countDrop('buffer_full', excess);
    }
    this.compactReadings();
    // While a batch fills up, only a full batch cuts its delay short.
    if (!this.filling || this.queuedReadings() >= this.init.maxEventsPerBatch) this.wake?.();
  }

  /** addCommand queues a command to sign when its turn comes; false when the queue is full. */
  addCommand(what: string, domain: string, payload: NodePayload, done?: (outcome: ProposeOutcome) => void): boolean {
    if (this.commands.length >= MAX_QUEUED_COMMANDS) return false;
    this.commands.push({ what, domain, payload, ...(done ? { done } : {}) });
    this.wake?.();
    return true;
  }

  /** addSigned queues bytes signed elsewhere with this node's key and sequence source; they go first. */
  addSigned(what: string, signed: Uint8Array): Promise<ProposeOutcome> {
    return new Promise((resolve) => {
      if (this.presigned.length >= MAX_QUEUED_COMMANDS) {
        resolve({ kind: 'fatal', reason: 'the node proposer queue is full' });
        return;
      }
      this.presigned.push({ what, signed, done: resolve });
      this.wake?.();
    });
  }

  /** countDrop counts readings refused before they reached the buffer (the edge check) or dropped from it. */
  countDrop(reason: string, n = 1): void {
    this.stats.droppedReadings[reason] = (this.stats.droppedReadings[reason] ?? 0) + n;
  }

  /** snapshotStats returns a copy of the counters. */
  snapshotStats(): NodeProposerStats {
    return {
      ...this.stats, droppedReadings: { ...this.stats.droppedReadings },
      queuedReadings: this.queuedReadings(), queuedCommands: this.commands.length + this.presigned.length,
    };
  }

  private async run(): Promise<void> {
    while (this.running) {
      const presigned = this.presigned.shift();
      if (presigned !== undefined) {
        const outcome = await this.proposeUntilSettled(presigned.what, presigned.signed);
        presigned.done?.(outcome);
        continue;
      }
      const command = this.commands.shift();
      if (command !== undefined) {
        const outcome = await this.proposeUntilSettled(command.what, this.init.sign(command.domain, command.payload));
        command.done?.(outcome);
        continue;
      }
      if (this.queuedReadings() > 0) {
        // Let a batch fill up a little: one proposal of many readings costs far less than many of one.
        if (this.queuedReadings() < this.init.maxEventsPerBatch) await this.sleepOrWake(this.init.flushDelayMs);
        await this.proposeReadings();
        continue;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = null;
    }
  }

  private async proposeReadings(): Promise<void> {
    const end = Math.min(this.readings.length, this.readingsHead + this.init.maxEventsPerBatch);
    const taken = this.readings.slice(this.readingsHead, end);
    this.readingsHead = end;
    this.compactReadings();
    const byDomain = new Map<string, BufferedEvent[]>();
    for (const reading of taken) {
      const domain = this.init.domainOf(reading.deviceId);
      if (domain === null) {
        this.countDrop('unknown_device');
        continue;
      }
      const list = byDomain.get(domain) ?? [];
      list.push(reading);
      byDomain.set(domain, list);
    }
    for (const [domain, readings] of [...byDomain.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const events = readings.map((r) => (r.kind === 'reading'
        ? { kind: 'reading', deviceId: r.deviceId, sensor: r.sensor, value: r.value }
        : { kind: 'alert', deviceId: r.deviceId, alertType: r.alertType, source: r.source }));
      const readingCount = readings.filter((r) => r.kind === 'reading').length;
      const outcome = await this.proposeUntilSettled('readings', this.init.sign(domain, { kind: 'telemetry', events }));
      if (outcome.kind === 'committed' && (outcome.ok || outcome.code === 'duplicate')) this.stats.submittedReadings += readingCount;
      else this.countDrop(outcome.kind === 'committed' ? `rejected_${outcome.code ?? 'unknown'}` : 'not_committed', events.length);
    }
  }

  private async proposeUntilSettled(what: string, signed: Uint8Array): Promise<ProposeOutcome> {
    const clock = this.init.clock ?? Date.now;
    const started = clock();
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.init.propose(signed);
      if (outcome.kind === 'committed') {
        if (outcome.ok || outcome.code === 'duplicate') this.stats.committedBatches++;
        else this.stats.rejectedBatches++;
        this.init.onResult?.(what, outcome);
        return outcome;
      }
      this.stats.lastError = outcome.reason;
      if (outcome.kind === 'fatal' || !this.running || clock() - started > this.init.giveUpAfterMs) {
        this.init.onResult?.(what, outcome);
        return outcome;
      }
      this.stats.retries++;
      await this.sleep(Math.min(1_000, 25 * 2 ** Math.min(attempt, 6)));
    }
  }

  private sleep(ms: number): Promise<void> {
    return this.init.sleep ? this.init.sleep(ms) : new Promise((resolve) => setTimeout(resolve, ms));
  }

  private sleepOrWake(ms: number): Promise<void> {
    this.filling = true;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    }).then(() => {
      this.wake = null;
      this.filling = false;
    });
  }
}
