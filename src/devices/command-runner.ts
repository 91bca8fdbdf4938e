// command-runner.ts — carries out the device commands the agreed state queues for this node, once each as
// far as the device can tell.
//
// A pending command (a policy reaction, src/state) is sent to its device through the device's adapter with
// its command id; the device remembers the ids it has carried out, so when this node dies after carrying a
// command out and before the cluster recorded it, the command sent again after the restart is recognised by
// the device and not carried out twice. Once the device answers, the node proposes `deviceCommandsDone`
// (through the NodeProposer, one command at a time). A failure is reported with its reason and the command is
// tried again with a capped exponential backoff; after MAX_COMMAND_ATTEMPTS, or a failure the adapter calls
// final, it is reported as failed for good and leaves the pending list.
import { strict as assert } from 'node:assert';
import type { CommandOutcome, CommandRequest } from './port.js';

/** MAX_COMMAND_ATTEMPTS bounds the tries of one command (the state gives up at the same count). */
export const MAX_COMMAND_ATTEMPTS = 10;
/** MAX_COMMANDS_IN_FLIGHT bounds the commands being carried out at once on one node. */
export const MAX_COMMANDS_IN_FLIGHT = 16;
/** MAX_TRACKED_COMMANDS bounds the runner's bookkeeping (the state bounds pending commands per node too). */
const MAX_TRACKED_COMMANDS = 4096;

/** PendingCommandView is a pending command as the state lists it for this node. */
export interface PendingCommandView {
  id: number;
  deviceId: string;
  command: string;
  args: Record<string, string>;
  attempts?: number;
}

/** CommandReport is what the runner asks the node to propose. */
export interface CommandReport {
  ids: number[];
  failures: { id: number; reason: string; final: boolean }[];
}

/** CommandRunnerInit wires the runner. */
export interface CommandRunnerInit {
  /** execute carries one command out through the device's adapter. */
  execute: (deviceId: string, request: CommandRequest) => Promise<CommandOutcome>;
  /** report proposes the outcome; resolves true once it committed. */
  report: (report: CommandReport) => Promise<boolean>;
  /** beforeReport runs between carrying a command out and reporting it (a test pauses here to kill the node). */
  beforeReport?: (id: number) => Promise<void>;
  onOutcome?: (command: PendingCommandView, outcome: CommandOutcome) => void;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  clock?: () => number;
}

interface Tracked {
  attempts: number;
  /** phase: idle (waiting for nextAttemptMs), running (the adapter has it), reporting (done, report in flight), reported (waiting for the state to drop it). */
  phase: 'idle' | 'running' | 'reporting' | 'reported';
  nextAttemptMs: number;
  lastError: string;
}

/** CommandRunnerStats are the runner's counters for /v1/status. */
export interface CommandRunnerStats {
  inFlight: number;
  done: number;
  failed: number;
  retrying: number;
}

/** CommandRunner carries out this node's pending device commands. */
export class CommandRunner {
  private readonly init: CommandRunnerInit;
  private readonly tracked = new Map<number, Tracked>();
  private pending: PendingCommandView[] = [];
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly counters = { done: 0, failed: 0 };

  constructor(init: CommandRunnerInit) {
    this.init = init;
  }

  /** update hands the runner the commands the agreed state lists as pending for this node. */
  update(pending: readonly PendingCommandView[]): void {
    this.pending = [...pending].sort((a, b) => a.id - b.id);
    const live = new Set(this.pending.map((command) => command.id));
    // A command the state no longer lists is done, failed for good, or its device is gone: forget it,
    // unless the adapter still has it (its outcome is then reported and refused as unknown, harmlessly).
    for (const [id, tracked] of this.tracked) if (!live.has(id) && tracked.phase !== 'running') this.tracked.delete(id);
    this.kick();
  }

  /** stats counts the runner's work. */
  stats(): CommandRunnerStats {
    let inFlight = 0;
    let retrying = 0;
    for (const tracked of this.tracked.values()) {
      if (tracked.phase === 'running' || tracked.phase === 'reporting') inFlight++;
      if (tracked.phase === 'idle' && tracked.attempts > 0) retrying++;
    }
    return { inFlight, retrying, ...this.counters };
  }

  /** stop ends scheduling; commands already with an adapter finish on their own. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private now(): number {
    return (this.init.clock ?? Date.now)();
  }

  private kick(): void {
    if (this.stopped) return;
    const now = this.now();
    let running = [...this.tracked.values()].filter((t) => t.phase === 'running').length;
    let nextDueMs = Number.POSITIVE_INFINITY;
    for (const command of this.pending) {
      let tracked = this.tracked.get(command.id);
      if (tracked === undefined) {
        if (this.tracked.size >= MAX_TRACKED_COMMANDS) break;
        tracked = { attempts: command.attempts ?? 0, phase: 'idle', nextAttemptMs: now, lastError: '' };
        this.tracked.set(command.id, tracked);
      }
      if (tracked.phase !== 'idle') continue;
      if (tracked.nextAttemptMs > now) {
        nextDueMs = Math.min(nextDueMs, tracked.nextAttemptMs);
        continue;
      }
      if (running >= MAX_COMMANDS_IN_FLIGHT) break;
      running++;
      void this.carryOut(command, tracked);
    }
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (Number.isFinite(nextDueMs)) {
      this.timer = setTimeout(() => this.kick(), Math.max(10, nextDueMs - now));
      this.timer.unref();
    }
  }

  private async carryOut(command: PendingCommandView, tracked: Tracked): Promise<void> {
    assert(tracked.phase === 'idle', `command ${command.id} is carried out from idle`);
    tracked.phase = 'running';
    tracked.attempts++;
    let outcome: CommandOutcome;
    try {
      outcome = await this.init.execute(command.deviceId, { id: command.id, command: command.command, args: command.args });
    } catch (error) {
      outcome = { ok: false, reason: error instanceof Error ? error.message : String(error), retryable: true };
    }
    this.init.onOutcome?.(command, outcome);
    tracked.phase = 'reporting';
    let report: CommandReport;
    if (outcome.ok) {
      await this.init.beforeReport?.(command.id);
      report = { ids: [command.id], failures: [] };
    } else {
      const final = !outcome.retryable || tracked.attempts >= MAX_COMMAND_ATTEMPTS;
      tracked.lastError = outcome.reason;
      report = { ids: [], failures: [{ id: command.id, reason: clip(outcome.reason), final }] };
    }
    const committed = await this.init.report(report).catch(() => false);
    if (outcome.ok && committed) this.counters.done++;
    if (!outcome.ok && report.failures[0]!.final && committed) this.counters.failed++;
    if (committed && (outcome.ok || report.failures[0]!.final)) {
      tracked.phase = 'reported';
    } else {
      // Not done yet: a failure waits its backoff; a success whose report did not commit is carried out
      // again (the device recognises the id) and reported again.
      tracked.phase = 'idle';
      const base = this.init.backoffBaseMs ?? 1_000;
      tracked.nextAttemptMs = this.now() + (outcome.ok ? base : Math.min(this.init.backoffMaxMs ?? 60_000, base * 2 ** (tracked.attempts - 1)));
    }
    this.kick();
  }
}

function clip(reason: string): string {
  const text = reason.trim() === '' ? 'the device reported a failure without a reason' : reason.trim();
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}
