// device-secrets.ts — the device credentials a gateway holds (docs/devices.md). A registration names a
// credential by reference only; the secret itself lives on the serving gateway, in a YAML file readable by
// root alone (mode 0600, refused otherwise), and never enters the replicated log or the node's logs.
import { readFileSync, statSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { StartupError } from './startup-error.js';

/** MAX_SECRETS bounds the secrets file (a gateway serves at most a few thousand devices). */
const MAX_SECRETS = 20_000;
const REFERENCE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const MAX_SECRET_CHARS = 256;

/** DeviceSecrets maps credential references to secrets; reload() picks up edits of the file. */
export class DeviceSecrets {
  private secrets = new Map<string, string>();
  private readonly file: string | undefined;

  constructor(file: string | undefined) {
    this.file = file;
    this.reload();
  }

  /** get returns the secret a reference names, or undefined. */
  get(reference: string): string | undefined {
    return this.secrets.get(reference);
  }

  /** size is how many secrets the node holds. */
  get size(): number {
    return this.secrets.size;
  }

  /** reload reads the file again; a bad file throws StartupError naming the file and the entry, and keeps the old secrets. */
  reload(): void {
    if (this.file === undefined) return;
    this.secrets = readSecrets(this.file);
  }
}

/** readSecrets reads and checks a secrets file. */
export function readSecrets(file: string): Map<string, string> {
  let mode: number;
  let text: string;
  try {
    mode = statSync(file).mode & 0o777;
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new StartupError('SECRETS', `cannot read the device secrets file ${file}: ${(error as Error).message}`, error);
  }
  if ((mode & 0o077) !== 0) {
    throw new StartupError('SECRETS', `the device secrets file ${file} has mode ${mode.toString(8)}; it must be readable by its owner only (chmod 600 ${file})`);
  }
  let value: unknown;
  try {
    value = parseYaml(text, { maxAliasCount: 0 });
  } catch (error) {
    throw new StartupError('SECRETS', `the device secrets file ${file} is not valid YAML: ${(error as Error).message}`);
  }
  if (value === null || value === undefined) return new Map();
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new StartupError('SECRETS', `the device secrets file ${file} must be a map from credential reference to secret, found ${Array.isArray(value) ? 'a list' : typeof value}`);
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > MAX_SECRETS) throw new StartupError('SECRETS', `the device secrets file ${file} holds ${entries.length} secrets; at most ${MAX_SECRETS}`);
  const secrets = new Map<string, string>();
  for (const [reference, secret] of entries) {
    if (!REFERENCE.test(reference)) {
      throw new StartupError('SECRETS', `${file}: "${reference.slice(0, 80)}" is not a credential reference (letters, digits, _ . -, at most 64, starting with a letter or digit)`);
    }
    // The secret's value is never echoed in an error: only what is wrong with it.
    if (typeof secret !== 'string' || secret.length === 0 || secret.length > MAX_SECRET_CHARS || /[\s:]/.test(secret)) {
      throw new StartupError('SECRETS', `${file}: the secret of "${reference}" must be a string of 1 to ${MAX_SECRET_CHARS} characters without spaces or ':'`);
    }
    secrets.set(reference, secret);
  }
  return secrets;
}
