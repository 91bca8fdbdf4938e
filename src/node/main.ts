// main.ts — the gateway node program: `node dist/src/node/main.js --config FILE`.
//
// Reads the config, starts the node, stops it gracefully on SIGTERM/SIGINT. Start-up errors are
// printed as one line saying what is wrong and how to fix it, with exit status 2 (bad config or
// key) or 1 (anything else).
import { Command, InvalidArgumentError } from 'commander';
import { startNode } from './gateway-node.js';
import { ConfigError, loadNodeConfig } from './config.js';
import { IdentityKeyError } from './identity.js';
import { StartupError } from './startup-error.js';

async function main(): Promise<void> {
  const program = new Command('quorumgate-node')
    .description('Run one quorumgate gateway node.')
    .requiredOption('--config <file>', 'node configuration file (YAML)')
    .option('--log-level <level>', 'override the configured log level')
    .option('--log-file <file>', 'write the log to this file, rotated by size (default: stdout)')
    .option('--log-max-bytes <bytes>', 'rotate the log file once it passes this size (default 10485760)', parseIntegerOption)
    .option('--log-files <count>', 'rotated log files to keep besides the current one (default 3)', parseIntegerOption)
    .parse(process.argv);
  const options = program.opts<{ config: string; logLevel?: string; logFile?: string; logMaxBytes?: number; logFiles?: number }>();
  const config = loadNodeConfig(options.config);
  const logFile = options.logFile === undefined ? undefined
    : { file: options.logFile, ...(options.logMaxBytes === undefined ? {} : { maxBytes: options.logMaxBytes }), ...(options.logFiles === undefined ? {} : { files: options.logFiles }) };
  const node = await startNode(config, { logLevel: options.logLevel, logFile });
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    node.logger.info({ signal }, 'stopping');
    node.stop().then(() => process.exit(0), (error: unknown) => {
      node.logger.error({ err: error }, 'stop failed');
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

function parseIntegerOption(value: string): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 1) throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return parsed;
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof IdentityKeyError || error instanceof StartupError) {
    console.error(`quorumgate-node: ${error.message}`);
    process.exit(2);
  }
  console.error(`quorumgate-node: failed to start: ${error instanceof Error ? error.stack : String(error)}`);
  process.exit(1);
});
