// Goal: the node's own signed commands are proposed one at a time in sequence order, readings are batched
// per domain and bounded (oldest dropped first while the cluster has no leader), a command that could not
// commit is proposed again with the same bytes, and commands signed elsewhere go before those still to sign.
// Method: a NodeProposer over an in-memory "cluster" whose propose records the order and can refuse.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { NodeProposer, type NodePayload, type ProposeOutcome } from '../../src/devices/node-proposer.js';

interface Signed { seq: number; domain: string; payload: NodePayload }

function harness(options: { refuseFirst?: number; maxBufferedReadings?: number } = {}) {
  let seq = 0;
  const byBytes = new Map<string, Signed>();
  const proposed: Signed[] = [];
  let refusals = options.refuseFirst ?? 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let leader = true;
  const proposer = new NodeProposer({
    sign: (domain, payload) => {
      seq++;
      const bytes = new TextEncoder().encode(`cmd-${seq}`);
      byBytes.set(`cmd-${seq}`, { seq, domain, payload });
      return bytes;
    },
    propose: async (signed): Promise<ProposeOutcome> => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 2));
      inFlight--;
      if (!leader || refusals > 0) {
        refusals = Math.max(0, refusals - 1);
        return { kind: 'retry', reason: 'no leader' };
      }
      const command = byBytes.get(new TextDecoder().decode(signed));
      assert.ok(command !== undefined, 'only bytes this harness signed are proposed');
      proposed.push(command);
      return { kind: 'committed', index: proposed.length, ok: true };
    },
    domainOf: (deviceId) => (deviceId.startsWith('a-') ? 'alpha' : deviceId.startsWith('b-') ? 'beta' : null),
    flushDelayMs: 5,
    maxEventsPerBatch: 4,
    ...(options.maxBufferedReadings === undefined ? {} : { maxBufferedReadings: options.maxBufferedReadings }),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 5))),
  });
  return { proposer, proposed, maxInFlight: () => maxInFlight, setLeader: (value: boolean) => { leader = value; } };
}

async function until(condition: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const reading = (deviceId: string, value: number) => ({ deviceId, sensor: 'temperature', value });

test('readings are batched per domain, bounded per batch, and proposed one at a time in sequence order', async () => {
  const h = harness();
  h.proposer.start();
  h.proposer.addReadings([reading('a-1', 1), reading('b-1', 2), reading('a-2', 3), reading('x-9', 4), reading('a-3', 5), reading('a-4', 6), reading('a-5', 7)]);
  await until(() => h.proposer.snapshotStats().submittedReadings === 6);
  await h.proposer.stop();
  assert.equal(h.maxInFlight(), 1, 'never two proposals in flight');
  assert.deepEqual(h.proposed.map((c) => c.seq), [...h.proposed.map((c) => c.seq)].sort((a, b) => a - b), 'proposed in sequence order');
  for (const command of h.proposed) {
    assert.equal(command.payload.kind, 'telemetry');
    const events = (command.payload as { events: { deviceId: string }[] }).events;
    assert.ok(events.length <= 4, 'a batch holds at most maxEventsPerBatch events');
    assert.ok(events.every((e) => (command.domain === 'alpha' ? e.deviceId.startsWith('a-') : e.deviceId.startsWith('b-'))), 'one domain per batch');
  }
  assert.equal(h.proposer.snapshotStats().droppedReadings.unknown_device, 1, 'a reading of a device not served here is dropped and counted');
});

test('while there is no leader readings wait in a bounded buffer; the oldest are dropped first and counted', async () => {
  const h = harness({ maxBufferedReadings: 5 });
  h.setLeader(false);
  h.proposer.start();
  h.proposer.addReadings([1, 2, 3].map((v) => reading('a-1', v)));
  await new Promise((resolve) => setTimeout(resolve, 30));
  h.proposer.addReadings([4, 5, 6, 7, 8, 9, 10].map((v) => reading('a-1', v)));
  assert.ok((h.proposer.snapshotStats().droppedReadings.buffer_full ?? 0) >= 2, 'readings beyond the bound are dropped');
  h.setLeader(true);
  await until(() => h.proposer.snapshotStats().queuedReadings === 0 && h.proposed.length > 0);
  await new Promise((resolve) => setTimeout(resolve, 30));
  await h.proposer.stop();
  const values = h.proposed.flatMap((c) => (c.payload as { events: { value: number }[] }).events.map((e) => e.value));
  assert.ok(values.includes(10) && values.includes(9), 'the newest readings survive');
  assert.ok(!values.includes(5), 'an old reading beyond the bound was dropped (oldest first)');
});

test('a command that could not commit is proposed again with the same bytes, not signed again', async () => {
  const h = harness({ refuseFirst: 3 });
  h.proposer.start();
  const outcomes: ProposeOutcome[] = [];
  h.proposer.addCommand('deviceCommandsDone', '', { kind: 'deviceCommandsDone', ids: [7], failures: [] }, (o) => outcomes.push(o));
  await until(() => outcomes.length === 1);
  await h.proposer.stop();
  assert.equal(outcomes[0]!.kind, 'committed');
  assert.equal(h.proposed.length, 1);
  assert.equal(h.proposed[0]!.seq, 1, 'signed once: the retries reused its bytes');
  assert.equal(h.proposer.snapshotStats().retries, 3);
});

test('commands signed elsewhere go before commands still to be signed', async () => {
  const h = harness();
  h.proposer.addCommand('later', '', { kind: 'telemetry', events: [] });
  // Signed before the queued command is signed: its sequence number is lower, so it must go first.
  const early = new TextEncoder().encode('cmd-0');
  const proposer = h.proposer as unknown as { init: { propose: (b: Uint8Array) => Promise<ProposeOutcome> } };
  const original = proposer.init.propose;
  const order: string[] = [];
  proposer.init.propose = async (bytes) => {
    order.push(new TextDecoder().decode(bytes));
    return bytes.length === early.length && new TextDecoder().decode(bytes) === 'cmd-0' ? { kind: 'committed', index: 1, ok: true } : original(bytes);
  };
  const settled = h.proposer.addSigned('alerts', early);
  h.proposer.start();
  assert.equal((await settled).kind, 'committed');
  await until(() => order.length === 2);
  await h.proposer.stop();
  assert.deepEqual(order, ['cmd-0', 'cmd-1']);
});

test('node-raised alerts go in the readings\' telemetry batches, not one command each ahead of them', async () => {
  const h = harness();
  h.proposer.start();
  for (let i = 1; i <= 4; i++) h.proposer.addAlert({ deviceId: `a-${i}`, alertType: 'device-unreachable', source: 'adapter:mqtt' });
  h.proposer.addReadings([reading('a-9', 1)]);
  await until(() => h.proposer.snapshotStats().submittedReadings === 1);
  await h.proposer.stop();
  const events = h.proposed.flatMap((c) => (c.payload as { events: { kind: string }[] }).events);
  assert.equal(events.filter((e) => e.kind === 'alert').length, 4);
  assert.ok(h.proposed.length <= 2, `five events in at most two batches (of four), found ${h.proposed.length} commands`);
});

/**
 * pipelineHarness is a cluster whose proposals take `delayMs` each and can be answered stale; two batches in flight
 * at most unless `maxBatchesInFlight` says otherwise ('default': the proposer's own default).
 */
function pipelineHarness(options: { delayMs: number; staleSeqs?: Set<number>; maxBatchesInFlight?: number | 'default'; maxBufferedReadings?: number }) {
  let seq = 0;
  const bytesToSeq = new Map<string, number>();
  const signedPayloads = new Map<number, NodePayload>();
  const issued: number[] = [];
  const committed: { seq: number; payload: NodePayload }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const overlapWithCommand: string[] = [];
  let commandInFlight = false;
  const proposer = new NodeProposer({
    sign: (_domain, payload) => {
      seq++;
      bytesToSeq.set(`cmd-${seq}`, seq);
      signedPayloads.set(seq, payload);
      return new TextEncoder().encode(`cmd-${seq}`);
    },
    propose: async (signed): Promise<ProposeOutcome> => {
      const s = bytesToSeq.get(new TextDecoder().decode(signed))!;
      const payload = signedPayloads.get(s)!;
      const isCommand = payload.kind === 'deviceCommandsDone';
      if (isCommand) commandInFlight = true;
      if ((isCommand && inFlight > 0) || (!isCommand && commandInFlight)) overlapWithCommand.push(`seq ${s}`);
      issued.push(s);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, options.delayMs));
      inFlight--;
      if (isCommand) commandInFlight = false;
      if (options.staleSeqs?.delete(s)) return { kind: 'committed', index: 0, ok: false, code: 'stale_sequence', reason: 'overtaken' };
      committed.push({ seq: s, payload });
      return { kind: 'committed', index: committed.length, ok: true };
    },
    domainOf: () => 'alpha',
    flushDelayMs: 5,
    maxEventsPerBatch: 8,
    pipelineAtEvents: 4,
    ...(options.maxBatchesInFlight === 'default' ? {} : { maxBatchesInFlight: options.maxBatchesInFlight ?? 2 }),
    ...(options.maxBufferedReadings === undefined ? {} : { maxBufferedReadings: options.maxBufferedReadings }),
  });
  const values = () => committed.flatMap((c) => (c.payload.kind === 'telemetry' ? (c.payload.events as { value: number }[]).map((e) => e.value) : []));
  return { proposer, issued, committed, values, maxInFlight: () => maxInFlight, overlapWithCommand };
}

test('with a backlog, batches of readings are pipelined (bounded), leave in sequence order, and commands never overlap them', async () => {
  const h = pipelineHarness({ delayMs: 20 });
  h.proposer.start();
  for (let v = 0; v < 60; v++) h.proposer.addReadings([reading('a-1', v)]);
  h.proposer.addCommand('deviceCommandsDone', '', { kind: 'deviceCommandsDone', ids: [1], failures: [] });
  for (let v = 60; v < 100; v++) h.proposer.addReadings([reading('a-1', v)]);
  await until(() => h.proposer.snapshotStats().submittedReadings === 100 && h.proposer.snapshotStats().queuedCommands === 0);
  await h.proposer.stop();
  assert.equal(h.maxInFlight(), 2, 'two batches in flight under a backlog, never more');
  assert.deepEqual(h.issued, [...h.issued].sort((a, b) => a - b), 'proposed in the order signed');
  assert.deepEqual(h.overlapWithCommand, [], 'a command is proposed alone');
  assert.deepEqual(h.values().sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i), 'every reading committed once');
  const stats = h.proposer.snapshotStats();
  assert.equal(stats.readingBatches, h.committed.length - 1, 'every batch of readings counted (not the command)');
  assert.ok(stats.readingBatchMs >= stats.readingBatches * 15, `batch time summed (${stats.readingBatchMs} ms over ${stats.readingBatches})`);
});

test('a batch overtaken by a later one (refused as stale) is not lost: its readings are signed again and committed', async () => {
  const h = pipelineHarness({ delayMs: 10, staleSeqs: new Set([2]) });
  h.proposer.start();
  for (let v = 0; v < 40; v++) h.proposer.addReadings([reading('a-1', v)]);
  await until(() => h.proposer.snapshotStats().submittedReadings === 40);
  await h.proposer.stop();
  const stats = h.proposer.snapshotStats();
  assert.ok(stats.requeuedReadings > 0, 'the stale batch went back to the queue');
  assert.deepEqual(stats.droppedReadings, {}, 'nothing dropped');
  assert.deepEqual(h.values().sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => i), 'every reading committed exactly once');
  assert.ok(!h.committed.some((c) => c.seq === 2), 'the stale bytes never applied');
});

test('by default a node keeps up with readings whose round trip spans several batches (a follower at 10,000 devices did not with two in flight)', async () => {
  // Round trip 40 ms, batches of 8, 10 readings every 10 ms: keeping up needs 40 readings, five batches, in flight.
  // With two in flight (the default until 2026-12-07) the buffer of 100 overflows within half a second.
  const h = pipelineHarness({ delayMs: 40, maxBatchesInFlight: 'default', maxBufferedReadings: 100 });
  h.proposer.start();
  for (let round = 0; round < 40; round++) {
    h.proposer.addReadings(Array.from({ length: 10 }, (_, i) => reading('a-1', round * 10 + i)));
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await until(() => h.proposer.snapshotStats().queuedReadings === 0 && h.committed.length > 0);
  await h.proposer.stop();
  const stats = h.proposer.snapshotStats();
  assert.deepEqual(stats.droppedReadings, {}, `no reading dropped for room (max ${h.maxInFlight()} batches in flight)`);
  assert.ok(h.maxInFlight() > 2, `more than two batches in flight, found ${h.maxInFlight()}`);
  assert.deepEqual(h.values().sort((a, b) => a - b), Array.from({ length: 400 }, (_, i) => i), 'every reading committed once');
});

test('without a backlog one batch is in flight at a time (the reading path is not split into tiny batches)', async () => {
  const h = pipelineHarness({ delayMs: 20 });
  h.proposer.start();
  for (let v = 0; v < 6; v++) {
    h.proposer.addReadings([reading('a-1', v)]);
    await new Promise((resolve) => setTimeout(resolve, 8));
  }
  await until(() => h.proposer.snapshotStats().submittedReadings === 6);
  await h.proposer.stop();
  assert.equal(h.maxInFlight(), 1, 'fewer than pipelineAtEvents readings waiting never start a second batch');
});
