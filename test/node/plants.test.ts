// plants.test.ts — the planted bugs of the chaos self-test are off unless named exactly, and an unknown
// name stops the node at start rather than running without the bug the operator asked for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PLANTS, plantFromEnv } from '../../src/node/plants.js';

test('no QUORUMGATE_PLANT (or an empty one) means no planted bug', () => {
  assert.equal(plantFromEnv({}), undefined);
  assert.equal(plantFromEnv({ QUORUMGATE_PLANT: '' }), undefined);
});

test('each known planted bug is read by name', () => {
  for (const plant of PLANTS) assert.equal(plantFromEnv({ QUORUMGATE_PLANT: plant }), plant);
  assert.deepEqual([...PLANTS].sort(), ['ack-before-fsync', 'delete-then-add', 'local-reads', 'no-replay-check']);
});

test('an unknown planted bug is a start-up error that lists the known ones', () => {
  assert.throws(() => plantFromEnv({ QUORUMGATE_PLANT: 'local-read' }), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'FAULT_CONFIG');
    assert.match(error.message, /QUORUMGATE_PLANT must be one of ack-before-fsync, local-reads, no-replay-check, delete-then-add, got "local-read"/);
    return true;
  });
});
