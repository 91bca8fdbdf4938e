// cmd-snapshot.ts — backup and disaster recovery: `qgate snapshot save FILE` (a consistent snapshot of the
// agreed state from the cluster), `qgate snapshot verify FILE` (offline) and `qgate snapshot restore FILE
// --config CONFIG` (offline, on a surviving member's host: a new data directory from the snapshot).
// deploy/README.md ("Backup and disaster recovery") is the procedure.
import { renameSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { clusterIdOf, GenesisError, loadGenesis, toHex } from '../commands/index.js';
import { ConfigError, loadNodeConfig } from '../node/config.js';
import { IdentityKeyError } from '../node/identity.js';
import { parseSnapshotFile, snapshotSummary, SnapshotFileError, SNAPSHOT_FILE_TYPE, SNAPSHOT_FILE_VERSION, verifySnapshotFile } from '../node/snapshot-file.js';
import { readSnapshotFile, restoreSnapshot } from '../node/snapshot-restore.js';
import { StartupError } from '../node/startup-error.js';
import type { Context } from './context.js';
import { CliError } from './errors.js';
import type { Action } from './options.js';

/** asCliError turns the node's expected errors (bad snapshot, config, key, genesis, data directory) into BAD_INPUT. */
function asCliError(error: unknown): unknown {
  if (error instanceof SnapshotFileError || error instanceof ConfigError || error instanceof IdentityKeyError || error instanceof StartupError || error instanceof GenesisError) {
    return new CliError('BAD_INPUT', error.message);
  }
  return error;
}

function summaryText(summary: Record<string, number | string>): string {
  return [
    `cluster id:  ${summary['clusterId']}`, `index:       ${summary['index']} (term ${summary['term']})`, `state hash:  ${summary['stateHash']}`,
    `audit chain: ${summary['auditChain']}`, `holds:       ${summary['members']} members, ${summary['domains']} domains, ${summary['devices']} devices, ${summary['keys']} keys`,
  ].join('\n');
}

async function save(ctx: Context, file: string): Promise<void> {
  const answer = await ctx.client().get(ctx.readPath('/v1/snapshot'));
  const text = `${JSON.stringify({ type: SNAPSHOT_FILE_TYPE, formatVersion: SNAPSHOT_FILE_VERSION, ...answer })}\n`;
  let summary;
  try {
    summary = snapshotSummary(verifySnapshotFile(parseSnapshotFile(text, 'the answer of GET /v1/snapshot'), 'the answer of GET /v1/snapshot'));
  } catch (error) {
    throw new CliError('UNAVAILABLE', `the node's snapshot does not verify, nothing written: ${(error as Error).message}`);
  }
  // Written whole or not at all: a temporary file renamed into place. It holds the device inventory and keys: 0600.
  try {
    writeFileSync(`${file}.tmp`, text, { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  } catch (error) {
    throw new CliError('BAD_INPUT', `${file}: cannot write it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  ctx.print({ file, ...summary }, `wrote ${file}\n${summaryText(summary)}`);
}

async function verify(ctx: Context, file: string): Promise<void> {
  let summary;
  try {
    const verified = readSnapshotFile(file);
    if (ctx.options.genesis !== undefined) {
      const clusterId = toHex(clusterIdOf(loadGenesis(ctx.options.genesis)));
      if (clusterId !== verified.file.clusterId) throw new SnapshotFileError(file, `is of cluster ${verified.file.clusterId}, but ${ctx.options.genesis} is cluster ${clusterId}`);
    }
    summary = snapshotSummary(verified);
  } catch (error) {
    throw asCliError(error);
  }
  ctx.print({ file, ok: true, ...summary }, `${file}: ok\n${summaryText(summary)}`);
}

async function restore(ctx: Context, file: string, options: { config: string }): Promise<void> {
  let result;
  try {
    result = await restoreSnapshot(loadNodeConfig(options.config), file);
  } catch (error) {
    throw asCliError(error);
  }
  ctx.print(result, [
    `restored ${file} into ${result.dataDir}: node ${result.nodeId} at index ${result.index} (term ${result.term}), state hash ${result.stateHash}`,
    `start the node (quorumgate-node --config ${options.config}): it is the only voter.`,
    ...(result.otherMembers.length > 0 ? [`then remove the lost members with root keys (qgate members remove ${result.otherMembers.join(', ')}) and join new hosts (qgate node join).`] : []),
  ].join('\n'));
}

/** registerSnapshot adds `snapshot save | verify | restore`. */
export function registerSnapshot(program: Command, run: Action): void {
  const snapshot = program.command('snapshot').description('backups of the agreed state, and restoring a cluster from one');
  snapshot.command('save').description('write a consistent snapshot of the agreed state (with its index and audit chain head) to FILE').argument('<file>')
    .action(run((ctx, file: string) => save(ctx, file)));
  snapshot.command('verify').description('offline: check a snapshot file (hashes, cluster, index, audit chain head); with --genesis, its cluster').argument('<file>')
    .action(run((ctx, file: string) => verify(ctx, file)));
  snapshot.command('restore').description('offline, on a surviving member\'s host: make its new data directory from FILE (it starts as the only voter)')
    .argument('<file>').requiredOption('--config <file>', 'that node\'s config (its dataDir must be empty or missing)')
    .action(run((ctx, file: string, options: { config: string }) => restore(ctx, file, options)));
}
