// sse-audit.test.ts — goal: `qgate watch` parses server-sent events however the stream is split
// into chunks, and `qgate audit verify` reads the export format precisely and recomputes the same
// chain a node reports (so any edited, dropped or reordered entry is caught). Method: feed every
// split of a recorded stream to SseParser; export the entries of a real StateMachine run and check
// them against its auditChain().
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair, sha256, signCommand, toHex, createGenesis, clusterIdOf, keyIdHex } from '../../src/commands/index.js';
import { policyEngines, StateMachine, verifyAuditChain } from '../../src/state/index.js';
import { parseAuditExport } from '../../src/cli/audit.js';
import { SseParser, type SseEvent } from '../../src/cli/sse.js';
import { CliError } from '../../src/cli/errors.js';

const STREAM = ': keep-alive\n\nevent: applied\nid: 7\ndata: {"index":7}\n\r\nevent: gap\r\ndata: line one\r\ndata: line two\r\n\r\ndata:no space\n\nevent: ignored-without-data\n\n';
const EXPECTED: SseEvent[] = [
  { event: 'applied', data: '{"index":7}', id: '7' },
  { event: 'gap', data: 'line one\nline two', id: '7' },
  { event: 'message', data: 'no space', id: '7' },
];

describe('SseParser', () => {
  test('one chunk: comments skipped, CRLF and LF lines, multi-line data joined, events without data dropped', () => {
    assert.deepEqual(new SseParser().push(STREAM), EXPECTED);
  });

  test('every split of the stream into two or three chunks gives the same events', () => {
    for (let i = 0; i <= STREAM.length; i++) {
      for (const j of [i, Math.min(STREAM.length, i + 1), Math.min(STREAM.length, i + 7)]) {
        const parser = new SseParser();
        const events = [...parser.push(STREAM.slice(0, i)), ...parser.push(STREAM.slice(i, j)), ...parser.push(STREAM.slice(j))];
        assert.deepEqual(events, EXPECTED, `split at ${i} and ${j}`);
      }
    }
  });

  test('an event larger than the bound is an error, not unbounded memory', () => {
    const parser = new SseParser();
    assert.throws(() => parser.push(`data: ${'x'.repeat(4 * 1024 * 1024 + 10)}`), (error: unknown) => error instanceof CliError && /exceeds/.test(error.message));
  });
});

describe('audit export', () => {
  /** run applies a few commands (accepted and rejected) to a real state machine and exports them. */
  function run(): { clusterId: Uint8Array; chain: string; lines: string[] } {
    const root = generateKeyPair();
    const genesis = createGenesis({ clusterName: 'audit', rootKeys: [root.publicKey], rootThreshold: 1, members: [{ nodeId: 'n1', nodeKey: generateKeyPair().publicKey, address: '127.0.0.1:7001' }] });
    const clusterId = clusterIdOf(genesis);
    const machine = new StateMachine(genesis, policyEngines);
    const lines: string[] = [];
    const t0 = 1_767_225_600_000;
    ['home', 'office', 'home'].forEach((domain, i) => {
      const payload = signCommand({ clusterId, domain, signer: 'root', seq: i + 1, notAfterMs: t0 + 60_000, payload: { kind: 'createDomain', description: '' } }, [root]);
      const entry = { index: 3 + i * 2, term: 1 + i, timeMs: t0 + i, payload };
      machine.apply(entry);
      lines.push(JSON.stringify({ ...entry, payload: Buffer.from(payload).toString('base64') }));
    });
    assert.equal(machine.rejections().length, 1, 'the export covers a rejected entry too');
    assert.equal(keyIdHex(root.publicKey).length, 32);
    return { clusterId, chain: machine.auditChain(), lines };
  }

  test('the exported entries recompute the chain the state machine reports', () => {
    const { clusterId, chain, lines } = run();
    const exported = parseAuditExport(lines.join('\n'), 'x.jsonl');
    assert.equal(exported.header, undefined);
    assert.deepEqual(verifyAuditChain(clusterId, exported.entries, chain), { ok: true, chain, entries: 3 });
  });

  test('an edited payload, a dropped entry or another cluster id gives another chain', () => {
    const { clusterId, chain, lines } = run();
    const edited = JSON.parse(lines[1] as string) as { payload: string };
    const bytes = Buffer.from(edited.payload, 'base64');
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1;
    const variants = [
      [lines[0], JSON.stringify({ ...edited, payload: bytes.toString('base64') }), lines[2]],
      [lines[0], lines[2]],
    ];
    for (const variant of variants) {
      assert.equal(verifyAuditChain(clusterId, parseAuditExport(variant.join('\n'), 'x').entries, chain).ok, false);
    }
    assert.equal(verifyAuditChain(sha256(clusterId), parseAuditExport(lines.join('\n'), 'x').entries, chain).ok, false);
  });

  test('a header gives the cluster id and the expected chain', () => {
    const { clusterId, chain, lines } = run();
    const header = JSON.stringify({ clusterId: toHex(clusterId), auditChain: chain, index: 7 });
    const exported = parseAuditExport([header, ...lines].join('\n'), 'x');
    assert.deepEqual(exported.header, { clusterId, auditChain: chain, index: 7 });
  });

  const bad: [string, string, RegExp][] = [
    ['text that is not JSON', '{"index":1,', /^x\.jsonl:2: expected a JSON object, found text that is not JSON/],
    ['an unknown field', '{"index":1,"term":1,"timeMs":0,"payload":"","hash":"00"}', /^x\.jsonl:2: unknown field "hash" \(expected index, term, timeMs, payload\)$/],
    ['a negative term', '{"index":1,"term":-1,"timeMs":0,"payload":""}', /^x\.jsonl:2: term: expected a non-negative integer, found -1$/],
    ['a payload that is not base64', '{"index":1,"term":1,"timeMs":0,"payload":"%%%"}', /^x\.jsonl:2: payload: expected the entry bytes in base64$/],
    ['a header after entries', '{"clusterId":"00"}', /^x\.jsonl:2: a header \(clusterId\) may only be the first line$/],
  ];
  for (const [name, line, message] of bad) {
    test(`refuses ${name}, naming the line`, () => {
      const first = '{"index":1,"term":1,"timeMs":0,"payload":"AA=="}';
      assert.throws(() => parseAuditExport(`${first}\n${line}\n`, 'x.jsonl'), (error: unknown) => error instanceof CliError && error.exitCode === 2 && message.test(error.message));
    });
  }
});
