// audit.ts — the export format `qgate audit verify` reads, and its check against the audit chain.
//
// An exported log is JSON lines. An optional first line is a header naming the cluster and, when the
// exporter knew it, the chain value a node reported after the last entry:
//   {"clusterId": "<64 hex>", "auditChain": "<64 hex>", "index": <last index>}
// Every other line is one applied entry, in log order:
//   {"index": 7, "term": 2, "timeMs": 1767225600000, "payload": "<base64 of the SignedCommand bytes>"}
// The chain is recomputed with verifyAuditChain (src/state): a changed, missing, reordered or inserted
// entry changes every chain value after it.
import { fromHex } from '../commands/index.js';
import type { ChainEntry } from '../state/index.js';
import { MAX_AUDIT_ENTRIES } from './constants.js';
import { CliError } from './errors.js';

/** AuditExport is a parsed export: its entries and what its header says (if it has one). */
export interface AuditExport {
  entries: ChainEntry[];
  header: { clusterId: Uint8Array; auditChain: string | undefined; index: number | undefined } | undefined;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function bad(file: string, line: number, what: string): CliError {
  return new CliError('BAD_INPUT', `${file}:${line}: ${what}`);
}

function safeInteger(value: unknown, file: string, line: number, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw bad(file, line, `${field}: expected a non-negative integer, found ${JSON.stringify(value) ?? 'nothing'}`);
  }
  return value;
}

/** parseAuditExport parses the JSON lines of an exported log; errors name the file and line. */
export function parseAuditExport(text: string, file: string): AuditExport {
  const entries: ChainEntry[] = [];
  let header: AuditExport['header'];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lineNumber = i + 1;
    const line = (lines[i] as string).trim();
    if (line === '') continue;
    if (entries.length >= MAX_AUDIT_ENTRIES) throw bad(file, lineNumber, `expected at most ${MAX_AUDIT_ENTRIES} entries`);
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw bad(file, lineNumber, `expected a JSON object, found text that is not JSON (${(error as Error).message})`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad(file, lineNumber, 'expected a JSON object');
    const record = value as Record<string, unknown>;
    if ('clusterId' in record) {
      if (header !== undefined || entries.length > 0) throw bad(file, lineNumber, 'a header (clusterId) may only be the first line');
      const clusterId = typeof record['clusterId'] === 'string' ? fromHex(record['clusterId'], 32) : undefined;
      if (clusterId === undefined) throw bad(file, lineNumber, `clusterId: expected 64 hex digits, found ${JSON.stringify(record['clusterId'])}`);
      const chain = record['auditChain'];
      if (chain !== undefined && (typeof chain !== 'string' || !/^[0-9a-f]{64}$/.test(chain))) throw bad(file, lineNumber, 'auditChain: expected 64 lowercase hex digits');
      header = {
        clusterId,
        auditChain: chain as string | undefined,
        index: record['index'] === undefined ? undefined : safeInteger(record['index'], file, lineNumber, 'index'),
      };
      continue;
    }
    for (const key of Object.keys(record)) {
      if (!['index', 'term', 'timeMs', 'payload'].includes(key)) throw bad(file, lineNumber, `unknown field "${key}" (expected index, term, timeMs, payload)`);
    }
    const payload = record['payload'];
    if (typeof payload !== 'string' || !BASE64.test(payload) || payload.length % 4 !== 0) {
      throw bad(file, lineNumber, 'payload: expected the entry bytes in base64');
    }
    entries.push({
      index: safeInteger(record['index'], file, lineNumber, 'index'),
      term: safeInteger(record['term'], file, lineNumber, 'term'),
      timeMs: safeInteger(record['timeMs'], file, lineNumber, 'timeMs'),
      payload: new Uint8Array(Buffer.from(payload, 'base64')),
    });
  }
  return { entries, header };
}
