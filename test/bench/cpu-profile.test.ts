// cpu-profile.test.ts — the profile breakdown of bench:etcd's profile mode (bench/cpu-profile.ts).
//
// Goal: a sample counts for the cost a reader of BENCHMARKS.md expects — a SHA-256 under the audit chain is
// the audit chain, a TLS write made by the transport is the transport, a TLS read with no owner stays
// sockets/TLS — only samples inside the window count, and the per-write figures scale the busy samples to
// the measured thread CPU (descheduled time removed). Also /proc's stat lines are read right when the
// command name holds spaces and parentheses, and a real profile of this process is read and sorted.
// Method: table tests on hand-made stacks and a hand-made profile; one real profile via the inspector.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Session } from 'node:inspector/promises';
import { createHash, generateKeyPairSync, sign, verify } from 'node:crypto';
import { breakdown, categoryOf, perWrite, type CpuProfile } from '../../bench/cpu-profile.js';
import { parseTaskStat, threadCpu } from '../../bench/etcd-profile.js';

const frame = (functionName: string, url = ''): { functionName: string; url: string } => ({ functionName, url });

describe('categoryOf sorts a stack (leaf first) by the first frame a rule knows', () => {
  const cases: Array<{ name: string; stack: Array<{ functionName: string; url: string }>; expected: string }> = [
    { name: 'native Ed25519 verify under verifySignature', stack: [frame('verify', 'node:internal/crypto/sig'), frame('verifySignature', 'file:///x/dist/src/commands/crypto.js')], expected: 'verification' },
    { name: 'a hash digest under the audit chain', stack: [frame('digest', 'node:internal/crypto/hash'), frame('extendChain', 'file:///x/src/state/audit.ts')], expected: 'audit_chain' },
    { name: 'a TLS write made by the transport', stack: [frame('writev', ''), frame('_writeGeneric', 'node:_tls_wrap'), frame('send', 'file:///x/src/transport/transport.ts')], expected: 'transport' },
    { name: 'a TLS write made by Fastify', stack: [frame('writev', ''), frame('write', 'node:net'), frame('onSendEnd', 'file:///x/node_modules/fastify/lib/reply.js')], expected: 'http' },
    { name: 'a TLS read with no owner', stack: [frame('onStreamRead', 'node:internal/stream_base_commons')], expected: 'sockets_tls' },
    { name: 'JSON.parse', stack: [frame('parse', ''), frame('handler', 'file:///x/src/api/routes-gateway.ts')], expected: 'json' },
    { name: 'LevelDB', stack: [frame('batch', 'file:///x/node_modules/classic-level/index.js'), frame('save', 'file:///x/src/storage/level-log-store.ts')], expected: 'leveldb' },
    { name: 'protobuf', stack: [frame('encode', 'file:///x/node_modules/protobufjs/src/writer.js')], expected: 'protobuf' },
    { name: 'idle', stack: [frame('(idle)')], expected: 'idle' },
    { name: 'garbage collection', stack: [frame('(garbage collector)')], expected: 'gc' },
    { name: 'unknown code', stack: [frame('mystery', 'file:///elsewhere.js')], expected: 'other' },
  ];
  for (const c of cases) test(c.name, () => assert.equal(categoryOf(c.stack), c.expected));
});

/** A profile of root → verify (node 2) and root → (idle) (node 3), samples 1 ms apart from t = 1,000,000 µs. */
const handMade: CpuProfile = {
  nodes: [
    { id: 1, callFrame: { functionName: '(root)', url: '' }, children: [2, 3] },
    { id: 2, callFrame: { functionName: 'verify', url: 'node:internal/crypto/sig' } },
    { id: 3, callFrame: { functionName: '(idle)', url: '' } },
  ],
  startTime: 1_000_000, endTime: 1_010_000,
  samples: [2, 2, 3, 3, 2, 3, 3, 3, 2, 2],
  timeDeltas: [1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000],
};

describe('breakdown and perWrite', () => {
  test('only samples inside the window count', () => {
    const all = breakdown(handMade);
    assert.equal(all.sampledMs, 10);
    assert.equal(all.byCategoryMs.verification, 5);
    assert.equal(all.byCategoryMs.idle, 5);
    // Samples stamped 1,001,000 .. 1,005,000 µs: the first five.
    const cut = breakdown(handMade, 1_001_000, 1_005_001);
    assert.equal(cut.byCategoryMs.verification, 3);
    assert.equal(cut.byCategoryMs.idle, 2);
  });

  test('per-write figures scale the busy samples to the measured thread CPU', () => {
    // 5 ms of verification samples, but the thread had only 2 ms of CPU (descheduled the rest) for 4 writes.
    const perWriteMs = perWrite(breakdown(handMade), 2, 4);
    assert.equal(perWriteMs.verification, 0.5);
    assert.equal(perWriteMs.idle, 0);
  });
});

describe('thread CPU from /proc', () => {
  test('parseTaskStat counts fields after the command name, even one with spaces and parentheses', () => {
    const line = '1234 (node (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 30 0 0 20 0 11 0 123 456 789';
    assert.equal(parseTaskStat(line), 280);
  });

  test('threadCpu of this process sees its main thread work', () => {
    const before = threadCpu(process.pid);
    const end = Date.now() + 60;
    while (Date.now() < end) createHash('sha256').update('x').digest();
    const after = threadCpu(process.pid);
    assert.ok(after.mainMs > before.mainMs, `main thread CPU ${before.mainMs} → ${after.mainMs} ms`);
  });
});

test('a real profile of this process shows its native verifications as verification', async () => {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const message = Buffer.alloc(256, 7);
  const signature = sign(null, message, privateKey);
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
  const end = Date.now() + 200;
  while (Date.now() < end) assert.ok(verify(null, message, publicKey, signature));
  const { profile } = await session.post('Profiler.stop');
  session.disconnect();
  const result = breakdown(profile as unknown as CpuProfile);
  // The inspector's own dispatch shows up as `other`; of the named costs, verification must lead.
  const named = Object.entries(result.byCategoryMs).filter(([category]) => !['other', 'idle'].includes(category)).sort((a, b) => b[1] - a[1]);
  assert.equal(named[0]?.[0], 'verification', `named costs: ${JSON.stringify(named.slice(0, 3))}`);
  assert.ok(result.byCategoryMs.verification >= 50, `verification ${result.byCategoryMs.verification} ms of a 200 ms loop of verifications`);
});
