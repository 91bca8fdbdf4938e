// support.ts — shared helpers of the policy tests: building small policy documents in code, loading
// the sample documents, and a fresh engine with devices.

import { readFileSync } from 'node:fs';
import { parsePolicyYaml, PolicyEngine, validatePolicy, type DeviceInfo, type PolicyDocument, type Reaction } from '../../src/policy/index.js';
import { repoPath } from '../support/paths.js';

/** PIN is a well-formed image digest for documents built in tests. */
export const PIN = `sha256:${'ab'.repeat(32)}`;

/** Plain is a document under construction (not yet validated). */
export type Plain = Record<string, unknown>;

/** deviceType returns a valid device type with the three default states; `extra` overrides keys. */
export function deviceType(name: string, extra: Plain = {}): Plain {
  return {
    name,
    sensors: [
      { name: 'level', type: 'number' },
      { name: 'open', type: 'boolean' },
      { name: 'mode', type: 'string' },
    ],
    alertTypes: ['scan', 'brute-force'],
    states: [
      { name: 'normal', verdict: 'allow' },
      { name: 'suspicious', chain: [{ name: 'monitor', digest: PIN }] },
      { name: 'attack', verdict: 'quarantine' },
    ],
    rules: [],
    ...extra,
  };
}

/** labDoc wraps device types into a document of domain `lab`. */
export function labDoc(types: Plain[], version = 1): Plain {
  return { domain: 'lab', version, deviceTypes: types };
}

/** rule builds a rule. */
export function rule(name: string, from: string, to: string, when: Plain, commands?: Plain[]): Plain {
  return commands === undefined ? { name, from, to, when } : { name, from, to, when, commands };
}

/** loadSample parses a sample document of cluster/policies/. */
export function loadSample(name: string): PolicyDocument {
  const file = `cluster/policies/${name}`;
  return parsePolicyYaml(readFileSync(repoPath(file), 'utf8'), file);
}

/** readFixture returns the text of test/policy/fixtures/NAME. */
export function readFixture(name: string): string {
  return readFileSync(repoPath('test', 'policy', 'fixtures', name), 'utf8');
}

/** device describes a device of `type` in `domain`, group `group`. */
export function device(id: string, type: string, group = 'g1', tags: string[] = [], domain = 'lab'): DeviceInfo {
  return { id, type, domain, group, tags };
}

/** engineWith returns an engine holding `doc` (validated) and the given devices, added at time 0. */
export function engineWith(doc: Plain | PolicyDocument, devices: DeviceInfo[]): PolicyEngine {
  const engine = new PolicyEngine();
  engine.setPolicy(validatePolicy(doc, 'test'));
  for (const d of devices) engine.upsertDevice(d, 0);
  return engine;
}

/** moves lists the state reactions as "device:from>to(rule)" for compact assertions. */
export function moves(reactions: Reaction[]): string[] {
  return reactions.flatMap((r) => (r.kind === 'state' ? [`${r.deviceId}:${r.from}>${r.to}(${r.rule})`] : []));
}

/** commands lists the command reactions as "device:command". */
export function commands(reactions: Reaction[]): string[] {
  return reactions.flatMap((r) => (r.kind === 'command' ? [`${r.deviceId}:${r.command}`] : []));
}
