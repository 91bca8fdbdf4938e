// bundle.ts — reading what `qgate apply -f` and `qgate devices register -f` load: a bundle (a domain
// with its admin keys, pinned images, policy and devices) or a bare policy document, in YAML or JSON.
// Every error names the file, the line and column, the path inside the document, what was expected
// and what was found.
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMap, isNode, isPair, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import { DEVICE_PROTOCOLS, IDENTIFIER, IMAGE_DIGEST, MAX_ADDRESSES, MAX_INTERFACE_OPTIONS, MAX_TAGS, MAX_TEXT_CHARS, fromHex } from '../commands/index.js';
import type { DeviceInterface, DeviceProtocol, DeviceSpec } from '../commands/index.js';
import { PolicyError, describeValue, formatPath, parsePolicyYaml, validatePolicy, type PolicyDocument } from '../policy/index.js';
import { MAX_BUNDLE_ITEMS, MAX_INPUT_FILE_BYTES } from './constants.js';
import { CliError } from './errors.js';

/** AdminSpec is an admin key a bundle wants its domain to have. */
export interface AdminSpec {
  name: string;
  publicKey: Uint8Array;
}

/** ImageSpec is a μmbox image pin. */
export interface ImageSpec {
  name: string;
  digest: string;
}

/** Bundle is everything `apply` may put into one domain. */
export interface Bundle {
  domain: string;
  /** description is used when the domain has to be created. */
  description: string;
  admins: AdminSpec[];
  images: ImageSpec[];
  policy: PolicyDocument | undefined;
  devices: DeviceSpec[];
}

/** BundleError is a bad bundle or device file: where, what was expected, what was found. */
export class BundleError extends CliError {
  constructor(readonly file: string, readonly path: string, readonly expected: string, readonly found: string, line?: number, column?: number) {
    const where = line === undefined ? file : `${file}:${line}:${column ?? 1}`;
    super('BAD_INPUT', `${where}: ${path === '' ? '(document)' : path}: expected ${expected}, found ${found}`, { file, path, expected, found, line, column });
  }
}

type Segments = ReadonlyArray<string | number>;

/** Source is a parsed YAML document and how to locate a path inside it. */
interface Source {
  file: string;
  value: unknown;
  /** locate finds where a path is in the text: its value, or with `atKey` the key itself. */
  locate(segments: Segments, atKey?: boolean): { line: number; column: number } | undefined;
}

/** readInputFile reads a bounded text file, mapping failures to CliError BAD_INPUT. */
export function readInputFile(file: string): string {
  try {
    const size = statSync(file).size;
    if (size > MAX_INPUT_FILE_BYTES) throw new CliError('BAD_INPUT', `${file}: expected at most ${MAX_INPUT_FILE_BYTES} bytes, found ${size}`);
    return readFileSync(file, 'utf8');
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError('BAD_INPUT', `${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}

/** parseSource parses YAML (JSON is YAML) with unique keys, keeping positions for error messages. */
function parseSource(text: string, file: string): Source {
  const lineCounter = new LineCounter();
  const doc: Document = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, schema: 'core', strict: true });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem !== undefined) {
    const { line, col } = lineCounter.linePos(problem.pos[0]);
    throw new BundleError(file, '', 'a valid YAML document', problem.message.split('\n')[0] ?? problem.code, line, col);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 50 });
  } catch (error) {
    throw new BundleError(file, '', 'a YAML document without excessive aliases', (error as Error).message);
  }
  const locate = (segments: Segments, atKey = false): { line: number; column: number } | undefined => {
    if (atKey && segments.length > 0) {
      const parent: unknown = segments.length === 1 ? doc.contents : doc.getIn(segments.slice(0, -1), true);
      const last = segments[segments.length - 1];
      const pair = isMap(parent) ? parent.items.find((item) => isPair(item) && isScalar(item.key) && item.key.value === last) : undefined;
      if (pair !== undefined && isNode(pair.key) && pair.key.range) {
        const { line, col } = lineCounter.linePos(pair.key.range[0]);
        return { line, column: col };
      }
    }
    // The deepest node that exists on the path: the value itself, or the mapping that lacks a key.
    for (let n = segments.length; n >= 0; n--) {
      const node: unknown = n === 0 ? doc.contents : doc.getIn(segments.slice(0, n), true);
      if (isNode(node) && node.range) {
        const { line, col } = lineCounter.linePos(node.range[0]);
        return { line, column: col };
      }
    }
    return undefined;
  };
  return { file, value, locate };
}

/** Reader validates values of one source, failing with located BundleErrors. */
class Reader {
  constructor(private readonly source: Source) {}

  /** fail reports a bad value: `found` is the value itself, described. */
  fail(segments: Segments, expected: string, found: unknown): never {
    return this.failText(segments, expected, describeValue(found));
  }

  /** failText reports a problem whose found part is already words; `atKey` points at the key, not its value. */
  failText(segments: Segments, expected: string, found: string, atKey = false): never {
    const at = this.source.locate(segments, atKey);
    throw new BundleError(this.source.file, segments.length === 0 ? '' : formatPath(segments), expected, found, at?.line, at?.column);
  }

  object(value: unknown, at: Segments, allowed: readonly string[], required: readonly string[]): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(at, 'a mapping', value);
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (!allowed.includes(key)) this.failText([...at, key], `one of the keys ${allowed.join(', ')}`, `an unknown key "${key}"`, true);
    }
    for (const key of required) if (record[key] === undefined) this.fail([...at, key], `a value for "${key}"`, undefined);
    return record;
  }

  identifier(value: unknown, at: Segments): string {
    if (typeof value !== 'string' || !IDENTIFIER.test(value)) this.fail(at, 'a name of 1-64 characters [A-Za-z0-9._:-], starting with a letter or digit', value);
    return value;
  }

  text(value: unknown, at: Segments): string {
    if (typeof value !== 'string' || value.length > MAX_TEXT_CHARS) this.fail(at, `a string of at most ${MAX_TEXT_CHARS} characters`, value);
    return value;
  }

  list(value: unknown, at: Segments, max: number): unknown[] {
    if (!Array.isArray(value) || value.length > max) this.fail(at, `a list of at most ${max} items`, value);
    return value;
  }

  identifiers(value: unknown, at: Segments, max: number): string[] {
    if (value === undefined) return [];
    const items = this.list(value, at, max).map((item, i) => this.identifier(item, [...at, i]));
    items.forEach((item, i) => {
      if (items.indexOf(item) !== i) this.failText([...at, i], 'distinct values', `"${item}" a second time`);
    });
    return items;
  }
}

const DEVICE_KEYS = ['id', 'type', 'group', 'tags', 'nodeId', 'port', 'addresses', 'interface'] as const;
const INTERFACE_KEYS = ['protocol', 'endpoint', 'credentialRef', 'options'] as const;

/** isDeviceProtocol says whether a value names a device adapter (docs/devices.md "Protocols"). */
export function isDeviceProtocol(value: unknown): value is DeviceProtocol {
  return typeof value === 'string' && (DEVICE_PROTOCOLS as readonly string[]).includes(value);
}

/** sortedOptions returns interface options with their keys in ascending order, as the command encoding requires. */
export function sortedOptions(options: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(options).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * readInterface validates a device's `interface` mapping: its shape here, with located errors; what
 * the values must be (an endpoint on one of the device's addresses, no secret in an option) is checked
 * by the command encoding when the registration is signed.
 */
function readInterface(reader: Reader, value: unknown, at: Segments): DeviceInterface {
  const raw = reader.object(value, at, INTERFACE_KEYS, ['protocol']);
  const protocol = raw['protocol'];
  if (!isDeviceProtocol(protocol)) reader.fail([...at, 'protocol'], `one of ${DEVICE_PROTOCOLS.join(', ')}`, protocol);
  const options: Record<string, string> = {};
  if (raw['options'] !== undefined) {
    const map = reader.object(raw['options'], [...at, 'options'], Object.keys(raw['options'] ?? {}), []);
    const keys = Object.keys(map);
    if (keys.length > MAX_INTERFACE_OPTIONS) reader.failText([...at, 'options'], `at most ${MAX_INTERFACE_OPTIONS} options`, `${keys.length}`);
    for (const key of keys) options[key] = reader.text(map[key], [...at, 'options', key]);
  }
  return {
    protocol,
    endpoint: raw['endpoint'] === undefined ? '' : reader.text(raw['endpoint'], [...at, 'endpoint']),
    credentialRef: raw['credentialRef'] === undefined ? '' : reader.text(raw['credentialRef'], [...at, 'credentialRef']),
    options: sortedOptions(options),
  };
}

/** readDevice validates one device mapping (group defaults to "default", tags and addresses to none). */
function readDevice(reader: Reader, value: unknown, at: Segments, extraKeys: readonly string[] = []): DeviceSpec {
  const raw = reader.object(value, at, [...DEVICE_KEYS, ...extraKeys], ['id', 'type', 'nodeId', 'port']);
  return {
    id: reader.identifier(raw['id'], [...at, 'id']),
    type: reader.identifier(raw['type'], [...at, 'type']),
    group: raw['group'] === undefined ? 'default' : reader.identifier(raw['group'], [...at, 'group']),
    tags: reader.identifiers(raw['tags'], [...at, 'tags'], MAX_TAGS),
    nodeId: reader.identifier(raw['nodeId'], [...at, 'nodeId']),
    port: reader.identifier(raw['port'], [...at, 'port']),
    addresses: reader.identifiers(raw['addresses'], [...at, 'addresses'], MAX_ADDRESSES),
    ...(raw['interface'] === undefined ? {} : { interface: readInterface(reader, raw['interface'], [...at, 'interface']) }),
  };
}

/**
 * parseDeviceFile reads a device file for `devices register -f`: one device mapping, optionally with
 * a `domain` key. Returns the device and the domain it names ('' when it names none).
 */
export function parseDeviceFile(text: string, file: string): { device: DeviceSpec; domain: string } {
  const source = parseSource(text, file);
  const reader: Reader = new Reader(source);
  const device = readDevice(reader, source.value, [], ['domain']);
  const domainValue = (source.value as Record<string, unknown>)['domain'];
  return { device, domain: domainValue === undefined ? '' : reader.identifier(domainValue, ['domain']) };
}

const BUNDLE_KEYS = ['domain', 'description', 'admins', 'images', 'policy', 'policyFile', 'devices'] as const;

/**
 * parseBundle reads `apply -f` input. A document with `deviceTypes` at the top is a bare policy
 * document (errors exactly as parsePolicyYaml reports them); anything else is a bundle:
 *
 *   domain, description?, admins?: [{name, publicKey}], images?: [{name, digest}],
 *   policy?: <policy document> | policyFile?: path (relative to the bundle), devices?: [device]
 *
 * `baseDir` resolves policyFile (the bundle's directory by default).
 */
export function parseBundle(text: string, file: string, baseDir = dirname(file)): Bundle {
  const source = parseSource(text, file);
  const top = source.value;
  if (typeof top === 'object' && top !== null && !Array.isArray(top) && 'deviceTypes' in top) {
    const policy = policyOrUsage(() => parsePolicyYaml(text, file));
    return { domain: policy.domain, description: '', admins: [], images: [], policy, devices: [] };
  }
  const reader: Reader = new Reader(source);
  const raw = reader.object(top, [], BUNDLE_KEYS, []);
  if (raw['policy'] !== undefined && raw['policyFile'] !== undefined) reader.failText(['policyFile'], 'either "policy" or "policyFile", not both', 'both', true);
  let policy: PolicyDocument | undefined;
  if (raw['policy'] !== undefined) {
    policy = policyOrUsage(() => {
      try {
        return validatePolicy(raw['policy'], file);
      } catch (error) {
        if (!(error instanceof PolicyError)) throw error;
        const segments = ['policy', ...error.pathSegments];
        const at = source.locate(segments);
        return rethrowPolicy(error, segments, file, at);
      }
    });
  } else if (raw['policyFile'] !== undefined) {
    const policyPath = resolve(baseDir, reader.text(raw['policyFile'], ['policyFile']));
    const policyText = readInputFile(policyPath);
    policy = policyOrUsage(() => parsePolicyYaml(policyText, policyPath));
  }
  let domain: string;
  if (raw['domain'] !== undefined) domain = reader.identifier(raw['domain'], ['domain']);
  else if (policy !== undefined) domain = policy.domain;
  else reader.fail(['domain'], 'the domain the bundle is for (or a policy that names it)', undefined);
  if (policy !== undefined && policy.domain !== domain) {
    reader.failText(raw['policy'] !== undefined ? ['policy', 'domain'] : ['policyFile'], `a policy for domain "${domain}"`, `a policy for domain "${policy.domain}"`);
  }
  const description = raw['description'] === undefined ? '' : reader.text(raw['description'], ['description']);
  const admins = raw['admins'] === undefined ? [] : reader.list(raw['admins'], ['admins'], MAX_BUNDLE_ITEMS).map((item, i) => {
    const a = reader.object(item, ['admins', i], ['name', 'publicKey'], ['name', 'publicKey']);
    const key = typeof a['publicKey'] === 'string' && /^[0-9a-f]{64}$/.test(a['publicKey']) ? fromHex(a['publicKey'], 32) : undefined;
    if (key === undefined) reader.fail(['admins', i, 'publicKey'], 'a 64-digit lowercase hex Ed25519 public key', a['publicKey']);
    return { name: reader.text(a['name'], ['admins', i, 'name']), publicKey: key };
  });
  const images = raw['images'] === undefined ? [] : reader.list(raw['images'], ['images'], MAX_BUNDLE_ITEMS).map((item, i) => {
    const m = reader.object(item, ['images', i], ['name', 'digest'], ['name', 'digest']);
    const digest = m['digest'];
    if (typeof digest !== 'string' || !IMAGE_DIGEST.test(digest)) reader.fail(['images', i, 'digest'], '"sha256:" followed by 64 lowercase hex digits', digest);
    return { name: reader.identifier(m['name'], ['images', i, 'name']), digest };
  });
  images.forEach((image, i) => {
    if (images.findIndex((other) => other.name === image.name) !== i) reader.failText(['images', i, 'name'], 'each image named once', `"${image.name}" a second time`);
  });
  const devices = raw['devices'] === undefined ? [] : reader.list(raw['devices'], ['devices'], MAX_BUNDLE_ITEMS).map((item, i) => readDevice(reader, item, ['devices', i]));
  devices.forEach((device, i) => {
    if (devices.findIndex((other) => other.id === device.id) !== i) reader.failText(['devices', i, 'id'], 'each device id once', `"${device.id}" a second time`);
  });
  if (policy === undefined && admins.length === 0 && images.length === 0 && devices.length === 0 && raw['domain'] === undefined) {
    reader.fail([], 'a bundle (domain, admins, images, policy, devices) or a policy document (domain, version, deviceTypes)', top);
  }
  return { domain, description, admins, images, policy, devices };
}

function rethrowPolicy(error: PolicyError, segments: Segments, file: string, at: { line: number; column: number } | undefined): never {
  throw new PolicyError({ code: error.code, file, pathSegments: segments, expected: error.expected, found: error.found, line: at?.line, column: at?.column });
}

/** policyOrUsage maps a PolicyError to CliError BAD_INPUT (exit 2) carrying the policy's own message. */
function policyOrUsage(load: () => PolicyDocument): PolicyDocument {
  try {
    return load();
  } catch (error) {
    if (error instanceof PolicyError) {
      throw new CliError('BAD_INPUT', error.message, { file: error.file, path: error.path, expected: error.expected, found: error.found, line: error.line, column: error.column, policyCode: error.code }, { cause: error });
    }
    throw error;
  }
}
