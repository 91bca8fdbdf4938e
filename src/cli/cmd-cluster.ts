// cmd-cluster.ts — the commands that sign and submit changes (apply, devices, state, domains, admins,
// images, members, leader) and the reads that go with them.
import { Option, type Command } from 'commander';
import { DEVICE_PROTOCOLS, IDENTIFIER, IMAGE_DIGEST, keyIdHex, MAX_INTERFACE_OPTIONS, NODE_ADDRESS, type DeviceInterface, type DeviceSpec, type Payload } from '../commands/index.js';
import { isDeviceProtocol, parseBundle, parseDeviceFile, readInputFile, sortedOptions } from './bundle.js';
import type { WaitMode } from './client.js';
import type { Context, SubmitOutcome } from './context.js';
import { CliError } from './errors.js';
import { readPublicKey } from './keys.js';
import type { Action } from './options.js';
import { cell, renderTable, shortHash } from './output.js';
import { planBundle, type DomainView, type PlanItem } from './plan.js';

/** isObject says whether an answer's value is a JSON object. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** list reads an answer's array field, keeping only its objects. */
export function list(answer: Record<string, unknown>, field: string): Record<string, unknown>[] {
  const value = answer[field];
  return Array.isArray(value) ? value.filter(isObject) : [];
}

/** identifier checks a name given on the command line (USAGE error naming `what` otherwise). */
export function identifier(value: string, what: string): string {
  if (!IDENTIFIER.test(value)) throw new CliError('USAGE', `${what}: expected a name of 1-64 characters [A-Za-z0-9._:-], found "${value}"`);
  return value;
}

/** describeEffect renders one effect of an applied command in a few words. */
export function describeEffect(effect: unknown): string {
  if (!isObject(effect)) return cell(effect);
  switch (effect['kind']) {
    case 'deviceState': return `device ${cell(effect['deviceId'])}: ${cell(effect['from'])} -> ${cell(effect['to'])} (${cell(effect['rule'])})`;
    case 'changed': return `changed ${cell(effect['what'])} ${cell(effect['id'])}`;
    case 'membership': return `membership ${cell(effect['action'])} ${cell(effect['nodeId'])}`;
    case 'transferLeader': return `leadership to ${cell(effect['nodeId'])}`;
    case 'deviceCommand': return `device command ${cell(effect['id'])} ${cell(effect['command'])} for ${cell(effect['deviceId'])} on ${cell(effect['nodeId'])}`;
    case 'deviceCommandOutcome': return `device command ${cell(effect['id'])} ${cell(effect['command'])} for ${cell(effect['deviceId'])}: ${cell(effect['status'])}`
      + `${effect['status'] === 'done' ? '' : ` after ${cell(effect['attempts'])} attempt(s)${effect['reason'] ? `: ${cell(effect['reason'])}` : ''}`}`;
    case 'alert': return `alert ${cell(effect['alertType'])} from ${cell(effect['deviceId'])}`;
    case 'discovery': return `discovered on ${cell(effect['nodeId'])}: port ${cell(effect['port'])} mac ${cell(effect['mac'])}${effect['domain'] ? ` (domain ${cell(effect['domain'])})` : ''}`;
    default: return JSON.stringify(effect);
  }
}

/**
 * report prints a submission's outcome and throws CliError REJECTED (exit 1) when the state machine
 * refused the command. With --output json the answer is printed in both cases.
 */
export function report(ctx: Context, what: string, outcome: SubmitOutcome): void {
  const { result } = outcome;
  const again = outcome.duplicate ? ' (already applied earlier: this is the original result)' : '';
  if (ctx.json) ctx.print(outcome, '');
  if (!result.ok) {
    throw new CliError('REJECTED', `${what}: rejected by the cluster at index ${outcome.index}: ${result.code}: ${result.reason}${again}`, { index: outcome.index, code: result.code });
  }
  if (!ctx.json) {
    const effects = result.effects.map((e) => `  ${describeEffect(e)}`);
    ctx.print(null, [`${what}: applied at index ${outcome.index} (term ${outcome.term})${again}`, ...effects].join('\n'));
  }
}

/** waitOption is the --wait option of every command that submits. */
export function waitOption(): Option {
  return new Option('--wait <mode>', 'answer once committed and applied, or once every serving node enforces it').choices(['committed', 'enforced']).default('committed');
}

/** submitAndReport signs and submits one payload and reports its outcome (report). */
export async function submitAndReport(ctx: Context, what: string, domain: string, payload: Payload, wait: WaitMode): Promise<void> {
  report(ctx, what, await ctx.submit(domain, payload, wait));
}

/** readDomainView reads what the cluster has of a domain, for planning `apply`. */
export async function readDomainView(ctx: Context, domain: string): Promise<DomainView> {
  const client = ctx.client();
  const domains = list(await client.get(ctx.readPath('/v1/domains')), 'domains');
  const record = domains.find((d) => d['name'] === domain);
  const adminKeyIds = new Set<string>();
  const images = new Map<string, string>();
  let policy: DomainView['policy'];
  if (record !== undefined) {
    for (const admin of Array.isArray(record['adminKeys']) ? record['adminKeys'] : []) {
      if (isObject(admin) && typeof admin['keyId'] === 'string') adminKeyIds.add(admin['keyId']);
    }
    for (const image of list(await client.get(ctx.readPath(`/v1/images?domain=${encodeURIComponent(domain)}`)), 'images')) {
      if (typeof image['name'] === 'string' && typeof image['digest'] === 'string' && (image['domain'] === undefined || image['domain'] === domain)) {
        images.set(image['name'], image['digest']);
      }
    }
    try {
      const answer = await client.get(ctx.readPath(`/v1/policies/${encodeURIComponent(domain)}`));
      const document = answer['policy'];
      if (isObject(document) && typeof document['version'] === 'number') policy = { version: document['version'], document };
    } catch (error) {
      if (!(error instanceof CliError && error.code === 'NOT_FOUND')) throw error;
    }
  }
  const trust = await ctx.trust();
  for (const [keyId, ofDomains] of trust?.adminDomains ?? []) if (ofDomains.has(domain)) adminKeyIds.add(keyId);
  const devices = new Map<string, DeviceSpec & { domain?: string }>();
  for (const d of list(await client.get(ctx.readPath('/v1/devices')), 'devices')) {
    if (typeof d['id'] !== 'string') continue;
    devices.set(d['id'], {
      id: d['id'], type: String(d['type'] ?? ''), group: String(d['group'] ?? ''), nodeId: String(d['nodeId'] ?? ''), port: String(d['port'] ?? ''),
      tags: Array.isArray(d['tags']) ? d['tags'].map(String) : [], addresses: Array.isArray(d['addresses']) ? d['addresses'].map(String) : [],
      ...(typeof d['domain'] === 'string' ? { domain: d['domain'] } : {}),
      ...(isObject(d['interface']) ? { interface: d['interface'] as unknown as DeviceInterface } : {}),
    });
  }
  return { exists: record !== undefined, adminKeyIds, images, policy, devices };
}

async function apply(ctx: Context, options: { file: string; wait: WaitMode; dryRun: boolean }): Promise<void> {
  const bundle = parseBundle(readInputFile(options.file), options.file);
  const plan = planBundle(bundle, await readDomainView(ctx, bundle.domain));
  const rows: { item: PlanItem; outcome?: SubmitOutcome }[] = plan.map((item) => ({ item }));
  if (!options.dryRun) {
    for (const row of rows) {
      if (row.item.payload === undefined) continue;
      try {
        row.outcome = await ctx.submit(row.item.domain, row.item.payload, options.wait);
      } catch (error) {
        if (error instanceof CliError && !ctx.json) ctx.io.stdout(renderPlan(rows));
        throw error;
      }
      if (!row.outcome.result.ok) {
        if (ctx.json) ctx.print({ domain: bundle.domain, items: rows.map(planJson) }, '');
        else ctx.io.stdout(renderPlan(rows));
        const r = row.outcome.result;
        throw new CliError('REJECTED', `${row.item.what}: rejected by the cluster at index ${row.outcome.index}: ${r.code}: ${r.reason}; the items after it were not sent`);
      }
    }
  }
  const changed = plan.filter((item) => item.payload !== undefined).length;
  ctx.print(
    { domain: bundle.domain, dryRun: options.dryRun, items: rows.map(planJson) },
    `${renderPlan(rows)}${options.dryRun ? `dry run: ${changed} command(s) would be sent` : `${changed} command(s) applied, ${plan.length - changed} unchanged`}\n`,
  );
}

function planJson(row: { item: PlanItem; outcome?: SubmitOutcome }): Record<string, unknown> {
  return { what: row.item.what, action: row.item.action, kind: row.item.payload?.kind ?? null, outcome: row.outcome ?? null };
}

function renderPlan(rows: readonly { item: PlanItem; outcome?: SubmitOutcome }[]): string {
  return renderTable(['ITEM', 'ACTION', 'INDEX', 'RESULT'], rows.map(({ item, outcome }) => [
    item.what, item.action, outcome === undefined ? '-' : String(outcome.index),
    outcome === undefined ? (item.payload === undefined ? '-' : 'not sent') : outcome.result.ok ? (outcome.duplicate ? 'ok (duplicate)' : 'ok') : `rejected: ${outcome.result.code}`,
  ]));
}

/** deviceDomain is --domain, or the domain the cluster records for the device. */
async function deviceDomain(ctx: Context, id: string, domain: string | undefined): Promise<string> {
  if (domain !== undefined) return identifier(domain, '--domain');
  const answer = await ctx.client().get(ctx.readPath(`/v1/devices/${encodeURIComponent(id)}`));
  const device = answer['device'];
  if (!isObject(device) || typeof device['domain'] !== 'string') throw new CliError('UNAVAILABLE', `GET /v1/devices/${id}: expected device.domain in the answer`);
  return device['domain'];
}

async function devicesList(ctx: Context, options: { domain?: string; node?: string }): Promise<void> {
  const query = new URLSearchParams();
  if (options.domain !== undefined) query.set('domain', options.domain);
  if (options.node !== undefined) query.set('node', options.node);
  const answer = await ctx.client().get(ctx.readPath(`/v1/devices${query.size > 0 ? `?${query.toString()}` : ''}`));
  const devices = list(answer, 'devices');
  ctx.print(answer, renderTable(['ID', 'DOMAIN', 'TYPE', 'GROUP', 'NODE', 'PORT', 'STATE', 'SINCE', 'ADDRESSES'], devices.map((d) => [
    cell(d['id']), cell(d['domain']), cell(d['type']), cell(d['group']), cell(d['nodeId']), cell(d['port']), cell(d['state']),
    typeof d['sinceMs'] === 'number' ? new Date(d['sinceMs']).toISOString() : '-', cell(d['addresses']),
  ])));
}

async function devicesGet(ctx: Context, id: string): Promise<void> {
  const answer = await ctx.client().get(ctx.readPath(`/v1/devices/${encodeURIComponent(id)}`));
  const device = isObject(answer['device']) ? answer['device'] : {};
  const lines = [
    ...['id', 'domain', 'type', 'group', 'tags', 'nodeId', 'port', 'addresses'].map((k) => `${`${k}:`.padEnd(11)}${cell(device[k])}`),
    `${'interface:'.padEnd(11)}${interfaceText(device['interface'])}`,
    `${'state:'.padEnd(11)}${cell(answer['state'])}${typeof answer['sinceMs'] === 'number' ? ` since ${new Date(answer['sinceMs']).toISOString()}` : ''}`,
    `${'plan:'.padEnd(11)}${cell(answer['plan'])}`,
    `${'index:'.padEnd(11)}${cell(answer['index'])}`,
  ];
  ctx.print(answer, `${lines.join('\n')}\n`);
}

/** interfaceText renders a device's interface in one line: protocol, endpoint, credential reference, options. */
export function interfaceText(face: unknown): string {
  if (!isObject(face)) return '-';
  const options = isObject(face['options']) ? Object.entries(face['options']).map(([k, v]) => `${k}=${cell(v)}`) : [];
  return [cell(face['protocol']), face['endpoint'] === '' ? '' : cell(face['endpoint']), face['credentialRef'] === '' ? '' : `credential ${cell(face['credentialRef'])}`,
    options.length === 0 ? '' : `options ${options.join(',')}`].filter((part) => part !== '').join(' ');
}

/** RegisterOptions are the options of `devices register`. */
export interface RegisterOptions {
  file?: string; domain?: string; type?: string; node?: string; port?: string; group?: string; tag: string[]; address: string[]; wait: WaitMode;
  /** id is --id (the positional ID may be given instead). */
  id?: string;
  /** fromDiscovered is the port or MAC of a discovered device to adopt (cmd-devices.ts). */
  fromDiscovered?: string;
  interfaceProtocol?: string; interfaceEndpoint?: string; credentialRef?: string; interfaceOption: string[];
}

/**
 * interfaceFromFlags builds a device interface from --interface-protocol, --interface-endpoint,
 * --credential-ref and --interface-option KEY=VALUE (undefined when none is given). What the values
 * must be (an endpoint on one of the device's addresses, no secret in an option) is checked when the
 * registration is signed, with the field's path in the message.
 */
export function interfaceFromFlags(options: RegisterOptions): DeviceInterface | undefined {
  const given = options.interfaceProtocol !== undefined || options.interfaceEndpoint !== undefined || options.credentialRef !== undefined || options.interfaceOption.length > 0;
  if (!given) return undefined;
  if (options.interfaceProtocol === undefined) throw new CliError('USAGE', 'devices register: --interface-endpoint, --credential-ref and --interface-option need --interface-protocol');
  if (!isDeviceProtocol(options.interfaceProtocol)) throw new CliError('USAGE', `--interface-protocol: expected one of ${DEVICE_PROTOCOLS.join(', ')}, found "${options.interfaceProtocol}"`);
  if (options.interfaceOption.length > MAX_INTERFACE_OPTIONS) throw new CliError('USAGE', `--interface-option: expected at most ${MAX_INTERFACE_OPTIONS}, found ${options.interfaceOption.length}`);
  const entries = new Map<string, string>();
  for (const text of options.interfaceOption) {
    const at = text.indexOf('=');
    if (at <= 0) throw new CliError('USAGE', `--interface-option: expected KEY=VALUE (e.g. sensor.temperature=/sensors/temperature), found "${text}"`);
    const key = text.slice(0, at);
    if (entries.has(key)) throw new CliError('USAGE', `--interface-option: expected each key once, found "${key}" twice`);
    entries.set(key, text.slice(at + 1));
  }
  return {
    protocol: options.interfaceProtocol, endpoint: options.interfaceEndpoint ?? '', credentialRef: options.credentialRef ?? '',
    options: sortedOptions(Object.fromEntries(entries)),
  };
}

/** deviceFromFlags builds a device from `devices register` flags (file or flags, not both). */
export function deviceFromFlags(id: string | undefined, options: RegisterOptions): { device: DeviceSpec; domain: string } {
  if (options.file !== undefined) {
    if (id !== undefined || options.type !== undefined || options.node !== undefined || options.port !== undefined || interfaceFromFlags(options) !== undefined) {
      throw new CliError('USAGE', 'devices register: give either -f FILE or the device as ID --type --node --port, not both');
    }
    const parsed = parseDeviceFile(readInputFile(options.file), options.file);
    const domain = options.domain ?? parsed.domain;
    if (domain === '') throw new CliError('USAGE', `devices register: ${options.file} names no domain; give --domain`);
    if (parsed.domain !== '' && options.domain !== undefined && parsed.domain !== options.domain) {
      throw new CliError('USAGE', `devices register: --domain ${options.domain} differs from the domain "${parsed.domain}" in ${options.file}`);
    }
    return { device: parsed.device, domain: identifier(domain, '--domain') };
  }
  const missing = [id === undefined ? 'ID' : '', options.type === undefined ? '--type' : '', options.node === undefined ? '--node' : '',
    options.port === undefined ? '--port' : '', options.domain === undefined ? '--domain' : ''].filter((m) => m !== '');
  if (missing.length > 0) throw new CliError('USAGE', `devices register: expected -f FILE, --from-discovered PORT_OR_MAC, or ${missing.join(', ')}`);
  const face = interfaceFromFlags(options);
  const device: DeviceSpec = {
    id: identifier(id as string, 'ID'), type: identifier(options.type as string, '--type'), group: identifier(options.group ?? 'default', '--group'),
    tags: options.tag.map((t) => identifier(t, '--tag')), nodeId: identifier(options.node as string, '--node'), port: identifier(options.port as string, '--port'),
    addresses: options.address.map((a) => identifier(a, '--address')),
    ...(face === undefined ? {} : { interface: face }),
  };
  return { device, domain: identifier(options.domain as string, '--domain') };
}

async function membersAdd(ctx: Context, nodeId: string, options: { address: string; nodeKey: string; wait: WaitMode }): Promise<void> {
  if (!NODE_ADDRESS.test(options.address)) throw new CliError('USAGE', `--address: expected HOST:PORT, found "${options.address}"`);
  const nodeKey = readPublicKey(options.nodeKey, 'node key file');
  await submitAndReport(ctx, `add learner ${nodeId} (key ${keyIdHex(nodeKey)})`, '', { kind: 'membership', action: 'addLearner', nodeId: identifier(nodeId, 'NODE'), nodeKey, address: options.address }, options.wait);
}

/** registerCluster adds the commands that sign and submit changes, and their reads. */
export function registerCluster(program: Command, run: Action): void {
  registerDevices(program, run);
  registerDomains(program, run);
  registerMembership(program, run);
}

/** registerDevices adds apply, devices (list, get, remove; cmd-devices.ts adds the rest) and state set. */
function registerDevices(program: Command, run: Action): void {
  program.command('apply').description('sign and submit a bundle or policy file: domain, admin keys, images, policy, devices (unchanged items are skipped)')
    .requiredOption('-f, --file <file>', 'a bundle or a policy document (YAML or JSON)')
    .addOption(waitOption())
    .option('--dry-run', 'print what would be sent, send nothing', false)
    .action(run((ctx, options: { file: string; wait: WaitMode; dryRun: boolean }) => apply(ctx, options)));

  const devices = program.command('devices').description('list, show, register and remove devices');
  devices.command('list').description('list devices with their security state').option('--domain <name>').option('--node <id>', 'only devices served by this node')
    .action(run((ctx, options: { domain?: string; node?: string }) => devicesList(ctx, options)));
  devices.command('get').description('show one device, its state and its plan').argument('<id>')
    .action(run((ctx, id: string) => devicesGet(ctx, id)));
  devices.command('remove').description('remove a device (admin-signed)').argument('<id>').option('--domain <name>', 'its domain (default: looked up)').addOption(waitOption())
    .action(run(async (ctx, id: string, options: { domain?: string; wait: WaitMode }) => {
      await submitAndReport(ctx, `remove device ${id}`, await deviceDomain(ctx, id, options.domain), { kind: 'removeDevice', id: identifier(id, 'ID') }, options.wait);
    }));

  program.command('state').description('manual security-state changes').command('set').description('set a device\'s security state, with a reason (admin-signed)')
    .argument('<device>').argument('<state>').requiredOption('--reason <text>', 'why (recorded with the change)').option('--domain <name>', 'the device\'s domain (default: looked up)')
    .addOption(waitOption())
    .action(run(async (ctx, deviceId: string, state: string, options: { reason: string; domain?: string; wait: WaitMode }) => {
      if (options.reason.trim() === '') throw new CliError('USAGE', '--reason: expected a non-empty reason');
      const payload: Payload = { kind: 'setDeviceState', deviceId: identifier(deviceId, 'DEVICE'), state: identifier(state, 'STATE'), reason: options.reason };
      await submitAndReport(ctx, `state of ${deviceId} -> ${state}`, await deviceDomain(ctx, deviceId, options.domain), payload, options.wait);
    }));

}

/**
 * registerDomainKeys adds `admins add|revoke` (root-signed) or `viewers add|revoke` (root- or
 * admin-signed: a viewer key may only read the domain, with read tokens).
 */
function registerDomainKeys(program: Command, run: Action, role: 'admin' | 'viewer'): void {
  const signedBy = role === 'admin' ? 'root-signed' : 'signed by an admin of the domain, or root';
  const group = program.command(`${role}s`).description(role === 'admin' ? 'admin keys of a domain' : 'viewer keys of a domain: read-only access with tokens');
  group.command('add').alias('grant').description(`make a key ${role === 'admin' ? 'an admin' : 'a viewer'} of a domain (${signedBy})`)
    .argument('<domain>').argument('<public-key-file>', '.pub or key file')
    .requiredOption('--name <name>', 'who holds the key').addOption(waitOption())
    .action(run(async (ctx, domain: string, file: string, options: { name: string; wait: WaitMode }) => {
      const publicKey = readPublicKey(file);
      const payload: Payload = role === 'admin' ? { kind: 'addAdminKey', publicKey, name: options.name } : { kind: 'addViewerKey', publicKey, name: options.name };
      await submitAndReport(ctx, `${role} ${options.name} (${keyIdHex(publicKey)}) of ${domain}`, identifier(domain, 'DOMAIN'), payload, options.wait);
    }));
  group.command('revoke').description(`revoke ${role === 'admin' ? 'an admin' : 'a viewer'} key of a domain (${signedBy})`).argument('<domain>').argument('<key-id>').addOption(waitOption())
    .action(run(async (ctx, domain: string, keyIdText: string, options: { wait: WaitMode }) => {
      if (!/^[0-9a-f]{32}$/.test(keyIdText)) throw new CliError('USAGE', `KEY-ID: expected 32 lowercase hex digits, found "${keyIdText}"`);
      const keyId = new Uint8Array(Buffer.from(keyIdText, 'hex'));
      await submitAndReport(ctx, `revoke ${keyIdText} in ${domain}`, identifier(domain, 'DOMAIN'), role === 'admin' ? { kind: 'revokeAdminKey', keyId } : { kind: 'revokeViewerKey', keyId }, options.wait);
    }));
}

/** registerDomains adds domains, admins and images (root- and admin-signed changes and their reads). */
function registerDomains(program: Command, run: Action): void {
  const domains = program.command('domains').description('security domains');
  domains.command('list').action(run(async (ctx) => {
    const answer = await ctx.client().get(ctx.readPath('/v1/domains'));
    ctx.print(answer, renderTable(['NAME', 'POLICY', 'DEVICES', 'ADMINS', 'IMAGES', 'DESCRIPTION'], list(answer, 'domains').map((d) => [
      cell(d['name']), cell(d['policyVersion']), cell(d['deviceCount']), String(Array.isArray(d['adminKeys']) ? d['adminKeys'].length : '-'),
      String(Array.isArray(d['images']) ? d['images'].length : '-'), cell(d['description']),
    ])));
  }));
  domains.command('create').description('create a domain (root-signed)').argument('<name>').option('--description <text>', '', '').addOption(waitOption())
    .action(run((ctx, name: string, options: { description: string; wait: WaitMode }) =>
      submitAndReport(ctx, `domain ${name}`, identifier(name, 'NAME'), { kind: 'createDomain', description: options.description }, options.wait)));
  domains.command('remove').description('remove an empty domain (root-signed)').argument('<name>').addOption(waitOption())
    .action(run((ctx, name: string, options: { wait: WaitMode }) => submitAndReport(ctx, `remove domain ${name}`, identifier(name, 'NAME'), { kind: 'removeDomain' }, options.wait)));

  registerDomainKeys(program, run, 'admin');
  registerDomainKeys(program, run, 'viewer');

  const images = program.command('images').description('μmbox image pins of a domain');
  images.command('list').option('--domain <name>').action(run(async (ctx, options: { domain?: string }) => {
    const answer = await ctx.client().get(ctx.readPath(`/v1/images${options.domain === undefined ? '' : `?domain=${encodeURIComponent(options.domain)}`}`));
    ctx.print(answer, renderTable(['DOMAIN', 'NAME', 'DIGEST'], list(answer, 'images').map((m) => [cell(m['domain']), cell(m['name']), cell(m['digest'])])));
  }));
  images.command('put').description('pin an image by digest (admin-signed)').argument('<name>').argument('<digest>', 'sha256:<64 hex>')
    .requiredOption('--domain <name>').addOption(waitOption())
    .action(run(async (ctx, name: string, digest: string, options: { domain: string; wait: WaitMode }) => {
      if (!IMAGE_DIGEST.test(digest)) throw new CliError('USAGE', `DIGEST: expected sha256: and 64 lowercase hex digits, found "${digest}"`);
      await submitAndReport(ctx, `image ${name}`, identifier(options.domain, '--domain'), { kind: 'putImage', name: identifier(name, 'NAME'), digest }, options.wait);
    }));
  images.command('remove').description('unpin an image (admin-signed)').argument('<name>').requiredOption('--domain <name>').addOption(waitOption())
    .action(run((ctx, name: string, options: { domain: string; wait: WaitMode }) =>
      submitAndReport(ctx, `remove image ${name}`, identifier(options.domain, '--domain'), { kind: 'removeImage', name: identifier(name, 'NAME') }, options.wait)));

}

/** registerMembership adds members, leader transfer and rejections. */
function registerMembership(program: Command, run: Action): void {
  const members = program.command('members').description('cluster membership (changes are root-signed)');
  members.command('list').description('the member nodes the agreed state records').action(run(async (ctx) => {
    const answer = await ctx.client().get(ctx.readPath('/v1/keys'));
    ctx.print(answer['members'] ?? [], renderTable(['NODE', 'ROLE', 'ADDRESS', 'KEY'], list(answer, 'members').map((m) => [
      cell(m['nodeId']), cell(m['role']), cell(m['address']), typeof m['nodeKey'] === 'string' && /^[0-9a-f]{64}$/.test(m['nodeKey']) ? keyIdHex(Buffer.from(m['nodeKey'], 'hex')) : '-',
    ])));
  }));
  members.command('add').description('add a node as a learner; the leader promotes it once caught up').argument('<node>')
    .requiredOption('--address <host:port>', 'its Raft address').requiredOption('--node-key <file>', 'its public key (.pub or key file)').addOption(waitOption())
    .action(run((ctx, nodeId: string, options: { address: string; nodeKey: string; wait: WaitMode }) => membersAdd(ctx, nodeId, options)));
  for (const [action, verb] of [['promote', 'promote a caught-up learner to voter'], ['remove', 'remove a node from the cluster']] as const) {
    members.command(action).description(verb).argument('<node>').addOption(waitOption())
      .action(run((ctx, nodeId: string, options: { wait: WaitMode }) =>
        submitAndReport(ctx, `${action} ${nodeId}`, '', { kind: 'membership', action, nodeId: identifier(nodeId, 'NODE') }, options.wait)));
  }

  program.command('leader').description('leadership').command('transfer').description('hand leadership to a node (root-signed)').argument('<node>').addOption(waitOption())
    .action(run((ctx, nodeId: string, options: { wait: WaitMode }) =>
      submitAndReport(ctx, `transfer leadership to ${nodeId}`, '', { kind: 'transferLeader', nodeId: identifier(nodeId, 'NODE') }, options.wait)));

  program.command('rejections').description('why recent commands were rejected: counts per code and the latest ones').action(run(async (ctx) => {
    const answer = await ctx.client().get(ctx.readPath('/v1/rejections'));
    const counts = isObject(answer['counts']) ? Object.entries(answer['counts']) : [];
    ctx.print(answer, `${renderTable(['CODE', 'COUNT'], counts.map(([code, n]) => [code, cell(n)]))}\n${renderTable(['INDEX', 'CODE', 'SIGNER', 'REASON'],
      list(answer, 'recent').map((r) => [cell(r['index']), cell(r['code']), cell(r['signer']), cell(r['reason'])]))}`);
  }));
}

/** enforcementSummary renders GET /v1/status `enforced` (a list of devices, or a map of generations). */
export function enforcementSummary(enforced: unknown, enforcedIndex: unknown): string {
  const at = typeof enforcedIndex === 'number' ? ` @${enforcedIndex}` : '';
  if (Array.isArray(enforced)) {
    const devices = enforced.filter(isObject);
    const done = devices.filter((d) => d['appliedGeneration'] !== null && d['appliedGeneration'] === d['desiredGeneration']).length;
    return `${done}/${devices.length} devices${at}`;
  }
  if (isObject(enforced)) {
    const generations = Object.values(enforced).filter((g): g is number => typeof g === 'number');
    return generations.length === 0 ? `0 devices${at}` : `${generations.length} devices, gen ${Math.min(...generations)}..${Math.max(...generations)}${at}`;
  }
  return at === '' ? '-' : at.slice(1);
}

/** statusRow renders one node's GET /v1/status answer for the status table. */
export function statusRow(endpoint: string, status: Record<string, unknown>): string[] {
  return [endpoint, cell(status['id']), cell(status['role']), cell(status['leader']), cell(status['term']), cell(status['commit']),
    cell(status['applied']), shortHash(status['stateHash']), enforcementSummary(status['enforced'], status['enforcedIndex']), ''];
}
