// conf-change.ts — membership changes: the Changer that computes a new configuration from the
// current one (one-at-a-time changes, thesis 4.1; joint consensus enter/leave, thesis 4.3), the
// restoration of a configuration from a ConfState, and the ConfChange wire encoding
// (etcd-io/raft's confchange package and ConfChangeV2).
import { ConfChangeDecodeError, ConfChangeError, assert } from './errors.js';
import type { ProgressMap, TrackerConfig } from './tracker.js';
import { Progress, cloneTrackerConfig, emptyTrackerConfig } from './tracker.js';
import type { ConfChange, ConfChangeSingle, ConfChangeTransition, ConfState, NodeId } from './types.js';
import { ConfChangeType } from './types.js';

/** ConfigAndProgress is a configuration with the progress of its members. */
export interface ConfigAndProgress {
  readonly config: TrackerConfig;
  readonly progress: ProgressMap;
}

/** isLeaveJoint says whether a ConfChange asks to leave a joint configuration (no changes). */
export function isLeaveJoint(change: ConfChange): boolean {
  return change.changes.length === 0;
}

/**
 * enterJointMode says whether a ConfChange enters a joint configuration, and if so whether it is
 * left automatically. `auto` with at most one change is a one-at-a-time change (thesis 4.1);
 * anything else uses joint consensus (thesis 4.3).
 */
export function enterJointMode(change: ConfChange): { enter: boolean; autoLeave: boolean } {
  if (change.transition === 'auto' && change.changes.length <= 1) return { enter: false, autoLeave: false };
  return { enter: true, autoLeave: change.transition !== 'explicit' };
}

/**
 * Changer computes the configuration that results from a change, without touching the
 * current one. New members get a Progress whose next index is the leader's last index.
 */
export class Changer {
  constructor(
    private readonly current: ConfigAndProgress,
    private readonly lastIndex: number,
    private readonly maxInflightMsgs: number,
  ) {}

  /** applyChange applies any ConfChange: leave, enter joint, or simple, per its transition. */
  applyChange(change: ConfChange): ConfigAndProgress {
    if (isLeaveJoint(change)) return this.leaveJoint();
    const mode = enterJointMode(change);
    return mode.enter ? this.enterJoint(mode.autoLeave, change.changes) : this.simple(change.changes);
  }

  /** enterJoint enters a joint configuration: outgoing = current voters, incoming = changed voters. */
  enterJoint(autoLeave: boolean, changes: readonly ConfChangeSingle[]): ConfigAndProgress {
    const { config, progress } = this.checkAndCopy();
    if (config.voters.outgoing.size > 0) throw new ConfChangeError('config is already joint');
    if (config.voters.incoming.size === 0) throw new ConfChangeError("can't make a zero-voter config joint");
    for (const id of config.voters.incoming) config.voters.outgoing.add(id);
    this.applySingles(config, progress, changes);
    config.autoLeave = autoLeave;
    return checkAndReturn(config, progress);
  }

  /** leaveJoint moves to the incoming configuration; learnersNext become learners. */
  leaveJoint(): ConfigAndProgress {
    const { config, progress } = this.checkAndCopy();
    if (config.voters.outgoing.size === 0) throw new ConfChangeError("can't leave a non-joint config");
    for (const id of config.learnersNext) {
      config.learners.add(id);
      const member = progress.get(id);
      assert(member !== undefined, `leaveJoint: learnerNext ${id} has no progress`);
      member.isLearner = true;
    }
    config.learnersNext.clear();
    for (const id of config.voters.outgoing) {
      if (!config.voters.incoming.has(id) && !config.learners.has(id)) progress.delete(id);
    }
    config.voters.outgoing.clear();
    config.autoLeave = false;
    return checkAndReturn(config, progress);
  }

  /** simple applies changes that alter at most one voter (thesis 4.1), outside a joint config. */
  simple(changes: readonly ConfChangeSingle[]): ConfigAndProgress {
    const { config, progress } = this.checkAndCopy();
    if (config.voters.outgoing.size > 0) throw new ConfChangeError("can't apply simple config change in joint config");
    const before = new Set(config.voters.incoming);
    this.applySingles(config, progress, changes);
    let changed = 0;
    for (const id of before) if (!config.voters.incoming.has(id)) changed++;
    for (const id of config.voters.incoming) if (!before.has(id)) changed++;
    if (changed > 1) throw new ConfChangeError('more than one voter changed without entering joint config');
    return checkAndReturn(config, progress);
  }

  private applySingles(config: TrackerConfig, progress: ProgressMap, changes: readonly ConfChangeSingle[]): void {
    for (const change of changes) {
      if (change.nodeId === 0) continue; // etcd ignores changes for node 0 ("none").
      switch (change.type) {
        case ConfChangeType.AddNode: this.makeVoter(config, progress, change.nodeId); break;
        case ConfChangeType.AddLearner: this.makeLearner(config, progress, change.nodeId); break;
        case ConfChangeType.RemoveNode: remove(config, progress, change.nodeId); break;
        default: throw new ConfChangeError(`unknown change type ${String(change.type)}`);
      }
    }
    if (config.voters.incoming.size === 0) throw new ConfChangeError('removed all voters');
  }

  private makeVoter(config: TrackerConfig, progress: ProgressMap, id: NodeId): void {
    const member = progress.get(id);
    if (member === undefined) {
      this.initProgress(config, progress, id, false);
      return;
    }
    member.isLearner = false;
    config.learners.delete(id);
    config.learnersNext.delete(id);
    config.voters.incoming.add(id);
  }

  private makeLearner(config: TrackerConfig, progress: ProgressMap, id: NodeId): void {
    const member = progress.get(id);
    if (member === undefined) {
      this.initProgress(config, progress, id, true);
      return;
    }
    if (member.isLearner) return;
    // Remove as a voter first, keeping the Progress (remove() drops it unless the node is an
    // outgoing voter, so put it back).
    remove(config, progress, id);
    progress.set(id, member);
    // A voter of the outgoing config cannot become a learner before the joint config is left:
    // it would be both. It becomes a learner when the joint config is left (learnersNext).
    if (config.voters.outgoing.has(id)) {
      config.learnersNext.add(id);
    } else {
      member.isLearner = true;
      config.learners.add(id);
    }
  }

  private initProgress(config: TrackerConfig, progress: ProgressMap, id: NodeId, isLearner: boolean): void {
    if (isLearner) config.learners.add(id);
    else config.voters.incoming.add(id);
    // Probing starts at the last index; the new member counts as active so that CheckQuorum
    // does not step the leader down before it had a chance to answer.
    const member = new Progress(Math.max(this.lastIndex, 1), this.maxInflightMsgs, isLearner);
    member.recentActive = true;
    progress.set(id, member);
  }

  private checkAndCopy(): { config: TrackerConfig; progress: ProgressMap } {
    const config = cloneTrackerConfig(this.current.config);
    // Progress objects are copied shallowly (as in etcd): the changer only mutates isLearner,
    // and the leader keeps each follower's replication state across a change. A dry run (to
    // validate a proposal) leaves the current configuration untouched.
    const progress: ProgressMap = new Map();
    for (const [id, member] of this.current.progress) progress.set(id, member.shallowCopy());
    checkInvariants(config, progress);
    return { config, progress };
  }
}

function remove(config: TrackerConfig, progress: ProgressMap, id: NodeId): void {
  if (!progress.has(id)) return;
  config.voters.incoming.delete(id);
  config.learners.delete(id);
  config.learnersNext.delete(id);
  // An outgoing voter keeps its Progress until the joint config is left.
  if (!config.voters.outgoing.has(id)) progress.delete(id);
}

function checkAndReturn(config: TrackerConfig, progress: ProgressMap): ConfigAndProgress {
  checkInvariants(config, progress);
  return { config, progress };
}

/** checkInvariants validates a configuration against its progress map; throws ConfChangeError. */
export function checkInvariants(config: TrackerConfig, progress: ProgressMap): void {
  const all = [...config.voters.incoming, ...config.voters.outgoing, ...config.learners, ...config.learnersNext];
  for (const id of all) {
    if (!progress.has(id)) throw new ConfChangeError(`no progress for ${id}`);
  }
  for (const id of config.learnersNext) {
    if (!config.voters.outgoing.has(id)) throw new ConfChangeError(`${id} is in learnersNext, but not in outgoing voters`);
    if (progress.get(id)!.isLearner) throw new ConfChangeError(`${id} is in learnersNext, but is already marked as learner`);
  }
  for (const id of config.learners) {
    if (config.voters.outgoing.has(id)) throw new ConfChangeError(`${id} is in learners and outgoing voters`);
    if (config.voters.incoming.has(id)) throw new ConfChangeError(`${id} is in learners and incoming voters`);
    if (!progress.get(id)!.isLearner) throw new ConfChangeError(`${id} is in learners, but is not marked as learner`);
  }
  if (config.voters.outgoing.size === 0) {
    if (config.learnersNext.size > 0) throw new ConfChangeError('learnersNext must be empty when not joint');
    if (config.autoLeave) throw new ConfChangeError('autoLeave must be false when not joint');
  }
  for (const id of progress.keys()) {
    const known = config.voters.incoming.has(id) || config.voters.outgoing.has(id) || config.learners.has(id);
    if (!known) throw new ConfChangeError(`progress for ${id} but it is not a member`);
  }
}

/**
 * restoreConfig builds the configuration described by a ConfState (from storage or a snapshot).
 * Every member starts with Progress next = lastIndex + 1. Throws ConfChangeError when the
 * ConfState is inconsistent (e.g. a node both voter and learner).
 */
export function restoreConfig(confState: ConfState, lastIndex: number, maxInflightMsgs: number): ConfigAndProgress {
  const config = emptyTrackerConfig();
  const progress: ProgressMap = new Map();
  const add = (id: NodeId, isLearner: boolean): void => {
    if (!Number.isSafeInteger(id) || id <= 0) throw new ConfChangeError(`node id must be a positive safe integer, got ${id}`);
    if (!progress.has(id)) progress.set(id, new Progress(lastIndex + 1, maxInflightMsgs, isLearner));
  };
  for (const id of confState.voters) { config.voters.incoming.add(id); add(id, false); }
  for (const id of confState.votersOutgoing) { config.voters.outgoing.add(id); add(id, false); }
  for (const id of confState.learners) {
    if (progress.has(id)) throw new ConfChangeError(`${id} is both a voter and a learner`);
    config.learners.add(id);
    add(id, true);
  }
  for (const id of confState.learnersNext) config.learnersNext.add(id);
  config.autoLeave = confState.autoLeave;
  checkInvariants(config, progress);
  return { config, progress };
}

// ---- Encoding --------------------------------------------------------------------------------

const TRANSITIONS: readonly ConfChangeTransition[] = ['auto', 'implicit', 'explicit'];
const CHANGE_TYPES: readonly number[] = Object.values(ConfChangeType);
/** MAX_CONF_CHANGE_SINGLES bounds the changes in one ConfChange. */
export const MAX_CONF_CHANGE_SINGLES = 1024;

/**
 * encodeConfChange encodes a ConfChange as UTF-8 JSON of a plain object with a fixed key order
 * (transition, changes[{type, nodeId}], context as lowercase hex): the same change always gives
 * the same bytes.
 */
export function encodeConfChange(change: ConfChange): Uint8Array {
  const plain = {
    transition: change.transition,
    changes: change.changes.map((single) => ({ type: single.type, nodeId: single.nodeId })),
    context: toHex(change.context),
  };
  return new TextEncoder().encode(JSON.stringify(plain));
}

/** decodeConfChange decodes encodeConfChange's output; throws ConfChangeDecodeError on anything else. */
export function decodeConfChange(bytes: Uint8Array): ConfChange {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    throw new ConfChangeDecodeError(`expected UTF-8 JSON, got ${bytes.byteLength} bytes that are not`, { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfChangeDecodeError(`expected a JSON object at top level, got ${describe(parsed)}`);
  }
  const record = parsed as Record<string, unknown>;
  const keys = Object.keys(record).sort().join(',');
  if (keys !== 'changes,context,transition') {
    throw new ConfChangeDecodeError(`expected keys changes,context,transition, got ${keys}`);
  }
  const transition = record['transition'];
  if (typeof transition !== 'string' || !(TRANSITIONS as readonly string[]).includes(transition)) {
    throw new ConfChangeDecodeError(`transition: expected one of ${TRANSITIONS.join('|')}, got ${describe(transition)}`);
  }
  const rawChanges = record['changes'];
  if (!Array.isArray(rawChanges) || rawChanges.length > MAX_CONF_CHANGE_SINGLES) {
    throw new ConfChangeDecodeError(`changes: expected an array of at most ${MAX_CONF_CHANGE_SINGLES}, got ${describe(rawChanges)}`);
  }
  const changes = rawChanges.map((raw: unknown, i: number) => decodeSingle(raw, i));
  const context = record['context'];
  if (typeof context !== 'string' || !/^([0-9a-f]{2})*$/.test(context)) {
    throw new ConfChangeDecodeError(`context: expected lowercase hex, got ${describe(context)}`);
  }
  return { transition: transition as ConfChangeTransition, changes, context: fromHex(context) };
}

function decodeSingle(raw: unknown, i: number): ConfChangeSingle {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfChangeDecodeError(`changes[${i}]: expected an object, got ${describe(raw)}`);
  }
  const record = raw as Record<string, unknown>;
  const keys = Object.keys(record).sort().join(',');
  if (keys !== 'nodeId,type') throw new ConfChangeDecodeError(`changes[${i}]: expected keys nodeId,type, got ${keys}`);
  const type = record['type'];
  if (typeof type !== 'number' || !CHANGE_TYPES.includes(type)) {
    throw new ConfChangeDecodeError(`changes[${i}].type: expected one of ${CHANGE_TYPES.join('|')}, got ${describe(type)}`);
  }
  const nodeId = record['nodeId'];
  if (typeof nodeId !== 'number' || !Number.isSafeInteger(nodeId) || nodeId <= 0) {
    throw new ConfChangeDecodeError(`changes[${i}].nodeId: expected a positive safe integer, got ${describe(nodeId)}`);
  }
  return { type: type as ConfChangeType, nodeId };
}

function describe(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 60)}...` : text;
}

function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += byte.toString(16).padStart(2, '0');
  return out;
}

function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** confStatesEquivalent compares two ConfStates as sets (order of ids does not matter). */
export function confStatesEquivalent(a: ConfState, b: ConfState): boolean {
  const same = (x: readonly NodeId[], y: readonly NodeId[]): boolean => {
    const sx = [...new Set(x)].sort((p, q) => p - q);
    const sy = [...new Set(y)].sort((p, q) => p - q);
    return sx.length === sy.length && sx.every((v, i) => v === sy[i]);
  };
  return same(a.voters, b.voters) && same(a.learners, b.learners) && same(a.votersOutgoing, b.votersOutgoing)
    && same(a.learnersNext, b.learnersNext) && a.autoLeave === b.autoLeave;
}
