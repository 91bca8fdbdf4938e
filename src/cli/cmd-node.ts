// cmd-node.ts — bootstrapping a cluster across hosts with every node key kept on its own host:
// `qgate node init` (on each host: makes its key, 0600, and a public node card), `qgate cluster init` (on
// the admin's machine: the genesis and one config per host from the cards and the root public keys) and
// `qgate node join` (a later host: the root-signed membership change, then its config). deploy/README.md
// walks an operator through it.
import { chmodSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { stringify as toYaml } from 'yaml';
import { clusterIdOf, createGenesis, GenesisError, keyIdHex, loadGenesis, NODE_ADDRESS, toHex } from '../commands/index.js';
import { writeIdentityKey } from '../node/identity.js';
import { readInputFile } from './bundle.js';
import { list, submitAndReport, waitOption } from './cmd-cluster.js';
import type { WaitMode } from './client.js';
import type { Context } from './context.js';
import { CliError } from './errors.js';
import { readPublicKey } from './keys.js';
import { parseMembersFile, type MembersEntry } from './members.js';
import { ENV_MEMBERS } from './constants.js';
import { collect, type Action } from './options.js';
import { positiveInteger } from './cmd-offline.js';

/** NODE_CARD_TYPE marks a node card: the public facts about one node that `node init` writes. */
export const NODE_CARD_TYPE = 'quorumgate-node-card';
/** DEFAULT_NODE_DIR_BASE is where `node init` puts a node's directory unless --dir says otherwise. */
export const DEFAULT_NODE_DIR_BASE = '/var/lib/quorumgate';
/** DEFAULT_API_PORT is the API port `node init` gives a node unless --api says otherwise. */
export const DEFAULT_API_PORT = 8080;

/** NodeCard is what a host tells the admin about its node: nothing secret. */
export interface NodeCard {
  readonly type: typeof NODE_CARD_TYPE;
  /** nodeId is the member id, "n" and a number ("n1"). */
  readonly nodeId: string;
  /** address is the Raft address peers dial, host:port. */
  readonly address: string;
  /** api is the API address, host:port: HTTPS with the certificate of the node key (pinned by its public key). */
  readonly api: string;
  readonly publicKey: string;
  /** dir is the node's directory on its host (node.key, data/). */
  readonly dir: string;
}

const MEMBER_ID = /^n([1-9][0-9]{0,14})$/;

function memberNumber(nodeId: string, what: string): number {
  const match = MEMBER_ID.exec(nodeId);
  if (match === null) throw new CliError('USAGE', `${what}: expected "n" and a number (e.g. n1), found "${nodeId}"`);
  return Number(match[1]);
}

function hostPort(address: string, what: string): { host: string; port: number } {
  const match = /^\[?([^\]]+?)\]?:([0-9]{1,5})$/.exec(address);
  const port = match === null ? 0 : Number(match[2]);
  if (match === null || !NODE_ADDRESS.test(address) || port < 1 || port > 65535) throw new CliError('USAGE', `${what}: expected HOST:PORT, found "${address}"`);
  return { host: match[1] as string, port };
}

/** parseNodeCard checks a node card read from `file`. */
export function parseNodeCard(text: string, file: string): NodeCard {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CliError('BAD_INPUT', `${file}: not a node card (not JSON); "qgate node init" writes one as node.json`);
  }
  const card = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  if (card['type'] !== NODE_CARD_TYPE) throw new CliError('BAD_INPUT', `${file}: expected "type": "${NODE_CARD_TYPE}", found ${JSON.stringify(card['type'])}`);
  for (const field of ['nodeId', 'address', 'api', 'publicKey', 'dir'] as const) {
    if (typeof card[field] !== 'string') throw new CliError('BAD_INPUT', `${file}: expected "${field}" to be a string, found ${JSON.stringify(card[field])}`);
  }
  memberNumber(card['nodeId'] as string, `${file}: nodeId`);
  hostPort(card['address'] as string, `${file}: address`);
  hostPort(card['api'] as string, `${file}: api`);
  if (!/^[0-9a-f]{64}$/.test(card['publicKey'] as string)) throw new CliError('BAD_INPUT', `${file}: publicKey: expected 64 lowercase hex digits`);
  return card as unknown as NodeCard;
}

function readCard(file: string): NodeCard {
  return parseNodeCard(readInputFile(file), file);
}

async function nodeInit(ctx: Context, options: { id: string; address: string; api?: string; dir?: string }): Promise<void> {
  memberNumber(options.id, '--id');
  const raft = hostPort(options.address, '--address');
  const api = options.api ?? `${raft.host.includes(':') ? `[${raft.host}]` : raft.host}:${DEFAULT_API_PORT}`;
  hostPort(api, '--api');
  const dir = resolve(options.dir ?? join(DEFAULT_NODE_DIR_BASE, options.id));
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
  } catch (error) {
    throw new CliError('BAD_INPUT', `${dir}: cannot create the node directory (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  const keyFile = join(dir, 'node.key');
  let pair;
  try {
    pair = writeIdentityKey(keyFile);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new CliError('BAD_INPUT', `${keyFile} exists: this host already has a node key; refusing to replace it (its card is ${join(dir, 'node.json')})`);
    throw new CliError('BAD_INPUT', `${keyFile}: cannot write it (${code ?? (error as Error).message})`);
  }
  const card: NodeCard = { type: NODE_CARD_TYPE, nodeId: options.id, address: options.address, api, publicKey: toHex(pair.publicKey), dir };
  const cardFile = join(dir, 'node.json');
  writeFileSync(cardFile, `${JSON.stringify(card, null, 2)}\n`, { mode: 0o644 });
  ctx.print({ ...card, keyFile, cardFile, keyId: keyIdHex(pair.publicKey) }, [
    `wrote ${keyFile} (mode 0600; it never leaves this host) and ${cardFile} (public: give it to the admin)`,
    `node:       ${card.nodeId}`, `address:    ${card.address}`, `api:        ${card.api}`, `public key: ${card.publicKey}`, `key id:     ${keyIdHex(pair.publicKey)}`,
  ].join('\n'));
}

/** nodeConfig is the config file of one node (src/node/config.ts), its paths absolute on its host. */
function nodeConfig(card: NodeCard, extra: Record<string, unknown>): Record<string, unknown> {
  const raft = hostPort(card.address, `${card.nodeId} address`);
  const api = hostPort(card.api, `${card.nodeId} api`);
  return {
    nodeId: memberNumber(card.nodeId, 'nodeId'), dataDir: join(card.dir, 'data'), genesisFile: 'genesis.json', identityKeyFile: join(card.dir, 'node.key'),
    raft, api, application: 'quorumgate', ...extra,
  };
}

/** membersEntry is a card's line of a members file (src/cli/members.ts): its HTTPS endpoint and the key it presents. */
function membersEntry(card: NodeCard): MembersEntry {
  return { nodeId: card.nodeId, endpoint: `https://${card.api}`, publicKey: card.publicKey };
}

/** membersText is a members file for qgate's pinning (--members, QGATE_MEMBERS). */
function membersText(entries: readonly MembersEntry[]): string {
  return `${JSON.stringify({ members: entries }, null, 2)}\n`;
}

function writeOut(file: string, text: string, force: boolean): void {
  try {
    writeFileSync(file, text, { mode: 0o644, flag: force ? 'w' : 'wx' });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new CliError('BAD_INPUT', `${file} exists; refusing to overwrite it (use --force)`);
    throw new CliError('BAD_INPUT', `${file}: cannot write it (${code ?? (error as Error).message})`);
  }
}

function distinctCards(cards: readonly NodeCard[], files: readonly string[]): void {
  for (const field of ['nodeId', 'address', 'publicKey'] as const) {
    const seen = new Map<string, string>();
    for (const [i, card] of cards.entries()) {
      const other = seen.get(card[field]);
      if (other !== undefined) throw new CliError('BAD_INPUT', `${files[i]} and ${other} have the same ${field} ${card[field]}; every node needs its own`);
      seen.set(card[field], files[i] as string);
    }
  }
}

async function clusterInit(ctx: Context, options: { name: string; rootKey: string[]; threshold: number; node: string[]; out: string; force: boolean }): Promise<void> {
  if (options.rootKey.length === 0) throw new CliError('USAGE', 'cluster init: expected at least one --root-key FILE (public root keys)');
  if (options.node.length === 0) throw new CliError('USAGE', 'cluster init: expected one --node CARD per founding host (the node.json "qgate node init" wrote there)');
  const cards = options.node.map(readCard);
  distinctCards(cards, options.node);
  let genesis;
  try {
    genesis = createGenesis({
      clusterName: options.name, rootKeys: options.rootKey.map((file) => readPublicKey(file, 'root key file')), rootThreshold: options.threshold,
      members: cards.map((card) => ({ nodeId: card.nodeId, address: card.address, nodeKey: Buffer.from(card.publicKey, 'hex') })),
    });
  } catch (error) {
    if (error instanceof GenesisError) throw new CliError('BAD_INPUT', `genesis: ${error.path}: expected ${error.expected}, found ${error.found}`);
    throw error;
  }
  const out = resolve(options.out);
  mkdirSync(out, { recursive: true });
  const genesisFile = join(out, 'genesis.json');
  writeOut(genesisFile, `${JSON.stringify(genesis, null, 2)}\n`, options.force);
  const configs = cards.map((card) => {
    const file = join(out, `${card.nodeId}.yaml`);
    writeOut(file, toYaml(nodeConfig(card, {})), options.force);
    return { nodeId: card.nodeId, file };
  });
  const membersFile = join(out, 'members.json');
  writeOut(membersFile, membersText(cards.map(membersEntry)), options.force);
  const clusterId = toHex(clusterIdOf(genesis));
  ctx.print({ clusterId, genesisFile, membersFile, configs }, [
    `wrote ${genesisFile} (cluster id ${clusterId})`,
    `wrote ${membersFile}: each node's HTTPS endpoint and key, for qgate (--members FILE or QGATE_MEMBERS=FILE)`,
    ...configs.map((c) => `wrote ${c.file}: copy it with genesis.json to ${c.nodeId}'s host (e.g. /etc/quorumgate/${c.nodeId}.yaml)`),
  ].join('\n'));
}

/** currentMembers reads the agreed members as config entries (the peers a joiner accepts connections from). */
async function currentMembers(ctx: Context): Promise<Array<{ nodeId: number; host: string; port: number; publicKey: string }>> {
  const answer = await ctx.client().get(ctx.readPath('/v1/keys'));
  return list(answer, 'members').map((m) => {
    const address = hostPort(String(m['address']), `member ${String(m['nodeId'])} address`);
    return { nodeId: memberNumber(String(m['nodeId']), 'member id'), ...address, publicKey: String(m['nodeKey']) };
  });
}

async function nodeJoin(ctx: Context, cardFile: string, options: { out: string; wait: WaitMode; force: boolean }): Promise<void> {
  const card = readCard(cardFile);
  const genesisFile = ctx.options.genesis;
  if (genesisFile === undefined) throw new CliError('USAGE', 'node join: give --genesis FILE (the joiner needs the cluster\'s genesis beside its config)');
  try {
    loadGenesis(genesisFile);
  } catch (error) {
    if (error instanceof GenesisError) throw new CliError('BAD_INPUT', error.message);
    throw error;
  }
  const members = await currentMembers(ctx);
  const clash = members.find((m) => `n${m.nodeId}` === card.nodeId || m.publicKey === card.publicKey);
  if (clash !== undefined) throw new CliError('BAD_INPUT', `${cardFile}: node ${card.nodeId} (key ${keyIdHex(Buffer.from(card.publicKey, 'hex'))}) clashes with member n${clash.nodeId}: its id or key is taken`);
  await submitAndReport(ctx, `add learner ${card.nodeId} (key ${keyIdHex(Buffer.from(card.publicKey, 'hex'))})`, '',
    { kind: 'membership', action: 'addLearner', nodeId: card.nodeId, nodeKey: Buffer.from(card.publicKey, 'hex'), address: card.address }, options.wait);
  const out = resolve(options.out);
  mkdirSync(out, { recursive: true });
  const file = join(out, `${card.nodeId}.yaml`);
  writeOut(file, toYaml(nodeConfig(card, { join: true, members })), options.force);
  if (resolve(genesisFile) !== join(out, 'genesis.json')) copyFileSync(genesisFile, join(out, 'genesis.json'));
  const membersFile = join(out, 'members.json');
  writeOut(membersFile, membersText([...knownMembers(ctx).filter((e) => e.nodeId !== card.nodeId), membersEntry(card)]), options.force);
  ctx.note(`qgate: wrote ${membersFile} (the members file qgate used, with ${card.nodeId} added: use it from now on)`);
  ctx.note(`qgate: wrote ${file}; copy it with genesis.json to ${card.nodeId}'s host and start the node; once it has caught up (qgate status), make it a voter with "qgate members promote ${card.nodeId}"`);
}

/** knownMembers is the members file qgate pins with (--members or QGATE_MEMBERS), [] when it pins with the genesis. */
function knownMembers(ctx: Context): MembersEntry[] {
  const file = ctx.options.members ?? ctx.io.env[ENV_MEMBERS];
  return file === undefined || file === '' ? [] : parseMembersFile(readInputFile(file), file);
}

/** registerNode adds `node init`, `node join` and `cluster init`. */
export function registerNode(program: Command, run: Action): void {
  const node = program.command('node').description('a node on its own host: make its key, join it to a running cluster');
  node.command('init').description('on a new host: make the node key (0600, it never leaves the host) and print the node card for the admin')
    .requiredOption('--id <node>', 'its member id, "n" and a number (n1)').requiredOption('--address <host:port>', 'the Raft address other nodes dial')
    .option('--api <host:port>', `the API address (default: the Raft host, port ${DEFAULT_API_PORT})`)
    .option('--dir <dir>', `its directory (default ${DEFAULT_NODE_DIR_BASE}/<id>)`)
    .action(run((ctx, options: { id: string; address: string; api?: string; dir?: string }) => nodeInit(ctx, options)));
  node.command('join').description('root-signed: add the node of CARD to the running cluster as a learner and write its config (join: true)')
    .argument('<card>', 'the node.json its host\'s "qgate node init" wrote')
    .requiredOption('--out <dir>', 'where to write <id>.yaml, genesis.json and members.json').option('--force', 'overwrite an existing config', false).addOption(waitOption())
    .action(run((ctx, card: string, options: { out: string; wait: WaitMode; force: boolean }) => nodeJoin(ctx, card, options)));
  const cluster = program.commands.find((c) => c.name() === 'cluster') ?? program.command('cluster').description('create a cluster');
  cluster.command('init').description('on the admin\'s machine: write the genesis and one config per founding host from their node cards')
    .requiredOption('--name <name>', 'the cluster\'s name').option('--root-key <file>', 'a root public key (.pub); repeat', collect, [])
    .option('--threshold <n>', 'root signatures a root command needs', positiveInteger('--threshold'), 1)
    .option('--node <card>', 'a founding node\'s card (node.json); repeat', collect, [])
    .requiredOption('--out <dir>', 'where to write genesis.json, members.json and <id>.yaml').option('--force', 'overwrite existing files', false)
    .action(run((ctx, options: { name: string; rootKey: string[]; threshold: number; node: string[]; out: string; force: boolean }) => clusterInit(ctx, options)));
}
