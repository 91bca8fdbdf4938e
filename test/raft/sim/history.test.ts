// Goal: show that each invariant check of the simulator's History fires on a history that breaks
// it, and stays quiet on a legal one, so that a clean simulator run means something.
// Method: feed History hand-made steps (leaders, durable appends on a MemoryStorage, applies,
// snapshots, HardStates) and assert the InvariantViolation kind each one raises.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType, MemoryStorage, type Entry } from '../../../src/raft/index.js';
import { History, INITIAL_MACHINE, type MachineState } from './history.js';
import { InvariantViolation, type InvariantKind } from './violation.js';

const encoder = new TextEncoder();

function entry(index: number, term: number, data = ''): Entry {
  return { index, term, type: EntryType.Normal, data: encoder.encode(data) };
}

function throwsKind(kind: InvariantKind, action: () => unknown): void {
  assert.throws(action, (error: unknown) => {
    assert.ok(error instanceof InvariantViolation, `expected an InvariantViolation, got ${String(error)}`);
    assert.equal(error.kind, kind, error.message);
    return true;
  });
}

function applyAll(history: History, node: number, entries: readonly Entry[], from: MachineState = INITIAL_MACHINE): MachineState {
  let machine = from;
  for (const e of entries) machine = history.applyEntry(node, machine, e);
  return machine;
}

describe('History: election safety (at most one leader per term)', () => {
  test('a second leader in the same term is a violation', () => {
    const history = new History();
    history.observeLeader(1, 3);
    history.observeLeader(1, 3);
    history.observeLeader(2, 4);
    throwsKind('election-safety', () => history.observeLeader(3, 3));
  });
});

describe('History: state machine safety (same entries, same order)', () => {
  test('nodes applying the same entries agree; a different entry at an applied index is a violation', () => {
    const history = new History();
    const log = [entry(1, 1, 'a'), entry(2, 1, 'b')];
    const first = applyAll(history, 1, log);
    const second = applyAll(history, 2, log);
    assert.deepEqual(first, second);
    assert.equal(first.writes, 2);
    throwsKind('state-machine-safety', () => applyAll(history, 3, [entry(1, 1, 'a'), entry(2, 2, 'c')]));
  });

  test('skipping or repeating an index is a violation', () => {
    const history = new History();
    const machine = applyAll(history, 1, [entry(1, 1, 'a')]);
    throwsKind('state-machine-safety', () => history.applyEntry(1, machine, entry(3, 1, 'c')));
    throwsKind('state-machine-safety', () => history.applyEntry(1, machine, entry(1, 1, 'a')));
  });

  test('an entry other than the acknowledged proposal at its index is acked-proposal-lost', () => {
    const history = new History();
    applyAll(history, 1, [entry(1, 1, 'p1')]);
    history.ack(1);
    assert.equal(history.maxAckedIndex, 1);
    throwsKind('acked-proposal-lost', () => history.applyEntry(2, INITIAL_MACHINE, entry(1, 2, 'p9')));
  });

  test('a snapshot must equal the applied history at its index, and never go back', () => {
    const history = new History();
    const machine = applyAll(history, 1, [entry(1, 1, 'a'), entry(2, 1, 'b')]);
    assert.deepEqual(history.restoreSnapshot(2, INITIAL_MACHINE, 1, machine), machine);
    throwsKind('state-machine-safety', () => history.restoreSnapshot(3, INITIAL_MACHINE, 1, { ...machine, chain: machine.chain ^ 1 }));
    throwsKind('applied-regressed', () => history.restoreSnapshot(1, machine, 1, { applied: 1, chain: 0, writes: 1 }));
  });
});

describe('History: durable logs (log matching, committed entries never lost)', () => {
  test('overwriting an unapplied entry is legal; overwriting or cutting off an applied one is not', () => {
    const history = new History();
    const disk = new MemoryStorage();
    const entries = [entry(1, 1, 'a'), entry(2, 1, 'b'), entry(3, 1, 'c')];
    disk.append(entries);
    history.afterAppend(1, entries, disk);
    applyAll(history, 2, entries.slice(0, 2));
    const conflict = [entry(3, 2, 'x')];
    history.beforeAppend(1, conflict, disk);
    throwsKind('committed-entry-lost', () => history.beforeAppend(1, [entry(2, 2, 'y')], disk));
    throwsKind('committed-entry-lost', () => history.beforeAppend(1, [entry(1, 1, 'a')], disk));
  });

  test('two logs with the same (index, term) must hold the same entry after the same history', () => {
    const history = new History();
    const diskA = new MemoryStorage();
    const diskB = new MemoryStorage();
    const logA = [entry(1, 1, 'a'), entry(2, 2, 'b')];
    diskA.append(logA);
    history.afterAppend(1, logA, diskA);
    diskB.append([entry(1, 1, 'a')]);
    history.afterAppend(2, [entry(1, 1, 'a')], diskB);
    throwsKind('log-matching', () => {
      const different = [entry(2, 2, 'other')];
      diskB.append(different);
      history.afterAppend(2, different, diskB);
    });
    const diskC = new MemoryStorage();
    const logC = [entry(1, 3, 'z'), entry(2, 2, 'b')];
    diskC.append(logC);
    throwsKind('log-matching', () => history.afterAppend(3, logC, diskC));
  });

  test('installing a snapshot that discards an applied entry the log held is a violation', () => {
    const history = new History();
    const disk = new MemoryStorage();
    const entries = [entry(1, 1, 'a'), entry(2, 1, 'b'), entry(3, 1, 'c')];
    disk.append(entries);
    applyAll(history, 2, entries);
    history.beforeSnapshotInstall(1, 3, 1, disk);
    throwsKind('committed-entry-lost', () => history.beforeSnapshotInstall(1, 2, 1, disk));
    throwsKind('committed-entry-lost', () => history.beforeSnapshotInstall(1, 3, 2, disk));
  });
});

describe('History: durable HardState never moves backwards', () => {
  test('term, vote within a term and commit are monotonic', () => {
    const history = new History();
    history.checkHardState(1, { term: 2, vote: 0, commit: 1 }, { term: 2, vote: 3, commit: 1 });
    history.checkHardState(1, { term: 2, vote: 3, commit: 1 }, { term: 3, vote: 0, commit: 2 });
    throwsKind('durable-state-regressed', () => history.checkHardState(1, { term: 3, vote: 0, commit: 2 }, { term: 2, vote: 0, commit: 2 }));
    throwsKind('durable-state-regressed', () => history.checkHardState(1, { term: 3, vote: 2, commit: 2 }, { term: 3, vote: 1, commit: 2 }));
    throwsKind('durable-state-regressed', () => history.checkHardState(1, { term: 3, vote: 2, commit: 5 }, { term: 3, vote: 2, commit: 4 }));
  });
});
