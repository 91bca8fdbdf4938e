// program.ts — qgate's command line: global options, the command tree, and runCli(), which runs one
// invocation against an injected I/O and returns its exit code (main.ts binds it to the process).
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { packagePath } from '../wire/index.js';
import { registerCluster } from './cmd-cluster.js';
import { registerDeviceInterface } from './cmd-devices.js';
import { registerNode } from './cmd-node.js';
import { registerSnapshot } from './cmd-snapshot.js';
import { registerObserve } from './cmd-observe.js';
import { registerToken } from './cmd-token.js';
import { positiveInteger, registerOffline } from './cmd-offline.js';
import {
  DEFAULT_ENDPOINT, DEFAULT_EXPIRES_IN_MS, DEFAULT_TIMEOUT_MS, ENV_ENDPOINTS, ENV_GENESIS, ENV_KEY, ENV_KEY_SEED, ENV_MEMBERS, ENV_TOKEN,
} from './constants.js';
import { Context, type GlobalOptions, type Io } from './context.js';
import { CliError, EXIT_CODES } from './errors.js';
import { collect, type Action } from './options.js';

/** HELP_EPILOG is appended to `qgate --help`: exit codes and environment. */
export const HELP_EPILOG = `
Exit codes:
  ${EXIT_CODES.ok}  ok
  ${EXIT_CODES.rejected}  the cluster rejected the command (result.ok false, 422 or 409), an audit chain does not verify, or policy get --diff found differences
  ${EXIT_CODES.usage}  usage error or bad input file (arguments, policy/bundle YAML, key, genesis, export)
  ${EXIT_CODES.unavailable}  unavailable, the outcome still indeterminate after retrying the same envelope, or --wait enforced timed out
  ${EXIT_CODES.notFound}  not found

Environment:
  ${ENV_ENDPOINTS}  endpoints when --endpoints is not given (default ${DEFAULT_ENDPOINT})
  ${ENV_KEY}       key file path(s), comma-separated, when --key is not given
  ${ENV_KEY_SEED}  Ed25519 seed(s) in hex, comma-separated, when --key is not given (never printed)
  ${ENV_TOKEN}     a read token when --token is not given
  ${ENV_GENESIS}   the genesis file when --genesis is not given
  ${ENV_MEMBERS}   the members file when --members is not given
`;

/** packageVersion is the version in package.json (shown by --version). */
function packageVersion(): string {
  try {
    const version = (JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version?: unknown }).version;
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** globalOptions checks the options every command shares. */
function globalOptions(raw: Record<string, unknown>): GlobalOptions {
  const options: GlobalOptions = {
    key: Array.isArray(raw['key']) ? (raw['key'] as string[]) : [],
    signer: typeof raw['signer'] === 'string' ? raw['signer'] : 'auto',
    output: raw['output'] === 'json' ? 'json' : 'table',
    timeout: typeof raw['timeout'] === 'number' ? raw['timeout'] : DEFAULT_TIMEOUT_MS,
    expiresIn: typeof raw['expiresIn'] === 'number' ? raw['expiresIn'] : DEFAULT_EXPIRES_IN_MS,
    consistency: raw['consistency'] === 'stale' ? 'stale' : 'linearizable',
    verbose: raw['verbose'] === true,
  };
  if (typeof raw['endpoints'] === 'string') options.endpoints = raw['endpoints'];
  if (typeof raw['genesis'] === 'string') options.genesis = raw['genesis'];
  if (typeof raw['members'] === 'string') options.members = raw['members'];
  if (typeof raw['ca'] === 'string') options.ca = raw['ca'];
  if (typeof raw['token'] === 'string') options.token = raw['token'];
  if (options.signer !== 'auto' && options.signer !== 'root' && !/^[0-9a-f]{32}$/.test(options.signer)) {
    throw new CliError('USAGE', `--signer: expected auto, root or a 32-hex key id, found "${options.signer}"`);
  }
  return options;
}

/** buildProgram makes the command tree; actions run with `io`. */
export function buildProgram(io: Io): Command {
  const program = new Command('qgate')
    .description('the admin CLI of quorumgate: sign and submit policy, devices and membership changes; read state, status and events')
    .option('--endpoints <urls>', `comma-separated API URLs of the cluster's nodes (default: $${ENV_ENDPOINTS} or ${DEFAULT_ENDPOINT})`)
    .option('--key <file>', 'a signing key file; repeat for each root key a root command needs', collect, [])
    .option('--signer <who>', 'auto (by the command\'s role), root, or the key id of the admin key to sign with', 'auto')
    .option('--genesis <file>', `the genesis file: its hash is the cluster id, its founders' keys are pinned for HTTPS (default: $${ENV_GENESIS})`)
    .option('--members <file>', `a members file naming each endpoint's node key, pinned for HTTPS (default: $${ENV_MEMBERS})`)
    .option('--ca <file>', 'a CA certificate (PEM) for nodes that serve CA-issued certificates, instead of pinning node keys')
    .option('--token <token>', `a read token to send (default: $${ENV_TOKEN}, else one made with the first --key)`)
    .addOption(new Option('--output <format>', 'table for people, json for scripts (stdout holds JSON only)').choices(['table', 'json']).default('table'))
    .addOption(new Option('-o <format>').choices(['table', 'json']).hideHelp())
    .option('--timeout <ms>', 'bound on each HTTP request, in milliseconds', positiveInteger('--timeout'), DEFAULT_TIMEOUT_MS)
    .option('--expires-in <ms>', 'how long a signed command stays valid, in milliseconds', positiveInteger('--expires-in'), DEFAULT_EXPIRES_IN_MS)
    .addOption(new Option('--consistency <mode>', 'reads: linearizable (through the leader) or stale (this node)').choices(['linearizable', 'stale']).default('linearizable'))
    .option('-v, --verbose', 'print what is signed (signer, seq, body hash; never key material) to stderr', false)
    .version(packageVersion(), '-V, --version', 'print the version of qgate')
    .addHelpText('after', HELP_EPILOG)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.stdout(text), writeErr: (text) => io.stderr(text) });
  const run: Action = <A extends unknown[]>(handler: (ctx: Context, ...args: A) => Promise<void>) => async (...args: unknown[]): Promise<void> => {
    // Commander passes the positional arguments, the command's options, then the command itself.
    const command = args[args.length - 1] as Command;
    const raw = command.optsWithGlobals();
    if (raw['o'] !== undefined) raw['output'] = raw['o'];
    const ctx = new Context(globalOptions(raw), io);
    await handler(ctx, ...(args.slice(0, -1) as A));
  };
  registerOffline(program, run);
  registerCluster(program, run);
  registerDeviceInterface(program, run);
  registerObserve(program, run);
  registerNode(program, run);
  registerSnapshot(program, run);
  registerToken(program, run);
  // Every subcommand reports errors the same way and exits through runCli, never process.exit.
  const configure = (command: Command): void => {
    for (const sub of command.commands) {
      sub.exitOverride().showHelpAfterError('(run with --help for usage)').configureOutput({ writeOut: (text) => io.stdout(text), writeErr: (text) => io.stderr(text) });
      configure(sub);
    }
  };
  configure(program);
  return program;
}

/**
 * runCli runs one invocation (`argv` without the node and script paths) and returns its exit code.
 * Expected failures print one line `qgate: error: ...` on stderr; nothing else reaches stdout.
 */
export async function runCli(argv: readonly string[], io: Io): Promise<number> {
  const program = buildProgram(io);
  if (argv.length === 0) {
    program.outputHelp({ error: true });
    return EXIT_CODES.usage;
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT_CODES.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has already printed its message: help asked for (exit 0), or help shown because the
      // command line was incomplete, or the usage error (exit 2).
      return error.exitCode === 0 ? EXIT_CODES.ok : EXIT_CODES.usage;
    }
    if (error instanceof CliError) {
      // A difference found is an answer (as diff(1) exits 1), not an error.
      io.stderr(error.code === 'DIFFERENT' ? `qgate: ${error.message}\n` : `qgate: error: ${error.message}\n`);
      return error.exitCode;
    }
    io.stderr(`qgate: internal error: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT_CODES.internal;
  }
}
