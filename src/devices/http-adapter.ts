// http-adapter.ts — generic JSON over HTTP (docs/devices.md "HTTP polling"): GET the device's endpoint every
// sampling interval and pick each declared sensor by the JSON pointer in options["sensor.<name>"]
// (RFC 6901); a credential is sent as `Authorization: Bearer <secret>`. A command is a POST of
// {id, command, args} to options.commandUrl, answered {"ok": true} (with "duplicate": true for an id the
// device has seen) or {"ok": false, "error": "..."}.
import { badInput } from './errors.js';
import { parsePointer, resolvePointer } from './json-pointer.js';
import { PollingAdapter, httpFailureOutcome, httpUrl, parseJson, type ReadResult } from './polling-adapter.js';
import type { CommandOutcome, CommandRequest, DeviceAdapterInit, WatchedDevice } from './port.js';

/** HttpJsonPrepared is a device's endpoint, pointers and command URL, checked once at watch. */
interface HttpJsonPrepared {
  pointers: { sensor: string; tokens: string[] }[];
  commandUrl: string | null;
  headers: Record<string, string>;
}

/** HttpJsonAdapter polls generic JSON devices. */
export class HttpJsonAdapter extends PollingAdapter<HttpJsonPrepared> {
  readonly protocol = 'http-json' as const;

  constructor(init: DeviceAdapterInit) {
    super(init);
  }

  protected prepare(device: WatchedDevice): HttpJsonPrepared {
    const where = `http-json watch ${device.deviceId}`;
    httpUrl(device.endpoint, `${where}.endpoint`);
    const declared = device.sensors.length > 0
      ? device.sensors.map((sensor) => sensor.name)
      : Object.keys(device.options).filter((key) => key.startsWith('sensor.')).map((key) => key.slice('sensor.'.length));
    const pointers = declared.flatMap((sensor) => {
      const pointer = device.options[`sensor.${sensor}`];
      return pointer === undefined ? [] : [{ sensor, tokens: parsePointer(pointer, `${where}.options["sensor.${sensor}"]`) }];
    });
    if (pointers.length === 0) throw badInput(`${where}.options`, 'a JSON pointer "sensor.<name>" for at least one declared sensor', device.options);
    const commandUrl = device.options.commandUrl ?? null;
    if (commandUrl !== null) httpUrl(commandUrl, `${where}.options.commandUrl`);
    return { pointers, commandUrl, headers: device.secret === '' ? {} : { authorization: `Bearer ${device.secret}` } };
  }

  protected async read(device: WatchedDevice, prepared: HttpJsonPrepared, timeoutMs: number): Promise<ReadResult> {
    const answer = await this.http.send({ url: device.endpoint, method: 'GET', headers: prepared.headers, timeoutMs, maxBodyBytes: this.limits.maxBodyBytes });
    if (answer.kind === 'error') return { ok: false, drop: answer.timeout ? 'poll_timeout' : 'poll_error', reason: answer.reason };
    if (answer.kind === 'oversize') return { ok: false, drop: 'oversize', reason: `answer of ${answer.bytes} bytes exceeds ${this.limits.maxBodyBytes}` };
    if (answer.status < 200 || answer.status > 299) return { ok: false, drop: 'http_status', reason: `HTTP ${answer.status} from ${device.endpoint}` };
    const document = parseJson(answer.text);
    if (document === undefined) return { ok: false, drop: 'malformed', reason: `answer from ${device.endpoint} is not JSON` };
    const values: Record<string, unknown> = {};
    for (const { sensor, tokens } of prepared.pointers) {
      const found = resolvePointer(document, tokens);
      if (found.found) values[sensor] = found.value;
      else this.counters.add('pointer_missing');
    }
    if (Object.keys(values).length === 0) return { ok: false, drop: 'malformed', reason: `no sensor's pointer resolves in the answer from ${device.endpoint}` };
    return { ok: true, values, bytes: answer.bytes };
  }

  protected async command(device: WatchedDevice, prepared: HttpJsonPrepared, request: CommandRequest, timeoutMs: number): Promise<CommandOutcome> {
    const what = `http-json command ${request.id} (${request.command}) to ${device.deviceId}`;
    if (prepared.commandUrl === null) return { ok: false, reason: `${what}: the registration has no options.commandUrl`, retryable: false };
    const answer = await this.http.send({
      url: prepared.commandUrl, method: 'POST', headers: prepared.headers, timeoutMs, maxBodyBytes: this.limits.maxBodyBytes,
      body: { id: request.id, command: request.command, args: request.args },
    });
    if (answer.kind === 'error') return httpFailureOutcome(what, null, answer.reason);
    if (answer.kind === 'oversize') return { ok: false, reason: `${what}: answer of ${answer.bytes} bytes exceeds ${this.limits.maxBodyBytes}`, retryable: false };
    const body = parseJson(answer.text);
    const error = isRecord(body) && typeof body.error === 'string' ? body.error.slice(0, 200) : '';
    if (answer.status < 200 || answer.status > 299) return httpFailureOutcome(what, answer.status, error);
    if (!isRecord(body) || typeof body.ok !== 'boolean') {
      return { ok: false, reason: `${what}: expected {"ok": true|false}, got ${answer.text.slice(0, 100)}`, retryable: false };
    }
    if (!body.ok) return { ok: false, reason: `${what}: refused by the device: ${error || 'no reason given'}`, retryable: false };
    return { ok: true, duplicate: body.duplicate === true };
  }
}

/** isRecord says whether a parsed JSON value is an object (not an array, not null). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
