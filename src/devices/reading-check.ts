// reading-check.ts — the edge check of a device's readings against its type's sensor declarations, before a
// reading may become telemetry. A device is untrusted: what it sends is checked for the declared sensor, the
// declared type, a finite number within the declared bounds, and a bounded size, and every refusal is
// counted under a named reason. Pure: no I/O, no clock.

/** ReadingSensor is a sensor as the policy declares it for the device's type. */
export interface ReadingSensor {
  name: string;
  type: 'number' | 'boolean' | 'string';
  min?: number;
  max?: number;
}

/** CheckedReading is one accepted sensor value. */
export interface CheckedReading {
  deviceId: string;
  sensor: string;
  value: number | boolean | string;
}

/** DropReason names why one value of a reading was refused (a metrics label and a status key). */
export type DropReason =
  | 'unknown_device'
  | 'unknown_sensor'
  | 'wrong_type'
  | 'not_finite'
  | 'out_of_bounds'
  | 'string_too_long'
  | 'too_many_values'
  | 'oversized'
  | 'not_an_object'
  | 'rate_limited'
  | 'buffer_full';

/** MAX_READING_STRING_CHARS bounds a string sensor value (the command codec bounds strings too). */
export const MAX_READING_STRING_CHARS = 256;
/** MAX_VALUES_PER_READING bounds the sensors one message may report. */
export const MAX_VALUES_PER_READING = 32;
/** MAX_READING_BYTES bounds one reading message as received. */
export const MAX_READING_BYTES = 4096;

/** ReadingCheck is the outcome: the accepted values, and one reason per refused value. */
export interface ReadingCheck {
  accepted: CheckedReading[];
  dropped: { sensor: string; reason: DropReason }[];
}

/**
 * checkReading validates the values a device reported. `sensors` is undefined when the device is not one
 * this node serves under a policy (then everything is dropped as unknown_device).
 */
export function checkReading(deviceId: string, values: unknown, bytes: number, sensors: readonly ReadingSensor[] | undefined): ReadingCheck {
  if (sensors === undefined) return { accepted: [], dropped: [{ sensor: '', reason: 'unknown_device' }] };
  if (bytes > MAX_READING_BYTES) return { accepted: [], dropped: [{ sensor: '', reason: 'oversized' }] };
  if (typeof values !== 'object' || values === null || Array.isArray(values)) return { accepted: [], dropped: [{ sensor: '', reason: 'not_an_object' }] };
  const entries = Object.entries(values as Record<string, unknown>);
  if (entries.length > MAX_VALUES_PER_READING) return { accepted: [], dropped: [{ sensor: '', reason: 'too_many_values' }] };
  const accepted: CheckedReading[] = [];
  const dropped: ReadingCheck['dropped'] = [];
  for (const [name, value] of entries) {
    const sensor = sensors.find((s) => s.name === name);
    const reason = sensor === undefined ? 'unknown_sensor' : refusal(sensor, value);
    if (reason === null) accepted.push({ deviceId, sensor: name, value: value as number | boolean | string });
    else dropped.push({ sensor: name.slice(0, 64), reason });
  }
  return { accepted, dropped };
}

function refusal(sensor: ReadingSensor, value: unknown): DropReason | null {
  if (typeof value !== sensor.type) return 'wrong_type';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return 'not_finite';
    if ((sensor.min !== undefined && value < sensor.min) || (sensor.max !== undefined && value > sensor.max)) return 'out_of_bounds';
  }
  if (typeof value === 'string' && value.length > MAX_READING_STRING_CHARS) return 'string_too_long';
  return null;
}
