// keys.ts — the operator's signing keys and public key files.
//
// A signing key comes from a key file (the format of src/node/identity.ts, mode 0600), named by
// --key (repeatable) or QGATE_KEY (comma-separated paths), or from QGATE_KEY_SEED (comma-separated
// 64-hex seeds). Seeds are held only in memory: no message, log line or output of qgate contains one.
import { readFileSync, statSync } from 'node:fs';
import { fromHex, keyIdHex, keyPairFromSeed, toHex, type KeyPair } from '../commands/index.js';
import { IdentityKeyError, readIdentityKey } from '../node/index.js';
import { ENV_KEY, ENV_KEY_SEED, KEY_TYPE, MAX_INPUT_FILE_BYTES, MAX_KEYS } from './constants.js';
import { CliError } from './errors.js';

/** SigningKey is a loaded key pair with its public names and where it came from (never its seed). */
export interface SigningKey {
  pair: KeyPair;
  publicKeyHex: string;
  keyId: string;
  /** source names the file or the environment variable entry, for messages. */
  source: string;
}

/** signingKey wraps a key pair. */
export function signingKey(pair: KeyPair, source: string): SigningKey {
  return { pair, publicKeyHex: toHex(pair.publicKey), keyId: keyIdHex(pair.publicKey), source };
}

/** KeySources are the places keys may come from. */
export interface KeySources {
  keyFiles: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
}

function splitList(text: string | undefined): string[] {
  return (text ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/**
 * loadSigningKeys loads every key named by --key; when there is none, those named by QGATE_KEY and
 * QGATE_KEY_SEED. A key given twice is loaded once. Errors are CliError KEY (exit 2) and never quote a seed.
 */
export function loadSigningKeys(sources: KeySources): SigningKey[] {
  const loaded: SigningKey[] = [];
  const add = (key: SigningKey): void => {
    if (loaded.some((k) => k.publicKeyHex === key.publicKeyHex)) return;
    if (loaded.length >= MAX_KEYS) throw new CliError('KEY', `at most ${MAX_KEYS} signing keys may be given`);
    loaded.push(key);
  };
  const files = sources.keyFiles.length > 0 ? sources.keyFiles : splitList(sources.env[ENV_KEY]);
  for (const file of files) add(signingKey(readKeyFile(file), file));
  if (sources.keyFiles.length === 0) {
    splitList(sources.env[ENV_KEY_SEED]).forEach((seedHex, i) => {
      const seed = /^[0-9a-fA-F]{64}$/.test(seedHex) ? fromHex(seedHex, 32) : undefined;
      if (seed === undefined) {
        // The value is secret: say what is wrong with it without showing any of it.
        throw new CliError('KEY', `${ENV_KEY_SEED}: entry ${i + 1} must be 64 hex digits (an Ed25519 seed), found ${seedHex.length} characters (value not shown)`);
      }
      add(signingKey(keyPairFromSeed(seed), `${ENV_KEY_SEED}[${i + 1}]`));
    });
  }
  return loaded;
}

/** readKeyFile reads a private key file, mapping its errors to CliError KEY. */
export function readKeyFile(file: string): KeyPair {
  try {
    return readIdentityKey(file);
  } catch (error) {
    if (error instanceof IdentityKeyError) throw new CliError('KEY', error.message, undefined, { cause: error });
    throw error;
  }
}

/**
 * readPublicKey reads a public key from a `.pub` file (64 hex digits) or from a key file (its
 * "publicKey" field; the seed is not read into a key pair and the file's mode does not matter).
 */
export function readPublicKey(file: string, what = 'public key file'): Uint8Array {
  let text: string;
  try {
    if (statSync(file).size > MAX_INPUT_FILE_BYTES) throw new Error('file too large');
    text = readFileSync(file, 'utf8').trim();
  } catch (error) {
    throw new CliError('KEY', `${what} ${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  if (/^[0-9a-fA-F]{64}$/.test(text)) return fromHex(text.toLowerCase(), 32) as Uint8Array;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CliError('KEY', `${what} ${file}: expected 64 hex digits (a .pub file) or a JSON key file, found neither`);
  }
  const record = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  if (record['type'] !== KEY_TYPE || typeof record['publicKey'] !== 'string' || !/^[0-9a-f]{64}$/.test(record['publicKey'])) {
    throw new CliError('KEY', `${what} ${file}: expected a key file with "type": "${KEY_TYPE}" and a 64-hex "publicKey"`);
  }
  return fromHex(record['publicKey'], 32) as Uint8Array;
}
