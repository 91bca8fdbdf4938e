// validate.ts — checks of what the node hands an adapter (a watched device, an interval, a command), so bad
// input is refused at the port with a message naming what, where, expected and got.
import { DEVICE_ID_PATTERN, MAX_DEVICE_ID_CHARS, MAX_SAMPLING_MS, MIN_SAMPLING_MS } from './constants.js';
import { badInput } from './errors.js';
import type { WatchedDevice } from './port.js';

/** MAX_OPTIONS and MAX_SENSORS bound a registration's options and a type's sensors. */
const MAX_OPTIONS = 32;
const MAX_SENSORS = 32;

/** checkDeviceId refuses an id that is not safe as a topic level, a user name and a file line. */
export function checkDeviceId(deviceId: unknown, where: string): string {
  if (typeof deviceId !== 'string' || deviceId.length > MAX_DEVICE_ID_CHARS || !DEVICE_ID_PATTERN.test(deviceId)) {
    throw badInput(where, `a device id of at most ${MAX_DEVICE_ID_CHARS} characters matching ${DEVICE_ID_PATTERN.source}`, deviceId);
  }
  return deviceId;
}

/** checkSamplingMs refuses an interval that is not an integer within [MIN_SAMPLING_MS, MAX_SAMPLING_MS]. */
export function checkSamplingMs(samplingMs: unknown, where: string): number {
  if (typeof samplingMs !== 'number' || !Number.isSafeInteger(samplingMs) || samplingMs < MIN_SAMPLING_MS || samplingMs > MAX_SAMPLING_MS) {
    throw badInput(where, `an integer number of milliseconds in [${MIN_SAMPLING_MS}, ${MAX_SAMPLING_MS}]`, samplingMs);
  }
  return samplingMs;
}

/** checkWatchedDevice checks every field of a device handed to `watch`. */
export function checkWatchedDevice(device: WatchedDevice, where: string): void {
  checkDeviceId(device.deviceId, `${where}.deviceId`);
  checkSamplingMs(device.samplingMs, `${where} ${device.deviceId}.samplingMs`);
  if (typeof device.endpoint !== 'string') throw badInput(`${where} ${device.deviceId}.endpoint`, 'a string', device.endpoint);
  if (typeof device.secret !== 'string') throw badInput(`${where} ${device.deviceId}.secret`, 'a string', typeof device.secret);
  const options = Object.entries(device.options ?? {});
  if (options.length > MAX_OPTIONS || options.some(([, value]) => typeof value !== 'string')) {
    throw badInput(`${where} ${device.deviceId}.options`, `at most ${MAX_OPTIONS} string values`, device.options);
  }
  if (!Array.isArray(device.sensors) || device.sensors.length > MAX_SENSORS) {
    throw badInput(`${where} ${device.deviceId}.sensors`, `an array of at most ${MAX_SENSORS} sensors`, device.sensors);
  }
  for (const sensor of device.sensors) {
    if (typeof sensor?.name !== 'string' || sensor.name === '' || sensor.name.length > 64 || !['number', 'boolean', 'string'].includes(sensor.type)) {
      throw badInput(`${where} ${device.deviceId}.sensors`, 'sensors {name: 1–64 characters, type: number|boolean|string}', sensor);
    }
  }
}

/** checkTimeoutMs refuses a command time limit that is not a positive integer. */
export function checkTimeoutMs(timeoutMs: unknown, where: string, maxMs: number): number {
  if (typeof timeoutMs !== 'number' || !Number.isSafeInteger(timeoutMs) || timeoutMs <= 0 || timeoutMs > maxMs) {
    throw badInput(where, `an integer number of milliseconds in [1, ${maxMs}]`, timeoutMs);
  }
  return timeoutMs;
}
