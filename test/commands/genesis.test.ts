// genesis.test.ts — goal: the cluster id is a stable hash of the canonical genesis (key order and
// whitespace do not matter, every field does), and a bad genesis file is refused with the file, the path
// inside it, what was expected and what was found. Also checks that .gitignore keeps private key files
// out of git. Method: table tests over hand-made documents; `git check-ignore` on candidate names.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  clusterIdOf, createGenesis, GenesisError, keyPairFromSeed, loadGenesis, parseGenesis, toHex, type Genesis,
} from '../../src/commands/index.js';
import { repoRoot } from '../support/paths.js';

const root1 = keyPairFromSeed(new Uint8Array(32).fill(1)).publicKey;
const root2 = keyPairFromSeed(new Uint8Array(32).fill(2)).publicKey;
const node1 = keyPairFromSeed(new Uint8Array(32).fill(3)).publicKey;

function sample(): Genesis {
  return createGenesis({
    clusterName: 'lab', rootKeys: [root1, root2], rootThreshold: 2,
    members: [{ nodeId: 'n1', nodeKey: node1, address: '10.0.0.1:7001' }],
    createdAt: '2026-01-31T12:00:00Z',
  });
}

function rejects(text: string, path: string, expectedIncludes: string): void {
  assert.throws(() => parseGenesis(text, 'genesis.json'), (error: unknown) => {
    assert.ok(error instanceof GenesisError, String(error));
    assert.equal(error.file, 'genesis.json');
    assert.equal(error.path, path, error.message);
    assert.ok(error.expected.includes(expectedIncludes), `expected "${error.expected}" to mention "${expectedIncludes}"`);
    assert.ok(error.message.startsWith('genesis.json: '), error.message);
    return true;
  });
}

describe('genesis', () => {
  test('the cluster id ignores key order and whitespace but not content', () => {
    const genesis = sample();
    const reordered = `{"members":[{"address":"10.0.0.1:7001","nodeKey":"${toHex(node1)}","nodeId":"n1"}],
      "rootThreshold":2, "createdAt":"2026-01-31T12:00:00Z", "rootKeys":["${toHex(root1)}","${toHex(root2)}"], "clusterName":"lab"}`;
    assert.equal(toHex(clusterIdOf(parseGenesis(reordered, 'x'))), toHex(clusterIdOf(genesis)));
    assert.notEqual(toHex(clusterIdOf({ ...genesis, clusterName: 'lab2' })), toHex(clusterIdOf(genesis)));
    assert.notEqual(toHex(clusterIdOf({ ...genesis, rootThreshold: 1 })), toHex(clusterIdOf(genesis)));
    assert.equal(clusterIdOf(genesis).length, 32);
  });

  test('loadGenesis reads a file, and names a missing one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'qgate-genesis-'));
    try {
      const file = join(dir, 'genesis.json');
      writeFileSync(file, JSON.stringify(sample()));
      assert.deepEqual(loadGenesis(file), sample());
      assert.throws(() => loadGenesis(join(dir, 'absent.json')), (error: unknown) => error instanceof GenesisError && error.code === 'unreadable' && error.file.endsWith('absent.json'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const good = (): Record<string, unknown> => JSON.parse(JSON.stringify(sample())) as Record<string, unknown>;
  const rows: { rule: string; edit: (g: Record<string, unknown>) => unknown; path: string; expected: string }[] = [
    { rule: 'the root threshold is at most the number of root keys', edit: (g) => ({ ...g, rootThreshold: 3 }), path: 'rootThreshold', expected: '1..2' },
    { rule: 'the root threshold is at least 1', edit: (g) => ({ ...g, rootThreshold: 0 }), path: 'rootThreshold', expected: '1..2' },
    { rule: 'a root key is counted once', edit: (g) => ({ ...g, rootKeys: [toHex(root1), toHex(root1)] }), path: 'rootKeys', expected: 'distinct' },
    { rule: 'root keys are 64 hex digits', edit: (g) => ({ ...g, rootKeys: [toHex(root1), 'zz'] }), path: 'rootKeys[1]', expected: 'hex' },
    { rule: 'member addresses are host:port', edit: (g) => ({ ...g, members: [{ nodeId: 'n1', nodeKey: toHex(node1), address: 'nowhere' }] }), path: 'members[0].address', expected: 'host:port' },
    { rule: 'a node key is not also a root key', edit: (g) => ({ ...g, members: [{ nodeId: 'n1', nodeKey: toHex(root1), address: 'a:1' }] }), path: 'members[0].nodeKey', expected: 'not also a root key' },
    { rule: 'node ids are distinct', edit: (g) => ({ ...g, members: [{ nodeId: 'n1', nodeKey: toHex(node1), address: 'a:1' }, { nodeId: 'n1', nodeKey: toHex(root2).replace(/^../, '00'), address: 'a:2' }] }), path: 'members', expected: 'distinct nodeIds' },
    { rule: 'unknown fields are refused, not ignored', edit: (g) => ({ ...g, rootthreshold: 1 }), path: 'rootthreshold', expected: 'one of the fields' },
    { rule: 'createdAt is an ISO UTC time', edit: (g) => ({ ...g, createdAt: 'yesterday' }), path: 'createdAt', expected: 'ISO 8601' },
    { rule: 'there is at least one member', edit: (g) => ({ ...g, members: [] }), path: 'members', expected: 'members' },
  ];
  for (const row of rows) test(`invalid: ${row.rule}`, () => rejects(JSON.stringify(row.edit(good())), row.path, row.expected));

  test('text that is not JSON is refused as not_json', () => {
    assert.throws(() => parseGenesis('{', 'g.json'), (error: unknown) => error instanceof GenesisError && error.code === 'not_json');
  });
});

describe('.gitignore keeps private keys out of git', () => {
  const ignored = (path: string): boolean => {
    try {
      execFileSync('git', ['check-ignore', '-q', path], { cwd: repoRoot() });
      return true;
    } catch {
      return false;
    }
  };
  for (const name of ['keys/root-1.key', 'keys/admin.seed.key', 'keys/private/root.json', 'keys/node-1-private.json', 'node.pem', 'cluster/n1/node.key', 'x.secret']) {
    test(`${name} is ignored`, () => assert.ok(ignored(name), `${name} would be committable`));
  }
  test('keys/README.md and public key files are not ignored', () => {
    assert.equal(ignored('keys/README.md'), false);
    assert.equal(ignored('keys/root-1.pub'), false);
  });
});
