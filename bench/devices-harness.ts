// devices-harness.ts — what bench:devices' load generator and one gateway's broker cost alone, without any
// node: one Mosquitto configured as a gateway's (src/devices/broker.ts: passwords, ACL, limits), one fleet
// simulator process of N MQTT temperature sensors publishing one reading per second each (the bench's fleet,
// src/devices/sim), and one plain subscriber standing in for the gateway's intake (mqtt.js, qg/+/readings,
// counting only). Over a window it reads each process's utime+stime (/proc/<pid>/stat) and the machine's
// (/proc/stat), so the share of two cores that the harness itself takes at 10,000 readings/s can be set beside
// the nodes' (bench:devices runs three of each, one per gateway).
//
// Usage: npx tsx bench/devices-harness.ts [--devices 3334] [--seconds 20]   (root; mosquitto installed)
// Prints one JSON object; records nothing by itself (BENCHMARKS.md quotes it).
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'mqtt';
import { spawnReady, stopProcess } from '../cluster/devlab.js';
import { MosquittoBroker, controlRequest, simulatorCommand } from '../src/devices/index.js';
import { waitUntilAsync } from '../cluster/local-cluster.js';

const CLK_TCK = 100;
const HOST = '127.0.0.1';
const PORT = 18_831;

function ticksOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function machine(): { busy: number; idle: number } {
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { busy: user + nice + system + irq + softirq + steal, idle: idle + iowait };
}

function flag(name: string, fallback: number): number {
  const index = process.argv.indexOf(name);
  if (index < 0) return fallback;
  const value = Number(process.argv[index + 1]);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name}: expected a positive integer, got ${JSON.stringify(process.argv[index + 1])}`);
  return value;
}

async function main(): Promise<void> {
  const devices = flag('--devices', 3_334);
  const seconds = flag('--seconds', 20);
  const dir = mkdtempSync(join(tmpdir(), 'qg-devices-harness-'));
  chmodSync(dir, 0o755); // the broker drops to its own user, which must traverse the directory
  const broker = new MosquittoBroker();
  let fleetPid: number | undefined;
  const subscriber = { client: null as ReturnType<typeof connect> | null, received: 0 };
  try {
    await broker.ensure({ dir: join(dir, 'broker'), host: HOST, port: PORT });
    const passwords: Record<string, string> = {};
    for (let index = 0; index < devices; index++) passwords[`h-${index}`] = randomBytes(12).toString('hex');
    await broker.setDevices(Object.entries(passwords).map(([deviceId, password]) => ({ deviceId, password })));
    writeFileSync(join(dir, 'passwords.json'), JSON.stringify(passwords), { mode: 0o600 });
    const brokerPid = Number(readFileSync(join(dir, 'broker', 'mosquitto.pid'), 'utf8').trim());
    const credentials = broker.gatewayCredentials();
    const client = connect({ host: HOST, port: PORT, username: credentials.username, password: credentials.password, protocolVersion: 4, clean: true });
    subscriber.client = client;
    client.on('message', () => {
      subscriber.received++;
    });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => client.subscribe('qg/+/readings', { qos: 0 }, (error) => (error ? reject(error) : resolve())));
      client.once('error', reject);
    });
    const control = join(dir, 'fleet.sock');
    const argv = [...simulatorCommand(), '--kind', 'temperature', '--fleet', String(devices), '--prefix', 'h-', '--rate', '1', '--broker', `${HOST}:${PORT}`,
      '--passwords-file', join(dir, 'passwords.json'), '--control', control];
    fleetPid = await spawnReady(argv[0]!, argv.slice(1), 'fleet simulator', join(dir, 'fleet.log'), 60_000);
    await waitUntilAsync(async () => ((await controlRequest(control, 'GET', '/state')) as { connected?: number }).connected === devices, 120_000, 'the fleet to connect');
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const before = { broker: ticksOf(brokerPid), fleet: ticksOf(fleetPid), self: ticksOf(process.pid), machine: machine(), received: subscriber.received, at: Date.now() };
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    const after = { broker: ticksOf(brokerPid), fleet: ticksOf(fleetPid), self: ticksOf(process.pid), machine: machine(), received: subscriber.received, at: Date.now() };
    const windowS = (after.at - before.at) / 1000;
    const perS = (ticks: number): number => Math.round((ticks * 1000) / CLK_TCK / windowS);
    const readingsPerS = (after.received - before.received) / windowS;
    const perReadingUs = (ticks: number): number => Math.round(((ticks * 1000) / CLK_TCK / windowS / readingsPerS) * 1000);
    process.stdout.write(`${JSON.stringify({
      date: new Date().toISOString(), devices, window_s: Math.round(windowS * 10) / 10, readings_per_s: Math.round(readingsPerS),
      cpu_ms_per_s: { mosquitto: perS(after.broker - before.broker), fleet: perS(after.fleet - before.fleet), subscriber: perS(after.self - before.self) },
      cpu_us_per_reading: { mosquitto: perReadingUs(after.broker - before.broker), fleet: perReadingUs(after.fleet - before.fleet), subscriber: perReadingUs(after.self - before.self) },
      machine_ms_per_s: { busy: perS(after.machine.busy - before.machine.busy), idle: perS(after.machine.idle - before.machine.idle) },
    }, null, 2)}\n`);
  } finally {
    if (fleetPid !== undefined) await stopProcess(fleetPid);
    await subscriber.client?.endAsync(true).catch(() => undefined);
    await broker.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: Error) => {
  process.stderr.write(`devices-harness: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
