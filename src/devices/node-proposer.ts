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
//
// Readings are the one exception to "one at a time": with a backlog (at least `pipelineAtEvents` readings
// waiting while a batch is in flight) up to `maxBatchesInFlight` batches of readings are in flight at once.
// One batch per round trip caps a node at maxEventsPerBatch ÷ round trip readings a second whatever its CPU:
// at 10,000 devices (3,333 readings/s per node, batches of 512, round trips of 150-300 ms on a busy machine)
// the queues sat at their cap (bench:devices, 2026-12-06). Each batch is still signed just before it is
// proposed, so batches leave in sequence order and commit in it unless a proposal is lost on the way (a
// leader change); then a later batch may commit first and the earlier one is refused as `stale_sequence`,
// i.e. it never applied: its readings go back to the head of the queue and are signed again. Other commands
// (signed elsewhere, or to sign here) wait until no batch is in flight and go alone, as before.
import { strict as assert } from 'node:assert';
import { MAX_TELEMETRY_EVENTS } from '../commands/constants.js';
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
  /** maxEventsPerBatch bounds one telemetry batch (at most the codec's MAX_TELEMETRY_EVENTS). */
  maxEventsPerBatch?: number;
  /** maxBatchesInFlight bounds the batches of readings in flight at once (1: one at a time). */
  maxBatchesInFlight?: number;
  /** pipelineAtEvents: with a batch in flight, another leaves once this many readings wait. */
  pipelineAtEvents?: number;
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
  /** readingBatches and readingBatchMs: batches of readings settled, and their summed time from first proposal to outcome. */
  readingBatches: number;
  readingBatchMs: number;
  /** requeuedReadings counts readings whose batch was refused as stale (overtaken by a later one) and that went back to the queue. */
  requeuedReadings: number;
  lastError: string | null;
}

interface QueuedCommand {
  what: string;
  domain: string;
  payload: NodePayload;
  done?: (outcome: ProposeOutcome) => void;
}

/**
 * DEFAULTS: a node keeps up with readings arriving at R a second only while R × round trip ≤ maxBatchesInFlight ×
 * maxEventsPerBatch. A follower's batch waits for about five Raft log writes in a row (its forward, the leader's
 * append, its own append, the commit, its apply); at 10,000 devices on a loaded 2-core machine each write took
 * 0.2-0.25 s and a round trip 1-2.5 s (bench:devices, 2026-12-07 03:09), so two in flight capped each follower at
 * ≈1,500 of its 3,333 readings a second while the leader, one hop shorter, kept up. Eight cover 3,333 a second up
 * to a 2.4 s round trip; at most 8 × 1,024 readings (≈400 KB of entries) are in flight per node.
 */
const DEFAULTS = {
  maxBufferedReadings: 50_000, maxEventsPerBatch: MAX_TELEMETRY_EVENTS, maxBatchesInFlight: 8, pipelineAtEvents: 256, flushDelayMs: 25, giveUpAfterMs: 45_000,
};
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
  /** requeued are readings of a batch refused as stale, proposed again before the buffer (at most maxBatchesInFlight batches). */
  private requeued: BufferedEvent[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private wake: (() => void) | null = null;
  /** wakeAt: how many queued readings wake the loop (1 when idle; a batch's worth while it waits for one to fill or settle). */
  private wakeAt = 1;
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  private readonly stats: NodeProposerStats = {
    queuedReadings: 0, queuedCommands: 0, submittedReadings: 0, committedBatches: 0, rejectedBatches: 0,
    droppedReadings: {}, retries: 0, readingBatches: 0, readingBatchMs: 0, requeuedReadings: 0, lastError: null,
  };

  constructor(init: NodeProposerInit) {
    this.init = { ...DEFAULTS, ...init };
    const { maxBufferedReadings, maxEventsPerBatch, maxBatchesInFlight, pipelineAtEvents } = this.init;
    assert(maxBufferedReadings > 0 && maxEventsPerBatch > 0 && maxEventsPerBatch <= MAX_TELEMETRY_EVENTS, 'proposer bounds are positive; a batch fits the codec');
    assert(Number.isInteger(maxBatchesInFlight) && maxBatchesInFlight >= 1 && pipelineAtEvents >= 1, 'at least one batch in flight');
  }

  /** start runs the proposing loop until stop(). */
  start(): void {
    assert(!this.running, 'the proposer is started once');
    this.running = true;
    this.loop = this.run();
  }

  /** stop ends the loop after the commands in flight settle; what is queued is dropped (readings are re-sampled). */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    await this.drain();
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
    return this.readings.length - this.readingsHead + this.requeued.length;
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
    const excess = this.readings.length - this.readingsHead - this.init.maxBufferedReadings;
    if (excess > 0) {
      this.readingsHead += excess;
      this.countDrop('buffer_full', excess);
    }
    this.compactReadings();
    // While a batch fills up or one is in flight, only enough readings for a batch wake the loop.
    if (this.queuedReadings() >= this.wakeAt) this.wake?.();
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
      if (this.presigned.length > 0 || this.commands.length > 0) {
        // Not beside batches of readings: a command overtaken by a later batch would be refused as stale.
        await this.drain();
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
        }
        continue;
      }
      const queued = this.queuedReadings();
      if (queued > 0 && this.inFlight.size === 0) {
        // Let a batch fill up a little: one proposal of many readings costs far less than many of one.
        if (queued < this.init.maxEventsPerBatch) await this.sleepOrWake(this.init.flushDelayMs, this.init.maxEventsPerBatch);
        this.launchReadings();
        continue;
      }
      if (this.inFlight.size > 0 && this.inFlight.size < this.init.maxBatchesInFlight && queued >= this.init.pipelineAtEvents) {
        this.launchReadings();
        continue;
      }
      // Idle, or batches in flight: wait for readings (a batch's worth when one is in flight), a command, or a settled batch.
      await this.waitForWork(this.inFlight.size === 0 ? 1 : this.init.pipelineAtEvents);
    }
  }

  /** launchReadings takes a batch of readings now and proposes it without waiting for it (the loop tracks it in inFlight). */
  private launchReadings(): void {
    const batch: Promise<void> = this.proposeReadings().finally(() => {
      this.inFlight.delete(batch);
      this.wake?.();
    });
    this.inFlight.add(batch);
  }

  /** drain waits until no batch of readings is in flight. */
  private async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.race(this.inFlight);
  }

  private async waitForWork(wakeAt: number): Promise<void> {
    this.wakeAt = wakeAt;
    await new Promise<void>((resolve) => {
      this.wake = resolve;
    });
    this.wake = null;
    this.wakeAt = 1;
  }

  /** takeReadings takes the next batch's events: those sent back first, then the buffer's oldest (synchronously). */
  private takeReadings(): BufferedEvent[] {
    const taken = this.requeued.splice(0, this.init.maxEventsPerBatch);
    const end = Math.min(this.readings.length, this.readingsHead + this.init.maxEventsPerBatch - taken.length);
    for (let index = this.readingsHead; index < end; index++) taken.push(this.readings[index]!);
    this.readingsHead = end;
    this.compactReadings();
    return taken;
  }

  private async proposeReadings(): Promise<void> {
    const taken = this.takeReadings();
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
      const clock = this.init.clock ?? Date.now;
      const started = clock();
      const outcome = await this.proposeUntilSettled('readings', this.init.sign(domain, { kind: 'telemetry', events }));
      this.stats.readingBatches++;
      this.stats.readingBatchMs += clock() - started;
      if (outcome.kind === 'committed' && (outcome.ok || outcome.code === 'duplicate')) {
        this.stats.submittedReadings += readingCount;
      } else if (outcome.kind === 'committed' && outcome.code === 'stale_sequence' && this.running) {
        // Overtaken by a later batch of this node: it never applied. Its readings go first in the next batch, signed anew.
        this.requeued = [...readings, ...this.requeued];
        this.stats.requeuedReadings += readings.length;
        this.wake?.();
      } else {
        this.countDrop(outcome.kind === 'committed' ? `rejected_${outcome.code ?? 'unknown'}` : 'not_committed', events.length);
      }
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

  private sleepOrWake(ms: number, wakeAt: number): Promise<void> {
    this.wakeAt = wakeAt;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    }).then(() => {
      this.wake = null;
      this.wakeAt = 1;
    });
  }
}
