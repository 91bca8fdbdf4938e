// policy-yaml.test.ts — fuzzing the policy loader (src/policy parsePolicyYaml). Promise: any text is a
// valid policy document or a PolicyError that names the file and says where (a line and column, or,
// for a document too large, with too many aliases or not a mapping, that it is the whole document) — never an
// exception of another kind, never a different answer for the same text.
//
// Method: fast-check edits the example documents of cluster/policies line by line (deletes, duplicates,
// swaps, re-indents, and scalars replaced with hostile ones: empty, huge numbers, anchors and aliases,
// flow brackets, long and non-ASCII text), writes random JSON values as YAML, and sends random text
// over YAML's special characters.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { PolicyError, parsePolicyYaml } from '../../src/policy/index.js';
import { packagePath } from '../../src/wire/index.js';
import { FuzzPlan, describeError } from './support.js';

const plan = new FuzzPlan(3);
const examples = ['home.yaml', 'office.yaml'].map((name) => readFileSync(packagePath('cluster', 'policies', name), 'utf8'));

/** loadOrRefuse parses `text`; a PolicyError must locate the problem, anything else thrown fails. */
function loadOrRefuse(text: string): void {
  const first = outcome(text);
  assert.equal(outcome(text), first, 'the same text gave two different answers');
}

function outcome(text: string): string {
  try {
    return `valid ${JSON.stringify(parsePolicyYaml(text, 'fuzz.yaml'))}`;
  } catch (error) {
    assert.ok(error instanceof PolicyError, `parsePolicyYaml threw ${describeError(error)} for:\n${text.slice(0, 2_000)}`);
    assert.ok(error.message.startsWith('fuzz.yaml'), `the error names the file: ${error.message}`);
    // The whole document is the location when it is too large, has too many aliases, or is not a mapping.
    const wholeDocument = error.code === 'POLICY_LIMIT' || /alias/i.test(error.expected) || error.path === '(document)';
    if (!wholeDocument) {
      assert.ok(error.line !== undefined && error.line >= 1 && error.line <= text.split('\n').length + 1, `the error has no line, or a line outside the text: ${error.message}`);
    }
    return `error ${error.message}`;
  }
}

const hostileScalar = fc.oneof(
  fc.constantFrom('', '~', 'null', '-1', '0', '1e309', '-0', '0x1F', '.nan', '9007199254740993', 'true', '"', "'", '[', ']', '{', '}', '&a x', '*a', '*nope', '!!binary AAAA', '<<: *a', '|', '>', '? x', '- x', '#', '%YAML 1.1', '---', '...', 'é', '\u0000', '\u202e'),
  fc.string({ maxLength: 20 }),
  fc.integer().map(String),
  fc.double().map(String),
  fc.nat(5_000).map((n) => 'x'.repeat(n)),
);

type Edit = { kind: 'delete' | 'duplicate' | 'swap' | 'indent' | 'dedent' | 'scalar'; line: number; other: number; scalar: string };
const edit: fc.Arbitrary<Edit> = fc.record({
  kind: fc.constantFrom('delete', 'duplicate', 'swap', 'indent', 'dedent', 'scalar'),
  line: fc.nat(),
  other: fc.nat(),
  scalar: hostileScalar,
});

/** applyEdits changes an example document line by line. */
function applyEdits(text: string, edits: readonly Edit[]): string {
  const lines = text.split('\n');
  for (const e of edits) {
    const at = e.line % lines.length;
    const line = lines[at]!;
    if (e.kind === 'delete') lines.splice(at, 1);
    else if (e.kind === 'duplicate') lines.splice(at, 0, line);
    else if (e.kind === 'swap') [lines[at], lines[e.other % lines.length]] = [lines[e.other % lines.length]!, line];
    else if (e.kind === 'indent') lines[at] = `  ${line}`;
    else if (e.kind === 'dedent') lines[at] = line.replace(/^ {1,2}/, '');
    else lines[at] = line.includes(': ') ? `${line.slice(0, line.indexOf(': ') + 2)}${e.scalar}` : `${line}${e.scalar}`;
    if (lines.length === 0) lines.push('');
  }
  return lines.join('\n');
}

describe('policy YAML', () => {
  test('edited example documents are valid or a located PolicyError', () => {
    fc.assert(fc.property(fc.nat(examples.length - 1), fc.array(edit, { minLength: 1, maxLength: 5 }), (which, edits) => loadOrRefuse(applyEdits(examples[which]!, edits))),
      plan.parameters(plan.longMode ? 0 : 200));
  });

  test('random JSON values written as YAML are refused with a located PolicyError (or valid)', () => {
    fc.assert(fc.property(fc.oneof(fc.jsonValue({ maxDepth: 6 }), fc.record({ domain: fc.jsonValue(), version: fc.jsonValue(), deviceTypes: fc.jsonValue({ maxDepth: 5 }) })),
      (value) => loadOrRefuse(stringify(value))), plan.parameters(plan.longMode ? 0 : 500));
  });

  test('random text over YAML\'s special characters is refused with a located PolicyError', () => {
    const alphabet = fc.constantFrom(...'abc-:{}[],&*!|>?#%@`\'" \n\t0123456789.~'.split(''));
    fc.assert(fc.property(fc.array(alphabet, { maxLength: 300 }).map((chars) => chars.join('')), loadOrRefuse), plan.parameters(plan.longMode ? 0 : 2_000));
  });
});
