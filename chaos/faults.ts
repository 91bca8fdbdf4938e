// faults.ts — the fault families of a chaos run and the seeded schedule that injects them.
//
// Each fault starts, holds for a while, and is undone; the schedule (which fault, whom it hits, how long
// it holds, how long the quiet gap after it lasts) comes from the run's seed, so a run can be repeated.
// Whom a fault hits can depend on the cluster (who leads when it starts), so a repeated run hits the
// same roles, not always the same node numbers.
import { sleepMs } from '../src/dataplane/exec.js';
import { SeededRandom } from '../src/raft/index.js';
import { ensureHost, stopHost, DockerUmboxRuntime } from '../src/dataplane/index.js';
import { hostsOf } from './environment.js';
import type { Environment } from './environment.js';
import { between, oneWay } from './partition.js';
import type { Partitions } from './partition.js';
import { submitUntilAnswered } from './client.js';
import type { FaultEvent } from './history.js';

/** FAULT_FAMILIES lists every fault a run can schedule (`--faults all`). */
export const FAULT_FAMILIES = [
  'kill', 'kill-leader', 'kill-minority', 'kill-majority', 'pause', 'pause-leader',
  'partition-one', 'partition-leader', 'partition-halves', 'partition-bridge', 'partition-oneway',
  'lose-unsynced', 'membership', 'ovs-restart', 'docker-restart', 'umbox-kill',
] as const;
export type FaultFamily = (typeof FAULT_FAMILIES)[number];

/** parseFaults reads `--faults` (a comma-separated list, or `all`); unknown names are an error that lists the known ones. */
export function parseFaults(text: string): FaultFamily[] {
  if (text === 'all') return [...FAULT_FAMILIES];
  const names = text.split(',').map((name) => name.trim()).filter((name) => name !== '');
  if (names.length === 0) throw new Error('--faults: expected a comma-separated list of fault families or "all"');
  for (const name of names) {
    if (!(FAULT_FAMILIES as readonly string[]).includes(name)) throw new Error(`--faults: unknown fault "${name}"; known: ${FAULT_FAMILIES.join(', ')}, or all`);
  }
  return [...new Set(names)] as FaultFamily[];
}

/** FaultContext is what faults act on. */
export interface FaultContext {
  readonly env: Environment;
  readonly partitioner: Partitions;
  readonly rng: SeededRandom;
  /** t is the run's clock (ms since start). */
  readonly t: () => number;
  readonly record: (event: FaultEvent) => void;
  readonly log: (line: string) => void;
}

/** ActiveFault is a fault in place; `undo` reverts it. */
interface ActiveFault {
  readonly detail: string;
  readonly nodes: number[];
  undo(): Promise<void>;
}

function pick<T>(rng: SeededRandom, items: readonly T[]): T {
  return items[rng.nextInt(items.length)]!;
}

function shuffled<T>(rng: SeededRandom, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}


/** currentLeader asks every node and returns the leader with the highest term that claims it, if any. */
export async function currentLeader(env: Environment): Promise<number | undefined> {
  const statuses = await env.cluster.statusAll();
  let best: { id: number; term: number } | undefined;
  for (const status of statuses.values()) {
    if (status?.role === 'leader' && (best === undefined || status.term > best.term)) best = { id: status.id, term: status.term };
  }
  return best?.id;
}

function voters(env: Environment): number[] {
  return env.cluster.nodes.map((n) => n.nodeId);
}

/** LeaderTarget is the node a leader fault hits and how the fault's record names it. */
interface LeaderTarget {
  readonly id: number;
  /** label: "the leader", or says that no node claimed to lead and a voter was drawn instead. */
  readonly label: string;
}

/** leaderOrAny: the current leader, or a voter drawn from the seed when no node claims to lead (the record says which). */
async function leaderOrAny(ctx: FaultContext): Promise<LeaderTarget> {
  const leader = await currentLeader(ctx.env);
  if (leader !== undefined) return { id: leader, label: 'the leader' };
  return { id: pick(ctx.rng, voters(ctx.env)), label: 'no leader known, a voter instead' };
}

async function killNodes(ctx: FaultContext, nodes: readonly number[], restartDelayMs: number, label: string): Promise<ActiveFault> {
  // SIGKILL is sent at once; a process slow to be reaped on a loaded machine does not undo the fault.
  await Promise.all(nodes.map((id) => ctx.env.cluster.kill(id).catch((error: unknown) => ctx.log(`kill n${id}: ${(error as Error).message}`))));
  return {
    detail: `${label}: kill -9 n${nodes.join(' n')}`,
    nodes: [...nodes],
    undo: async () => {
      if (restartDelayMs > 0) await sleepMs(restartDelayMs);
      for (const id of nodes) ctx.env.cluster.start(id, ctx.env.nodeEnv);
    },
  };
}

async function pauseNode(ctx: FaultContext, id: number, label: string): Promise<ActiveFault> {
  ctx.env.cluster.signal(id, 'SIGSTOP');
  return { detail: `${label}: SIGSTOP n${id}`, nodes: [id], undo: async () => void ctx.env.cluster.signal(id, 'SIGCONT') };
}

async function cut(ctx: FaultContext, links: ReturnType<typeof between>, detail: string, nodes: number[]): Promise<ActiveFault> {
  await ctx.partitioner.cut(links);
  return { detail, nodes, undo: () => ctx.partitioner.heal() };
}

/** startFault injects one fault of a family; returns what to undo. */
async function startFault(ctx: FaultContext, family: FaultFamily): Promise<ActiveFault> {
  const all = voters(ctx.env);
  const minority = Math.floor((all.length - 1) / 2);
  switch (family) {
    case 'kill':
      return killNodes(ctx, [pick(ctx.rng, all)], 0, 'one node');
    case 'kill-leader': {
      const target = await leaderOrAny(ctx);
      return killNodes(ctx, [target.id], 0, target.label);
    }
    case 'kill-minority':
      return killNodes(ctx, shuffled(ctx.rng, all).slice(0, Math.max(1, minority)), 0, 'a minority');
    case 'kill-majority':
      return killNodes(ctx, shuffled(ctx.rng, all).slice(0, minority + 1), 0, 'a majority');
    case 'lose-unsynced': {
      // A power cut of the whole site while writes flow: every node dies at once with the writes of its
      // last 40 ms still unsynced, and they are lost. Wait for a leader first, so writes are in flight.
      for (let waited = 0; waited < 5_000 && (await currentLeader(ctx.env)) === undefined; waited += 200) await sleepMs(200);
      await sleepMs(300 + ctx.rng.nextInt(500));
      return killNodes(ctx, all, 300, 'every node at once (power cut) with unsynced writes');
    }
    case 'pause':
      return pauseNode(ctx, pick(ctx.rng, all), 'one node');
    case 'pause-leader': {
      const target = await leaderOrAny(ctx);
      return pauseNode(ctx, target.id, target.label);
    }
    case 'partition-one': {
      const id = pick(ctx.rng, all);
      return cut(ctx, between([id], all.filter((x) => x !== id)), `isolate n${id}`, [id]);
    }
    case 'partition-leader': {
      const { id, label } = await leaderOrAny(ctx);
      return cut(ctx, between([id], all.filter((x) => x !== id)), `isolate ${label} n${id}`, [id]);
    }
    case 'partition-halves': {
      const order = shuffled(ctx.rng, all);
      const small = order.slice(0, minority);
      const large = order.slice(minority);
      return cut(ctx, between(small, large), `halves n${small.join(',n')} | n${large.join(',n')}`, small);
    }
    case 'partition-bridge': {
      // One node sees both sides; the sides do not see each other.
      const order = shuffled(ctx.rng, all);
      const bridge = order[0]!;
      const rest = order.slice(1);
      const left = rest.slice(0, Math.ceil(rest.length / 2));
      const right = rest.slice(Math.ceil(rest.length / 2));
      return cut(ctx, between(left, right), `bridge n${bridge} between n${left.join(',n')} and n${right.join(',n')}`, [bridge]);
    }
    case 'partition-oneway': {
      const id = ctx.rng.nextInt(2) === 0 ? (await leaderOrAny(ctx)).id : pick(ctx.rng, all);
      return cut(ctx, oneWay([id], all.filter((x) => x !== id)), `one-way: n${id}'s packets to the others are dropped`, [id]);
    }
    case 'membership':
      return membershipDuringPartition(ctx);
    case 'ovs-restart': {
      // On the loopback topology one Open vSwitch serves every gateway; on the WAN topology each host has its own.
      const gateway = pick(ctx.rng, all);
      const detail = await hostsOf(ctx.env).stopSwitch(gateway);
      return { detail, nodes: ctx.env.topology === 'wan' ? [gateway] : [], undo: () => hostsOf(ctx.env).ensure() };
    }
    case 'docker-restart':
      await stopHost(ctx.env.paths, { ovs: false, docker: true });
      return { detail: 'Docker engine stopped', nodes: [], undo: async () => void (await ensureHost(ctx.env.paths, { install: false })) };
    case 'umbox-kill': {
      const runtime = new DockerUmboxRuntime({ socketPath: ctx.env.paths.dockerSocket, umboxDir: ctx.env.paths.umboxDir });
      const gateway = pick(ctx.rng, all);
      const umboxes = (await runtime.list(ctx.env.cluster.umboxOwner(gateway))).filter((u) => u.running);
      if (umboxes.length === 0) return { detail: `no μmbox runs on n${gateway}`, nodes: [gateway], undo: async () => undefined };
      const victim = pick(ctx.rng, umboxes);
      await runtime.docker.getContainer(victim.containerId).kill().catch(() => undefined);
      return { detail: `killed μmbox ${victim.image} of ${victim.deviceId} on n${gateway}`, nodes: [gateway], undo: async () => undefined };
    }
  }
}

/**
 * membershipDuringPartition isolates one node, then adds a new node (learner, then voter) and removes it
 * again, all by root-signed commands, while the partition lasts; the new node's id is never reused.
 */
async function membershipDuringPartition(ctx: FaultContext): Promise<ActiveFault> {
  const { env } = ctx;
  const all = voters(env);
  const isolated = pick(ctx.rng, all);
  await ctx.partitioner.cut(between([isolated], all.filter((x) => x !== isolated)));
  const joiner = await env.cluster.prepareJoiner();
  await hostsOf(env).prepare(joiner.nodeId);
  await ctx.partitioner.cut(between([isolated], [joiner.nodeId]));
  const host = env.cluster.hostOf(joiner.nodeId);
  env.cluster.start(joiner.nodeId, env.nodeEnv);
  const memberId = `n${joiner.nodeId}`;
  const reachable = all.filter((x) => x !== isolated);
  /** submitRoot sends one root-signed envelope (the same bytes on every try) until a node answers it. */
  const submitRoot = async (envelope: Uint8Array, targets: readonly number[], attempts: number): Promise<string> => {
    const answer = await submitUntilAnswered(targets.map((id) => env.cluster.apiUrl(id)), envelope, attempts, 300);
    if (answer?.outcome === 'ok') return 'ok';
    if (answer?.outcome === 'fail' && answer.status === 200) return `rejected (${answer.code ?? ''})`;
    return 'no answer';
  };
  // Changes need a leader on the majority side: wait for one (a fault just before may have taken it).
  for (let waited = 0; waited < 8_000 && (await currentLeader(env)) === undefined; waited += 200) await sleepMs(200);
  const add = env.root.sign('', { kind: 'membership', action: 'addLearner', nodeId: memberId, nodeKey: Buffer.from(joiner.publicKey, 'hex'), address: `${host}:${joiner.raftPort}` });
  const added = await submitRoot(add.envelope, reachable, 10);
  await sleepMs(1_500);
  const promote = env.root.sign('', { kind: 'membership', action: 'promote', nodeId: memberId });
  const promoted = await submitRoot(promote.envelope, reachable, 6);
  await sleepMs(1_500);
  const remove = env.root.sign('', { kind: 'membership', action: 'remove', nodeId: memberId });
  const removed = await submitRoot(remove.envelope, reachable, 6);
  ctx.log(`membership while n${isolated} is cut off: add ${memberId} ${added}, promote ${promoted}, remove ${removed}`);
  return {
    detail: `isolate n${isolated}; add ${memberId} (${added}), promote (${promoted}), remove (${removed})`,
    nodes: [isolated, joiner.nodeId],
    undo: async () => {
      await ctx.partitioner.heal();
      // An unanswered removal may still commit: send the same bytes again until it is answered, then ask
      // the cluster whether the new node is a member. A member keeps running (it must converge with the
      // others); a node that is not one is stopped and forgotten.
      const removedAfter = removed === 'ok' ? 'ok' : await submitRoot(remove.envelope, all, 10);
      // An applied removal is the desired membership, but the leader carries it out afterwards (a Raft
      // configuration change of its own): wait for that instead of asking at once — CI once kept a node
      // that was asked about a moment before its removal took effect, and judged it as a member.
      const member = removedAfter === 'ok' ? await memberUntilRemoved(env, joiner.nodeId, 20_000) : await isMember(env, joiner.nodeId);
      ctx.log(`membership after healing: remove ${memberId} ${removedAfter}; ${memberId} is ${member === true ? 'a member' : member === false ? 'not a member' : 'of unknown membership'}`);
      if (member === false) {
        await env.cluster.stop(joiner.nodeId, 3_000);
        env.cluster.forget(joiner.nodeId);
      } else {
        env.cluster.start(joiner.nodeId, env.nodeEnv);
      }
    },
  };
}

/** memberUntilRemoved asks isMember until it says no or `timeoutMs` passes, and returns the last answer. */
async function memberUntilRemoved(env: Environment, nodeId: number, timeoutMs: number): Promise<boolean | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const member = await isMember(env, nodeId);
    if (member === false || Date.now() >= deadline) return member;
    await sleepMs(250);
  }
}

/** isMember asks the leader whether `nodeId` is a voter or learner (undefined: no leader answered in 10 s). */
async function isMember(env: Environment, nodeId: number): Promise<boolean | undefined> {
  for (let waited = 0; waited < 10_000; waited += 250) {
    const leader = await currentLeader(env);
    const status = leader === undefined ? undefined : await env.cluster.status(leader);
    if (status !== undefined && status.role === 'leader') return status.voters.includes(nodeId) || status.learners.includes(nodeId);
    await sleepMs(250);
  }
  return undefined;
}

/** Schedule runs faults from the seed until `until` (ms on the run's clock); `stop` ends it early. */
export class FaultSchedule {
  private readonly ctx: FaultContext;
  private readonly families: readonly FaultFamily[];
  private active: ActiveFault | undefined;
  private activeFamily: FaultFamily | undefined;

  constructor(ctx: FaultContext, families: readonly FaultFamily[]) {
    this.ctx = ctx;
    this.families = families;
  }

  /**
   * run injects faults one at a time: a quiet gap, a fault, its hold time, its undo. The families are
   * visited in a seeded shuffled order (every family once before any twice, and the first round is
   * completed even past `until`), so a short run still
   * exercises each of them.
   */
  async run(until: number): Promise<void> {
    const { ctx } = this;
    // The first round visits every chosen family even past `until`: a short run still exercises them all.
    let queue: FaultFamily[] = shuffled(ctx.rng, this.families);
    let firstRound = true;
    while (ctx.t() < until || (firstRound && queue.length > 0)) {
      await sleepMs(1_500 + ctx.rng.nextInt(2_000));
      if (ctx.t() >= until && !(firstRound && queue.length > 0)) break;
      if (queue.length === 0) {
        firstRound = false;
        queue = shuffled(ctx.rng, this.families);
      }
      const family = queue.shift()!;
      const holdMs = 1_000 + ctx.rng.nextInt(2_000);
      const startedAt = ctx.t();
      try {
        this.activeFamily = family;
        this.active = await startFault(ctx, family);
      } catch (error) {
        // It may have done part of its work: record it, and put everything back as heal() would.
        const detail = `could not start: ${(error as Error).message}`;
        ctx.log(`fault ${family} ${detail}`);
        this.active = undefined;
        ctx.record({ t: startedAt, phase: 'start', fault: family, detail, nodes: voters(ctx.env) });
        await this.restoreAll();
        ctx.record({ t: ctx.t(), phase: 'end', fault: family, detail, nodes: voters(ctx.env) });
        continue;
      }
      ctx.record({ t: startedAt, phase: 'start', fault: family, detail: this.active.detail, nodes: this.active.nodes });
      ctx.log(`t=${(startedAt / 1000).toFixed(1)}s fault ${family}: ${this.active.detail}`);
      await sleepMs(firstRound ? holdMs : Math.max(0, Math.min(holdMs, until - ctx.t())));
      await this.undoActive();
    }
  }

  private async undoActive(): Promise<void> {
    const active = this.active;
    const family = this.activeFamily;
    if (active === undefined || family === undefined) return;
    this.active = undefined;
    await active.undo().catch((error: unknown) => this.ctx.log(`undoing ${family} failed: ${(error as Error).message}`));
    this.ctx.record({ t: this.ctx.t(), phase: 'end', fault: family, detail: active.detail, nodes: active.nodes });
  }

  /** heal undoes the fault in place and everything a fault could have left: cuts, paused or dead nodes, stopped engines. */
  async heal(): Promise<void> {
    await this.undoActive();
    await this.restoreAll();
  }

  private async restoreAll(): Promise<void> {
    const { env } = this.ctx;
    await this.ctx.partitioner.heal();
    for (const node of env.cluster.nodes) {
      env.cluster.signal(node.nodeId, 'SIGCONT');
      env.cluster.start(node.nodeId, env.nodeEnv);
    }
    await hostsOf(env).ensure();
  }
}

/** seedRandom derives an independent generator for one purpose from the run's seed. */
export function seedRandom(seed: number, purpose: string): SeededRandom {
  let h = seed >>> 0;
  for (const char of purpose) h = (Math.imul(h ^ char.charCodeAt(0), 0x01000193) >>> 0);
  return new SeededRandom(h + Math.floor(seed / 0x1_0000_0000) * 0x1_0000_0000);
}
