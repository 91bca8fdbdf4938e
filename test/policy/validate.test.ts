// validate.test.ts — goal: a bad policy document is refused with an error that names the file, the
// path inside it, the line and column, what was expected and what was found; good documents load,
// normalized, and normalizing is idempotent. Method: a table of YAML fixtures (each valid-meter.yaml
// with one defect) checked field by field, and a table of one-key mutations of a valid document sent
// through validatePolicy as JSON arriving in a signed command would be.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicyYaml, PolicyError, validatePolicy, type PolicyErrorCode } from '../../src/policy/index.js';
import { deviceType, labDoc, PIN, readFixture, rule, type Plain } from './support.js';

interface FixtureCase {
  fixture: string;
  code: PolicyErrorCode;
  path: string;
  line: number;
  expected: RegExp;
  found: RegExp;
}

const fixtureCases: FixtureCase[] = [
  { fixture: 'bad-syntax.yaml', code: 'POLICY_SYNTAX', path: '(document)', line: 10, expected: /valid YAML/, found: /Flow sequence/ },
  { fixture: 'bad-duplicate-key.yaml', code: 'POLICY_SYNTAX', path: '(document)', line: 6, expected: /valid YAML/, found: /keys must be unique/ },
  { fixture: 'bad-unknown-key.yaml', code: 'POLICY_UNKNOWN_KEY', path: 'deviceTypes[0].rules[1].when.all[1].sensor.treshold', line: 27,
    expected: /^one of the keys name, op, value, over$/, found: /^unknown key "treshold"$/ },
  { fixture: 'bad-unknown-state.yaml', code: 'POLICY_REFERENCE', path: 'deviceTypes[0].rules[1].to', line: 23,
    expected: /declared state of device type meter: one of normal, suspicious, attack/, found: /^string "suspect"$/ },
  { fixture: 'bad-sensor-value-type.yaml', code: 'POLICY_TYPE', path: 'deviceTypes[0].rules[1].when.all[1].sensor.value', line: 27,
    expected: /a number/, found: /^string "1800.5"$/ },
  { fixture: 'bad-too-precise.yaml', code: 'POLICY_VALUE', path: 'deviceTypes[0].rules[1].when.all[1].sensor.value', line: 27,
    expected: /at most 3 decimal places/, found: /^number 1800.0001$/ },
  { fixture: 'bad-infinite.yaml', code: 'POLICY_VALUE', path: 'deviceTypes[0].rules[1].when.all[1].sensor.value', line: 27,
    expected: /finite number/, found: /^number Infinity$/ },
  { fixture: 'bad-digest.yaml', code: 'POLICY_VALUE', path: 'deviceTypes[0].states[1].chain[0].digest', line: 14,
    expected: /64 lowercase hex digits/, found: /^string "sha256:ABAB"$/ },
  { fixture: 'bad-missing-attack.yaml', code: 'POLICY_MISSING', path: 'deviceTypes[0].states', line: 10,
    expected: /a state named "attack"/, found: /^states normal, suspicious$/ },
  { fixture: 'bad-op-for-boolean.yaml', code: 'POLICY_VALUE', path: 'deviceTypes[0].rules[1].when.all[0].sensor.op', line: 26,
    expected: /^== or != for a boolean sensor$/, found: /^string ">"$/ },
  { fixture: 'bad-unknown-alert.yaml', code: 'POLICY_REFERENCE', path: 'deviceTypes[0].rules[0].when.alert.type', line: 20,
    expected: /alert type of device type meter \(or a built-in one\): one of brute-force, device-unreachable$/, found: /^string "brute-forced"$/ },
  { fixture: 'bad-duplicate-rule.yaml', code: 'POLICY_DUPLICATE', path: 'deviceTypes[0].rules[1].name', line: 21,
    expected: /rule name not declared before/, found: /"brute-force" again/ },
];

describe('a bad YAML document names file, path, line, expected and found', () => {
  for (const c of fixtureCases) {
    test(`${c.fixture} → ${c.code} at ${c.path}`, () => {
      const file = `fixtures/${c.fixture}`;
      assert.throws(() => parsePolicyYaml(readFixture(c.fixture), file), (error: unknown) => {
        assert.ok(error instanceof PolicyError, `a PolicyError, got ${String(error)}`);
        assert.equal(error.code, c.code);
        assert.equal(error.file, file);
        assert.equal(error.path, c.path);
        assert.equal(error.line, c.line);
        assert.match(error.expected, c.expected);
        assert.match(error.found, c.found);
        assert.ok(error.message.startsWith(`${file}:${c.line}:`), error.message);
        assert.ok(error.message.includes(`${c.path}: expected ${error.expected}, found ${error.found}`), error.message);
        return true;
      });
    });
  }

  test('the unmodified fixture loads, with its decimal threshold kept as written', () => {
    const doc = parsePolicyYaml(readFixture('valid-meter.yaml'), 'valid-meter.yaml');
    assert.equal(doc.version, 3);
    const overload = doc.deviceTypes[0]?.rules[1];
    assert.deepEqual(overload?.when, {
      all: [
        { sensor: { name: 'relay-on', op: '==', value: true, over: { last: 1, aggregate: 'none' } } },
        { sensor: { name: 'power', op: '>', value: 1800.5, over: { last: 5, aggregate: 'avg' } } },
      ],
    });
  });

  test('a YAML alias bomb is refused, not expanded', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 0; i < 8; i++) lines.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}]`);
    assert.throws(() => parsePolicyYaml(lines.join('\n'), 'bomb.yaml'), { name: 'PolicyError', code: 'POLICY_SYNTAX' });
  });
});

/** valid returns a fresh valid document exercising every kind of condition. */
function valid(): Plain {
  return labDoc([
    deviceType('meter', {
      rules: [
        rule('burst', 'any', 'attack', { alert: { type: 'brute-force', atLeast: 3, withinMs: 10000 } }),
        rule('high', 'normal', 'suspicious', { sensor: { name: 'level', op: '>', value: 10, over: { last: 3, aggregate: 'avg' } } },
          [{ command: 'power-off', args: { reason: 'high' } }]),
        rule('crowd', 'normal', 'suspicious', { devices: { select: { type: 'meter', sameGroup: true }, in: ['attack'], quantifier: 'count', count: { op: '>=', n: 2 } } }),
        rule('calm', 'suspicious', 'normal', { all: [{ timeInState: { atLeastMs: 1000 } }, { not: { sensor: { name: 'open', op: '==', value: true } } }] }),
      ],
    }),
  ]);
}

type Mutation = (doc: Plain) => void;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests poke at arbitrary JSON shapes
type Loose = any;

interface MutationCase {
  name: string;
  mutate: Mutation;
  code: PolicyErrorCode;
  path: string;
  expected: RegExp;
  found: RegExp;
}

const rules = (doc: Plain): Loose => (doc as Loose).deviceTypes[0].rules;
const mutationCases: MutationCase[] = [
  { name: 'unknown top-level key', mutate: (d) => { d.owner = 'me'; }, code: 'POLICY_UNKNOWN_KEY', path: 'owner', expected: /domain, version, deviceTypes/, found: /"owner"/ },
  { name: 'version 0', mutate: (d) => { d.version = 0; }, code: 'POLICY_VALUE', path: 'version', expected: /integer from 1/, found: /^number 0$/ },
  { name: 'version as a string', mutate: (d) => { d.version = '2'; }, code: 'POLICY_TYPE', path: 'version', expected: /integer/, found: /^string "2"$/ },
  { name: 'domain with a space', mutate: (d) => { d.domain = 'my lab'; }, code: 'POLICY_VALUE', path: 'domain', expected: /name of 1-64/, found: /"my lab"/ },
  { name: 'no device types', mutate: (d) => { d.deviceTypes = []; }, code: 'POLICY_VALUE', path: 'deviceTypes', expected: /at least 1/, found: /list of 0 items/ },
  { name: 'a state with both chain and verdict', mutate: (d) => { (d as Loose).deviceTypes[0].states[0].chain = [{ name: 'm', digest: PIN }]; },
    code: 'POLICY_VALUE', path: 'deviceTypes[0].states[0]', expected: /exactly one of "chain"/, found: /^both$/ },
  { name: 'a verdict that does not exist', mutate: (d) => { (d as Loose).deviceTypes[0].states[0].verdict = 'pass'; },
    code: 'POLICY_VALUE', path: 'deviceTypes[0].states[0].verdict', expected: /one of allow quarantine/, found: /"pass"/ },
  { name: 'a state named any', mutate: (d) => { (d as Loose).deviceTypes[0].states.push({ name: 'any', verdict: 'allow' }); },
    code: 'POLICY_VALUE', path: 'deviceTypes[0].states[3].name', expected: /other than "any"/, found: /"any"/ },
  { name: 'an undeclared initial state', mutate: (d) => { (d as Loose).deviceTypes[0].initialState = 'booting'; },
    code: 'POLICY_REFERENCE', path: 'deviceTypes[0].initialState', expected: /normal, suspicious, attack/, found: /"booting"/ },
  { name: 'a rule from an undeclared state', mutate: (d) => { rules(d)[1].from = 'idle'; },
    code: 'POLICY_REFERENCE', path: 'deviceTypes[0].rules[1].from', expected: /\(or any\)/, found: /"idle"/ },
  { name: 'a rule to its own from state', mutate: (d) => { rules(d)[1].to = 'normal'; },
    code: 'POLICY_VALUE', path: 'deviceTypes[0].rules[1].to', expected: /other than "from" \(normal\)/, found: /"normal"/ },
  { name: 'a condition with two kinds', mutate: (d) => { rules(d)[1].when.timeInState = { atLeastMs: 5 }; },
    code: 'POLICY_VALUE', path: 'deviceTypes[0].rules[1].when', expected: /exactly one of all, any, not/, found: /keys sensor, timeInState/ },
  { name: 'an empty condition', mutate: (d) => { rules(d)[1].when = {}; },
    code: 'POLICY_MISSING', path: 'deviceTypes[0].rules[1].when', expected: /exactly one of/, found: /empty mapping/ },
  { name: 'an empty all', mutate: (d) => { rules(d)[3].when.all = []; },
    code: 'POLICY_VALUE', path: 'deviceTypes[0].rules[3].when.all', expected: /at least 1/, found: /list of 0/ },
  { name: 'an undeclared sensor deep in a condition', mutate: (d) => { rules(d)[3].when.all[1].not.sensor.name = 'door'; },
    code: 'POLICY_REFERENCE', path: 'deviceTypes[0].rules[3].when.all[1].not.sensor.name', expected: /level, open, mode/, found: /"door"/ },
  { name: 'avg over a boolean sensor', mutate: (d) => { rules(d)[3].when.all[1].not.sensor.over = { last: 2, aggregate: 'avg' }; },
    code: 'POLICY_VALUE', path: 'deviceTypes[0].rules[3].when.all[1].not.sensor.over.aggregate', expected: /none for a boolean/, found: /"avg"/ },
  { name: 'an unknown aggregate', mutate: (d) => { rules(d)[1].when.sensor.over.aggregate = 'median'; },
    code: 'POLICY_VALUE', path: 'deviceTypes[0].rules[1].when.sensor.over.aggregate', expected: /none avg sum min max/, found: /"median"/ },
  { name: 'last 0', mutate: (d) => { rules(d)[1].when.sensor.over.last = 0; },
    code: 'POLICY_VALUE', path: 'deviceTypes[0].rules[1].when.sensor.over.last', expected: /from 1 to 1000/, found: /number 0/ },
  { name: 'a history longer than the bound', mutate: (d) => { rules(d)[1].when.sensor.over.last = 1001; },
    code: 'POLICY_VALUE', path: 'deviceTypes[0].rules[1].when.sensor.over.last', expected: /from 1 to 1000/, found: /number 1001/ },
  { name: 'an unknown operator', mutate: (d) => { rules(d)[1].when.sensor.op = '=>'; },
    code: 'POLICY_VALUE', path: 'deviceTypes[0].rules[1].when.sensor.op', expected: /one of < <= > >= == !=/, found: /"=>"/ },
  { name: 'a fractional alert window', mutate: (d) => { rules(d)[0].when.alert.withinMs = 10.5; },
    code: 'POLICY_VALUE', path: 'deviceTypes[0].rules[0].when.alert.withinMs', expected: /integer/, found: /10.5/ },
  { name: 'an alert without a window', mutate: (d) => { delete rules(d)[0].when.alert.withinMs; },
    code: 'POLICY_MISSING', path: 'deviceTypes[0].rules[0].when.alert.withinMs', expected: /key "withinMs"/, found: /nothing/ },
  { name: 'a selector of an unknown type', mutate: (d) => { rules(d)[2].when.devices.select.type = 'lamp'; },
    code: 'POLICY_REFERENCE', path: 'deviceTypes[0].rules[2].when.devices.select.type', expected: /one of meter/, found: /"lamp"/ },
  { name: 'a selector state the selected type lacks', mutate: (d) => { rules(d)[2].when.devices.in = ['attack', 'offline']; },
    code: 'POLICY_REFERENCE', path: 'deviceTypes[0].rules[2].when.devices.in[1]', expected: /state of device type meter/, found: /"offline"/ },
  { name: 'quantifier count without count', mutate: (d) => { delete rules(d)[2].when.devices.count; },
    code: 'POLICY_MISSING', path: 'deviceTypes[0].rules[2].when.devices.count', expected: /quantifier count/, found: /nothing/ },
  { name: 'a count with quantifier any', mutate: (d) => { rules(d)[2].when.devices.quantifier = 'any'; },
    code: 'POLICY_VALUE', path: 'deviceTypes[0].rules[2].when.devices.count', expected: /unless quantifier is count/, found: /mapping/ },
  { name: 'an empty selector', mutate: (d) => { rules(d)[2].when.devices.select = {}; },
    code: 'POLICY_MISSING', path: 'deviceTypes[0].rules[2].when.devices.select', expected: /at least one of id, type/, found: /empty selector/ },
  { name: 'a selector sensor without a type', mutate: (d) => {
    rules(d)[2].when.devices.select = { tag: 'lights' }; rules(d)[2].when.devices.sensor = { name: 'open', op: '==', value: true };
  }, code: 'POLICY_MISSING', path: 'deviceTypes[0].rules[2].when.devices.select.type', expected: /device type in the selector/, found: /no type/ },
  { name: 'a command argument that is not a string', mutate: (d) => { rules(d)[1].commands[0].args.delayMs = 5; },
    code: 'POLICY_TYPE', path: 'deviceTypes[0].rules[1].commands[0].args.delayMs', expected: /a string/, found: /number 5/ },
  { name: 'a null where a mapping belongs', mutate: (d) => { rules(d)[1].commands[0].args = null; },
    code: 'POLICY_TYPE', path: 'deviceTypes[0].rules[1].commands[0].args', expected: /a mapping/, found: /^null$/ },
  { name: 'a device type declared twice', mutate: (d) => { (d as Loose).deviceTypes.push(deviceType('meter')); },
    code: 'POLICY_DUPLICATE', path: 'deviceTypes[1].name', expected: /device type name not declared before/, found: /"meter" again/ },
  { name: 'a sensor declared twice', mutate: (d) => { (d as Loose).deviceTypes[0].sensors.push({ name: 'open', type: 'string' }); },
    code: 'POLICY_DUPLICATE', path: 'deviceTypes[0].sensors[3].name', expected: /sensor name/, found: /"open" again/ },
  { name: 'one image pinned to two digests', mutate: (d) => { (d as Loose).deviceTypes[0].states[2] = { name: 'attack', chain: [{ name: 'monitor', digest: `sha256:${'cd'.repeat(32)}` }] }; },
    code: 'POLICY_VALUE', path: 'deviceTypes[0].states[2].chain[0].digest', expected: /abab.* \(image monitor is pinned so at deviceTypes\[0\]\.states\[1\]\.chain\[0\]\.digest\)/, found: /cdcd/ },
  { name: 'an unknown sensor type', mutate: (d) => { (d as Loose).deviceTypes[0].sensors[0].type = 'float'; },
    code: 'POLICY_VALUE', path: 'deviceTypes[0].sensors[0].type', expected: /number boolean string/, found: /"float"/ },
];

describe('a bad document arriving as JSON names source, path, expected and found', () => {
  test('the unmutated document is valid', () => {
    assert.equal(validatePolicy(valid(), 'cmd').domain, 'lab');
  });
  for (const c of mutationCases) {
    test(`${c.name} → ${c.code} at ${c.path}`, () => {
      const doc = valid();
      c.mutate(doc);
      assert.throws(() => validatePolicy(JSON.parse(JSON.stringify(doc)), 'command 17 payload'), (error: unknown) => {
        assert.ok(error instanceof PolicyError, `a PolicyError, got ${String(error)}`);
        assert.equal(error.code, c.code, error.message);
        assert.equal(error.file, 'command 17 payload');
        assert.equal(error.path, c.path, error.message);
        assert.equal(error.line, undefined, 'JSON input has no line numbers');
        assert.match(error.expected, c.expected, error.message);
        assert.match(error.found, c.found, error.message);
        return true;
      });
    });
  }
});

describe('normalization', () => {
  test('defaults are filled in: initial state, atLeast, over, quantifier, commands, alert types, sensors', () => {
    const doc = validatePolicy(labDoc([{
      name: 'bare',
      states: [{ name: 'normal', verdict: 'allow' }, { name: 'suspicious', verdict: 'allow' }, { name: 'attack', verdict: 'quarantine' }],
    }]), 'x');
    assert.deepEqual(doc.deviceTypes[0], {
      name: 'bare', sensors: [], alertTypes: [], initialState: 'normal', rules: [], commands: [],
      samplingMs: { normal: 10_000, suspicious: 10_000, attack: 10_000 },
      states: [{ name: 'normal', verdict: 'allow' }, { name: 'suspicious', verdict: 'allow' }, { name: 'attack', verdict: 'quarantine' }],
    });
    const full = validatePolicy(valid(), 'x');
    assert.deepEqual(full.deviceTypes[0]?.rules[0]?.commands, []);
    assert.deepEqual(full.deviceTypes[0]?.rules[3]?.when, {
      all: [{ timeInState: { atLeastMs: 1000 } }, { not: { sensor: { name: 'open', op: '==', value: true, over: { last: 1, aggregate: 'none' } } } }],
    });
  });

  test('validating a normalized document gives it back unchanged (idempotent, JSON round trip safe)', () => {
    const once = validatePolicy(valid(), 'x');
    const twice = validatePolicy(JSON.parse(JSON.stringify(once)), 'y');
    assert.equal(JSON.stringify(twice), JSON.stringify(once));
  });
});
