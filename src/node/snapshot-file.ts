// snapshot-file.ts — the backup file of `qgate snapshot save`: the agreed state at one applied index,
// with what lets anyone check it offline (`qgate snapshot verify`) and a node restore from it
// (`qgate snapshot restore`, snapshot-restore.ts).
//
// Format (JSON, formatVersion 1): { type, formatVersion, clusterId, clusterName, index, term, timeMs,
// stateHash, auditChain, takenFrom, state } where `state` is the state machine's snapshot bytes in base64.
// Verification recomputes everything from `state`: its SHA-256 must be `stateHash` (the value every node
// reports in /v1/status at that index), and the state it decodes to must name the same cluster, index,
// term, time and audit chain head. A truncated or edited file fails one of these checks. The chain head
// can then be compared with the running cluster's or with an exported audit log (`qgate audit verify`),
// which is what ties the file to the signed history.
import { createHash } from 'node:crypto';
import { policyEngines, StateMachine } from '../state/index.js';
import { newerFormatAdvice } from './format-version.js';

/** SNAPSHOT_FILE_TYPE marks a quorumgate snapshot file. */
export const SNAPSHOT_FILE_TYPE = 'quorumgate-snapshot';
/** SNAPSHOT_FILE_VERSION is the major format version this build writes and reads. */
export const SNAPSHOT_FILE_VERSION = 1;
/** MAX_SNAPSHOT_FILE_BYTES bounds a snapshot file read (1 GiB). */
export const MAX_SNAPSHOT_FILE_BYTES = 1024 * 1024 * 1024;

/** SnapshotFile is the content of a snapshot file. */
export interface SnapshotFile {
  readonly type: typeof SNAPSHOT_FILE_TYPE;
  readonly formatVersion: number;
  readonly clusterId: string;
  readonly clusterName: string;
  readonly index: number;
  readonly term: number;
  readonly timeMs: number;
  readonly stateHash: string;
  readonly auditChain: string;
  /** takenFrom is the Raft id of the node that answered. */
  readonly takenFrom: number;
  readonly state: string;
}

/** VerifiedSnapshot is a checked snapshot file with its state machine. */
export interface VerifiedSnapshot {
  readonly file: SnapshotFile;
  readonly stateBytes: Uint8Array;
  readonly machine: StateMachine;
}

/** SnapshotFileError names the file and what is wrong with it. */
export class SnapshotFileError extends Error {
  readonly code = 'SNAPSHOT_FILE_INVALID';
  constructor(file: string, detail: string) {
    super(`snapshot ${file}: ${detail}`);
    this.name = 'SnapshotFileError';
  }
}

const FIELDS: ReadonlyArray<[keyof SnapshotFile, 'string' | 'number']> = [
  ['clusterId', 'string'], ['clusterName', 'string'], ['index', 'number'], ['term', 'number'], ['timeMs', 'number'],
  ['stateHash', 'string'], ['auditChain', 'string'], ['takenFrom', 'number'], ['state', 'string'],
];

/** parseSnapshotFile checks the shape of a snapshot file's text (not yet its content). */
export function parseSnapshotFile(text: string, name: string): SnapshotFile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new SnapshotFileError(name, `not complete JSON (truncated or damaged?): ${(error as Error).message}`);
  }
  const record = (typeof value === 'object' && value !== null && !Array.isArray(value) ? value : {}) as Record<string, unknown>;
  if (record['type'] !== SNAPSHOT_FILE_TYPE) throw new SnapshotFileError(name, `expected "type": "${SNAPSHOT_FILE_TYPE}", found ${JSON.stringify(record['type'])}`);
  const version = record['formatVersion'];
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) throw new SnapshotFileError(name, `expected a positive integer "formatVersion", found ${JSON.stringify(version)}`);
  if (version > SNAPSHOT_FILE_VERSION) throw new SnapshotFileError(name, newerFormatAdvice('the file', version, SNAPSHOT_FILE_VERSION));
  for (const [field, type] of FIELDS) {
    const found = record[field];
    const ok = type === 'string' ? typeof found === 'string' : typeof found === 'number' && Number.isSafeInteger(found) && found >= 0;
    if (!ok) throw new SnapshotFileError(name, `expected "${field}" to be ${type === 'string' ? 'a string' : 'a non-negative integer'}, found ${JSON.stringify(found)?.slice(0, 80)}`);
  }
  return record as unknown as SnapshotFile;
}

/** verifySnapshotFile checks a parsed file's content against its header: hash, cluster, index, term, time, chain. */
export function verifySnapshotFile(file: SnapshotFile, name: string): VerifiedSnapshot {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(file.state) || file.state.length % 4 !== 0) throw new SnapshotFileError(name, '"state" is not base64 (truncated or edited?)');
  const stateBytes = new Uint8Array(Buffer.from(file.state, 'base64'));
  const hash = createHash('sha256').update(stateBytes).digest('hex');
  if (hash !== file.stateHash) throw new SnapshotFileError(name, `the state's SHA-256 is ${hash}, the file says stateHash ${file.stateHash}: the state was changed or damaged`);
  let machine: StateMachine;
  try {
    machine = StateMachine.restore(stateBytes, policyEngines);
  } catch (error) {
    throw new SnapshotFileError(name, `the state does not decode: ${(error as Error).message}`);
  }
  const applied = machine.lastApplied();
  const checks: Array<[string, string | number, string | number]> = [
    ['clusterId', machine.clusterId(), file.clusterId], ['clusterName', machine.clusterName(), file.clusterName], ['index', applied.index, file.index],
    ['term', applied.term, file.term], ['timeMs', applied.timeMs, file.timeMs], ['auditChain', machine.auditChain(), file.auditChain],
  ];
  for (const [field, inState, inHeader] of checks) {
    if (inState !== inHeader) throw new SnapshotFileError(name, `"${field}" is ${inHeader} in the header but ${inState} in the state: the header was changed`);
  }
  return { file, stateBytes, machine };
}

/** snapshotSummary counts what a verified snapshot holds (for people and for the tests). */
export function snapshotSummary(verified: VerifiedSnapshot): Record<string, number | string> {
  const m = verified.machine;
  return {
    clusterId: verified.file.clusterId, index: verified.file.index, term: verified.file.term, stateHash: verified.file.stateHash, auditChain: verified.file.auditChain,
    members: m.members().length, domains: m.domains().length, devices: m.devices().length, keys: m.keys().length,
  };
}
