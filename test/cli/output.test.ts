// output.test.ts — goal: what people read is aligned and faithful: tables line up whatever the cell
// widths, cells stay on one line, status summaries count enforced devices correctly in both shapes
// the API may report, and `--wait enforced` measures progress by enforcedIndex when a node reports it.
// Method: table tests of the pure renderers.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { enforcementSummary, describeEffect } from '../../src/cli/cmd-cluster.js';
import { formatWatchEvent } from '../../src/cli/cmd-observe.js';
import { reachedIndex } from '../../src/cli/context.js';
import { renderTable, toJson } from '../../src/cli/output.js';

describe('renderers', () => {
  test('renderTable pads every column to its widest cell and keeps cells on one line', () => {
    assert.equal(renderTable(['ID', 'STATE'], [['plug-long-name', 'normal'], ['c', 'line\nbreak']]),
      'ID              STATE\nplug-long-name  normal\nc               line break\n');
  });

  test('enforcementSummary: a device list counts devices at their desired generation; a map shows the generation range', () => {
    const list = [
      { deviceId: 'a', desiredGeneration: 3, appliedGeneration: 3 },
      { deviceId: 'b', desiredGeneration: 3, appliedGeneration: null },
      { deviceId: 'c', desiredGeneration: 4, appliedGeneration: 3 },
    ];
    assert.equal(enforcementSummary(list, 17), '1/3 devices @17');
    assert.equal(enforcementSummary([], undefined), '0/0 devices');
    assert.equal(enforcementSummary({ a: 2, b: 7 }, undefined), '2 devices, gen 2..7');
    assert.equal(enforcementSummary(undefined, undefined), '-');
  });

  test('reachedIndex prefers enforcedIndex (data plane) over applied', () => {
    assert.equal(reachedIndex({ applied: 9, enforcedIndex: 4 }), 4);
    assert.equal(reachedIndex({ applied: 9 }), 9);
    assert.equal(reachedIndex({}), 0);
  });

  test('effects and watch lines say what changed in a few words', () => {
    assert.equal(describeEffect({ kind: 'deviceState', deviceId: 'cam-1', from: 'normal', to: 'attack', rule: 'brute-force-login' }), 'device cam-1: normal -> attack (brute-force-login)');
    assert.equal(describeEffect({ kind: 'membership', action: 'addLearner', nodeId: 'n4' }), 'membership addLearner n4');
    assert.equal(describeEffect({ kind: 'alert', event: 0, deviceId: 'cam-1', alertType: 'brute-force-login' }), 'alert brute-force-login from cam-1');
    assert.equal(formatWatchEvent({ index: 12, term: 3, timeMs: 0, kind: 'telemetry', ok: true, effects: [{ kind: 'changed', what: 'device', id: 'd' }] }),
      '1970-01-01T00:00:00.000Z  #12 term 3  telemetry  ok\n    changed device d\n');
    assert.equal(formatWatchEvent({ index: 13, term: 3, timeMs: 0, ok: false, code: 'expired' }), '1970-01-01T00:00:00.000Z  #13 term 3  -  REJECTED expired\n');
  });

  test('toJson renders bytes as hex', () => {
    assert.equal(toJson({ k: new Uint8Array([1, 255]) }), '{\n  "k": "01ff"\n}\n');
  });
});
