// snapshot-restore.ts — disaster recovery: a node's new data directory made from a snapshot file, as
// etcd's `snapshot restore` makes a new member directory.
//
// After a majority is lost for good, the cluster cannot commit anything, membership changes included. The
// operator restores the last snapshot on one host whose node key the snapshot's members name (a survivor:
// the key never left it), into an empty data directory. That node starts as the only voter of the Raft
// configuration, with the agreed state (policies, devices, device states, trust: root, admin and node
// keys, sequence numbers, the audit chain head) at the snapshot's index and term. The lost members are
// still members in the agreed state: they are removed, and new hosts joined, by root-signed commands
// (`qgate members remove`, `qgate node join`), so the trust model is never bypassed: restore rewrites no
// agreed state. Every check runs before anything is written; a refused restore leaves the disk untouched.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { clusterIdOf, loadGenesis, toHex } from '../commands/index.js';
import type { ConfState, NodeId } from '../raft/index.js';
import { DurableStorage, openLogStore } from '../storage/index.js';
import { parseHostPort, raftNodeId } from './application.js';
import type { NodeConfig } from './config.js';
import { DATA_DIR_MARK_FILE, markDataDir } from './data-dir.js';
import { readIdentityKey } from './identity.js';
import { MemberDirectory } from './member-directory.js';
import type { PeerAddress } from './ports.js';
import { encodeRuntimeSnapshot } from './runtime-snapshot.js';
import { MAX_SNAPSHOT_FILE_BYTES, parseSnapshotFile, SnapshotFileError, verifySnapshotFile, type VerifiedSnapshot } from './snapshot-file.js';
import { StartupError } from './startup-error.js';

/** readSnapshotFile reads, parses and verifies a snapshot file (bounded in size). */
export function readSnapshotFile(path: string): VerifiedSnapshot {
  let text: string;
  try {
    const size = statSync(path).size;
    if (size > MAX_SNAPSHOT_FILE_BYTES) throw new SnapshotFileError(path, `${size} bytes, more than the ${MAX_SNAPSHOT_FILE_BYTES} a snapshot may have`);
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (error instanceof SnapshotFileError) throw error;
    throw new SnapshotFileError(path, `cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  return verifySnapshotFile(parseSnapshotFile(text, path), path);
}

/** RestoreResult says what a restore wrote. */
export interface RestoreResult {
  readonly dataDir: string;
  readonly nodeId: number;
  readonly index: number;
  readonly term: number;
  readonly stateHash: string;
  /** lostMembers are the other members the state still names: remove them with root-signed commands. */
  readonly otherMembers: string[];
}

/** restorePreconditions runs every check of a restore; it throws StartupError naming the file and the mismatch. */
function restorePreconditions(config: NodeConfig, snapshotPath: string, verified: VerifiedSnapshot): void {
  const genesisFile = config.genesisFile;
  if (genesisFile === undefined) throw new StartupError('RESTORE', 'restore needs a gateway config (with genesisFile)');
  const clusterId = toHex(clusterIdOf(loadGenesis(genesisFile)));
  if (clusterId !== verified.file.clusterId) {
    throw new StartupError('RESTORE_CLUSTER', `snapshot ${snapshotPath} is of cluster ${verified.file.clusterId}, but ${genesisFile} is cluster ${clusterId}: restore a snapshot of this cluster`);
  }
  const identity = readIdentityKey(config.identityKeyFile);
  const self = verified.machine.members().find((m) => m.nodeId === `n${config.nodeId}`);
  if (self === undefined) {
    throw new StartupError('RESTORE_MEMBER', `snapshot ${snapshotPath} has no member n${config.nodeId} (members: ${verified.machine.members().map((m) => m.nodeId).join(', ')}): `
      + 'restore on the host of a member it names, with that member\'s config and key');
  }
  if (self.nodeKey !== toHex(identity.publicKey)) {
    throw new StartupError('RESTORE_KEY', `snapshot ${snapshotPath} names key ${self.nodeKey} for n${config.nodeId}, but ${config.identityKeyFile} holds ${toHex(identity.publicKey)}: use that member's own key file`);
  }
  const raftDir = join(config.dataDir, 'raft');
  for (const path of [raftDir, join(config.dataDir, DATA_DIR_MARK_FILE)]) {
    if (existsSync(path) && (!statSync(path).isDirectory() || readdirSync(path).length > 0)) {
      throw new StartupError('RESTORE_NOT_EMPTY', `${path} exists: a restore writes a new data directory; move ${config.dataDir} aside (mv ${config.dataDir} ${config.dataDir}.old) and restore again`);
    }
  }
}

/** restoredDirectory seeds the member directory with every member the state names (addresses and used ids). */
function restoredDirectory(verified: VerifiedSnapshot): MemberDirectory {
  const members = new Map<NodeId, PeerAddress>();
  for (const member of verified.machine.members()) {
    const id = raftNodeId(member.nodeId);
    const address = parseHostPort(member.address);
    if (id !== undefined && address !== undefined) members.set(id, { ...address, publicKey: member.nodeKey });
  }
  const directory = new MemberDirectory();
  directory.seed(members);
  return directory;
}

/** restoreSnapshot writes the node's data directory from a snapshot file; see the file comment. */
export async function restoreSnapshot(config: NodeConfig, snapshotPath: string): Promise<RestoreResult> {
  const verified = readSnapshotFile(snapshotPath);
  restorePreconditions(config, snapshotPath, verified);
  const { index, term, timeMs, stateHash, clusterId } = verified.file;
  // The other members are lost: marked removed in the runtime's directory, so the leader never adds them back
  // to the Raft configuration (a learner that never answers would otherwise be promoted while the log is
  // short, and take the quorum with it). The agreed state still lists them until `members remove`.
  const directory = restoredDirectory(verified).toState();
  const members = { ...directory, removed: directory.everUsed.filter((id) => id !== config.nodeId) };
  const runtimeSnapshot = encodeRuntimeSnapshot({ members, lastTimeMs: timeMs, application: verified.stateBytes });
  const confState: ConfState = { voters: [config.nodeId], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
  const raftDir = join(config.dataDir, 'raft');
  mkdirSync(raftDir, { recursive: true, mode: 0o700 });
  const storage = await DurableStorage.open(await openLogStore(raftDir, config.storage?.log ?? 'leveldb'));
  try {
    await storage.bootstrap((scratch) => {
      scratch.applySnapshot({ metadata: { index, term, confState }, data: runtimeSnapshot });
      scratch.setHardState({ term, vote: 0, commit: index });
    });
  } finally {
    await storage.close();
  }
  const identity = readIdentityKey(config.identityKeyFile);
  markDataDir(config.dataDir, { clusterId, nodeId: config.nodeId, publicKey: toHex(identity.publicKey) });
  const otherMembers = verified.machine.members().map((m) => m.nodeId).filter((id) => id !== `n${config.nodeId}`);
  return { dataDir: config.dataDir, nodeId: config.nodeId, index, term, stateHash, otherMembers };
}
