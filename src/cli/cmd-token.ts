// cmd-token.ts — `qgate token create`: a read token for other tools (the dashboard, curl, scripts), signed
// by a loaded key that holds a role (root, admin or viewer) in the domains it names (docs/api.md
// "Authentication"). qgate itself makes and renews its own tokens; this prints one.
import type { Command } from 'commander';
import { ALL_DOMAINS, createToken, IDENTIFIER, MAX_TOKEN_LIFETIME_S, toHex } from '../commands/index.js';
import { CliError } from './errors.js';
import { collect, type Action } from './options.js';
import type { Context } from './context.js';

/** parseTtl reads a lifetime such as 90s, 15m, 8h or 1d (at most MAX_TOKEN_LIFETIME_S) into seconds. */
export function parseTtl(text: string): number {
  const match = /^([1-9][0-9]{0,6})(s|m|h|d)$/.exec(text);
  if (match === null) throw new CliError('USAGE', `--ttl: expected a number and a unit (s, m, h or d), e.g. 8h, found "${text}"`);
  const seconds = Number(match[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[match[2] as 's' | 'm' | 'h' | 'd'];
  if (seconds > MAX_TOKEN_LIFETIME_S) throw new CliError('USAGE', `--ttl: at most ${MAX_TOKEN_LIFETIME_S / 3600}h, found ${text}`);
  return seconds;
}

async function tokenCreate(ctx: Context, options: { ttl: string; domain: string[] }): Promise<void> {
  const ttlS = parseTtl(options.ttl);
  for (const domain of options.domain) if (!IDENTIFIER.test(domain)) throw new CliError('USAGE', `--domain: expected a domain name, found "${domain}"`);
  const keys = ctx.keys();
  const chosen = ctx.options.signer === 'auto' || ctx.options.signer === 'root' ? keys[0] : keys.find((k) => k.keyId === ctx.options.signer);
  if (chosen === undefined) throw new CliError('KEY', keys.length === 0 ? 'a token is signed by a root, admin or viewer key: give --key FILE (or set QGATE_KEY)' : `--signer ${ctx.options.signer}: no loaded key has this key id`);
  const nowMs = ctx.io.nowMs();
  const token = createToken(chosen.pair, toHex(await ctx.clusterId()), options.domain.length === 0 ? ALL_DOMAINS : options.domain, nowMs, ttlS);
  const expiresAt = new Date(Math.floor(nowMs / 1000) * 1000 + ttlS * 1000).toISOString();
  ctx.print({ token, keyId: chosen.keyId, domains: options.domain.length === 0 ? ALL_DOMAINS : options.domain, expiresAt }, token);
  if (!ctx.json) ctx.note(`qgate: token of key ${chosen.keyId} for ${options.domain.length === 0 ? 'every domain it holds a role in' : options.domain.join(', ')}, expires ${expiresAt}`);
}

/** registerToken adds `token create`. */
export function registerToken(program: Command, run: Action): void {
  const token = program.command('token').description('read tokens for other tools (Authorization: Bearer TOKEN)');
  token.command('create').description('print a read token signed by --key (root, admin or viewer key)')
    .option('--ttl <duration>', 'how long it is valid: s, m, h or d, at most 24h', '1h')
    .option('--domain <name>', 'a domain it may read (repeat); default: every domain the key holds a role in', collect, [])
    .action(run((ctx, options: { ttl: string; domain: string[] }) => tokenCreate(ctx, options)));
}
