// token.ts — the viewer token the browser tests give the dashboard, made the way an operator makes one.
//
// `qgate token create` (issue 14) prints a bearer token; when the CLI has no such command yet, the token is
// made here instead: the domain and expiry, signed with the admin key, in the same three-part shape. The
// API accepts reads without a token until authentication lands, so before then only its presence matters.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { keyPairFromSeed, signMessage } from '../../src/commands/index.js';

const run = promisify(execFile);

/** viewerToken returns a token for reading `domain` for `ttlSeconds` (whole hours for qgate), from `qgate token create` when it exists. */
export async function viewerToken(cli: { command: string; args: string[]; env: NodeJS.ProcessEnv }, keyFile: string, domain: string, ttlSeconds: number): Promise<{ token: string; madeBy: 'qgate' | 'test' }> {
  try {
    const { stdout } = await run(cli.command, [...cli.args, '--key', keyFile, 'token', 'create', '--domain', domain, '--ttl', `${Math.ceil(ttlSeconds / 3600)}h`], { env: cli.env, timeout: 30_000 });
    const token = stdout.trim().split('\n').pop() ?? '';
    if (token !== '') return { token, madeBy: 'qgate' };
  } catch (error) {
    // The command does not exist yet (exit status 1, "unknown command"): make the token here.
    if (!/unknown command/i.test(String((error as { stderr?: string }).stderr ?? ''))) throw error;
  }
  const record = JSON.parse(readFileSync(keyFile, 'utf8')) as { seed: string };
  const pair = keyPairFromSeed(Buffer.from(record.seed, 'hex'));
  const claims = Buffer.from(JSON.stringify({ domains: [domain], role: 'viewer', expiresMs: Date.now() + ttlSeconds * 1000 })).toString('base64url');
  const signature = Buffer.from(signMessage(pair, Buffer.from(claims))).toString('base64url');
  return { token: `qgv1.${claims}.${signature}`, madeBy: 'test' };
}
