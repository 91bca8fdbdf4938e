// raft-runtime-invariants.test.ts — goal: the ready loop's invariants (src/node/ready-invariants.ts)
// catch a violation instead of letting the node acknowledge what is not durable or apply what is not
// committed, and they stay quiet on a correct run. Method: table tests of each assertion on Readies and
// messages built by hand (a gap in committed entries, applied beyond commit, an acknowledgement beyond
// the durable log, a response sent before persisting); then a real RaftRuntime (single voter, in-memory
// LogStore under the real DurableStorage) whose store lies — save() resolves without writing the
// entries, or drops the term and vote — must stop with RuntimeAssertionError ('fatal'), while the
// same runtime over the honest store answers its proposals.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType, MessageType, SeededRandom, makeMessage } from '../../src/raft/index.js';
import type { ConfState, Entry, HardState, Message, Ready } from '../../src/raft/index.js';
import { DurableStorage, MemoryLogStore } from '../../src/storage/index.js';
import type { SaveBatch } from '../../src/storage/index.js';
import { LogApplier } from '../../src/node/log-applier.js';
import type { PeerAddress, RaftLogStore } from '../../src/node/ports.js';
import { RaftRuntime } from '../../src/node/raft-runtime.js';
import {
  assertAcknowledgementsDurable, assertAppliedBounds, assertEarlyMessagesSafe, assertPersisted, assertReadyWellFormed,
} from '../../src/node/ready-invariants.js';
import { RuntimeAssertionError } from '../../src/node/runtime-errors.js';
import { bootstrappedDisk } from '../support/bootstrapped-disk.js';
import { ForwardingStore } from '../support/forwarding-store.js';

const CONF: ConfState = { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
const FOUNDERS = new Map<number, PeerAddress>([[1, { host: '127.0.0.1', port: 7001, publicKey: '01'.padStart(64, '0') }]]);
const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined };

/** entry builds a Normal entry. */
function entry(index: number, term = 1): Entry {
  return { index, term, type: EntryType.Normal, data: new Uint8Array() };
}

/** ready builds a Ready with the given parts. */
function ready(parts: Partial<Ready>): Ready {
  return { readStates: [], entries: [], committedEntries: [], messages: [], mustSync: false, ...parts };
}

/** storeAt is a RaftLogStore view that holds entries up to `lastIndex` of term 1 and `hardState`. */
function storeAt(lastIndex: number, hardState: HardState): RaftLogStore {
  return {
    initialState: () => ({ hardState, confState: CONF }),
    lastIndex: () => lastIndex,
    firstIndex: () => 1,
    term: () => 1,
    entries: () => [],
    snapshot: () => ({ metadata: { index: 0, term: 0, confState: CONF }, data: new Uint8Array() }),
    save: () => Promise.resolve(),
    createSnapshot: () => Promise.resolve(),
  };
}

describe('the ready loop\'s invariants, one by one', () => {
  test('committed entries after a gap in what was applied are refused', () => {
    assert.throws(() => assertReadyWellFormed(ready({ committedEntries: [entry(7)] }), 5, 10), RuntimeAssertionError);
    assertReadyWellFormed(ready({ committedEntries: [entry(6), entry(7)] }), 5, 10);
  });
  test('committed entries beyond the commit index are refused (applied <= committed)', () => {
    assert.throws(() => assertReadyWellFormed(ready({ committedEntries: [entry(6), entry(7)] }), 5, 6), /beyond the commit index 6/);
  });
  test('non-contiguous committed entries are refused', () => {
    assert.throws(() => assertReadyWellFormed(ready({ committedEntries: [entry(6), entry(8)] }), 5, 10), /not contiguous/);
  });
  test('applied beyond committed, or a snapshot beyond applied, is refused', () => {
    assert.throws(() => assertAppliedBounds(8, 7, 0), /applied 8 is beyond the commit index 7/);
    assert.throws(() => assertAppliedBounds(8, 9, 9), /snapshot index 9 is beyond applied 8/);
    assertAppliedBounds(8, 8, 8);
  });
  test('an acknowledgement of an entry that is not durable is refused; a rejection is not an acknowledgement', () => {
    const ack = (index: number, reject = false): Message => makeMessage({ type: MessageType.AppResp, from: 2, to: 1, term: 1, index, reject });
    const store = storeAt(5, { term: 1, vote: 1, commit: 5 });
    assert.throws(() => assertAcknowledgementsDurable([ack(6)], store), /acknowledging index 6 to 1, but the durable log ends at 5/);
    assertAcknowledgementsDurable([ack(5), ack(9, true)], store);
  });
  test('before persisting, only appends and heartbeats of the durable term with a durable commit leave', () => {
    const store = storeAt(5, { term: 2, vote: 1, commit: 5 });
    const app = (fields: Partial<Message>): Message => makeMessage({ type: MessageType.App, from: 1, to: 2, term: 2, commit: 5, ...fields });
    assertEarlyMessagesSafe([app({}), app({ type: MessageType.Heartbeat })], store);
    assert.throws(() => assertEarlyMessagesSafe([app({ type: MessageType.VoteResp })], store), /sent before the Ready was persisted/);
    assert.throws(() => assertEarlyMessagesSafe([app({ term: 3 })], store), /carries term 3, durable term 2/);
    assert.throws(() => assertEarlyMessagesSafe([app({ commit: 6 })], store), /commit 6 beyond durable index 5/);
  });
  test('a write the store acknowledged but does not hold is refused', () => {
    assert.throws(() => assertPersisted(ready({ entries: [entry(6)] }), storeAt(5, { term: 1, vote: 1, commit: 5 })), /entry 6 acknowledged by the store/);
    assert.throws(() => assertPersisted(ready({ hardState: { term: 2, vote: 1, commit: 5 } }), storeAt(5, { term: 1, vote: 1, commit: 5 })),
      /hard state term 2 vote 1 saved, the store holds term 1 vote 1/);
    assertPersisted(ready({ entries: [entry(5)], hardState: { term: 1, vote: 1, commit: 5 } }), storeAt(5, { term: 1, vote: 1, commit: 5 }));
  });
});

type Lie = 'none' | 'drop-entries' | 'drop-vote';

/**
 * LyingStore is the runtime's store with a defect switched on by `lie`: save() resolves at once
 * without writing a batch that carries entries ('drop-entries'), or writes it without its term and
 * vote ('drop-vote'). Everything else goes to the real DurableStorage.
 */
class LyingStore extends ForwardingStore {
  lie: Lie = 'none';
  override async save(batch: SaveBatch): Promise<void> {
    if (this.lie === 'drop-entries' && batch.entries.length > 0) return;
    if (this.lie === 'drop-vote' && batch.hardState !== undefined) {
      const durable = this.inner.initialState().hardState;
      await this.inner.save({ ...batch, hardState: { ...batch.hardState, term: durable.term, vote: durable.vote } });
      return;
    }
    await this.inner.save(batch);
  }
}

/** startRuntime bootstraps a single voter over an in-memory disk and starts its runtime over a LyingStore. */
async function startRuntime(lie: Lie, lieFromStart: boolean): Promise<{ runtime: RaftRuntime<unknown>; store: LyingStore; fatal: Promise<unknown> }> {
  const disk = await bootstrappedDisk(CONF, FOUNDERS);
  const store = new LyingStore(await DurableStorage.open(new MemoryLogStore(disk)));
  if (lieFromStart) store.lie = lie;
  const runtime = new RaftRuntime<unknown>({
    id: 1, store, transport: { send: () => undefined, setPeers: () => undefined }, applier: new LogApplier(),
    clock: { nowMs: () => Date.now(), monotonicMs: () => performance.now() }, random: new SeededRandom(1), logger: quiet, founders: FOUNDERS,
  }, { tickMs: 10, electionTicks: 10, heartbeatTicks: 1, proposalTimeoutMs: 2_000 });
  const fatal = new Promise<unknown>((resolve) => runtime.on('fatal', resolve));
  runtime.start();
  return { runtime, store, fatal };
}

/** becomeLeader makes the single voter campaign and waits until its runtime has handled the win (at most 5 s). */
async function becomeLeader(runtime: RaftRuntime<unknown>): Promise<void> {
  const won = new Promise<void>((resolve) => runtime.on('leader', (leader: number) => { if (leader === 1) resolve(); }));
  runtime.campaign();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('the single voter did not become leader within 5 s')), 5_000); });
  try {
    await Promise.race([won, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('a RaftRuntime over a store that lies', () => {
  test('the honest store: proposals are answered and nothing is fatal', async () => {
    const { runtime, fatal } = await startRuntime('none', false);
    let failed: unknown;
    void fatal.then((error) => { failed = error; });
    await becomeLeader(runtime);
    const committed = await runtime.propose(new Uint8Array([1, 2, 3]));
    assert.ok(committed.index > 1);
    assert.equal(failed, undefined);
    await runtime.stop();
  });

  test('save() resolves without the entries: the node stops before acknowledging them', async () => {
    const { runtime, store, fatal } = await startRuntime('drop-entries', false);
    await becomeLeader(runtime);
    store.lie = 'drop-entries';
    const outcome = runtime.propose(new Uint8Array([1])).then(() => 'answered', () => 'refused');
    const error = await fatal;
    assert.ok(error instanceof RuntimeAssertionError, `expected RuntimeAssertionError, got ${String(error)}`);
    assert.match(error.message, /acknowledged by the store but its last index is/);
    await runtime.stop();
    assert.equal(await outcome, 'refused', 'the proposal must not be answered as committed');
  });

  test('save() drops the new term and vote: the node stops before a message depending on them leaves', async () => {
    const { runtime, fatal } = await startRuntime('drop-vote', true);
    runtime.campaign();
    const error = await fatal;
    assert.ok(error instanceof RuntimeAssertionError, `expected RuntimeAssertionError, got ${String(error)}`);
    assert.match(error.message, /hard state term 2 vote 1 saved, the store holds term 1 vote 0/);
    await runtime.stop();
  });
});
