// conf-change.test.ts — the configuration changer (etcd-io/raft's confchange package): what a
// one-at-a-time change, entering and leaving a joint configuration do to voters, learners and
// learnersNext, which changes are invalid; and the ConfChange encoding (deterministic bytes,
// precise errors on garbage).
//
// Method: table tests over Changer and restoreConfig with small configurations; round trips and
// hand-written malformed inputs for the codec.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Changer, restoreConfig } from '../../src/raft/conf-change.js';
import type { ConfigAndProgress } from '../../src/raft/conf-change.js';
import { ProgressTracker } from '../../src/raft/tracker.js';
import {
  ConfChangeDecodeError, ConfChangeError, ConfChangeType, decodeConfChange, encodeConfChange,
} from '../../src/raft/index.js';
import type { ConfChange, ConfChangeSingle, ConfState } from '../../src/raft/index.js';
import { bytes, confState } from './support/network.js';

const add = (nodeId: number): ConfChangeSingle => ({ type: ConfChangeType.AddNode, nodeId });
const learner = (nodeId: number): ConfChangeSingle => ({ type: ConfChangeType.AddLearner, nodeId });
const remove = (nodeId: number): ConfChangeSingle => ({ type: ConfChangeType.RemoveNode, nodeId });

function stateOf(result: ConfigAndProgress): ConfState {
  const trk = new ProgressTracker(8);
  trk.config = result.config;
  trk.progress = result.progress;
  return trk.confState();
}

function changer(cs: ConfState, lastIndex = 10): Changer {
  return new Changer(restoreConfig(cs, lastIndex, 8), lastIndex, 8);
}

const joint = (voters: number[], outgoing: number[], learners: number[] = [], learnersNext: number[] = [], autoLeave = false): ConfState =>
  ({ voters, votersOutgoing: outgoing, learners, learnersNext, autoLeave });

describe('Changer.simple (one at a time, thesis 4.1)', () => {
  const cases: { from: ConfState; changes: ConfChangeSingle[]; want?: ConfState; error?: RegExp }[] = [
    { from: confState([1]), changes: [add(2)], want: confState([1, 2]) },
    { from: confState([1, 2]), changes: [remove(2)], want: confState([1]) },
    { from: confState([1, 2]), changes: [learner(3)], want: confState([1, 2], [3]) },
    { from: confState([1, 2], [3]), changes: [add(3)], want: confState([1, 2, 3]), }, // promote
    { from: confState([1, 2, 3]), changes: [learner(3)], want: confState([1, 2], [3]) }, // demote
    { from: confState([1, 2]), changes: [add(2)], want: confState([1, 2]) }, // idempotent
    { from: confState([1, 2]), changes: [remove(9)], want: confState([1, 2]) }, // unknown: no-op
    { from: confState([1, 2]), changes: [add(3), learner(4)], want: confState([1, 2, 3], [4]) }, // one voter changes
    { from: confState([1]), changes: [remove(1)], error: /removed all voters/ },
    { from: confState([1, 2]), changes: [add(3), add(4)], error: /more than one voter changed/ },
    { from: confState([1, 2]), changes: [remove(1), add(3)], error: /more than one voter changed/ },
    { from: joint([1, 2], [1]), changes: [add(3)], error: /in joint config/ },
  ];
  for (const c of cases) {
    test(`${JSON.stringify(c.from.voters)}+learners ${JSON.stringify(c.from.learners)} with ${JSON.stringify(c.changes)} → ${c.error ?? JSON.stringify(c.want)}`, () => {
      if (c.error !== undefined) {
        assert.throws(() => changer(c.from).simple(c.changes), (e: unknown) => e instanceof ConfChangeError && c.error!.test(e.message));
      } else {
        assert.deepEqual(stateOf(changer(c.from).simple(c.changes)), c.want);
      }
    });
  }

  test('a dry run does not touch the current configuration', () => {
    const current = restoreConfig(confState([1, 2], [3]), 10, 8);
    new Changer(current, 10, 8).simple([add(3)]);
    assert.equal(current.progress.get(3)!.isLearner, true);
    assert.ok(current.config.learners.has(3));
  });

  test('a new member is probed from the last index and counts as recently active', () => {
    const result = changer(confState([1]), 42).simple([add(2)]);
    const pr = result.progress.get(2)!;
    assert.deepEqual([pr.next, pr.match, pr.recentActive, pr.state], [42, 0, true, 'probe']);
  });
});

describe('Changer.enterJoint / leaveJoint (thesis 4.3)', () => {
  test('entering copies voters to outgoing and applies changes to incoming', () => {
    const result = changer(confState([1, 2, 3])).enterJoint(true, [remove(3), add(4), add(5)]);
    assert.deepEqual(stateOf(result), joint([1, 2, 4, 5], [1, 2, 3], [], [], true));
  });

  test('demoting an outgoing voter parks it in learnersNext until the joint config is left', () => {
    const entered = changer(confState([1, 2, 3])).enterJoint(false, [learner(3)]);
    assert.deepEqual(stateOf(entered), joint([1, 2], [1, 2, 3], [], [3]));
    const left = new Changer(entered, 10, 8).leaveJoint();
    assert.deepEqual(stateOf(left), confState([1, 2], [3]));
    assert.equal(left.progress.get(3)!.isLearner, true);
  });

  test('leaving drops the progress of removed outgoing voters', () => {
    const entered = changer(confState([1, 2, 3])).enterJoint(true, [remove(3)]);
    assert.ok(entered.progress.has(3), 'still an outgoing voter');
    const left = new Changer(entered, 10, 8).leaveJoint();
    assert.equal(left.progress.has(3), false);
    assert.deepEqual(stateOf(left), confState([1, 2]));
  });

  for (const { name, run, error } of [
    { name: 'enter when already joint', run: () => changer(joint([1, 2], [1])).enterJoint(false, [add(3)]), error: /already joint/ },
    { name: 'enter from zero voters', run: () => changer(confState([])).enterJoint(false, [add(3)]), error: /zero-voter/ },
    { name: 'leave when not joint', run: () => changer(confState([1, 2])).leaveJoint(), error: /non-joint/ },
    { name: 'enter removing every incoming voter', run: () => changer(confState([1, 2])).enterJoint(false, [remove(1), remove(2)]), error: /removed all voters/ },
  ]) {
    test(`refuses to ${name}`, () => {
      assert.throws(run, (e: unknown) => e instanceof ConfChangeError && error.test(e.message));
    });
  }

  test('applyChange picks the transition: auto with one change is simple, auto with more is joint and auto-left, explicit stays', () => {
    const cc = (transition: ConfChange['transition'], changes: ConfChangeSingle[]): ConfChange => ({ transition, changes, context: new Uint8Array() });
    assert.deepEqual(stateOf(changer(confState([1, 2])).applyChange(cc('auto', [add(3)]))), confState([1, 2, 3]));
    assert.deepEqual(stateOf(changer(confState([1, 2])).applyChange(cc('auto', [add(3), add(4)]))), joint([1, 2, 3, 4], [1, 2], [], [], true));
    assert.deepEqual(stateOf(changer(confState([1, 2])).applyChange(cc('implicit', [add(3)]))), joint([1, 2, 3], [1, 2], [], [], true));
    assert.deepEqual(stateOf(changer(confState([1, 2])).applyChange(cc('explicit', [add(3)]))), joint([1, 2, 3], [1, 2], [], [], false));
    assert.deepEqual(stateOf(changer(joint([1, 2, 3], [1, 2])).applyChange(cc('auto', []))), confState([1, 2, 3]));
  });
});

describe('restoreConfig', () => {
  test('restores a joint configuration with learners and learnersNext', () => {
    const cs = joint([1, 2, 4], [1, 2, 3], [5], [3], true);
    assert.deepEqual(stateOf(restoreConfig(cs, 7, 8)), cs);
  });

  test('refuses a node that is both voter and learner', () => {
    assert.throws(() => restoreConfig(confState([1, 2], [2]), 0, 8), ConfChangeError);
  });

  test('refuses learnersNext outside the outgoing voters', () => {
    assert.throws(() => restoreConfig(joint([1, 2], [1], [], [2]), 0, 8), /learnersNext/);
  });
});

describe('ConfChange encoding', () => {
  const sample: ConfChange = { transition: 'implicit', changes: [add(4), remove(2), learner(5)], context: bytes('ctx\u0000\u00ff') };

  test('round-trips and is deterministic', () => {
    const encoded = encodeConfChange(sample);
    assert.deepEqual(decodeConfChange(encoded), sample);
    assert.deepEqual(encodeConfChange(decodeConfChange(encoded)), encoded);
    assert.equal(new TextDecoder().decode(encodeConfChange({ transition: 'auto', changes: [add(1)], context: new Uint8Array([0xab]) })),
      '{"transition":"auto","changes":[{"type":0,"nodeId":1}],"context":"ab"}');
  });

  const garbage: { name: string; input: Uint8Array; message: RegExp }[] = [
    { name: 'not UTF-8', input: new Uint8Array([0xff, 0xfe]), message: /expected UTF-8 JSON/ },
    { name: 'not JSON', input: bytes('{nope'), message: /expected UTF-8 JSON/ },
    { name: 'an array', input: bytes('[]'), message: /expected a JSON object at top level, got \[\]/ },
    { name: 'a missing key', input: bytes('{"transition":"auto","changes":[]}'), message: /expected keys changes,context,transition, got changes,transition/ },
    { name: 'an extra key', input: bytes('{"transition":"auto","changes":[],"context":"","x":1}'), message: /got changes,context,transition,x/ },
    { name: 'an unknown transition', input: bytes('{"transition":"magic","changes":[],"context":""}'), message: /transition: expected one of auto\|implicit\|explicit, got "magic"/ },
    { name: 'a bad change type', input: bytes('{"transition":"auto","changes":[{"type":7,"nodeId":1}],"context":""}'), message: /changes\[0\]\.type: expected one of 0\|1\|2, got 7/ },
    { name: 'node id zero', input: bytes('{"transition":"auto","changes":[{"type":0,"nodeId":0}],"context":""}'), message: /changes\[0\]\.nodeId: expected a positive safe integer, got 0/ },
    { name: 'an unsafe node id', input: bytes('{"transition":"auto","changes":[{"type":0,"nodeId":9007199254740993}],"context":""}'), message: /nodeId: expected a positive safe integer/ },
    { name: 'a fractional node id', input: bytes('{"transition":"auto","changes":[{"type":0,"nodeId":1.5}],"context":""}'), message: /nodeId/ },
    { name: 'odd-length hex context', input: bytes('{"transition":"auto","changes":[],"context":"abc"}'), message: /context: expected lowercase hex, got "abc"/ },
  ];
  for (const g of garbage) {
    test(`rejects ${g.name} with ConfChangeDecodeError naming what was wrong`, () => {
      assert.throws(() => decodeConfChange(g.input), (e: unknown) => {
        assert.ok(e instanceof ConfChangeDecodeError, `got ${String(e)}`);
        assert.equal(e.code, 'RAFT_CONF_CHANGE_DECODE');
        assert.match(e.message, g.message);
        return true;
      });
    });
  }
});
