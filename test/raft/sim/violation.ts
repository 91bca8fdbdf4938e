// violation.ts — the simulator's failure report: which invariant broke, where, and how to replay it.
import type { NodeId } from '../../../src/raft/index.js';
import type { PlantedBug } from '../support/planted-raft.js';
import type { ProfileKind } from './profile.js';

/**
 * InvariantKind names each property the simulator checks (issue 2, item 5). Stable strings:
 * tests and regressions.json refer to them.
 */
export type InvariantKind =
  /** Two nodes were leader in the same term (Raft paper §5.2, Election Safety). */
  | 'election-safety'
  /** Two durable logs hold the same (index, term) with different content or history (§5.3, Log Matching). */
  | 'log-matching'
  /** A durable log lost or changed an entry that some node had already applied (§5.4, Leader Completeness). */
  | 'committed-entry-lost'
  /** Nodes applied different entries at one index, or a node skipped or repeated an index (§5.4.3, State Machine Safety). */
  | 'state-machine-safety'
  /** A proposal the client saw applied is not what a node applies at that index. */
  | 'acked-proposal-lost'
  /** A node's applied index went backwards without a restart. */
  | 'applied-regressed'
  /** A node acknowledged log entries (AppResp) that a crash then lost: it answered before persisting (thesis §3.8). */
  | 'durability'
  /** A durable HardState moved backwards: term decreased, vote changed within a term, or commit decreased. */
  | 'durable-state-regressed'
  /** A ReadIndex answer missed a write acknowledged before the read was issued (thesis §6.4). */
  | 'read-linearizability'
  /** A leader overwrote or deleted entries of its own log (paper Figure 3, Leader Append-Only). */
  | 'leader-append-only'
  /** A leader moved its commit index to an entry of an older term by counting replicas (paper §5.4.2, Figure 8). */
  | 'leader-commit-rule'
  /** A leader appended a membership change while an earlier one in its log was not yet applied (thesis §4.1). */
  | 'single-pending-conf-change'
  /** After faults stopped, the cluster did not elect a leader, serve a read and commit within the bound. */
  | 'liveness'
  /** The core threw something other than a named, expected refusal (an assertion or a TypeError). */
  | 'core-error';

/** RunMode is safety (faults all along) or liveness (faults, then a healed cluster must make progress). */
export type RunMode = 'safety' | 'liveness';

/** RunIdentity is everything needed to replay a run exactly. */
export interface RunIdentity {
  readonly seed: number;
  readonly nodes: number;
  readonly mode: RunMode;
  readonly steps: number;
  readonly plant: PlantedBug | undefined;
  /** ruleChecks: false when only outcomes were checked (--no-rule-checks). */
  readonly ruleChecks: boolean;
  readonly profile: ProfileKind;
}

/** replayCommand returns the exact command that replays a run. */
export function replayCommand(run: RunIdentity, defaultSteps: number): string {
  const parts = ['npm run sim --', `--seed ${run.seed}`, `--nodes ${run.nodes}`];
  if (run.mode === 'liveness') parts.push('--liveness');
  if (run.steps !== defaultSteps) parts.push(`--steps ${run.steps}`);
  if (run.plant !== undefined) parts.push(`--plant ${run.plant}`);
  if (!run.ruleChecks) parts.push('--no-rule-checks');
  if (run.profile !== 'swarm') parts.push(`--profile ${run.profile}`);
  return parts.join(' ');
}

/** InvariantViolation is thrown by the simulator when a checked property breaks. */
export class InvariantViolation extends Error {
  readonly code = 'SIM_INVARIANT_VIOLATED';
  readonly kind: InvariantKind;
  readonly node: NodeId | undefined;
  readonly detail: string;
  /** step and seed are filled in by the simulator once known. */
  step = -1;
  run: RunIdentity | undefined;
  replay = '';
  /** recentTrace: the last trace lines before the failure, oldest first. */
  recentTrace: readonly string[] = [];

  constructor(kind: InvariantKind, node: NodeId | undefined, detail: string, options?: { cause?: unknown }) {
    super(`${kind}: ${detail}`, options);
    this.name = 'InvariantViolation';
    this.kind = kind;
    this.node = node;
    this.detail = detail;
  }

  /** locate records the run and step, and rewrites the message to name them with the replay command. */
  locate(run: RunIdentity, step: number, replay: string, recentTrace: readonly string[]): void {
    this.run = run;
    this.step = step;
    this.replay = replay;
    this.recentTrace = recentTrace;
    const nodeText = this.node === undefined ? '' : ` node ${this.node}`;
    this.message = `invariant ${this.kind} broken (seed ${run.seed}, ${run.nodes} nodes, ${run.mode}` +
      `${run.plant === undefined ? '' : `, plant ${run.plant}`}) at step ${step}${nodeText}: ${this.detail}\n` +
      `replay: ${replay}`;
  }
}
