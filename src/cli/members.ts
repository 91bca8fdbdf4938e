// members.ts — where qgate gets the node keys it pins (src/cli/README.md "HTTPS"): a members file that
// names each endpoint's key, or the genesis, whose founders' keys any endpoint may present; or a CA file
// for nodes that serve CA-issued certificates.
//
// A members file is JSON or YAML: {"members": [{"nodeId": "1", "endpoint": "https://127.0.0.1:8001",
// "publicKey": "<64 hex>"}]} (`npm run cluster` writes one as members.json in the cluster directory).
import { parse as parseYaml } from 'yaml';
import { GenesisError, loadGenesis } from '../commands/index.js';
import { readInputFile } from './bundle.js';
import { ENV_GENESIS, ENV_MEMBERS, MAX_MEMBERS_FILE_ENTRIES } from './constants.js';
import { CliError } from './errors.js';
import type { NodePins, TlsTrust } from './https-fetch.js';

/** MembersEntry is one node of a members file. */
export interface MembersEntry {
  nodeId: string;
  endpoint: string;
  publicKey: string;
}

/** parseMembersFile checks a members file's text; every error names the file and the entry. */
export function parseMembersFile(text: string, file: string): MembersEntry[] {
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (error) {
    throw new CliError('BAD_INPUT', `${file}: not valid JSON or YAML (${(error as Error).message})`);
  }
  const list = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)['members'] : undefined;
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_MEMBERS_FILE_ENTRIES) {
    throw new CliError('BAD_INPUT', `${file}: expected {"members": [...]} with 1..${MAX_MEMBERS_FILE_ENTRIES} entries`);
  }
  return list.map((entry: unknown, i) => {
    const e = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
    const where = `${file}: members[${i}]`;
    if (typeof e['publicKey'] !== 'string' || !/^[0-9a-f]{64}$/.test(e['publicKey'])) throw new CliError('BAD_INPUT', `${where}.publicKey: expected 64 lowercase hex digits`);
    if (typeof e['endpoint'] !== 'string') throw new CliError('BAD_INPUT', `${where}.endpoint: expected an https:// URL`);
    let url: URL;
    try {
      url = new URL(e['endpoint']);
    } catch {
      throw new CliError('BAD_INPUT', `${where}.endpoint: expected an https:// URL, found "${e['endpoint'].slice(0, 80)}"`);
    }
    return { nodeId: String(e['nodeId'] ?? ''), endpoint: `${url.protocol}//${url.host}`, publicKey: e['publicKey'] };
  });
}

/** membersPins turns members file entries into pins (each endpoint its own key). */
export function membersPins(entries: readonly MembersEntry[], file: string): NodePins {
  return { byOrigin: new Map(entries.map((e) => [e.endpoint, e.publicKey])), members: new Set(entries.map((e) => e.publicKey)), source: `the members file ${file}` };
}

/** genesisPins are the founders' keys of a genesis: any endpoint may present one of them. */
export function genesisPins(file: string): NodePins {
  try {
    const genesis = loadGenesis(file);
    return { byOrigin: new Map(), members: new Set(genesis.members.map((m) => m.nodeKey)), source: `the genesis ${file}` };
  } catch (error) {
    if (error instanceof GenesisError) throw new CliError('BAD_INPUT', error.message, undefined, { cause: error });
    throw error;
  }
}

/**
 * loadTlsTrust decides how qgate trusts nodes: --ca (a CA file), else --members / QGATE_MEMBERS, else
 * --genesis / QGATE_GENESIS. Without any, https:// endpoints are refused with how to fix it.
 */
export function loadTlsTrust(options: { ca?: string; members?: string; genesis?: string }, env: Readonly<Record<string, string | undefined>>): TlsTrust {
  if (options.ca !== undefined) return { kind: 'ca', caPem: readInputFile(options.ca) };
  const members = options.members ?? env[ENV_MEMBERS];
  if (members !== undefined && members !== '') return { kind: 'pins', pins: membersPins(parseMembersFile(readInputFile(members), members), members) };
  const genesis = options.genesis ?? env[ENV_GENESIS];
  if (genesis !== undefined && genesis !== '') return { kind: 'pins', pins: genesisPins(genesis) };
  return { kind: 'pins', pins: { byOrigin: new Map(), members: new Set(), source: `no --members, --genesis or --ca was given (nor ${ENV_MEMBERS}, ${ENV_GENESIS}), so nothing` } };
}
