// cmd-devices.ts — the device interface (docs/devices.md) from the operator's side: the agreed policy
// (and how a local file differs from it), a device's readings, the device commands the policy ordered
// and what became of them, the devices gateways discovered, and registering one of them.
import { Option, type Command } from 'commander';
import { createTwoFilesPatch } from 'diff';
import { stringify } from 'yaml';
import { canonicalJson, type DeviceSpec } from '../commands/index.js';
import { parseBundle, readInputFile } from './bundle.js';
import { deviceFromFlags, identifier, interfaceFromFlags, isObject, list, submitAndReport, waitOption, type RegisterOptions } from './cmd-cluster.js';
import type { Context } from './context.js';
import { CliError } from './errors.js';
import { collect, type Action } from './options.js';
import { cell, renderTable } from './output.js';
import { positiveInteger } from './cmd-offline.js';

/** MAX_LISTED is the largest --limit the list commands ask for (the API's bound for device commands). */
const MAX_LISTED = 1000;
/** MAX_DISCOVERED_READ is how many discovered devices `register --from-discovered` looks through. */
const MAX_DISCOVERED_READ = 10_000;

/** boundedInteger is a commander parser for an integer from 1 to `maximum`. */
function boundedInteger(flag: string, maximum: number): (value: string) => number {
  const parse = positiveInteger(flag);
  return (value) => {
    const n = parse(value);
    if (n > maximum) throw new CliError('USAGE', `${flag}: expected at most ${maximum}, found ${n}`);
    return n;
  };
}

function time(ms: unknown): string {
  return typeof ms === 'number' ? new Date(ms).toISOString() : '-';
}

/** policyYaml renders a policy document as YAML, keys in the order the cluster's validator gives them. */
export function policyYaml(document: unknown): string {
  return stringify(document, { lineWidth: 0, aliasDuplicateObjects: false });
}

/** PolicyComparison is `policy get --diff` as data (the JSON output). */
export interface PolicyComparison {
  domain: string;
  index: unknown;
  file: string;
  equal: boolean;
  clusterVersion: unknown;
  fileVersion: unknown;
  /** diff is a unified diff from the cluster's policy to the file's ('' when equal). */
  diff: string;
}

/**
 * comparePolicies compares the cluster's policy document with a local one. Both are validated
 * documents, so equal content is equal canonical JSON whatever the key order or YAML style of the
 * file; the diff is of their YAML renderings, which a person reads.
 */
export function comparePolicies(domain: string, clusterDocument: unknown, file: string, fileDocument: unknown): Omit<PolicyComparison, 'index'> {
  // The local document goes through JSON as the cluster's did, so absent and undefined fields agree.
  const local: unknown = JSON.parse(JSON.stringify(fileDocument));
  const version = (d: unknown): unknown => (isObject(d) ? d['version'] : undefined);
  const equal = canonicalJson(clusterDocument) === canonicalJson(local);
  // jsdiff opens a patch with a line of '=' (for an `Index:` line that is not written here); a unified
  // diff as diff -u prints it starts at the --- line.
  const diff = equal ? '' : createTwoFilesPatch(`cluster: policy of ${domain}`, file, policyYaml(clusterDocument), policyYaml(local),
    `version ${cell(version(clusterDocument))}`, `version ${cell(version(local))}`, { context: 3 }).replace(/^=+\n/, '');
  return { domain, file, equal, clusterVersion: version(clusterDocument) ?? null, fileVersion: version(local) ?? null, diff };
}

async function policyGet(ctx: Context, domain: string, options: { diff?: string }): Promise<void> {
  identifier(domain, 'DOMAIN');
  // The file is read first: a bad file is a usage error whatever the cluster holds.
  const local = options.diff === undefined ? undefined : parseBundle(readInputFile(options.diff), options.diff).policy;
  if (options.diff !== undefined && local === undefined) throw new CliError('BAD_INPUT', `${options.diff}: expected a policy document (or a bundle with a policy), found none`);
  const answer = await ctx.client().get(ctx.readPath(`/v1/policies/${encodeURIComponent(domain)}`));
  const document = answer['policy'];
  if (options.diff === undefined) {
    ctx.print({ index: answer['index'] ?? null, domain, policy: document }, policyYaml(document));
    return;
  }
  const comparison: PolicyComparison = { ...comparePolicies(domain, document, options.diff, local), index: answer['index'] ?? null };
  ctx.print(comparison, comparison.equal
    ? `the policy of domain ${domain} on the cluster (version ${cell(comparison.clusterVersion)}) and ${options.diff} are the same\n`
    : comparison.diff);
  if (!comparison.equal) {
    throw new CliError('DIFFERENT', `the policy of domain ${domain} on the cluster (version ${cell(comparison.clusterVersion)}) differs from ${options.diff} (version ${cell(comparison.fileVersion)})`);
  }
}

async function readings(ctx: Context, id: string, options: { history: boolean }): Promise<void> {
  const path = `/v1/devices/${encodeURIComponent(identifier(id, 'ID'))}/readings${options.history ? '' : '?limit=0'}`;
  const answer = await ctx.client().get(ctx.readPath(path));
  const sensors = list(answer, 'sensors');
  const latest = renderTable(['SENSOR', 'LATEST', 'AT'], sensors.map((s) => {
    const sample = isObject(s['latest']) ? s['latest'] : undefined;
    return [cell(s['sensor']), sample === undefined ? '-' : cell(sample['value']), time(sample?.['timeMs'])];
  }));
  const sampling = typeof answer['samplingMs'] === 'number' ? `sampled every ${answer['samplingMs']} ms in its current state` : 'no sampling interval declared';
  const lines = [`device ${id}: ${sampling} (index ${cell(answer['index'])})`, latest.trimEnd()];
  if (options.history) {
    const rows = sensors.flatMap((s) => (Array.isArray(s['history']) ? s['history'].filter(isObject) : []).map((sample) => [cell(s['sensor']), time(sample['timeMs']), cell(sample['value'])]));
    lines.push('', rows.length === 0 ? 'no history' : renderTable(['SENSOR', 'AT', 'VALUE'], rows).trimEnd());
  }
  ctx.print(answer, `${lines.join('\n')}\n`);
}

async function discoveredList(ctx: Context, options: { node?: string }): Promise<void> {
  const answer = await ctx.client().get(ctx.readPath(`/v1/discovered${options.node === undefined ? '' : `?node=${encodeURIComponent(identifier(options.node, '--node'))}`}`));
  ctx.print(answer, renderTable(['NODE', 'DOMAIN', 'PORT', 'MAC', 'FIRST SEEN', 'LAST SEEN', 'HOSTNAME', 'VENDOR CLASS'], list(answer, 'discovered').map((d) => [
    cell(d['nodeId']), cell(d['domain'] === '' ? undefined : d['domain']), cell(d['port']), cell(d['mac']), time(d['firstSeenMs']), time(d['lastSeenMs']),
    cell(d['hostname'] === '' ? undefined : d['hostname']), cell(d['vendorClass'] === '' ? undefined : d['vendorClass']),
  ])));
  noteTruncated(ctx, answer, 'discovered', 'discovered devices');
}

function noteTruncated(ctx: Context, answer: Record<string, unknown>, field: string, what: string): void {
  const shown = list(answer, field).length;
  if (typeof answer['total'] === 'number' && answer['total'] > shown) ctx.note(`qgate: showing ${shown} of ${answer['total']} ${what}`);
}

/** DiscoveredDevice is one item of GET /v1/discovered. */
interface DiscoveredDevice {
  nodeId: string;
  domain: string;
  port: string;
  mac: string;
}

/** findDiscovered picks the one discovered device whose port or MAC is `key` (MACs compared without case). */
export function findDiscovered(items: readonly Record<string, unknown>[], key: string, node: string | undefined): DiscoveredDevice {
  const found = items.filter((d): d is Record<string, unknown> & DiscoveredDevice =>
    typeof d['nodeId'] === 'string' && typeof d['port'] === 'string' && typeof d['mac'] === 'string' && typeof d['domain'] === 'string'
    && (d['port'] === key || d['mac'].toLowerCase() === key.toLowerCase()));
  const where = node === undefined ? '' : ` on node ${node}`;
  if (found.length === 0) throw new CliError('NOT_FOUND', `no discovered device has the port or MAC "${key}"${where} (see qgate devices discovered)`);
  if (found.length > 1) {
    throw new CliError('USAGE', `--from-discovered ${key}: ${found.length} discovered devices match (${found.map((d) => `node ${d.nodeId} port ${d.port} mac ${d.mac}`).join('; ')}); choose one with --node or give its MAC`);
  }
  const one = found[0] as DiscoveredDevice;
  return { nodeId: one.nodeId, domain: one.domain, port: one.port, mac: one.mac };
}

/**
 * deviceFromDiscovered builds the registration that adopts a discovered device: its node, port and
 * MAC as the gateway reported them, with the id, type, domain and interface the operator gives.
 */
export async function deviceFromDiscovered(ctx: Context, id: string | undefined, options: RegisterOptions): Promise<{ device: DeviceSpec; domain: string }> {
  const key = options.fromDiscovered as string;
  if (options.file !== undefined || options.port !== undefined) {
    throw new CliError('USAGE', 'devices register --from-discovered: the port and node come from the discovered device; give no -f or --port');
  }
  const missing = [id === undefined ? '--id' : '', options.type === undefined ? '--type' : ''].filter((m) => m !== '');
  if (missing.length > 0) throw new CliError('USAGE', `devices register --from-discovered: expected ${missing.join(', ')}`);
  const face = interfaceFromFlags(options);
  const query = new URLSearchParams({ limit: String(MAX_DISCOVERED_READ) });
  if (options.node !== undefined) query.set('node', identifier(options.node, '--node'));
  const answer = await ctx.client().get(ctx.readPath(`/v1/discovered?${query.toString()}`));
  const found = findDiscovered(list(answer, 'discovered'), key, options.node);
  const domain = options.domain ?? (found.domain === '' ? undefined : found.domain);
  if (domain === undefined) throw new CliError('USAGE', `devices register --from-discovered: the discovered device names no domain; give --domain`);
  const addresses = [found.mac, ...options.address.filter((a) => a.toLowerCase() !== found.mac.toLowerCase())];
  const device: DeviceSpec = {
    id: identifier(id as string, '--id'), type: identifier(options.type as string, '--type'), group: identifier(options.group ?? 'default', '--group'),
    tags: options.tag.map((t) => identifier(t, '--tag')), nodeId: found.nodeId, port: found.port,
    addresses: addresses.map((a) => identifier(a, '--address')),
    ...(face === undefined ? {} : { interface: face }),
  };
  return { device, domain: identifier(domain, '--domain') };
}

async function register(ctx: Context, positional: string | undefined, options: RegisterOptions): Promise<void> {
  if (positional !== undefined && options.id !== undefined && positional !== options.id) {
    throw new CliError('USAGE', `devices register: ID "${positional}" and --id "${options.id}" differ; give one`);
  }
  const id = positional ?? options.id;
  const { device, domain } = options.fromDiscovered === undefined ? deviceFromFlags(id, options) : await deviceFromDiscovered(ctx, id, options);
  await submitAndReport(ctx, `device ${device.id}`, domain, { kind: 'putDevice', device }, options.wait);
}

/** commandDetail is the last column of `commands list`: why it failed, or its last error, or when it was done. */
function commandDetail(c: Record<string, unknown>): string {
  if (c['status'] === 'failed') return `gave up ${time(c['failedMs'])}: ${cell(c['reason'] ?? c['lastError'])}`;
  if (c['status'] === 'done') return `done ${time(c['doneMs'])}`;
  return typeof c['lastError'] === 'string' ? `last error: ${c['lastError']}` : '';
}

function argsText(args: unknown): string {
  return isObject(args) && Object.keys(args).length > 0 ? Object.entries(args).map(([k, v]) => `${k}=${cell(v)}`).join(',') : '-';
}

async function commandsList(ctx: Context, options: { node?: string; device?: string; status?: string; limit?: number }): Promise<void> {
  const query = new URLSearchParams();
  if (options.node !== undefined) query.set('node', identifier(options.node, '--node'));
  if (options.device !== undefined) query.set('device', identifier(options.device, '--device'));
  if (options.status !== undefined) query.set('status', options.status);
  if (options.limit !== undefined) query.set('limit', String(options.limit));
  const answer = await ctx.client().get(ctx.readPath(`/v1/device-commands${query.size > 0 ? `?${query.toString()}` : ''}`));
  ctx.print(answer, renderTable(['ID', 'NODE', 'DEVICE', 'COMMAND', 'ARGS', 'STATUS', 'ATTEMPTS', 'ORDERED', 'DETAIL'], list(answer, 'commands').map((c) => [
    cell(c['id']), cell(c['nodeId']), cell(c['deviceId']), cell(c['command']), argsText(c['args']), cell(c['status']), cell(c['attempts']),
    `${time(c['timeMs'])} #${cell(c['index'])}`, commandDetail(c),
  ])));
  noteTruncated(ctx, answer, 'commands', 'device commands (the newest; raise --limit)');
}

/**
 * commandsGet shows a device command by its id (a number), or, for 64 hex digits, the remembered result
 * of a submitted envelope by its body hash (after an indeterminate submission). The two never collide:
 * a command id is a safe integer, at most 16 digits.
 */
async function commandsGet(ctx: Context, id: string): Promise<void> {
  if (/^[0-9a-f]{64}$/.test(id)) {
    const answer = await ctx.client().get(`/v1/commands/${id}`);
    ctx.print(answer, Object.entries(answer).map(([k, v]) => `${`${k}:`.padEnd(10)}${cell(v)}`).join('\n'));
    return;
  }
  if (!/^[1-9][0-9]{0,15}$/.test(id) || !Number.isSafeInteger(Number(id))) {
    throw new CliError('USAGE', `ID: expected a device command id (a positive integer) or a body hash (64 lowercase hex digits), found "${id}"`);
  }
  const answer = await ctx.client().get(ctx.readPath(`/v1/device-commands/${id}`));
  const c = isObject(answer['command']) ? answer['command'] : {};
  const lines = [
    ...['id', 'nodeId', 'deviceId', 'command'].map((k) => `${`${k}:`.padEnd(11)}${cell(c[k])}`),
    `${'args:'.padEnd(11)}${argsText(c['args'])}`,
    `${'ordered:'.padEnd(11)}${time(c['timeMs'])} at index ${cell(c['index'])}`,
    `${'status:'.padEnd(11)}${cell(c['status'])}`,
    `${'attempts:'.padEnd(11)}${cell(c['attempts'])}${typeof c['lastError'] === 'string' ? ` (last error: ${c['lastError']})` : ''}`,
    ...(c['doneMs'] !== undefined ? [`${'done:'.padEnd(11)}${time(c['doneMs'])}`] : []),
    ...(c['failedMs'] !== undefined ? [`${'given up:'.padEnd(11)}${time(c['failedMs'])}`] : []),
    ...(c['reason'] !== undefined ? [`${'reason:'.padEnd(11)}${cell(c['reason'])}`] : []),
    `${'index:'.padEnd(11)}${cell(answer['index'])}`,
  ];
  ctx.print(answer, `${lines.join('\n')}\n`);
}

/** registerDeviceInterface adds policy get, devices register/readings/discovered and commands list/get. */
export function registerDeviceInterface(program: Command, run: Action): void {
  program.command('policy').description('the agreed security policy of a domain').command('get')
    .description('print the policy of a domain as YAML; with --diff FILE, how FILE differs from it (exit 0 when equal, 1 when different)')
    .argument('<domain>')
    .option('--diff <file>', 'a policy document (or a bundle with a policy) to compare with the cluster\'s')
    .action(run((ctx, domain: string, options: { diff?: string }) => policyGet(ctx, domain, options)));

  const devices = program.commands.find((c) => c.name() === 'devices') ?? program.command('devices');
  devices.command('register').description('register or update a device, or adopt a discovered one (admin-signed)').argument('[id]')
    .option('-f, --file <file>', 'a device file: id, type, group, tags, nodeId, port, addresses, interface (and optionally domain)')
    .option('--from-discovered <port-or-mac>', 'adopt the discovered device with this port or MAC: its node, port and MAC come from the gateway\'s report')
    .option('--id <id>', 'the device id (instead of the ID argument)')
    .option('--domain <name>').option('--type <type>').option('--node <id>', 'the node that serves the device (with --from-discovered: where it was seen)')
    .option('--port <port>', 'its switch port on that node')
    .option('--group <group>', 'its group', undefined).option('--tag <tag>', 'a tag (repeatable)', collect, []).option('--address <address>', 'an address (repeatable)', collect, [])
    .addOption(new Option('--interface-protocol <protocol>', 'how its gateway reads and commands it (docs/devices.md)').choices(['mqtt', 'http-json', 'hue']))
    .option('--interface-endpoint <url>', 'http-json: the URL polled; hue: the bridge\'s base URL; mqtt: none')
    .option('--credential-ref <name>', 'the name of the secret in the serving node\'s secrets file (never the secret)')
    .option('--interface-option <key=value>', 'a protocol option, e.g. sensor.temperature=/sensors/temperature or light=1 (repeatable)', collect, [])
    .addOption(waitOption())
    .action(run((ctx, id: string | undefined, options: RegisterOptions) => register(ctx, id, options)));
  devices.command('readings').description('the latest reading of each sensor of a device (with --history, every sample the cluster keeps)').argument('<id>')
    .option('--history', 'also list the history of each sensor, oldest first', false)
    .action(run((ctx, id: string, options: { history: boolean }) => readings(ctx, id, options)));
  devices.command('discovered').description('devices the gateways saw on their ports that no registered device owns').option('--node <id>', 'only those seen by this node')
    .action(run((ctx, options: { node?: string }) => discoveredList(ctx, options)));

  const commands = program.command('commands').description('device commands the policy ordered; the results of submitted envelopes');
  commands.command('list').description('device commands: pending, done, or failed with the reason (the newest first at the bottom)')
    .option('--node <id>', 'only those for devices this node serves').option('--device <id>', 'only those for this device')
    .addOption(new Option('--status <status>', 'only pending, done or failed ones').choices(['pending', 'done', 'failed']))
    .option('--limit <n>', `at most this many, the newest (default 100, at most ${MAX_LISTED})`, boundedInteger('--limit', MAX_LISTED))
    .action(run((ctx, options: { node?: string; device?: string; status?: string; limit?: number }) => commandsList(ctx, options)));
  commands.command('get').description('a device command by its id, or the remembered result of an envelope by its body hash').argument('<id-or-body-hash>')
    .action(run((ctx, id: string) => commandsGet(ctx, id)));
}
