// profile.ts — the per-seed fault and workload mix ("swarm testing").
//
// Each seed draws its own mix from the run's PRNG: which faults are on, how often, and which core
// options are used. A single fixed mix tends to hide bugs that need one fault to be frequent and
// another absent (a stale node only wins an election when pre-vote is off; Figure 8 needs leaders
// to crash with uncommitted entries that reached only part of the cluster, which one entry per
// message makes likely). Rates are integers per million so that runs stay exact.
import type { SimRandom } from './prng.js';

/** TICK_TIME is the length of one Raft tick in simulated time units. */
export const TICK_TIME = 1000;

/**
 * ProfileKind selects how a seed draws its mix: `swarm` draws everything at random (and one seed
 * in four draws the churn mix); `churn` always uses the leader-churn mix, built for Figure 8 of
 * the Raft paper: one entry per message, leaders that crash after persisting entries they never
 * sent, new leaders that crash right after appending or committing, quick restarts.
 */
export type ProfileKind = 'swarm' | 'churn';

/** PROFILE_KINDS lists the kinds, for the CLI. */
export const PROFILE_KINDS: readonly ProfileKind[] = ['swarm', 'churn'];

/** Profile is one seed's fault and workload mix. Rates ending in Ppm are per million per driver tick. */
export interface Profile {
  readonly kind: ProfileKind;
  /** crashArming: `random` arms crashes at any Ready stage; `figure8` at a leader's unsent new entries. */
  readonly crashArming: 'random' | 'figure8';
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  /** maxSizePerMsgBytes: 1 makes every App carry a single entry. */
  readonly maxSizePerMsgBytes: number;
  readonly maxInflightMsgs: number;
  /**
   * maxUncommittedEntriesBytes: the leader refuses proposals beyond this many uncommitted payload
   * bytes (a proposal is about 6 bytes). It bounds the backlog a healed cluster must replicate —
   * with one entry per message it drains at a few entries per tick — so that the liveness bound
   * measures progress, not a queue the workload piled up.
   */
  readonly maxUncommittedEntriesBytes: number;
  /** messages: per-message probabilities (per million) of loss, duplication and a long delay. */
  readonly dropPpm: number;
  readonly duplicatePpm: number;
  readonly longDelayPpm: number;
  /** maxTickDriftPerMille: each node incarnation ticks every TICK_TIME ± up to this many thousandths (clock rate skew). */
  readonly maxTickDriftPerMille: number;
  readonly crashPpm: number;
  /** readyCrashPpm: share of crashes that strike inside the next Ready handling (between its stages). */
  readonly readyCrashPpm: number;
  /** newLeaderCrashPpm: chance that a node becoming leader is armed to crash inside one of its first Readys. */
  readonly newLeaderCrashPpm: number;
  /** leaderCrashPpm: share of crashes aimed at the current leader. */
  readonly leaderCrashPpm: number;
  readonly maxDownTicks: number;
  readonly partitionPpm: number;
  readonly maxPartitionTicks: number;
  readonly proposePpm: number;
  /** batchPpm: share of proposals made as one proposeBatch of 2–5 entries. */
  readonly batchPpm: number;
  readonly readPpm: number;
  readonly confChangePpm: number;
  /** backToBackPpm: after a membership change is accepted, chance to propose another at once. */
  readonly backToBackPpm: number;
  readonly transferPpm: number;
  /** snapshotEveryEntries: a node snapshots once it applied this many entries past its last snapshot. */
  readonly snapshotEveryEntries: number;
  /** snapshotKeepEntries: entries kept in the log behind a new snapshot. */
  readonly snapshotKeepEntries: number;
  readonly unreachableReportPpm: number;
}

/** drawProfile draws one seed's mix. */
export function drawProfile(random: SimRandom, kind: ProfileKind): Profile {
  if (kind === 'churn' || random.chance(250_000)) return drawChurnProfile(random);
  const electionTicks = random.between(5, 10);
  return {
    kind: 'swarm',
    crashArming: 'random',
    electionTicks,
    heartbeatTicks: electionTicks >= 8 ? random.between(1, 2) : 1,
    preVote: random.chance(500_000),
    checkQuorum: random.chance(500_000),
    maxSizePerMsgBytes: random.pick([1, 1, 64, 1024 * 1024]),
    maxInflightMsgs: random.pick([1, 4, 256]),
    maxUncommittedEntriesBytes: random.pick([128, 512]),
    dropPpm: random.pick([0, 10_000, 50_000, 150_000]),
    duplicatePpm: random.pick([0, 20_000, 100_000]),
    longDelayPpm: random.pick([0, 20_000, 100_000]),
    maxTickDriftPerMille: random.pick([0, 50, 150]),
    crashPpm: random.pick([0, 10_000, 30_000, 80_000]),
    readyCrashPpm: random.pick([200_000, 500_000, 800_000]),
    leaderCrashPpm: random.pick([100_000, 400_000, 800_000]),
    newLeaderCrashPpm: random.pick([0, 100_000, 300_000]),
    maxDownTicks: random.pick([3, 10, 30]),
    partitionPpm: random.pick([0, 10_000, 40_000]),
    maxPartitionTicks: random.pick([5, 20, 60]),
    proposePpm: random.pick([200_000, 500_000, 900_000]),
    batchPpm: random.pick([0, 200_000]),
    readPpm: random.pick([0, 100_000, 400_000]),
    confChangePpm: random.pick([0, 10_000, 40_000, 200_000]),
    backToBackPpm: random.pick([0, 500_000]),
    transferPpm: random.pick([0, 5_000, 20_000]),
    snapshotEveryEntries: random.pick([4, 16, 64]),
    snapshotKeepEntries: random.between(0, 4),
    unreachableReportPpm: 300_000,
  };
}

/** drawChurnProfile draws the leader-churn mix (see ProfileKind). */
function drawChurnProfile(random: SimRandom): Profile {
  return {
    kind: 'churn',
    crashArming: 'figure8',
    electionTicks: random.between(5, 10),
    heartbeatTicks: 1,
    preVote: random.chance(500_000),
    checkQuorum: random.chance(500_000),
    maxSizePerMsgBytes: 1,
    maxInflightMsgs: random.pick([1, 4]),
    maxUncommittedEntriesBytes: 256,
    dropPpm: random.pick([0, 50_000, 150_000]),
    duplicatePpm: 0,
    longDelayPpm: random.pick([0, 100_000]),
    maxTickDriftPerMille: 0,
    crashPpm: 100_000,
    readyCrashPpm: 900_000,
    leaderCrashPpm: 900_000,
    newLeaderCrashPpm: 1_000_000,
    maxDownTicks: random.pick([2, 5]),
    partitionPpm: 0,
    maxPartitionTicks: 10,
    proposePpm: 900_000,
    batchPpm: 0,
    readPpm: random.pick([0, 200_000]),
    confChangePpm: 0,
    backToBackPpm: 0,
    transferPpm: 0,
    snapshotEveryEntries: 64,
    snapshotKeepEntries: 4,
    unreachableReportPpm: 300_000,
  };
}

/** describeProfile renders a profile on one line for traces and reports. */
export function describeProfile(profile: Profile): string {
  return Object.entries(profile).map(([key, value]) => `${key}=${String(value)}`).join(' ');
}
