// determinism.test.ts — the core is a pure function of its inputs: the same seed and the same
// sequence of ticks, messages and proposals give the same messages, logs and hard states
// (DESIGN.md promise 6), and a different seed changes the election timing.
//
// Method: run one scripted scenario (elections, partitions, proposals, a leader change) twice
// per seed and compare full traces as JSON.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Network } from './support/network.js';

function trace(seed: number): string {
  const net = new Network([1, 2, 3, 4, 5], { seed, config: () => ({ preVote: true, checkQuorum: true }) });
  net.tick(25);
  const first = net.leaderIds()[0]!;
  net.propose(first, 'a');
  net.isolate(first);
  net.tick(40);
  const second = net.leaderIds().find((id) => id !== first);
  if (second !== undefined) net.propose(second, 'b');
  net.heal();
  net.tick(10);
  const messages = net.delivered.map((m) => [m.type, m.from, m.to, m.term, m.index, m.logTerm, m.commit, m.reject, m.entries.length]);
  const states = [...net.nodes.values()].map((n) => [n.id, n.node.status().hardState, n.appliedData()]);
  return JSON.stringify({ messages, states });
}

test('the same seed gives the same trace; another seed gives another', () => {
  const a = trace(7);
  assert.equal(trace(7), a);
  assert.notEqual(trace(8), a);
  assert.ok(a.length > 1000, 'the scenario did something');
});
