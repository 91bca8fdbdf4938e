// index.ts — qgate's public surface for programs that embed it (tests, tools): the command tree and the
// runner that maps errors to exit codes (src/cli/README.md).
export { buildProgram, runCli, HELP_EPILOG } from './program.js';
export type { Io } from './context.js';
export { CliError, EXIT_CODES } from './errors.js';
