// device-interface.ts — checking a device registration's interface (docs/devices.md "Registration"):
// the protocol, the endpoint the serving node reaches, the name of the secret it uses, and options.
// The checks are stateless, so they run at decode time, identically on every node. Credentials never
// enter the log: there is no field for a secret, and an endpoint or option that looks like one (user
// info in a URL, a query parameter or option named like a password or token, a Hue user name in the
// bridge URL) is refused with a pointer to credentialRef.
import {
  CREDENTIAL_REF, DEVICE_PROTOCOLS, IDENTIFIER, MAX_INTERFACE_OPTIONS, MAX_INTERFACE_URL_CHARS, MAX_OPTION_VALUE_CHARS,
  OPTION_KEY,
} from './constants.js';
import { CommandError, describeValue } from './errors.js';
import type { DeviceInterface, DeviceProtocol } from './types.js';

type Fields = Record<string, unknown>;

const IPV4_OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
/** IPV4 is a dotted-quad IPv4 address without leading zeros. */
const IPV4 = new RegExp(`^${IPV4_OCTET}(?:\\.${IPV4_OCTET}){3}$`);
/** HTTP_URL splits an http:// URL into host, port and the rest (path, query); printable ASCII only. */
const HTTP_URL = /^http:\/\/([0-9.]+)(?::([1-9][0-9]{0,4}))?([/?][\x21-\x7e]*)?$/;
/** SECRET_WORDS are words that, as a part of a query parameter or option name, mark a secret. */
const SECRET_WORDS: ReadonlySet<string> = new Set([
  'pass', 'passwd', 'password', 'pwd', 'secret', 'token', 'apikey', 'key', 'auth', 'authorization', 'bearer',
  'credential', 'credentials', 'sig', 'signature', 'session', 'cookie',
]);
/** JSON_POINTER is RFC 6901: '' or '/'-separated tokens where '~' is only '~0' or '~1'. */
const JSON_POINTER = /^(?:\/(?:[^~/]|~[01])*)*$/;
const HUE_LIGHT = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
const SECRET_HINT = 'no secret (put it in the serving node\'s secrets file and name it in credentialRef)';

function invalid(path: string, expected: string, found: unknown): CommandError {
  return new CommandError('invalid_payload', `${path}: expected ${expected}, found ${describeValue(found)}`, path);
}

/** nameWords splits a name into lowercase words at . _ - and lower-to-upper case changes (apiKey → api, key). */
function nameWords(name: string): string[] {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').split(/[\s._-]+/).map((w) => w.toLowerCase()).filter((w) => w !== '');
}

function looksSecret(name: string): boolean {
  const words = nameWords(name);
  return words.some((w) => SECRET_WORDS.has(w)) || SECRET_WORDS.has(words.join(''));
}

function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

/**
 * checkDeviceUrl checks an http:// URL whose host must be one of `ipv4Addresses`; `hue` also refuses a
 * path that already carries a Hue user name (/api/<name>). Throws CommandError naming `path`.
 */
function checkDeviceUrl(url: string, path: string, ipv4Addresses: readonly string[], hue: boolean): void {
  if (url.length > MAX_INTERFACE_URL_CHARS) throw invalid(path, `a URL of at most ${MAX_INTERFACE_URL_CHARS} characters`, url);
  const match = HTTP_URL.exec(url);
  if (match === null) throw invalid(path, 'an http:// URL whose host is an IPv4 address (http://A.B.C.D[:port][/path]), printable ASCII without spaces or user info', url);
  const host = match[1] ?? '';
  const port = match[2];
  const rest = match[3] ?? '';
  if (!IPV4.test(host)) throw invalid(path, 'an IPv4 address as the URL\'s host', host);
  if (!ipv4Addresses.includes(host)) {
    const known = ipv4Addresses.length === 0 ? 'the device has none' : `one of ${ipv4Addresses.join(', ')}`;
    throw invalid(path, `a URL whose host is one of the device's IPv4 addresses (${known})`, host);
  }
  if (port !== undefined && Number(port) > 65535) throw invalid(path, 'a port from 1 to 65535', port);
  const queryAt = rest.indexOf('?');
  if (queryAt >= 0) {
    for (const pair of rest.slice(queryAt + 1).split('&')) {
      const name = pair.split('=')[0] ?? '';
      if (looksSecret(name)) throw invalid(path, `a URL with ${SECRET_HINT}`, `query parameter "${name}"`);
    }
  }
  if (hue && /(?:^|\/)api\/[^/?]+/.test(rest)) {
    throw invalid(path, `the Hue bridge's base URL without /api/<user> (the user name is the secret: ${SECRET_HINT})`, url);
  }
}

function checkOptions(raw: unknown, at: string): Record<string, string> {
  const options = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
  const keys = Object.keys(options);
  if (keys.length > MAX_INTERFACE_OPTIONS) throw invalid(at, `at most ${MAX_INTERFACE_OPTIONS} options`, keys);
  const out: Record<string, string> = {};
  keys.forEach((key, i) => {
    const path = `${at}["${key.slice(0, 64)}"]`;
    if (!OPTION_KEY.test(key)) throw invalid(path, 'an option key of 1-64 characters [A-Za-z0-9_.-] starting with a letter', key);
    const previous = keys[i - 1];
    if (previous !== undefined && previous >= key) throw invalid(path, `option keys in ascending order (after "${previous}")`, key);
    if (!key.startsWith('sensor.') && looksSecret(key)) throw invalid(path, `an option that is ${SECRET_HINT}`, key);
    const value = options[key];
    if (typeof value !== 'string' || value.length > MAX_OPTION_VALUE_CHARS || hasControl(value)) {
      throw invalid(path, `a value of at most ${MAX_OPTION_VALUE_CHARS} printable characters`, value);
    }
    out[key] = value;
  });
  return out;
}

function checkProtocolOptions(protocol: DeviceProtocol, options: Record<string, string>, at: string, ipv4Addresses: readonly string[]): void {
  if (protocol === 'hue') {
    const light = options['light'];
    if (light === undefined || !HUE_LIGHT.test(light)) {
      throw invalid(`${at}.options["light"]`, 'the light\'s id on the bridge (1-64 characters [A-Za-z0-9_.:-]; required for hue)', light);
    }
  }
  if (protocol !== 'http-json') return;
  for (const [key, value] of Object.entries(options)) {
    if (key.startsWith('sensor.')) {
      const sensor = key.slice('sensor.'.length);
      if (!IDENTIFIER.test(sensor)) throw invalid(`${at}.options["${key}"]`, 'a key "sensor.<sensor name>"', key);
      if (!JSON_POINTER.test(value)) throw invalid(`${at}.options["${key}"]`, 'a JSON pointer (RFC 6901: "" or starting with "/")', value);
    }
  }
  const commandUrl = options['commandUrl'];
  if (commandUrl !== undefined) checkDeviceUrl(commandUrl, `${at}.options["commandUrl"]`, ipv4Addresses, false);
}

/**
 * decodeDeviceInterface checks a decoded DeviceInterface message against the device's addresses and
 * returns it as plain data. Throws CommandError (invalid_payload) with the path of the bad field.
 */
export function decodeDeviceInterface(fields: Fields, at: string, addresses: readonly string[]): DeviceInterface {
  const protocol = fields['protocol'];
  if (typeof protocol !== 'string' || !(DEVICE_PROTOCOLS as readonly string[]).includes(protocol)) {
    throw invalid(`${at}.protocol`, `one of ${DEVICE_PROTOCOLS.join(', ')}`, protocol ?? '');
  }
  const kind = protocol as DeviceProtocol;
  const endpoint = typeof fields['endpoint'] === 'string' ? fields['endpoint'] : '';
  const credentialRef = typeof fields['credential_ref'] === 'string' ? fields['credential_ref'] : '';
  const ipv4Addresses = addresses.filter((a) => IPV4.test(a));
  if (kind === 'mqtt') {
    if (endpoint !== '') throw invalid(`${at}.endpoint`, '"" for mqtt (the device connects to its gateway\'s broker)', endpoint);
  } else {
    checkDeviceUrl(endpoint, `${at}.endpoint`, ipv4Addresses, kind === 'hue');
  }
  const optional = kind === 'http-json';
  if (!(optional && credentialRef === '') && !CREDENTIAL_REF.test(credentialRef)) {
    throw invalid(`${at}.credential_ref`, `the name of a secret, 1-64 characters [A-Za-z0-9_.-] starting with a letter or digit${optional ? ', or ""' : ` (required for ${kind})`}`, credentialRef);
  }
  const options = checkOptions(fields['options'], `${at}.options`);
  checkProtocolOptions(kind, options, at, ipv4Addresses);
  return { protocol: kind, endpoint, credentialRef, options };
}

/** deviceInterfaceFields converts a DeviceInterface to protobuf fields, options in ascending key order. */
export function deviceInterfaceFields(value: DeviceInterface): Fields {
  const options: Record<string, string> = {};
  for (const key of Object.keys(value.options).sort()) options[key] = value.options[key] as string;
  return { protocol: value.protocol, endpoint: value.endpoint, credential_ref: value.credentialRef, options };
}
