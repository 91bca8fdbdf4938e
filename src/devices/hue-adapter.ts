// hue-adapter.ts — the Philips Hue bridge, v1 REST API shape (docs/devices.md "Philips Hue bridge"): a lamp is
// read with GET <endpoint>/api/<user>/lights/<light> and reported as the sensors `on`, `bri` and `reachable`;
// power-on|turn-on|power-off|turn-off are PUT <endpoint>/api/<user>/lights/<light>/state {"on": bool}. The
// Hue user name is the device's secret. The bridge answers errors as an array of {"error": {type,
// address, description}} with HTTP 200; they become failures that quote the description. The Hue API
// carries no command id: setting a light's state is idempotent, so a repeat leaves the same state and is
// never reported as a duplicate.
import { badInput } from './errors.js';
import { isRecord } from './http-adapter.js';
import { PollingAdapter, httpFailureOutcome, httpUrl, parseJson, type ReadResult } from './polling-adapter.js';
import type { CommandOutcome, CommandRequest, DeviceAdapterInit, WatchedDevice } from './port.js';

/** HUE_COMMANDS maps the commands a Hue lamp takes to the `on` state they set. */
export const HUE_COMMANDS: Readonly<Record<string, boolean>> = { 'power-on': true, 'turn-on': true, 'power-off': false, 'turn-off': false };

/** HUE_RETRYABLE_ERRORS are the Hue error types worth retrying (201: device is off / busy; 901: internal error). */
const HUE_RETRYABLE_ERRORS = new Set([201, 901]);

/** HuePrepared is a lamp's URLs, checked once at watch. */
interface HuePrepared {
  lightUrl: string;
  stateUrl: string;
}

/** HueAdapter reads and switches lamps through a Hue bridge. */
export class HueAdapter extends PollingAdapter<HuePrepared> {
  readonly protocol = 'hue' as const;

  constructor(init: DeviceAdapterInit) {
    super(init);
  }

  protected prepare(device: WatchedDevice): HuePrepared {
    const where = `hue watch ${device.deviceId}`;
    const base = httpUrl(device.endpoint, `${where}.endpoint`).href.replace(/\/+$/, '');
    const light = device.options.light;
    if (light === undefined || !/^[A-Za-z0-9_-]{1,64}$/.test(light)) throw badInput(`${where}.options.light`, "the light's id on the bridge (e.g. \"1\")", light);
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(device.secret)) throw badInput(`${where} secret`, 'a Hue user name (letters, digits, "-", "_")', '<hidden>');
    const lightUrl = `${base}/api/${device.secret}/lights/${light}`;
    return { lightUrl, stateUrl: `${lightUrl}/state` };
  }

  protected async read(device: WatchedDevice, prepared: HuePrepared, timeoutMs: number): Promise<ReadResult> {
    const shown = `${device.endpoint} light ${device.options.light ?? ''}`;
    const answer = await this.http.send({ url: prepared.lightUrl, method: 'GET', timeoutMs, maxBodyBytes: this.limits.maxBodyBytes });
    if (answer.kind === 'error') return { ok: false, drop: answer.timeout ? 'poll_timeout' : 'poll_error', reason: answer.reason };
    if (answer.kind === 'oversize') return { ok: false, drop: 'oversize', reason: `answer of ${answer.bytes} bytes exceeds ${this.limits.maxBodyBytes}` };
    if (answer.status !== 200) return { ok: false, drop: 'http_status', reason: `HTTP ${answer.status} from the bridge at ${shown}` };
    const body = parseJson(answer.text);
    const error = hueError(body);
    if (error !== null) return { ok: false, drop: 'hue_error', reason: `bridge at ${shown}: ${error.description} (Hue error ${error.type})` };
    const state = isRecord(body) ? body.state : undefined;
    if (!isRecord(state)) return { ok: false, drop: 'malformed', reason: `bridge at ${shown}: expected a light with a "state" object` };
    const values: Record<string, unknown> = {};
    for (const sensor of ['on', 'bri', 'reachable'] as const) if (Object.hasOwn(state, sensor)) values[sensor] = state[sensor];
    if (Object.keys(values).length === 0) return { ok: false, drop: 'malformed', reason: `bridge at ${shown}: the light's state has none of on, bri, reachable` };
    return { ok: true, values, bytes: answer.bytes };
  }

  protected async command(device: WatchedDevice, prepared: HuePrepared, request: CommandRequest, timeoutMs: number): Promise<CommandOutcome> {
    const what = `hue command ${request.id} (${request.command}) to ${device.deviceId}`;
    const on = HUE_COMMANDS[request.command];
    if (on === undefined) return { ok: false, reason: `${what}: expected one of ${Object.keys(HUE_COMMANDS).join(', ')}`, retryable: false };
    const answer = await this.http.send({ url: prepared.stateUrl, method: 'PUT', body: { on }, timeoutMs, maxBodyBytes: this.limits.maxBodyBytes });
    if (answer.kind === 'error') return httpFailureOutcome(what, null, answer.reason);
    if (answer.kind === 'oversize') return { ok: false, reason: `${what}: answer of ${answer.bytes} bytes exceeds ${this.limits.maxBodyBytes}`, retryable: false };
    if (answer.status !== 200) return httpFailureOutcome(what, answer.status, '');
    const body = parseJson(answer.text);
    const error = hueError(body);
    if (error !== null) return { ok: false, reason: `${what}: ${error.description} (Hue error ${error.type})`, retryable: HUE_RETRYABLE_ERRORS.has(error.type) };
    const confirmed = Array.isArray(body) && body.some((item) => isRecord(item) && isRecord(item.success));
    if (!confirmed) return { ok: false, reason: `${what}: expected [{"success": ...}], got ${answer.text.slice(0, 100)}`, retryable: false };
    return { ok: true, duplicate: false };
  }
}

/** hueError finds the first error of a Hue answer (an array of {"error": {...}} entries), or null. */
export function hueError(body: unknown): { type: number; description: string } | null {
  if (!Array.isArray(body)) return null;
  for (const item of body) {
    if (isRecord(item) && isRecord(item.error)) {
      const type = typeof item.error.type === 'number' ? item.error.type : 0;
      const description = typeof item.error.description === 'string' ? item.error.description.slice(0, 200) : 'error without description';
      return { type, description };
    }
  }
  return null;
}
