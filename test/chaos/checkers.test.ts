// checkers.test.ts — the chaos checkers, on hand-built histories whose verdict is known.
//
// Goal: each checker fails on the anomaly it exists to catch (a lost acknowledged update, a duplicated
// apply, divergent logs, a stale read, a tampered envelope acknowledged, a replay applied, applied or
// term going back, a node that did not converge, a forbidden probe delivered, a swap losing allowed
// probes, no leader after healing), and passes the legitimate cases that look alike (an info write
// applied later, a fail recorded as a rejection, a restart resetting applied, a forbidden probe sent
// before enforcement, losses during an ovs-restart).
// Method: a quiet history every checker passes (history-fixtures.ts), changed by one fact per test;
// audit logs hold real signed envelopes, so the envelope checker verifies real signatures.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { CheckerVerdict, History, NodeSample, ProbeSeries, RegisterOp, StateChange, UniqueUpdate } from '../../chaos/history.js';
import {
  checkAppliedMonotone, checkConvergence, checkHistory, checkLivenessAfterHeal, checkNothingLost, checkProbes,
  checkRegisterLinearizability, checkValidEnvelopes, CHECKERS, MAX_PROBLEMS,
} from '../../chaos/checkers/index.js';
import { Envelopes, HEALED_MS, entry, nodeView, quietHistory, withNodes } from './history-fixtures.js';

function passes(verdict: CheckerVerdict): void {
  assert.equal(verdict.ok, true, `${verdict.checker} should pass: ${verdict.summary}\n${verdict.problems.join('\n')}`);
  assert.deepEqual(verdict.problems, []);
}
function fails(verdict: CheckerVerdict, pattern: RegExp): void {
  assert.equal(verdict.ok, false, `${verdict.checker} should fail: ${verdict.summary}`);
  assert.ok(verdict.problems.some((line) => pattern.test(line)), `${verdict.checker}: no problem matches ${pattern}:\n${verdict.problems.join('\n')}`);
}

let nextId = 1;
function write(key: string, value: string, invokeMs: number, completeMs: number | null, outcome: RegisterOp['outcome'], extra: Partial<RegisterOp> = {}): RegisterOp {
  return { id: nextId++, process: nextId, node: 1, kind: 'write', key, value, invokeMs, completeMs, outcome, ...extra };
}
function read(key: string, value: string | null, invokeMs: number, completeMs: number, outcome: RegisterOp['outcome'] = 'ok'): RegisterOp {
  return { id: nextId++, process: nextId, node: 1, kind: 'read', key, value, invokeMs, completeMs, outcome };
}
function update(id: string, bodyHash: string, outcome: UniqueUpdate['outcome'], index?: number, code?: string): UniqueUpdate {
  return { id, process: 1, node: 1, bodyHash, invokeMs: 100, completeMs: outcome === 'info' ? null : 200, outcome, ...(index === undefined ? {} : { index }), ...(code === undefined ? {} : { code }) };
}

describe('linearizability', () => {
  test('indeterminate writes nobody read are left out; a read of one keeps it, and a replayed failed write counts as indeterminate', () => {
    const unobserved = Array.from({ length: 40 }, (_, i) => write('k', `lost-${i}`, 10 + i, null, 'info'));
    const history = { ...quietHistory(), register: [write('k', 'a', 0, 5, 'ok'), ...unobserved, read('k', 'a', 100, 110)] };
    const verdict = checkRegisterLinearizability(history);
    assert.equal(verdict.ok, true, verdict.summary);
    assert.match(verdict.summary, /2 operations/);
    const seen = { ...history, register: [...history.register, read('k', 'lost-7', 200, 210)] };
    assert.equal(checkRegisterLinearizability(seen).ok, true, 'the info write explains the later read');
    const failed = write('k', 'b', 300, 305, 'fail', { bodyHash: 'h'.repeat(64) });
    const readB = read('k', 'b', 400, 410);
    assert.equal(checkRegisterLinearizability({ ...seen, register: [...seen.register, failed, readB] }).ok, false, 'a failed write never happened');
    const replayed = { ...seen, register: [...seen.register, failed, readB], adversary: [{ t: 301, node: 1, kind: 'replay' as const, bodyHash: 'h'.repeat(64), originalBodyHash: 'h'.repeat(64), answer: null }] };
    assert.equal(checkRegisterLinearizability(replayed).ok, true, 'unless the adversary sent the same envelope');
  });

  test('a stale read after a completed write fails, and the failing key is shown', () => {
    const history = { ...quietHistory(), register: [write('x', '1', 0, 10, 'ok'), write('x', '2', 20, 30, 'ok'), read('x', '1', 40, 50), write('y', '1', 0, 10, 'ok')] };
    const verdict = checkRegisterLinearizability(history);
    fails(verdict, /key x/);
    assert.ok(verdict.problems.some((line) => /read -> "1"/.test(line)));
    assert.ok(!verdict.problems.some((line) => /key y/.test(line)));
  });

  test('an info write may show up later; a fail write never happened; failed reads are ignored', () => {
    const history = {
      ...quietHistory(),
      register: [
        write('x', '1', 0, 10, 'ok'), write('x', '2', 20, null, 'info'), read('x', '1', 30, 40), read('x', '2', 500, 510),
        write('x', '3', 600, 610, 'fail'), read('x', '2', 700, 710), read('x', 'garbage', 800, 810, 'info'),
      ],
    };
    passes(checkRegisterLinearizability(history));
  });

  test('a read of a failed write fails', () => {
    const history = { ...quietHistory(), register: [write('x', '1', 0, 10, 'ok'), write('x', '3', 20, 30, 'fail'), read('x', '3', 40, 50)] };
    fails(checkRegisterLinearizability(history), /not linearizable/);
  });

  test('a search beyond its bound is reported as not ok with the reason, never as passing', () => {
    const register: RegisterOp[] = [];
    for (let i = 0; i < 12; i++) register.push(write('x', String(i), 0, 1000, 'ok'));
    register.push(read('x', 'never', 2000, 2001));
    const verdict = checkRegisterLinearizability({ ...quietHistory(), register }, { maxSteps: 50 });
    fails(verdict, /unknown — search exceeded 50 steps/);
    assert.match(verdict.summary, /undecided/);
  });
});

describe('nothing-lost', () => {
  const envelopes = new Envelopes();
  const a = envelopes.write('a');
  const b = envelopes.write('b');
  const c = envelopes.write('c');
  const log = [entry(1, a.bytes), entry(2, b.bytes), entry(3, c.bytes)];

  test('every ok update present at its index on every node passes; so do an info applied later and a fail recorded as a rejection', () => {
    const history = { ...quietHistory(envelopes.keys(), log), updates: [update('a', a.bodyHash, 'ok', 1), update('b', b.bodyHash, 'info'), update('c', c.bodyHash, 'fail', 3)] };
    passes(checkNothingLost(history));
  });

  test('an info update never applied, and a refusal before proposing, pass', () => {
    const d = envelopes.write('d');
    const history = { ...quietHistory(envelopes.keys(), log), updates: [update('d', d.bodyHash, 'info'), update('d2', d.bodyHash, 'fail')] };
    passes(checkNothingLost(history));
  });

  test('an acknowledged update missing from one node is lost', () => {
    const history = withNodes({ ...quietHistory(envelopes.keys(), log), updates: [update('c', c.bodyHash, 'ok', 3)] },
      [nodeView(1, log), nodeView(2, log), nodeView(3, log.slice(0, 2))]);
    fails(checkNothingLost(history), /update c .*missing on n3: its log ends at index 2/);
  });

  test('an acknowledged update whose index holds another body is lost', () => {
    const history = { ...quietHistory(envelopes.keys(), log), register: [write('x', '1', 0, 10, 'ok', { bodyHash: a.bodyHash, index: 2 })] };
    fails(checkNothingLost(history), /register write op \d+ .*missing on n1: index 2 holds body/);
  });

  test('an ok update present twice with no second submission is a duplicated apply', () => {
    const twice = [...log, entry(4, a.bytes)];
    const history = { ...quietHistory(envelopes.keys(), twice), updates: [update('a', a.bodyHash, 'ok', 1)] };
    fails(checkNothingLost(history), /update a .*duplicated: 2 copies .*at indexes 1, 4; at most 1 allowed/);
  });

  test('a second copy explained by an adversary replay passes (valid-envelopes judges whether it was applied)', () => {
    const twice = [...log, entry(4, a.bytes)];
    const history = {
      ...quietHistory(envelopes.keys(), twice), updates: [update('a', a.bodyHash, 'ok', 1)],
      adversary: [{ t: 300, node: 2, kind: 'replay' as const, bodyHash: a.bodyHash, originalBodyHash: a.bodyHash, answer: { status: 200, ok: false, duplicate: false, index: 4 } }],
    };
    passes(checkNothingLost(history));
  });

  test('a fail without an index (refused before proposing) must be absent', () => {
    const history = { ...quietHistory(envelopes.keys(), log), updates: [update('b', b.bodyHash, 'fail')] };
    fails(checkNothingLost(history), /refused before proposing, yet 1 copies/);
  });

  test('divergent logs report the first index where they differ', () => {
    const other = [entry(1, a.bytes), entry(2, c.bytes), entry(3, b.bytes)];
    const history = withNodes(quietHistory(envelopes.keys(), log), [nodeView(1, log), nodeView(2, log), nodeView(3, other)]);
    fails(checkNothingLost(history), /logs diverge: n1 and n3 first differ at index 2/);
    const termOnly = [entry(1, a.bytes), entry(2, b.bytes, 2), entry(3, c.bytes)];
    fails(checkNothingLost(withNodes(quietHistory(envelopes.keys(), log), [nodeView(1, log), nodeView(2, termOnly)])), /first differ at index 2: term 1 .* vs term 2/);
  });

  test('a compacted node is checked only over the part it holds', () => {
    const tail = log.slice(2);
    const history = withNodes({ ...quietHistory(envelopes.keys(), log), updates: [update('a', a.bodyHash, 'ok', 1), update('c', c.bodyHash, 'ok', 3)] },
      [nodeView(1, log), nodeView(2, tail, { logFrom: 3 }), nodeView(3, [], { logFrom: 4 })]);
    passes(checkNothingLost(history));
  });
});

describe('valid-envelopes', () => {
  test('a log of genuine envelopes acknowledged at their indexes passes; so do refused adversaries', () => {
    const envelopes = new Envelopes();
    const a = envelopes.write('a');
    const b = envelopes.write('b');
    const foreign = envelopes.foreign('f');
    const tampered = envelopes.tamperSignature(b.bytes);
    const history: History = {
      ...quietHistory(envelopes.keys(), [entry(1, a.bytes), entry(2, b.bytes)]),
      updates: [update('a', a.bodyHash, 'ok', 1), update('b', b.bodyHash, 'ok', 2)],
      adversary: [
        { t: 300, node: 2, kind: 'foreign-cluster', bodyHash: foreign.bodyHash, originalBodyHash: a.bodyHash, answer: { status: 422, code: 'wrong_cluster' } },
        { t: 310, node: 2, kind: 'replay', bodyHash: a.bodyHash, originalBodyHash: a.bodyHash, answer: { status: 200, duplicate: true, ok: true, index: 1 } },
        // A re-signed copy of an applied body is answered "duplicate of index 2": that reports the genuine copy.
        { t: 320, node: 3, kind: 'tamper-signature', bodyHash: tampered.bodyHash, originalBodyHash: b.bodyHash, answer: { status: 200, duplicate: true, ok: true, index: 2 } },
        { t: 330, node: 3, kind: 'tamper-body', bodyHash: 'e'.repeat(64), originalBodyHash: b.bodyHash, answer: null },
      ],
    };
    const verdict = checkValidEnvelopes(history);
    passes(verdict);
    assert.match(verdict.summary, /2 entries of n1's log: 2 acceptable, 0 must be rejected/);
  });

  test('a replay that reached the log and was recorded as a rejection passes', () => {
    const envelopes = new Envelopes();
    const a = envelopes.write('a');
    const b = envelopes.write('b');
    const history: History = {
      ...quietHistory(envelopes.keys(), [entry(1, a.bytes), entry(2, b.bytes), entry(3, a.bytes)]),
      updates: [update('a', a.bodyHash, 'ok', 1), update('b', b.bodyHash, 'ok', 2)],
      adversary: [{ t: 300, node: 2, kind: 'replay', bodyHash: a.bodyHash, originalBodyHash: a.bodyHash, answer: { status: 200, duplicate: false, ok: false, index: 3 } }],
    };
    const verdict = checkValidEnvelopes(history);
    passes(verdict);
    assert.match(verdict.summary, /1 must be rejected \(stale seq 1\)/);
  });

  test('a replay applied a second time fails (the planted bug no-replay-check)', () => {
    const envelopes = new Envelopes();
    const a = envelopes.write('a');
    const b = envelopes.write('b');
    const history: History = {
      ...quietHistory(envelopes.keys(), [entry(1, a.bytes), entry(2, b.bytes), entry(3, a.bytes)]),
      updates: [update('a', a.bodyHash, 'ok', 1), update('b', b.bodyHash, 'ok', 2)],
      adversary: [{ t: 300, node: 2, kind: 'replay', bodyHash: a.bodyHash, originalBodyHash: a.bodyHash, answer: { status: 200, duplicate: false, ok: true, index: 3 } }],
    };
    const verdict = checkValidEnvelopes(history);
    fails(verdict, /adversary replay .* acknowledged ok at index 3, but that entry must be rejected: stale seq/);
    fails(verdict, /acknowledged ok at 2 different indexes: 1, 3/);
    fails(verdict, /adversary replay .* was applied at index 3: answered ok and not as a duplicate/);
  });

  test('a reordered (older) envelope applied after a newer one fails', () => {
    const envelopes = new Envelopes();
    const older = envelopes.write('older');
    const newer = envelopes.write('newer');
    const history: History = {
      ...quietHistory(envelopes.keys(), [entry(1, newer.bytes), entry(2, older.bytes)]),
      updates: [update('newer', newer.bodyHash, 'ok', 1)],
      adversary: [{ t: 300, node: 1, kind: 'reorder', bodyHash: older.bodyHash, originalBodyHash: older.bodyHash, answer: { status: 200, duplicate: false, ok: true, index: 2 } }],
    };
    fails(checkValidEnvelopes(history), /must be rejected: stale seq: seq 1 .* last consumed seq 2/);
  });

  test('a tampered envelope acknowledged ok fails', () => {
    const envelopes = new Envelopes();
    const a = envelopes.write('a');
    const tampered = envelopes.tamperSignature(a.bytes);
    const history: History = {
      ...quietHistory(envelopes.keys(), [entry(1, tampered.bytes)]),
      updates: [update('a', a.bodyHash, 'ok', 1)],
      adversary: [{ t: 300, node: 1, kind: 'tamper-signature', bodyHash: tampered.bodyHash, originalBodyHash: a.bodyHash, answer: { status: 200, duplicate: false, ok: true, index: 1 } }],
    };
    const verdict = checkValidEnvelopes(history);
    fails(verdict, /update a was acknowledged ok at index 1, but that entry must be rejected: bad signature/);
    fails(verdict, /adversary tamper-signature .* was answered ok at index 1: a tampered envelope must be refused/);
  });

  test('a foreign-cluster envelope acknowledged ok fails, even as a "duplicate"', () => {
    const envelopes = new Envelopes();
    const foreign = envelopes.foreign('f');
    const history: History = {
      ...quietHistory(envelopes.keys(), [entry(1, foreign.bytes)]),
      adversary: [{ t: 300, node: 1, kind: 'foreign-cluster', bodyHash: foreign.bodyHash, originalBodyHash: foreign.bodyHash, answer: { status: 200, duplicate: true, ok: true, index: 1 } }],
    };
    const verdict = checkValidEnvelopes(history);
    fails(verdict, /must be rejected: foreign cluster/);
    fails(verdict, /adversary foreign-cluster .* answered ok \(duplicate\) at index 1/);
  });

  test('an entry signed by a key the harness never issued is not acceptable', () => {
    const envelopes = new Envelopes();
    const a = envelopes.write('a');
    const keys = { clusterId: envelopes.keys().clusterId, keys: {} };
    const history: History = { ...quietHistory(keys, [entry(1, a.bytes)]), updates: [update('a', a.bodyHash, 'ok', 1)] };
    fails(checkValidEnvelopes(history), /must be rejected: unknown key/);
  });

  test('an entry rejected before its signatures verified does not consume its signer\'s seq', () => {
    // seq 2 reached the log first and was rejected for a reason found before verification (an unknown
    // signer at the time); seq 1 was then legitimately applied.
    const envelopes = new Envelopes();
    const first = envelopes.write('first');
    const second = envelopes.write('second');
    const history: History = {
      ...quietHistory(envelopes.keys(), [entry(1, second.bytes), entry(2, first.bytes)]),
      updates: [update('second', second.bodyHash, 'fail', 1, 'unknown_signer'), update('first', first.bodyHash, 'ok', 2)],
    };
    passes(checkValidEnvelopes(history));
  });

  test('a rejection after verification consumes the seq: neither an older command nor the rejected one applies later (issue 15)', () => {
    // seq 2 was rejected by the state (say, the device was in another domain) after its signature
    // verified; seq 1 applied after it, or seq 2 replayed and applied once the state allowed it, must fail.
    const envelopes = new Envelopes();
    const first = envelopes.write('first');
    const second = envelopes.write('second');
    for (const code of ['device_in_other_domain', 'expired', undefined]) {
      const older: History = {
        ...quietHistory(envelopes.keys(), [entry(1, second.bytes), entry(2, first.bytes)]),
        updates: [update('second', second.bodyHash, 'fail', 1, code), update('first', first.bodyHash, 'ok', 2)],
      };
      fails(checkValidEnvelopes(older), /update first was acknowledged ok at index 2, but that entry must be rejected: stale seq: seq 1 .* last consumed seq 2/);
      const replayed: History = {
        ...quietHistory(envelopes.keys(), [entry(1, second.bytes), entry(2, second.bytes)]),
        updates: [update('second', second.bodyHash, 'fail', 1, code)],
        adversary: [{ t: 300, node: 2, kind: 'replay', bodyHash: second.bodyHash, originalBodyHash: second.bodyHash, answer: { status: 200, duplicate: false, ok: true, index: 2 } }],
      };
      fails(checkValidEnvelopes(replayed), /adversary replay .* acknowledged ok at index 2, but that entry must be rejected: stale seq/);
    }
    const answeredDuplicate: History = {
      ...quietHistory(envelopes.keys(), [entry(1, second.bytes), entry(2, second.bytes)]),
      updates: [update('second', second.bodyHash, 'fail', 1, 'device_in_other_domain')],
      adversary: [{ t: 300, node: 2, kind: 'replay', bodyHash: second.bodyHash, originalBodyHash: second.bodyHash, answer: { status: 200, duplicate: true, ok: false, index: 2, code: 'duplicate' } }],
    };
    const verdict = checkValidEnvelopes(answeredDuplicate);
    passes(verdict);
    assert.match(verdict.summary, /1 acceptable, 1 must be rejected \(stale seq 1\)/);
  });
});

describe('applied-monotone', () => {
  const sample = (t: number, node: number, applied: number, term = 1, commit = applied): NodeSample => ({ t, node, up: true, role: 'follower', leader: 1, term, commit, applied });

  test('every kill family and a fault that could not start are restart windows; a partition is not', () => {
    const samples: NodeSample[] = [
      { t: 100, node: 1, up: true, role: 'follower', leader: 2, term: 3, commit: 948, applied: 948 },
      { t: 5_000, node: 1, up: true, role: 'follower', leader: 2, term: 3, commit: 947, applied: 947 },
    ];
    const window = (fault: string, detail = 'x'): History['faults'] => [
      { t: 200, phase: 'start', fault, detail, nodes: [1, 3] }, { t: 3_000, phase: 'end', fault, detail, nodes: [1, 3] }];
    for (const fault of ['kill', 'kill-leader', 'kill-minority', 'kill-majority', 'lose-unsynced']) {
      const verdict = checkAppliedMonotone({ ...quietHistory(), samples, faults: window(fault) });
      assert.equal(verdict.ok, true, `${fault}: ${verdict.problems.join('; ')}`);
    }
    assert.equal(checkAppliedMonotone({ ...quietHistory(), samples, faults: window('partition-one', 'could not start: boom') }).ok, true);
    fails(checkAppliedMonotone({ ...quietHistory(), samples, faults: window('partition-one') }), /n1: applied index went back from 948/);
  });

  test('applied and commit rising, with down samples between, pass', () => {
    const samples = [sample(0, 1, 1), { t: 250, node: 1, up: false }, sample(500, 1, 3), sample(0, 2, 0), sample(250, 2, 4)];
    passes(checkAppliedMonotone({ ...quietHistory(), samples }));
  });

  test('applied going back within one lifetime fails', () => {
    fails(checkAppliedMonotone({ ...quietHistory(), samples: [sample(0, 1, 5), sample(250, 1, 4, 1, 5)] }), /n1: applied index went back from 5 .* to 4/);
  });

  test('commit going back within one lifetime fails', () => {
    fails(checkAppliedMonotone({ ...quietHistory(), samples: [sample(0, 1, 2, 1, 6), sample(250, 1, 2, 1, 5)] }), /n1: commit index went back from 6/);
  });

  test('a node restarted by kill -9 may come back with applied reset to its snapshot', () => {
    const history: History = {
      ...quietHistory(),
      faults: [{ t: 300, phase: 'start', fault: 'kill', detail: 'kill -9 n1', nodes: [1] }, { t: 900, phase: 'end', fault: 'kill', detail: 'restart n1', nodes: [1] }],
      samples: [sample(0, 1, 50), sample(250, 1, 60), sample(920, 1, 40, 2, 40), sample(1200, 1, 70, 2, 70)],
    };
    const verdict = checkAppliedMonotone(history);
    passes(verdict);
    assert.match(verdict.summary, /2 process lifetime/);
  });

  test('term going back fails, even across a restart', () => {
    fails(checkAppliedMonotone({ ...quietHistory(), samples: [sample(0, 1, 1, 3), sample(250, 1, 2, 2)] }), /n1: term went back from 3/);
    const history: History = {
      ...quietHistory(),
      faults: [{ t: 300, phase: 'start', fault: 'lose-unsynced', detail: 'n1', nodes: [1] }, { t: 900, phase: 'end', fault: 'lose-unsynced', detail: 'n1', nodes: [1] }],
      samples: [sample(0, 1, 50, 4), sample(1000, 1, 10, 3)],
    };
    fails(checkAppliedMonotone(history), /term went back from 4/);
  });
});

describe('convergence', () => {
  test('identical, enforced, timely nodes pass', () => passes(checkConvergence(quietHistory())));

  test('a node with another state hash or applied index has not converged', () => {
    const history = withNodes(quietHistory(), [nodeView(1), nodeView(2), nodeView(3, [], { stateHash: 'f'.repeat(64), applied: 7 })]);
    const verdict = checkConvergence(history);
    fails(verdict, /state hash differs: n1,n2: aaaaaaaaaaaa \| n3: ffffffffffff/);
    fails(verdict, /applied index differs/);
  });

  test('device states, an uninstalled generation and a quarantine reason are reported', () => {
    const history = withNodes(quietHistory(), [
      nodeView(1), nodeView(2, [], { deviceStates: { 'plug-0': 'attack' } }),
      nodeView(3, [], { dataplane: [{ deviceId: 'plug-0', desiredGeneration: 4, appliedGeneration: 3, enforcement: 'quarantined', reason: 'image digest mismatch' }] }),
    ]);
    const verdict = checkConvergence(history);
    fails(verdict, /device states differ/);
    fails(verdict, /n3 device plug-0: installed generation 3, desired 4/);
    fails(verdict, /n3 device plug-0: quarantined, reason: image digest mismatch/);
  });

  test('converging late, or never, fails; an unreachable node is not judged', () => {
    const history = withNodes(quietHistory(), [
      nodeView(1), nodeView(2, [], { convergedAtMs: HEALED_MS + 20_000 }), nodeView(3, [], { convergedAtMs: null }),
      nodeView(4, [], { reachable: false, stateHash: '0'.repeat(64) }),
    ]);
    const verdict = checkConvergence(history);
    fails(verdict, /n2 converged 20000 ms after healing, bound 15000 ms/);
    fails(verdict, /n3 never reported/);
    assert.ok(!verdict.problems.some((line) => /n4/.test(line)));
  });
});

describe('probes', () => {
  const change = (invokeMs: number, enforcedMs: number | null, state: string, forbids: boolean): StateChange =>
    ({ device: 'cam-1', gateway: 2, state, forbids, invokeMs, enforcedMs, outcome: enforcedMs === null ? 'info' : 'ok' });
  /** series sends one datagram every 10 ms from 0 to endMs; `lost` decides which never arrive. */
  const series = (endMs: number, lost: (sentMs: number) => boolean): ProbeSeries => {
    const sent: number[] = [];
    const received: Array<{ seq: number; t: number }> = [];
    for (let t = 0; t < endMs; t += 10) {
      sent.push(t);
      if (!lost(t)) received.push({ seq: sent.length - 1, t: t + 1 });
    }
    return { device: 'cam-1', gateway: 2, sent, received };
  };

  test('a datagram sent while forbidden but released only after the next change was asked for is late, not a violation; one delivered before is', () => {
    const changes = [change(100, 200, 'normal', false), change(1000, 1100, 'attack', true), change(3000, 3100, 'normal', false)];
    const held = series(4000, (t) => t >= 1100 && t < 3100);
    // Datagram 150 (sent at 1.5 s) was held in a queue and released at 3.2 s, after the allowing change of 3.0 s.
    const released = { ...held, received: [...held.received, { seq: 150, t: 3_200 }] };
    const verdict = checkProbes({ ...quietHistory(), stateChanges: changes, probes: [released] });
    assert.equal(verdict.ok, true, verdict.problems.join('\n'));
    assert.match(verdict.summary, /\(1 delivered late, held up to 1\.700s\)/);
    const leaked = { ...held, received: [...held.received, { seq: 150, t: 2_500 }] };
    fails(checkProbes({ ...quietHistory(), stateChanges: changes, probes: [leaked] }), /datagram 150 sent at 1\.500s was delivered at 2\.500s while its state "attack"/);
  });

  test('a held datagram released after a move to another forbidding state, or after a refused allowing change, is a violation', () => {
    // attack → quarantined: both forbid, so nothing sent under attack may arrive while quarantined.
    const forbidToForbid = [change(100, 200, 'normal', false), change(1000, 1100, 'attack', true), change(3000, 3100, 'quarantined', true)];
    const held = series(4000, (t) => t >= 1100);
    const released = { ...held, received: [...held.received, { seq: 150, t: 3_200 }] };
    fails(checkProbes({ ...quietHistory(), stateChanges: forbidToForbid, probes: [released] }),
      /datagram 150 sent at 1\.500s while its state "attack" \(enforced at 1\.100s\) forbade it was delivered at 3\.200s, when no change to an allowing state had been asked for/);
    // attack → normal refused: the device stays under attack.
    const refused: StateChange[] = [change(100, 200, 'normal', false), change(1000, 1100, 'attack', true), { ...change(3000, null, 'normal', false), outcome: 'fail' }];
    fails(checkProbes({ ...quietHistory(), stateChanges: refused, probes: [released] }), /no change to an allowing state had been asked for/);
    // An allowing change whose outcome is unknown (info) may have applied: the release is late, not judged.
    const unknown: StateChange[] = [change(100, 200, 'normal', false), change(1000, 1100, 'attack', true), change(3000, null, 'normal', false)];
    const verdict = checkProbes({ ...quietHistory(), stateChanges: unknown, probes: [released] });
    assert.equal(verdict.ok, true, verdict.problems.join('\n'));
    assert.match(verdict.summary, /\(1 delivered late, held up to 1\.700s\)/);
  });

  test('a forbidding state enforced at 1000 ms, with traffic dropping from then on, passes; the sends before enforcement may pass', () => {
    const history = { ...quietHistory(), stateChanges: [change(900, 1000, 'attack', true), change(3000, 3100, 'normal', false)], probes: [series(5000, (t) => t >= 1020 && t < 3100)] };
    const verdict = checkProbes(history);
    passes(verdict);
    assert.match(verdict.summary, /cam-1 \d+\/500 recv\/sent, \d+ checked, 196 sent while forbidden/);
  });

  test('a datagram sent while its state forbids it and delivered anyway is a violation', () => {
    const history = { ...quietHistory(), stateChanges: [change(900, 1000, 'attack', true)], probes: [series(3000, (t) => t >= 950 && t !== 2000)] };
    fails(checkProbes(history), /device cam-1: datagram 200 sent at 2\.000s was delivered at 2\.001s while its state "attack" \(enforced at 1\.000s\) forbade it/);
  });

  test('a swap between allowing states that loses allowed datagrams fails (delete-then-add)', () => {
    const history = {
      ...quietHistory(),
      stateChanges: [change(100, 200, 'normal', false), change(1000, 1100, 'suspicious', false)],
      probes: [series(3000, (t) => t >= 1040 && t < 1090)],
    };
    fails(checkProbes(history), /swap "normal" -> "suspicious" .* lost 5 allowed datagrams/);
    // The report says where the loss began and ended, to tell a swap's gap from an earlier outage.
    fails(checkProbes(history), /5 consecutive lost, sent 1\.040s \.\. 1\.080s; seq 103 sent at 1\.030s arrived; seq 109 sent at 1\.090s arrived/);
  });

  test('two lost datagrams in a swap are tolerated', () => {
    const history = {
      ...quietHistory(),
      stateChanges: [change(100, 200, 'normal', false), change(1000, 1100, 'suspicious', false)],
      probes: [series(3000, (t) => t === 1040 || t === 1050)],
    };
    passes(checkProbes(history));
  });

  test('losses during an ovs-restart (and 3 s after it) are not judged', () => {
    const history: History = {
      ...quietHistory(),
      faults: [{ t: 900, phase: 'start', fault: 'ovs-restart', detail: 'restart ovs on n3', nodes: [3] }, { t: 950, phase: 'end', fault: 'ovs-restart', detail: '', nodes: [3] }],
      stateChanges: [change(100, 200, 'normal', false), change(1000, 1100, 'suspicious', false)],
      probes: [series(3000, (t) => t >= 1000 && t < 1100)],
    };
    const verdict = checkProbes(history);
    passes(verdict);
    assert.match(verdict.summary, /swaps 0 checked 1 excluded/);
  });

  test('losses while the device\'s gateway restarted are not judged; a partition or a restart elsewhere does not excuse them', () => {
    const fault = (name: string, nodes: number[]): History['faults'] => [
      { t: 500, phase: 'start', fault: name, detail: '', nodes }, { t: 800, phase: 'end', fault: name, detail: '', nodes }];
    const base = { ...quietHistory(), stateChanges: [change(100, 200, 'normal', false), change(1000, 1100, 'suspicious', false)], probes: [series(3000, (t) => t >= 1000 && t < 1100)] };
    passes(checkProbes({ ...base, faults: fault('kill', [2]) }));
    fails(checkProbes({ ...base, faults: fault('kill', [1]) }), /lost 10 allowed datagrams/);
    fails(checkProbes({ ...base, faults: fault('partition-one', [2]) }), /lost 10 allowed datagrams/);
  });
});

describe('liveness-after-heal', () => {
  test('a leader and a commit within the bounds pass', () => passes(checkLivenessAfterHeal(quietHistory())));

  test('no leader after healing fails; a late commit fails', () => {
    const history = quietHistory();
    fails(checkLivenessAfterHeal({ ...history, final: { ...history.final!, leaderAtMs: null } }), /no leader after healing/);
    fails(checkLivenessAfterHeal({ ...history, final: { ...history.final!, probeCommitAtMs: HEALED_MS + 12_000 } }), /commit 12000 ms after healing, bound 10000 ms/);
  });

  test('a run without a final observation fails', () => fails(checkLivenessAfterHeal({ ...quietHistory(), final: null }), /no final observation/));
});

describe('checkHistory', () => {
  test('runs every checker; a quiet run passes them all', () => {
    const verdicts = checkHistory(quietHistory());
    assert.deepEqual(verdicts.map((verdict) => verdict.checker), CHECKERS.map((checker) => checker.name));
    for (const verdict of verdicts) passes(verdict);
  });

  test('problem lists are bounded', () => {
    const samples: NodeSample[] = [];
    for (let i = 0; i < 50; i++) samples.push({ t: i * 250, node: 1, up: true, term: 1, commit: 100 - i, applied: 100 - i });
    const verdict = checkAppliedMonotone({ ...quietHistory(), samples });
    assert.equal(verdict.problems.length, MAX_PROBLEMS + 1);
    assert.match(verdict.problems[MAX_PROBLEMS]!, /^\.\.\. and 78 more$/);
  });

  test('a checker that cannot read the history fails with the error instead of hiding the others', () => {
    const broken = { ...quietHistory(), samples: null } as unknown as History;
    const verdicts = checkHistory(broken);
    const monotone = verdicts.find((verdict) => verdict.checker === 'applied-monotone')!;
    fails(monotone, /checker error/);
    assert.equal(verdicts.length, CHECKERS.length);
  });
});
