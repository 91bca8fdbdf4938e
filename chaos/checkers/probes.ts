// probes.ts — the `probes` checker (DESIGN.md promise 4): no probe datagram is delivered while its
// device's agreed state forbids it, and a change between two allowing states is made before the old
// flows are broken (no gap in allowed traffic).
//
// Rules, per device (its StateChanges in invocation order, its ProbeSeries):
// 1. Forbidden intervals. For each change `c` whose state forbids the probes and whose enforcement was
//    confirmed (enforcedMs not null): [c.enforcedMs + GRACE, next.invokeMs - GRACE), where `next` is the
//    device's next change by invocation (whatever its outcome), or the end of the recording. GRACE
//    (20 ms) absorbs the timestamp jitter between the prober's and the harness's processes, at both
//    ends. A datagram that was RECEIVED, whose SEND time (sent[seq]) lies in a forbidden interval and
//    that was DELIVERED before that interval ended (+ GRACE) is a violation: it crossed the network while
//    the state certainly forbade it. A datagram sent before enforcement was confirmed may pass: that is not
//    a violation. Neither is one sent in a forbidden interval but delivered only after a later change
//    to a state that ALLOWS the probes was asked for (and not refused): a queue — a switch port not read
//    during an OVS restart or a stalled vswitchd, a μmbox — may release it under that allowing state;
//    those are counted as "late" in the summary. A datagram delivered after the interval while every
//    later change asked for by then forbids too (attack → quarantined) or was refused is a violation.
// 2. Make-before-break. For each change `c` whose previous change `p` allowed the probes, `c` allows
//    them too, both were enforced, and `p` was enforced no later than `c` was invoked: at most
//    MAX_SWAP_LOSS (2) datagrams sent in [c.invokeMs, c.enforcedMs + 50] may be lost (sent, never
//    received). Windows that overlap a fault — from its start to 3 s after its end — that restarted the
//    device's gateway (a kill family), or that is an ovs-restart, docker-restart or umbox-kill anywhere,
//    are excluded (counted, not checked): a restarting switch or μmbox, or a gateway that rebuilds its
//    data plane after a restart, loses traffic legitimately. Partitions and pauses do not touch installed
//    flows, so swaps during them are checked.
// A received sequence number that was never sent is counted in the summary, not judged.
import type { CheckerVerdict, History, ProbeSeries, StateChange } from '../history.js';
import { faultIntervals, formatMs, verdictOf, type FaultInterval } from './common.js';

/** PROBE_GRACE_MS absorbs clock jitter between the prober and the harness. */
export const PROBE_GRACE_MS = 20;
/** SWAP_TAIL_MS extends a swap window past its confirmed enforcement. */
export const SWAP_TAIL_MS = 50;
/** MAX_SWAP_LOSS is how many allowed datagrams a swap window may lose. */
export const MAX_SWAP_LOSS = 2;
/** FAULT_SETTLE_MS: traffic may still be lost this long after a fault is undone. */
export const FAULT_SETTLE_MS = 3_000;
/** DATAPLANE_FAULTS disturb traffic wherever they happen. */
export const DATAPLANE_FAULTS: ReadonlySet<string> = new Set(['ovs-restart', 'docker-restart', 'umbox-kill']);
/** RESTART_FAULTS restart the nodes they touch. */
export const RESTART_FAULTS: ReadonlySet<string> = new Set(['kill', 'kill-leader', 'kill-minority', 'kill-majority', 'lose-unsynced']);

interface DeviceCounts {
  device: string;
  sent: number;
  received: number;
  checked: number;
  sentForbidden: number;
  /** late: sent while forbidden, delivered only after a change to an allowing state was asked for (not judged). */
  late: number;
  /** lateHeldMs: the longest a late datagram took from sending to delivery (0 when none). */
  lateHeldMs: number;
  swapsChecked: number;
  swapsExcluded: number;
}

/** checkProbes is the `probes` checker (rules above). */
export function checkProbes(history: History): CheckerVerdict {
  const faults = faultIntervals(history.faults);
  const changesByDevice = new Map<string, StateChange[]>();
  for (const change of history.stateChanges) changesByDevice.set(change.device, [...(changesByDevice.get(change.device) ?? []), change]);
  for (const list of changesByDevice.values()) list.sort((a, b) => a.invokeMs - b.invokeMs);
  const problems: string[] = [];
  const counts: DeviceCounts[] = [];
  let unknownSeqs = 0;
  for (const series of history.probes) {
    const changes = changesByDevice.get(series.device) ?? [];
    const tally: DeviceCounts = { device: series.device, sent: series.sent.length, received: series.received.length, checked: 0, sentForbidden: 0, late: 0, lateHeldMs: 0, swapsChecked: 0, swapsExcluded: 0 };
    unknownSeqs += forbiddenDeliveries(series, changes, tally, problems);
    makeBeforeBreak(series, changes, faults, tally, problems);
    counts.push(tally);
  }
  const shown = counts.slice(0, 6).map((c) => `${c.device} ${c.received}/${c.sent} recv/sent, ${c.checked} checked, ${c.sentForbidden} sent while forbidden (${c.late} delivered late${c.late > 0 ? `, held up to ${formatMs(c.lateHeldMs)}` : ''}), swaps ${c.swapsChecked} checked ${c.swapsExcluded} excluded`);
  const summary = `${counts.length} device(s): ${shown.join('; ')}${counts.length > 6 ? `; ... and ${counts.length - 6} more` : ''}` +
    `${unknownSeqs > 0 ? `; ${unknownSeqs} received seq(s) never sent` : ''}`;
  return verdictOf('probes', counts.length === 0 ? 'no probe traffic was recorded' : summary, problems);
}

/** ForbiddenInterval is a span of send times during which a device's agreed state forbade its probes. */
export interface ForbiddenInterval {
  readonly fromMs: number;
  readonly toMs: number;
  readonly change: StateChange;
}

/** forbiddenIntervals applies rule 1's definition to one device's changes (any order). */
export function forbiddenIntervals(deviceChanges: readonly StateChange[]): ForbiddenInterval[] {
  const changes = [...deviceChanges].sort((a, b) => a.invokeMs - b.invokeMs);
  const intervals: ForbiddenInterval[] = [];
  changes.forEach((change, i) => {
    if (!change.forbids || change.enforcedMs === null) return;
    const next = changes[i + 1];
    const fromMs = change.enforcedMs + PROBE_GRACE_MS;
    const toMs = next === undefined ? Infinity : next.invokeMs - PROBE_GRACE_MS;
    if (fromMs < toMs) intervals.push({ fromMs, toMs, change });
  });
  return intervals;
}

/** forbiddenDeliveries applies rule 1; it returns how many received seqs were never sent. */
function forbiddenDeliveries(series: ProbeSeries, changes: readonly StateChange[], tally: DeviceCounts, problems: string[]): number {
  const intervals = forbiddenIntervals(changes);
  const within = (t: number): { change: StateChange } | undefined => intervals.find((interval) => t >= interval.fromMs && t < interval.toMs);
  for (const t of series.sent) if (within(t) !== undefined) tally.sentForbidden += 1;
  let unknown = 0;
  for (const datagram of series.received) {
    const sentMs = series.sent[datagram.seq];
    if (sentMs === undefined) {
      unknown += 1;
      continue;
    }
    tally.checked += 1;
    const hit = intervals.find((interval) => sentMs >= interval.fromMs && sentMs < interval.toMs);
    if (hit === undefined) continue;
    if (datagram.t >= hit.toMs + PROBE_GRACE_MS) {
      if (allowingChangeAskedBefore(changes, hit.change, datagram.t + PROBE_GRACE_MS)) {
        tally.late += 1;
        tally.lateHeldMs = Math.max(tally.lateHeldMs, datagram.t - sentMs);
        continue;
      }
      problems.push(`device ${series.device}: datagram ${datagram.seq} sent at ${formatMs(sentMs)} while its state "${hit.change.state}" (enforced at ` +
        `${formatMs(hit.change.enforcedMs)}) forbade it was delivered at ${formatMs(datagram.t)}, when no change to an allowing state had been asked for`);
      continue;
    }
    problems.push(`device ${series.device}: datagram ${datagram.seq} sent at ${formatMs(sentMs)} was delivered at ${formatMs(datagram.t)} while its state ` +
      `"${hit.change.state}" (enforced at ${formatMs(hit.change.enforcedMs)}) forbade it`);
  }
  return unknown;
}

/**
 * allowingChangeAskedBefore: whether a change after `forbidding` (in invocation order) to a state that
 * allows the probes was asked for before `t` and not refused (outcome ok, or info: it may have applied).
 */
function allowingChangeAskedBefore(changes: readonly StateChange[], forbidding: StateChange, t: number): boolean {
  const from = changes.indexOf(forbidding);
  return changes.some((change, i) => i > from && change.invokeMs < t && !change.forbids && change.outcome !== 'fail');
}

/** makeBeforeBreak applies rule 2. */
function makeBeforeBreak(series: ProbeSeries, changes: readonly StateChange[], faults: readonly FaultInterval[], tally: DeviceCounts, problems: string[]): void {
  const received = new Set(series.received.map((datagram) => datagram.seq));
  for (let i = 1; i < changes.length; i++) {
    const previous = changes[i - 1]!;
    const change = changes[i]!;
    if (previous.forbids || change.forbids || previous.enforcedMs === null || change.enforcedMs === null) continue;
    if (previous.enforcedMs > change.invokeMs) continue;
    const fromMs = change.invokeMs;
    const toMs = change.enforcedMs + SWAP_TAIL_MS;
    const disturbed = faults.find((fault) => ((RESTART_FAULTS.has(fault.fault) && fault.nodes.includes(change.gateway)) || DATAPLANE_FAULTS.has(fault.fault))
      && fault.startMs <= toMs && fault.endMs + FAULT_SETTLE_MS >= fromMs);
    if (disturbed !== undefined) {
      tally.swapsExcluded += 1;
      continue;
    }
    tally.swapsChecked += 1;
    const lost: number[] = [];
    for (let seq = firstAtOrAfter(series.sent, fromMs); seq < series.sent.length && series.sent[seq]! <= toMs; seq++) {
      if (!received.has(seq)) lost.push(seq);
    }
    if (lost.length > MAX_SWAP_LOSS) {
      problems.push(`device ${series.device}: swap "${previous.state}" -> "${change.state}" (invoked ${formatMs(fromMs)}, enforced ${formatMs(change.enforcedMs)}) ` +
        `lost ${lost.length} allowed datagrams (at most ${MAX_SWAP_LOSS}): seqs ${lost.slice(0, 10).join(', ')}${lost.length > 10 ? ', ...' : ''} — flows broken before the new ones were made? ` +
        `(${describeGap(series, received, lost[0]!)})`);
    }
  }
}

/**
 * describeGap says where the run of lost datagrams that holds `seq` began and ended (send times of the
 * first and last lost, and of the nearest received on each side), so a report tells a loss that began
 * with the swap from one that was already under way when the swap was asked for.
 */
function describeGap(series: ProbeSeries, received: ReadonlySet<number>, seq: number): string {
  let first = seq;
  while (first > 0 && !received.has(first - 1)) first -= 1;
  let last = seq;
  while (last + 1 < series.sent.length && !received.has(last + 1)) last += 1;
  const before = first > 0 ? `seq ${first - 1} sent at ${formatMs(series.sent[first - 1]!)} arrived` : 'nothing arrived before';
  const after = last + 1 < series.sent.length ? `seq ${last + 1} sent at ${formatMs(series.sent[last + 1]!)} arrived` : 'nothing arrived after';
  return `${last - first + 1} consecutive lost, sent ${formatMs(series.sent[first]!)} .. ${formatMs(series.sent[last]!)}; ${before}; ${after}`;
}

/** firstAtOrAfter finds the first index whose time is >= t in a time-ordered list (binary search). */
function firstAtOrAfter(times: readonly number[], t: number): number {
  let low = 0;
  let high = times.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (times[middle]! < t) low = middle + 1;
    else high = middle;
  }
  return low;
}
