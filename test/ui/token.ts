// token.ts — the viewer token the browser tests give the dashboard, made the way an operator makes one:
// a new viewer key (`qgate keys gen`), granted on the domain by its admin (`qgate viewers add`), and a
// token signed by it (`qgate token create`).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** viewerToken makes viewer key `name` of `domain` in `dir` (granted by `adminKeyFile`) and returns a token of it for `ttlSeconds` (whole hours). */
export async function viewerToken(cli: { command: string; args: string[]; env: NodeJS.ProcessEnv }, adminKeyFile: string, domain: string, ttlSeconds: number, dir: string, name = `viewer-${domain}`): Promise<string> {
  const qgate = async (args: readonly string[]): Promise<string> => (await run(cli.command, [...cli.args, ...args], { env: cli.env, timeout: 60_000 })).stdout;
  const keyFile = join(dir, `${name}.key`);
  await qgate(['keys', 'gen', '--out', keyFile]);
  await qgate(['--key', adminKeyFile, 'viewers', 'add', domain, keyFile.replace(/\.key$/, '.pub'), '--name', name]);
  const token = (await qgate(['--key', keyFile, 'token', 'create', '--domain', domain, '--ttl', `${Math.max(1, Math.ceil(ttlSeconds / 3600))}h`])).trim().split('\n').pop() ?? '';
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) throw new Error(`qgate token create printed no token: ${JSON.stringify(token.slice(0, 80))}`);
  return token;
}
