// http-devices.ts — simulated HTTP devices: a Philips Hue bridge (v1 REST API shape: lamps read and switched
// under /api/<user>/lights, errors as [{"error": {type, address, description}}]) and a generic JSON sensor
// (GET /status: a nested document; POST /commands {id, command, args} answered {"ok": true, "duplicate": …}).
// "Stopped", a device holds requests without answering (a dead device as its poller sees it: time-outs).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isObject, readJson, type ControlTarget } from './control.js';
import type { CommandJournal } from './journal.js';

/** MAX_HELD_REQUESTS bounds the requests a stopped device holds; more are cut off. */
const MAX_HELD_REQUESTS = 256;

/** HttpDevice is the part of an HTTP simulator that its kinds share: the server, stop/resume, holding. */
abstract class HttpDevice implements ControlTarget {
  private server: Server | null = null;
  private stopped = false;
  private readonly held = new Set<ServerResponse>();
  protected padding = 0;

  constructor(protected readonly journal: CommandJournal) {}

  protected abstract route(req: IncomingMessage, body: Record<string, unknown>): { status: number; body: unknown };
  abstract state(): unknown;
  abstract set(device: string | undefined, values: Record<string, unknown>): void;

  listen(host: string, port: number): Promise<void> {
    const server = createServer((req, res) => {
      if (this.stopped) {
        if (this.held.size >= MAX_HELD_REQUESTS) res.destroy();
        else this.held.add(res);
        return;
      }
      readJson(req).then((body) => this.route(req, body), () => ({ status: 400, body: { ok: false, error: 'body is not JSON' } })).then(({ status, body }) => {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      }, (error: Error) => res.writeHead(500).end(JSON.stringify({ ok: false, error: error.message })));
    });
    server.keepAliveTimeout = 5_000;
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
  }

  stop(): void {
    this.stopped = true;
  }

  resume(): void {
    this.stopped = false;
    for (const res of this.held) res.destroy();
    this.held.clear();
  }

  /** flood pads every answer to about `bytes` bytes (0 ends it): an oversize answer for the poller. */
  flood(_device: string | undefined, _count: number, bytes: number): void {
    this.padding = Math.max(0, Math.min(bytes, 16 * 1024 * 1024));
  }

  async close(): Promise<void> {
    this.resume();
    const server = this.server;
    if (server === null) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  protected padded<T extends object>(value: T): T {
    return this.padding > 0 ? { ...value, padding: 'x'.repeat(this.padding) } : value;
  }
}

/** HueLamp is one lamp's state. */
interface HueLamp {
  on: boolean;
  bri: number;
  reachable: boolean;
  name: string;
  /** padding is one lamp's oversize answer (control "set" with {light, padding}). */
  padding: number;
}

/** HueBridge simulates a Hue bridge with `lamps` lamps, ids "1".."N", accepting one user name. */
export class HueBridge extends HttpDevice {
  private readonly lamps = new Map<string, HueLamp>();

  constructor(private readonly user: string, lamps: number, journal: CommandJournal, private readonly id = 'hue-bridge') {
    super(journal);
    for (let index = 1; index <= lamps; index++) this.lamps.set(String(index), { on: true, bri: 200, reachable: true, name: `Lamp ${index}`, padding: 0 });
  }

  state(): unknown {
    return { lights: Object.fromEntries(this.lamps) };
  }

  set(_device: string | undefined, values: Record<string, unknown>): void {
    const lamp = this.lamps.get(String(values.light ?? '1'));
    if (lamp === undefined) throw new Error(`no lamp ${String(values.light)}`);
    if (typeof values.on === 'boolean') lamp.on = values.on;
    if (typeof values.bri === 'number') lamp.bri = values.bri;
    if (typeof values.reachable === 'boolean') lamp.reachable = values.reachable;
    if (typeof values.padding === 'number') lamp.padding = values.padding;
  }

  protected route(req: IncomingMessage, body: Record<string, unknown>): { status: number; body: unknown } {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const match = /^\/api\/([^/]+)\/lights(?:\/([^/]+)(\/state)?)?$/.exec(path);
    if (match === null) return { status: 404, body: [hueError(4, path, `method, ${req.method ?? ''}, not available for resource, ${path}`)] };
    const [, user, light, state] = match;
    if (user !== this.user) return { status: 200, body: [hueError(1, '/lights', 'unauthorized user')] };
    if (light === undefined) return { status: 200, body: Object.fromEntries([...this.lamps].map(([id, lamp]) => [id, this.light(lamp)])) };
    const lamp = this.lamps.get(light);
    if (lamp === undefined) return { status: 200, body: [hueError(3, `/lights/${light}`, `resource, /lights/${light}, not available`)] };
    if (state === undefined && req.method === 'GET') return { status: 200, body: this.light(lamp) };
    if (state !== undefined && req.method === 'PUT') {
      if (typeof body.on !== 'boolean') return { status: 200, body: [hueError(7, `/lights/${light}/state/on`, 'invalid value for parameter, on')] };
      this.journal.record({ device: `${this.id}/${light}`, id: null, command: body.on ? 'on' : 'off', args: body, executed: true });
      lamp.on = body.on;
      return { status: 200, body: [{ success: { [`/lights/${light}/state/on`]: body.on } }] };
    }
    return { status: 405, body: [hueError(4, path, `method, ${req.method ?? ''}, not available for resource, ${path}`)] };
  }

  private light(lamp: HueLamp): Record<string, unknown> {
    const light = this.padded({
      state: { on: lamp.on, bri: lamp.bri, hue: 8418, sat: 140, effect: 'none', alert: 'none', colormode: 'ct', reachable: lamp.reachable },
      type: 'Extended color light', name: lamp.name, modelid: 'LCT015', swversion: '1.50.2_r30933',
    });
    return lamp.padding > 0 ? { ...light, padding: 'x'.repeat(lamp.padding) } : light;
  }
}

function hueError(type: number, address: string, description: string): { error: { type: number; address: string; description: string } } {
  return { error: { type, address, description } };
}

/** HttpSensor simulates a generic JSON device: sensors under /sensors, a relay, commands with ids. */
export class HttpSensor extends HttpDevice {
  private readonly sensors: Record<string, unknown> = { temperature: 21.5, humidity: 40 };
  private relayOn = true;

  constructor(private readonly id: string, private readonly token: string, journal: CommandJournal) {
    super(journal);
  }

  state(): unknown {
    return { id: this.id, sensors: this.sensors, relay: { on: this.relayOn } };
  }

  set(_device: string | undefined, values: Record<string, unknown>): void {
    for (const [name, value] of Object.entries(values)) {
      if (name === 'relay' && typeof value === 'boolean') this.relayOn = value;
      else this.sensors[name] = value;
    }
  }

  protected route(req: IncomingMessage, body: Record<string, unknown>): { status: number; body: unknown } {
    if (this.token !== '' && req.headers.authorization !== `Bearer ${this.token}`) return { status: 401, body: { ok: false, error: 'bad or missing bearer token' } };
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/status') {
      return { status: 200, body: this.padded({ device: { id: this.id, model: 'qg-sim-http' }, sensors: this.sensors, relay: { on: this.relayOn } }) };
    }
    if (req.method === 'POST' && path === '/commands') return this.command(body);
    return { status: 404, body: { ok: false, error: `no ${req.method ?? ''} ${path ?? ''}` } };
  }

  private command(body: Record<string, unknown>): { status: number; body: unknown } {
    if (!Number.isSafeInteger(body.id) || typeof body.command !== 'string') return { status: 400, body: { ok: false, error: 'expected {id, command, args}' } };
    const id = body.id as number;
    const known: Record<string, boolean | null> = { 'power-on': true, 'power-off': false, 'relay-on': true, 'relay-off': false, reboot: null };
    const duplicate = this.journal.seen(this.id, id);
    const executed = !duplicate && Object.hasOwn(known, body.command);
    this.journal.record({ device: this.id, id, command: body.command, args: isObject(body.args) ? body.args : {}, executed });
    if (!duplicate && !executed) return { status: 200, body: { ok: false, error: `unknown command ${body.command}` } };
    const on = known[body.command];
    if (executed && typeof on === 'boolean') this.relayOn = on;
    return { status: 200, body: { ok: true, duplicate } };
  }
}
