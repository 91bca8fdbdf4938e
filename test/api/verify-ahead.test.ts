// verify-ahead.test.ts — goal: the API's edge check verifies in the thread pool only commands that arrive
// together (issue #18): a lone command is verified by precheck on the spot, as before (the hand-off cost
// more than it saved at one client), and of commands arriving in one turn of the event loop all but the
// first go to the pool. Either way the bytes come back unchanged. Method: verifiedAhead with real signed
// commands and a StateMachine, counted through verificationCounts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { verificationCounts } from '../../src/commands/index.js';
import { verifiedAhead } from '../../src/api/verify-ahead.js';
import { StateMachine, policyEngines } from '../../src/state/index.js';
import { TestCluster } from '../state/fixtures.js';

test('a lone command is not verified ahead; of three arriving together, two are', async () => {
  const cluster = new TestCluster();
  const machine = new StateMachine(cluster.genesis, policyEngines);
  const commands = [0, 1, 2, 3].map((i) => cluster.root({ kind: 'createDomain', description: `d${i}` }, `d${i}`));
  const before = verificationCounts();
  assert.deepEqual(await verifiedAhead(machine, commands[0]!), commands[0]);
  assert.equal(verificationCounts().inBackground, before.inBackground, 'a lone command stays on the thread');
  await new Promise((resolve) => setImmediate(resolve));
  const together = await Promise.all(commands.slice(1).map((c) => verifiedAhead(machine, c)));
  assert.deepEqual(together, commands.slice(1));
  // Each root command carries two signatures: two commands of the three → four verifications ahead.
  assert.equal(verificationCounts().inBackground - before.inBackground, 4);
});
