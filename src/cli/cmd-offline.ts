// cmd-offline.ts — the commands that need no cluster: keys gen/show, genesis create/show, audit verify.
import { existsSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { clusterIdOf, createGenesis, fromHex, genesisBytes, GenesisError, keyIdHex, loadGenesis, toHex } from '../commands/index.js';
import { writeIdentityKey } from '../node/index.js';
import { verifyAuditChain } from '../state/index.js';
import { parseAuditExport } from './audit.js';
import { readInputFile } from './bundle.js';
import type { Context } from './context.js';
import { CliError } from './errors.js';
import { readPublicKey } from './keys.js';
import { collect, type Action } from './options.js';

/** defaultPubFile is where `keys gen --out X.key` writes the public key: X.pub. */
export function defaultPubFile(keyFile: string): string {
  return keyFile.endsWith('.key') ? `${keyFile.slice(0, -'.key'.length)}.pub` : `${keyFile}.pub`;
}

function writeNewFile(file: string, text: string, mode: number, force: boolean): void {
  try {
    writeFileSync(file, text, { mode, flag: force ? 'w' : 'wx' });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new CliError('BAD_INPUT', `${file} exists; refusing to overwrite it${force ? '' : ' (use --force)'}`);
    throw new CliError('BAD_INPUT', `${file}: cannot write it (${code ?? (error as Error).message})`);
  }
}

async function keysGen(ctx: Context, options: { out: string; pub?: string | false }): Promise<void> {
  const pubFile = options.pub === false ? undefined : (options.pub ?? defaultPubFile(options.out));
  if (pubFile !== undefined && existsSync(pubFile)) throw new CliError('BAD_INPUT', `${pubFile} exists; refusing to overwrite it (choose --pub FILE or --no-pub)`);
  let pair;
  try {
    pair = writeIdentityKey(options.out);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new CliError('BAD_INPUT', `${options.out} exists; refusing to overwrite a key file`);
    throw new CliError('BAD_INPUT', `${options.out}: cannot write it (${code ?? (error as Error).message})`);
  }
  const publicKey = toHex(pair.publicKey);
  const keyId = keyIdHex(pair.publicKey);
  if (pubFile !== undefined) writeNewFile(pubFile, `${publicKey}\n`, 0o644, false);
  ctx.print(
    { keyFile: options.out, publicKeyFile: pubFile ?? null, publicKey, keyId },
    `wrote ${options.out} (mode 0600; keep it secret)${pubFile === undefined ? '' : ` and ${pubFile}`}\npublic key: ${publicKey}\nkey id:     ${keyId}\n`,
  );
}

async function keysShow(ctx: Context, file: string): Promise<void> {
  const publicKey = readPublicKey(file);
  ctx.print({ file, publicKey: toHex(publicKey), keyId: keyIdHex(publicKey) }, `public key: ${toHex(publicKey)}\nkey id:     ${keyIdHex(publicKey)}\n`);
}

/** parseMemberSpec reads `n1=host:port:KEYFILE` (the address may be [ipv6]:port). */
export function parseMemberSpec(spec: string): { nodeId: string; address: string; keyFile: string } {
  const match = /^([^=]+)=(.*?:\d{1,5}):(.+)$/.exec(spec);
  if (match === null) throw new CliError('USAGE', `--member: expected NODE=HOST:PORT:NODE_KEY_FILE (e.g. n1=10.0.0.1:7001:n1.pub), found "${spec}"`);
  return { nodeId: match[1] as string, address: match[2] as string, keyFile: match[3] as string };
}

async function genesisCreate(ctx: Context, options: { name: string; rootKey: string[]; threshold: number; member: string[]; out: string; createdAt?: string; force: boolean }): Promise<void> {
  if (options.rootKey.length === 0) throw new CliError('USAGE', 'genesis create: expected at least one --root-key FILE');
  if (options.member.length === 0) throw new CliError('USAGE', 'genesis create: expected at least one --member NODE=HOST:PORT:KEYFILE');
  const members = options.member.map((spec) => {
    const m = parseMemberSpec(spec);
    return { nodeId: m.nodeId, address: m.address, nodeKey: readPublicKey(m.keyFile, `node key file of ${m.nodeId}`) };
  });
  let genesis;
  try {
    genesis = createGenesis({
      clusterName: options.name,
      rootKeys: options.rootKey.map((file) => readPublicKey(file, 'root key file')),
      rootThreshold: options.threshold,
      members,
      ...(options.createdAt !== undefined ? { createdAt: options.createdAt } : {}),
    });
  } catch (error) {
    if (error instanceof GenesisError) throw new CliError('BAD_INPUT', `genesis: ${error.path}: expected ${error.expected}, found ${error.found}`);
    throw error;
  }
  writeNewFile(options.out, `${JSON.stringify(genesis, null, 2)}\n`, 0o644, options.force);
  const clusterId = toHex(clusterIdOf(genesis));
  ctx.print({ file: options.out, clusterId, genesis }, `wrote ${options.out}\ncluster id: ${clusterId}\n`);
}

function loadGenesisOrUsage(file: string): ReturnType<typeof loadGenesis> {
  try {
    return loadGenesis(file);
  } catch (error) {
    if (error instanceof GenesisError) throw new CliError('BAD_INPUT', error.message);
    throw error;
  }
}

async function genesisShow(ctx: Context, file: string): Promise<void> {
  const genesis = loadGenesisOrUsage(file);
  const clusterId = toHex(clusterIdOf(genesis));
  const lines = [
    `cluster:    ${genesis.clusterName}`, `cluster id: ${clusterId}`,
    `root:       ${genesis.rootThreshold} of ${genesis.rootKeys.length} keys (${genesis.rootKeys.map((k) => keyIdHex(fromHex(k, 32) as Uint8Array)).join(', ')})`,
    ...genesis.members.map((m) => `member:     ${m.nodeId} ${m.address} key ${keyIdHex(fromHex(m.nodeKey, 32) as Uint8Array)}`),
  ];
  ctx.print({ file, clusterId, bytes: genesisBytes(genesis).length, genesis }, `${lines.join('\n')}\n`);
}

async function auditVerify(ctx: Context, file: string, options: { clusterId?: string; expect?: string }): Promise<void> {
  const exported = parseAuditExport(readInputFile(file), file);
  let clusterId: Uint8Array | undefined;
  if (options.clusterId !== undefined) {
    clusterId = fromHex(options.clusterId, 32);
    if (clusterId === undefined) throw new CliError('USAGE', `--cluster-id: expected 64 hex digits, found "${options.clusterId}"`);
  } else if (ctx.options.genesis !== undefined) {
    clusterId = clusterIdOf(loadGenesisOrUsage(ctx.options.genesis));
  }
  if (clusterId !== undefined && exported.header !== undefined && toHex(exported.header.clusterId) !== toHex(clusterId)) {
    throw new CliError('AUDIT_MISMATCH', `${file}: exported from cluster ${toHex(exported.header.clusterId)}, expected cluster ${toHex(clusterId)}`);
  }
  clusterId ??= exported.header?.clusterId;
  if (clusterId === undefined) throw new CliError('USAGE', `audit verify: the cluster id is needed: give --genesis FILE or --cluster-id HEX (${file} has no header)`);
  const lastIndex = exported.entries.at(-1)?.index ?? 0;
  let expected = options.expect;
  let expectedFrom = '--expect';
  if (expected !== undefined && !/^[0-9a-f]{64}$/.test(expected)) throw new CliError('USAGE', `--expect: expected 64 lowercase hex digits, found "${expected}"`);
  if (expected === undefined && exported.header?.auditChain !== undefined) {
    if (exported.header.index !== undefined && exported.header.index !== lastIndex) {
      throw new CliError('AUDIT_MISMATCH', `${file}: the header's chain is for index ${exported.header.index}, the last entry is ${lastIndex} (entries are missing or extra)`);
    }
    expected = exported.header.auditChain;
    expectedFrom = 'the export header';
  }
  const check = verifyAuditChain(clusterId, exported.entries, expected);
  if (!check.ok) {
    throw new CliError('AUDIT_MISMATCH', `audit chain does not verify at index ${check.at}: ${check.reason}`, { at: check.at, reason: check.reason });
  }
  ctx.print(
    { ok: true, entries: check.entries, lastIndex, chain: check.chain, clusterId: toHex(clusterId), comparedWith: expected === undefined ? null : expectedFrom },
    `${expected === undefined ? 'recomputed' : 'verified'}: ${check.entries} entries, last index ${lastIndex}\nchain: ${check.chain}\n${expected === undefined
      ? 'no expected value was given: compare this chain with "auditChain" of GET /v1/state at that index, or pass --expect HEX\n'
      : `matches ${expectedFrom}\n`}`,
  );
}

/** registerOffline adds keys, genesis and audit to the program. */
export function registerOffline(program: Command, run: Action): void {
  const keys = program.command('keys').description('create and inspect Ed25519 signing keys');
  keys.command('gen').description('create a key file (mode 0600) and print its public key and key id; the seed is never printed')
    .requiredOption('--out <file>', 'the key file to create (name it NAME.key; it is never overwritten)')
    .option('--pub <file>', 'where to write the public key (64 hex digits); default: the key file with .key replaced by .pub')
    .option('--no-pub', 'do not write a public key file')
    .action(run((ctx, options: { out: string; pub?: string | false }) => keysGen(ctx, options)));
  keys.command('show').description('print the public key and key id of a key file or .pub file').argument('<file>')
    .action(run((ctx, file: string) => keysShow(ctx, file)));

  const genesis = program.command('genesis').description('create and inspect the genesis document of a cluster');
  genesis.command('create').description('write a genesis document and print the cluster id')
    .requiredOption('--name <name>', 'the cluster name')
    .option('--root-key <file>', 'a root public key (.pub or key file); repeat for each root key', collect, [])
    .requiredOption('--threshold <m>', 'how many root keys must sign a root command', positiveInteger('--threshold'))
    .option('--member <spec>', 'a first member NODE=HOST:PORT:NODE_KEY_FILE; repeat for each', collect, [])
    .requiredOption('--out <file>', 'the genesis file to write')
    .option('--created-at <time>', 'an ISO 8601 UTC time recorded in the document (changes the cluster id)')
    .option('--force', 'overwrite --out if it exists', false)
    .action(run((ctx, options: { name: string; rootKey: string[]; threshold: number; member: string[]; out: string; createdAt?: string; force: boolean }) => genesisCreate(ctx, options)));
  genesis.command('show').description('validate a genesis file and print its cluster id').argument('<file>')
    .action(run((ctx, file: string) => genesisShow(ctx, file)));

  const audit = program.command('audit').description('check an exported log against the audit hash chain');
  audit.command('verify').description('recompute the audit chain of an exported log (JSON lines, see src/cli/README.md)').argument('<file>')
    .option('--cluster-id <hex>', 'the cluster id (else from --genesis, else from the export header)')
    .option('--expect <hex>', 'the chain value a node reported for the last entry (GET /v1/state auditChain)')
    .action(run((ctx, file: string, options: { clusterId?: string; expect?: string }) => auditVerify(ctx, file, options)));
}

/** positiveInteger is a commander argument parser for an integer >= 1 (>= 0 with `allowZero`). */
export function positiveInteger(flag: string, allowZero = false): (value: string) => number {
  const minimum = allowZero ? 0 : 1;
  return (value) => {
    if (!/^[0-9]+$/.test(value) || Number(value) < minimum || !Number.isSafeInteger(Number(value))) {
      throw new CliError('USAGE', `${flag}: expected ${allowZero ? 'a non-negative' : 'a positive'} integer, found "${value}"`);
    }
    return Number(value);
  };
}
