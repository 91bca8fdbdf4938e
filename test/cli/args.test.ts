// args.test.ts — goal: the command line parses as documented. Global options are accepted before or
// after the command, repeatable options accumulate, environment variables fill in what flags do not
// give, bad values are usage errors (exit 2) that name the option, and offline commands (genesis
// create) produce what they print. Method: runCli in-process with captured output; a closed port
// stands in for an unreachable cluster where only the parsing matters.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { clusterIdOf, loadGenesis, toHex } from '../../src/commands/index.js';
import { parseMemberSpec, defaultPubFile } from '../../src/cli/cmd-offline.js';
import { deviceFromFlags } from '../../src/cli/cmd-cluster.js';
import { closedPortUrl } from './fake-api.js';
import { qgate, removeDir, tempDir } from './support.js';

describe('global options', () => {
  test('no arguments prints the help on stderr and exits 2', async () => {
    const run = await qgate([]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^Usage: qgate \[options\] \[command\]/);
    assert.equal(run.stdout, '');
  });

  test('--endpoints works before and after the command; QGATE_ENDPOINTS is the fallback', async () => {
    const dead = await closedPortUrl();
    for (const args of [['--endpoints', dead, 'devices', 'list'], ['devices', 'list', '--endpoints', dead]]) {
      const run = await qgate(args);
      assert.equal(run.code, 3, run.stderr);
      assert.match(run.stderr, new RegExp(`no endpoint answered \\(${dead}: ECONNREFUSED`));
    }
    const fromEnv = await qgate(['domains', 'list'], { env: { QGATE_ENDPOINTS: dead } });
    assert.match(fromEnv.stderr, new RegExp(`${dead}: ECONNREFUSED`));
  });

  const usage: [string, string[], RegExp][] = [
    ['an unknown option', ['--frobnicate', 'status'], /unknown option '--frobnicate'/],
    ['an unknown command', ['frobnicate'], /unknown command 'frobnicate'/],
    ['a bad --output', ['--output', 'yaml', 'status'], /Allowed choices are table, json/],
    ['a bad --timeout', ['--timeout', '10s', 'status'], /--timeout: expected a positive integer, found "10s"/],
    ['a bad --signer', ['--signer', 'alice', 'status'], /--signer: expected auto, root or a 32-hex key id, found "alice"/],
    ['a missing required option', ['apply'], /required option '-f, --file <file>' not specified/],
    ['a bad --wait', ['apply', '-f', 'x', '--wait', 'forever'], /Allowed choices are committed, enforced/],
    ['a bad digest', ['images', 'put', 'm', 'md5:1', '--domain', 'home'], /DIGEST: expected sha256: and 64 lowercase hex digits, found "md5:1"/],
    ['a bad --address', ['members', 'add', 'n4', '--address', 'nowhere', '--node-key', 'k'], /--address: expected HOST:PORT, found "nowhere"/],
    ['an empty --reason', ['state', 'set', 'd', 'attack', '--reason', ' '], /--reason: expected a non-empty reason/],
    ['a missing key file', ['--key', '/nonexistent/x.key', 'domains', 'create', 'home'], /key file \/nonexistent\/x\.key: cannot read it \(ENOENT\)/],
  ];
  for (const [name, args, message] of usage) {
    test(`${name} is a usage error (exit 2) that says what is wrong`, async () => {
      const run = await qgate(args);
      assert.equal(run.code, 2, `${run.stdout}${run.stderr}`);
      assert.match(run.stderr, message);
      assert.equal(run.stdout, '');
    });
  }

  test('a command group without its subcommand shows its help on stderr and exits 2', async () => {
    const run = await qgate(['devices']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^Usage: qgate devices \[options\] \[command\]/);
  });

  test('--version prints the package version and exits 0', async () => {
    const run = await qgate(['--version']);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /^\d+\.\d+\.\d+\n$/);
  });

  test('--help of a command exits 0 and shows its options', async () => {
    const run = await qgate(['devices', 'register', '--help']);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /--tag <tag>\s+a tag \(repeatable\)/);
  });
});

describe('offline commands', () => {
  test('genesis create writes a valid genesis whose cluster id is the one printed; --root-key and --member repeat', async () => {
    const dir = tempDir();
    try {
      for (const name of ['root-1', 'root-2', 'n1', 'n2']) assert.equal((await qgate(['keys', 'gen', '--out', join(dir, `${name}.key`)])).code, 0);
      const out = join(dir, 'genesis.json');
      const run = await qgate(['-o', 'json', 'genesis', 'create', '--name', 'lab', '--threshold', '2', '--out', out,
        '--root-key', join(dir, 'root-1.pub'), '--root-key', join(dir, 'root-2.key'),
        '--member', `n1=127.0.0.1:7001:${join(dir, 'n1.pub')}`, '--member', `n2=[::1]:7002:${join(dir, 'n2.key')}`]);
      assert.equal(run.code, 0, run.stderr);
      const printed = JSON.parse(run.stdout) as { clusterId: string };
      const genesis = loadGenesis(out);
      assert.equal(printed.clusterId, toHex(clusterIdOf(genesis)));
      assert.equal(genesis.rootKeys.length, 2);
      assert.deepEqual(genesis.members.map((m) => m.address), ['127.0.0.1:7001', '[::1]:7002']);
      assert.equal(genesis.members[0]?.nodeKey, readFileSync(join(dir, 'n1.pub'), 'utf8').trim());
      const again = await qgate(['genesis', 'create', '--name', 'lab', '--threshold', '1', '--out', out, '--root-key', join(dir, 'root-1.pub'), '--member', `n1=127.0.0.1:7001:${join(dir, 'n1.pub')}`]);
      assert.equal(again.code, 2);
      assert.match(again.stderr, /genesis\.json exists; refusing to overwrite it \(use --force\)/);
      const tooMany = await qgate(['genesis', 'create', '--name', 'lab', '--threshold', '3', '--out', join(dir, 'g2.json'), '--root-key', join(dir, 'root-1.pub'), '--member', `n1=127.0.0.1:7001:${join(dir, 'n1.pub')}`]);
      assert.equal(tooMany.code, 2);
      assert.match(tooMany.stderr, /genesis: rootThreshold: expected an integer in 1\.\.1, found 3/);
      const show = await qgate(['genesis', 'show', out]);
      assert.match(show.stdout, new RegExp(`cluster id: ${printed.clusterId}`));
    } finally {
      removeDir(dir);
    }
  });

  test('parseMemberSpec reads NODE=HOST:PORT:FILE, IPv6 included, and refuses anything else', () => {
    assert.deepEqual(parseMemberSpec('n1=10.0.0.1:7001:keys/n1.pub'), { nodeId: 'n1', address: '10.0.0.1:7001', keyFile: 'keys/n1.pub' });
    assert.deepEqual(parseMemberSpec('n2=[fd00::2]:7002:/k/n2.key'), { nodeId: 'n2', address: '[fd00::2]:7002', keyFile: '/k/n2.key' });
    for (const bad of ['n1', 'n1=10.0.0.1:7001', '=10.0.0.1:7001:k', 'n1=host:port:k']) {
      assert.throws(() => parseMemberSpec(bad), /--member: expected NODE=HOST:PORT:NODE_KEY_FILE/);
    }
  });

  test('keys gen refuses to overwrite a public key file, and then writes no key file either', async () => {
    const dir = tempDir();
    try {
      writeFileSync(join(dir, 'k.pub'), 'keep me\n');
      const run = await qgate(['keys', 'gen', '--out', join(dir, 'k.key')]);
      assert.equal(run.code, 2);
      assert.match(run.stderr, /k\.pub exists; refusing to overwrite it/);
      assert.equal(existsSync(join(dir, 'k.key')), false);
      assert.equal(readFileSync(join(dir, 'k.pub'), 'utf8'), 'keep me\n');
    } finally {
      removeDir(dir);
    }
  });

  test('keys gen writes NAME.pub next to NAME.key', () => {
    assert.equal(defaultPubFile('/k/root-1.key'), '/k/root-1.pub');
    assert.equal(defaultPubFile('/k/root'), '/k/root.pub');
  });

  test('devices register takes a file or flags, not both, and lists what is missing', () => {
    const base = { tag: [], address: [], interfaceOption: [], wait: 'committed' as const };
    assert.throws(() => deviceFromFlags('d1', { ...base, type: 't' }), /expected -f FILE, --from-discovered PORT_OR_MAC, or --node, --port, --domain$/);
    assert.throws(() => deviceFromFlags('d1', { ...base, file: 'x.yaml' }), /either -f FILE or the device as ID --type --node --port, not both/);
    assert.deepEqual(deviceFromFlags('d1', { ...base, type: 't', node: 'n1', port: 'p1', domain: 'home', tag: ['a'], address: ['10.0.0.9'] }), {
      domain: 'home', device: { id: 'd1', type: 't', group: 'default', tags: ['a'], nodeId: 'n1', port: 'p1', addresses: ['10.0.0.9'] },
    });
  });
});
