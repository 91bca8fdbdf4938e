// main.ts — the device simulators as one program (run with tsx, or node on the compiled js) and as a
// module. Kinds: temperature and plug (MQTT), hue-bridge and http-sensor (HTTP). Every simulator journals
// the commands it receives (--journal, reloaded at start) and answers on a control socket (--control).
// It prints one JSON line {"ready": true, ...} on stdout once it serves. Run it inside a network namespace
// (`ip netns exec NS node … main.js …`); it reaches the broker, or is reached, by IP.
//
//   main --kind temperature --id temp-1 --broker 10.98.0.1:1883 --password P --journal J --control S
//   main --kind plug --fleet 1000 --prefix dev- --rate 1 --broker … --password P   (a fleet in one process)
//   main --kind hue-bridge --listen 10.98.0.2:8080 --user U --lamps 3 --journal J --control S
//   main --kind http-sensor --id sensor-1 --listen 10.98.0.2:8081 --token T --journal J --control S
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { serveControl, type ControlTarget } from './control.js';
import { HttpSensor, HueBridge } from './http-devices.js';
import { CommandJournal } from './journal.js';
import { MqttFleet, type MqttKind } from './mqtt-devices.js';

/** SimKind is a simulator kind. */
export type SimKind = 'temperature' | 'plug' | 'hue-bridge' | 'http-sensor';

/** SimOptions are a simulator's settings (the command line's, parsed). */
export interface SimOptions {
  kind: SimKind;
  id?: string;
  broker?: string;
  password?: string;
  /** passwordsFile is a JSON map from device id to password (fleets). */
  passwordsFile?: string;
  listen?: string;
  user?: string;
  token?: string;
  lamps?: number;
  journal?: string;
  control?: string;
  samplingMs?: number;
  fleet?: number;
  prefix?: string;
  /** rate is readings per second per device until the retained config says otherwise. */
  rate?: number;
}

/** RunningSim is a started simulator. */
export interface RunningSim {
  target: ControlTarget;
  close(): Promise<void>;
}

const KINDS: readonly SimKind[] = ['temperature', 'plug', 'hue-bridge', 'http-sensor'];
const MAX_FLEET = 20_000;

/** startSimulator starts a simulator in this process. */
export async function startSimulator(options: SimOptions): Promise<RunningSim> {
  if (!KINDS.includes(options.kind)) throw new Error(`--kind: expected one of ${KINDS.join(', ')}, got ${JSON.stringify(options.kind)}`);
  const journal = new CommandJournal(options.journal ?? null);
  let target: ControlTarget & { close(): Promise<void> };
  if (options.kind === 'temperature' || options.kind === 'plug') {
    target = startMqtt(options.kind, options, journal);
  } else {
    const [host, port] = hostPort(options.listen, '--listen');
    const device = options.kind === 'hue-bridge'
      ? new HueBridge(required(options.user, '--user'), options.lamps ?? 3, journal, options.id ?? 'hue-bridge')
      : new HttpSensor(options.id ?? 'http-sensor', options.token ?? '', journal);
    await device.listen(host, port);
    target = device;
  }
  const control: Server | null = options.control === undefined ? null : await serveControl(options.control, target);
  return {
    target,
    close: async () => {
      control?.closeAllConnections();
      control?.close();
      await target.close();
    },
  };
}

function startMqtt(kind: MqttKind, options: SimOptions, journal: CommandJournal): MqttFleet {
  const [host, port] = hostPort(options.broker, '--broker');
  const count = options.fleet ?? 1;
  if (!Number.isInteger(count) || count < 1 || count > MAX_FLEET) throw new Error(`--fleet: expected 1..${MAX_FLEET}, got ${count}`);
  const ids = options.fleet === undefined ? [required(options.id, '--id')] : Array.from({ length: count }, (_, index) => `${options.prefix ?? 'dev-'}${index}`);
  const passwords = options.passwordsFile === undefined ? null : JSON.parse(readFileSync(options.passwordsFile, 'utf8')) as Record<string, string>;
  const samplingMs = options.samplingMs ?? Math.round(1000 / (options.rate ?? 1));
  const fleet = new MqttFleet(ids.map((id) => ({
    id, kind, host, port, samplingMs, journal, password: passwords?.[id] ?? required(options.password, '--password or --passwords-file'),
  })));
  fleet.start();
  return fleet;
}

function hostPort(value: string | undefined, flag: string): [string, number] {
  const match = /^(.+):(\d{1,5})$/.exec(value ?? '');
  if (match === null) throw new Error(`${flag}: expected HOST:PORT, got ${JSON.stringify(value)}`);
  return [match[1] ?? '', Number(match[2])];
}

function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new Error(`${flag} is required for this kind`);
  return value;
}

/** parseSimArgs reads a simulator's command line. */
export function parseSimArgs(argv: readonly string[]): SimOptions {
  const { values } = parseArgs({
    args: [...argv], strict: true, options: {
      kind: { type: 'string' }, id: { type: 'string' }, broker: { type: 'string' }, password: { type: 'string' },
      'passwords-file': { type: 'string' }, listen: { type: 'string' }, user: { type: 'string' }, token: { type: 'string' },
      lamps: { type: 'string' }, journal: { type: 'string' }, control: { type: 'string' }, 'sampling-ms': { type: 'string' },
      fleet: { type: 'string' }, prefix: { type: 'string' }, rate: { type: 'string' },
    },
  });
  const number = (flag: string, value: string | undefined): number | undefined => {
    if (value === undefined) return undefined;
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed <= 0) throw new Error(`--${flag}: expected a positive number, got ${JSON.stringify(value)}`);
    return parsed;
  };
  return {
    kind: values.kind as SimKind, id: values.id, broker: values.broker, password: values.password, passwordsFile: values['passwords-file'],
    listen: values.listen, user: values.user, token: values.token, lamps: number('lamps', values.lamps), journal: values.journal,
    control: values.control, samplingMs: number('sampling-ms', values['sampling-ms']), fleet: number('fleet', values.fleet),
    prefix: values.prefix, rate: number('rate', values.rate),
  };
}

/** simulatorCommand is the argv that runs this program (tsx for the .ts source, node for the compiled js). */
export function simulatorCommand(): string[] {
  const self = fileURLToPath(import.meta.url);
  return self.endsWith('.ts') ? [process.execPath, '--import', import.meta.resolve('tsx'), self] : [process.execPath, self];
}

async function main(): Promise<void> {
  const options = parseSimArgs(process.argv.slice(2));
  const sim = await startSimulator(options);
  const shutdown = (): void => {
    void sim.close().finally(() => process.exit(0));
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  process.stdout.write(`${JSON.stringify({ ready: true, kind: options.kind, pid: process.pid })}\n`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error: Error) => {
    process.stderr.write(`simulator: ${error.message}\n`);
    process.exit(2);
  });
}
