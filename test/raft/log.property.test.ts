// log.property.test.ts — the node's log (RaftLog over MemoryStorage plus the unstable part)
// always equals a plain array model under random sequences of what a follower goes through:
// appends that overwrite an uncommitted suffix, commits, persisting a Ready (possibly after a
// later overwrite), compaction, and installing a snapshot.
//
// Method: fast-check generates operation sequences; after each operation firstIndex, lastIndex,
// every term, the entries and the commit index are compared with the model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RaftLog } from '../../src/raft/log.js';
import { MemoryStorage } from '../../src/raft/index.js';
import type { Entry } from '../../src/raft/index.js';
import { confState } from './support/network.js';
import { entry } from './support/raft-helpers.js';

type Op =
  | { kind: 'append'; back: number; count: number }
  | { kind: 'commit'; ahead: number }
  | { kind: 'persist' }
  | { kind: 'compact'; back: number }
  | { kind: 'snapshot'; ahead: number };

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('append' as const), back: fc.nat(4), count: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('commit' as const), ahead: fc.nat(3) }),
  fc.constant({ kind: 'persist' as const }),
  fc.record({ kind: fc.constant('compact' as const), back: fc.nat(3) }),
  fc.record({ kind: fc.constant('snapshot' as const), ahead: fc.integer({ min: 1, max: 5 }) }),
);

test('RaftLog over MemoryStorage matches an array model under random follower histories', () => {
  fc.assert(fc.property(fc.array(opArbitrary, { minLength: 1, maxLength: 60 }), (ops) => {
    const storage = MemoryStorage.withConfState(confState([1, 2, 3]));
    const log = new RaftLog(storage, Number.MAX_SAFE_INTEGER);
    // Model: terms[i] is the term of index snapshotIndex + 1 + i; the snapshot covers the prefix.
    let snapshotIndex = 0;
    let snapshotTerm = 0;
    let terms: number[] = [];
    let committed = 0;
    let term = 1;
    const last = (): number => snapshotIndex + terms.length;
    const termAt = (i: number): number => (i === snapshotIndex ? snapshotTerm : terms[i - snapshotIndex - 1]!);

    for (const op of ops) {
      switch (op.kind) {
        case 'append': {
          // A new leader overwrites from `after + 1`, never below the commit index.
          term++;
          const after = Math.max(committed, last() - op.back, snapshotIndex);
          const fresh: Entry[] = Array.from({ length: op.count }, (_, k) => entry(after + 1 + k, term));
          const lastNew = log.maybeAppend(after, termAt(after), committed, fresh);
          assert.equal(lastNew, after + op.count);
          terms = [...terms.slice(0, after - snapshotIndex), ...fresh.map((e) => e.term)];
          break;
        }
        case 'commit': {
          const target = Math.min(last(), committed + op.ahead);
          log.commitTo(target);
          committed = Math.max(committed, target);
          break;
        }
        case 'persist': {
          const unstable = log.unstableEntries();
          if (log.unstable.snapshot !== undefined) {
            storage.applySnapshot(log.unstable.snapshot);
            log.stableSnapTo(log.unstable.snapshot.metadata.index);
          }
          storage.append(unstable);
          if (unstable.length > 0) log.stableTo(unstable.at(-1)!.index, unstable.at(-1)!.term);
          break;
        }
        case 'compact': {
          // Only persisted, committed entries may be compacted.
          const limit = Math.min(committed, storage.lastIndex(), log.unstable.offset - 1);
          const target = limit - op.back;
          if (target > storage.firstIndex() - 1 && log.unstable.snapshot === undefined) {
            // Compaction hides a prefix (firstIndex moves); the model's entries do not change.
            storage.compact(target);
          }
          break;
        }
        case 'snapshot': {
          // The leader sends a snapshot beyond our log: everything is replaced.
          term++;
          const index = last() + op.ahead;
          log.restore({ metadata: { index, term, confState: confState([1, 2, 3]) }, data: new Uint8Array() });
          snapshotIndex = index;
          snapshotTerm = term;
          terms = [];
          committed = index;
          break;
        }
      }
      assert.equal(log.lastIndex(), last(), `lastIndex after ${JSON.stringify(op)}`);
      assert.equal(log.committed, committed);
      const first = log.firstIndex();
      assert.ok(first >= 1 && first <= last() + 1);
      for (let i = first - 1; i <= last(); i++) {
        if (i >= snapshotIndex) assert.equal(log.term(i), termAt(i), `term(${i}) after ${JSON.stringify(op)}`);
      }
      assert.deepEqual(log.allEntries().map((e) => e.term), terms.slice(Math.max(0, first - snapshotIndex - 1)));
    }
  }), { numRuns: 300, seed: 20261121 });
});
