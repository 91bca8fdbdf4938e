// cpu-profile.ts — where a process's CPU goes, from a V8 CPU profile (`node --cpu-prof`, or the
// inspector's Profiler), cut to a time window and sorted into the costs issue #18 asks about.
//
// A V8 profile is a call tree (nodes with a callFrame and children) and a list of samples (the leaf
// node running at each tick, with the time since the previous sample). Each sample is given to one
// category by walking from its leaf towards the root and taking the first frame a rule recognises, so
// a SHA-256 called by the audit chain counts as the audit chain and a write to a TLS socket made by the
// transport counts as the transport. Samples are wall-clock ticks of the main thread: on a shared
// machine they include time the thread was runnable but descheduled, so callers scale the shares to
// the thread's measured CPU time (/proc/<pid>/task/<tid>/stat) rather than trusting the sample sum.
import { readFileSync } from 'node:fs';

/** CpuProfile is the part of a V8 .cpuprofile this module reads. */
export interface CpuProfile {
  readonly nodes: ReadonlyArray<{
    readonly id: number;
    readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber?: number };
    readonly children?: readonly number[];
  }>;
  /** startTime and endTime are microseconds of the monotonic clock (CLOCK_MONOTONIC, as process.hrtime). */
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  /** timeDeltas[i] is the microseconds between sample i-1 (or startTime) and sample i. */
  readonly timeDeltas: readonly number[];
}

/** CATEGORIES are the costs a profile is sorted into, in the order reports print them. */
export const CATEGORIES = [
  'verification', 'http', 'json', 'protobuf', 'sockets_tls', 'transport', 'leveldb', 'apply', 'audit_chain', 'state_hash',
  'raft_core', 'runtime', 'api', 'signing', 'timers', 'promises', 'gc', 'native', 'other', 'idle',
] as const;
/** Category is one of CATEGORIES. */
export type Category = typeof CATEGORIES[number];

type Frame = CpuProfile['nodes'][number]['callFrame'];

/**
 * FRAME_RULES recognise a frame; the first rule that matches the first frame (from the leaf up) that any
 * rule matches decides the sample's category. More specific rules come first.
 */
const FRAME_RULES: ReadonlyArray<{ readonly category: Category; readonly test: (frame: Frame) => boolean }> = [
  { category: 'idle', test: (f) => f.functionName === '(idle)' },
  { category: 'gc', test: (f) => f.functionName === '(garbage collector)' },
  { category: 'native', test: (f) => f.functionName === '(program)' },
  { category: 'verification', test: (f) => f.url.includes('internal/crypto/sig') && /verify/i.test(f.functionName) },
  { category: 'verification', test: (f) => /commands\/crypto\.[jt]s/.test(f.url) && /verifySignature|publicKeyObject/.test(f.functionName) },
  { category: 'signing', test: (f) => (f.url.includes('internal/crypto/sig') && /sign/i.test(f.functionName)) || /tweetnacl/.test(f.url) },
  { category: 'audit_chain', test: (f) => /state\/audit\.[jt]s/.test(f.url) },
  { category: 'state_hash', test: (f) => /state\/state-hash\.[jt]s/.test(f.url) },
  { category: 'leveldb', test: (f) => /classic-level|abstract-level|level-transcoder|module-error|storage\/(level-log-store|durable-storage|records)\.[jt]s/.test(f.url) },
  { category: 'protobuf', test: (f) => /protobufjs|\/src\/wire\/|raft\/.*codec|proto\.[jt]s/.test(f.url) },
  { category: 'json', test: (f) => /^JSON\.|^(parse|stringify)$/.test(f.functionName) && f.url === '' },
  { category: 'json', test: (f) => /fast-json-stringify|secure-json-parse|canonical-json/.test(f.url) },
  { category: 'http', test: (f) => /fastify|find-my-way|avvio|light-my-request|ajv|fast-querystring|process-warning|pino/.test(f.url) },
  { category: 'http', test: (f) => /node:_http|node:http|node:https|internal\/http|bench\/support\.[jt]s/.test(f.url) },
  { category: 'transport', test: (f) => /\/src\/transport\//.test(f.url) },
  { category: 'apply', test: (f) => /\/src\/(state|policy)\//.test(f.url) },
  { category: 'raft_core', test: (f) => /\/src\/raft\//.test(f.url) },
  { category: 'runtime', test: (f) => /\/src\/node\//.test(f.url) },
  { category: 'api', test: (f) => /\/src\/(api|commands)\//.test(f.url) },
  { category: 'sockets_tls', test: (f) => /node:_tls|node:tls|node:net|internal\/stream_base|internal\/streams|node:stream|internal\/tls/.test(f.url) },
  { category: 'timers', test: (f) => /internal\/timers|node:timers/.test(f.url) },
  { category: 'promises', test: (f) => /internal\/process\/task_queues|processTicksAndRejections/.test(f.url + f.functionName) },
];

/**
 * ANCESTOR_OVERRIDES re-attribute a socket or TLS sample to the transport or to HTTP when a frame
 * below it on the stack (towards the root) belongs to one of them: a TLS write made by the transport's
 * send is transport crypto, one made by Fastify's reply is HTTP. Reads arrive from libuv with no owner
 * above them and stay `sockets_tls`.
 */
const OWNERS: ReadonlyArray<{ readonly category: Category; readonly test: (frame: Frame) => boolean }> = [
  { category: 'transport', test: (f) => /\/src\/transport\//.test(f.url) },
  { category: 'http', test: (f) => /fastify|node:_http|node:https|bench\/support\.[jt]s/.test(f.url) },
];

/** categoryOf sorts one stack (leaf first) into a Category. */
export function categoryOf(stack: readonly Frame[]): Category {
  for (let i = 0; i < stack.length; i++) {
    const rule = FRAME_RULES.find((r) => r.test(stack[i]!));
    if (rule === undefined) continue;
    if (rule.category !== 'sockets_tls') return rule.category;
    for (let j = i + 1; j < stack.length; j++) {
      const owner = OWNERS.find((o) => o.test(stack[j]!));
      if (owner !== undefined) return owner.category;
    }
    return 'sockets_tls';
  }
  return 'other';
}

/** ProfileBreakdown is a profile's sampled time per category and its busiest leaf functions. */
export interface ProfileBreakdown {
  /** sampledMs: every sample in the window, idle included. */
  readonly sampledMs: number;
  readonly byCategoryMs: Record<Category, number>;
  /** topSelf: the leaf functions with the most non-idle time, "name (file:line)". */
  readonly topSelf: ReadonlyArray<{ readonly frame: string; readonly ms: number; readonly category: Category }>;
}

/**
 * breakdown sums the samples of `profile` whose time lies in [fromUs, toUs) (monotonic microseconds;
 * the whole profile when omitted) per category.
 */
export function breakdown(profile: CpuProfile, fromUs = Number.NEGATIVE_INFINITY, toUs = Number.POSITIVE_INFINITY, topCount = 15): ProfileBreakdown {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const categoryCache = new Map<number, Category>();
  const categoryOfNode = (id: number): Category => {
    let category = categoryCache.get(id);
    if (category === undefined) {
      const stack: Frame[] = [];
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) stack.push(byId.get(at)!.callFrame);
      category = categoryOf(stack);
      categoryCache.set(id, category);
    }
    return category;
  };
  const byCategoryMs = Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>;
  const selfMs = new Map<number, number>();
  let sampledMs = 0;
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (at < fromUs || at >= toUs) continue;
    // A sample stands for the interval that ends at it.
    const ms = delta / 1000;
    const id = profile.samples[i]!;
    sampledMs += ms;
    const category = categoryOfNode(id);
    byCategoryMs[category] += ms;
    if (category !== 'idle') selfMs.set(id, (selfMs.get(id) ?? 0) + ms);
  }
  const bySelfFrame = new Map<string, { ms: number; category: Category }>();
  for (const [id, ms] of selfMs) {
    const frame = byId.get(id)!.callFrame;
    const name = `${frame.functionName || '(anonymous)'} (${frame.url.replace(/^.*\/(node_modules\/|src\/|bench\/)/, '$1')}:${(frame.lineNumber ?? 0) + 1})`;
    const entry = bySelfFrame.get(name) ?? { ms: 0, category: categoryOfNode(id) };
    entry.ms += ms;
    bySelfFrame.set(name, entry);
  }
  const topSelf = [...bySelfFrame].sort((a, b) => b[1].ms - a[1].ms).slice(0, topCount)
    .map(([frame, { ms, category }]) => ({ frame, ms: round2(ms), category }));
  return { sampledMs: round2(sampledMs), byCategoryMs, topSelf };
}

/** readProfile reads a .cpuprofile file. */
export function readProfile(path: string): CpuProfile {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  if (!Array.isArray(profile.nodes) || !Array.isArray(profile.samples) || !Array.isArray(profile.timeDeltas)) {
    throw new Error(`${path}: not a V8 CPU profile (expected nodes, samples and timeDeltas)`);
  }
  return profile;
}

/**
 * perWrite turns a breakdown into CPU milliseconds per write: the non-idle categories' shares of the
 * sampled busy time, scaled to `threadCpuMs` (the main thread's measured CPU in the window), divided by
 * `writes`. Scaling removes the descheduled time that wall-clock samples include on a shared machine.
 */
export function perWrite(profile: ProfileBreakdown, threadCpuMs: number, writes: number): Record<Category, number> {
  const busyMs = CATEGORIES.filter((c) => c !== 'idle').reduce((sum, c) => sum + profile.byCategoryMs[c], 0);
  const scale = busyMs > 0 && writes > 0 ? threadCpuMs / busyMs / writes : 0;
  return Object.fromEntries(CATEGORIES.map((c) => [c, c === 'idle' ? 0 : round3(profile.byCategoryMs[c] * scale)])) as Record<Category, number>;
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
