// canonical-json.ts — one byte string per JSON value: object keys sorted, no whitespace.
import assert from 'node:assert/strict';

const MAX_DEPTH = 64;

/**
 * canonicalJson serializes plain data (objects, arrays, strings, finite numbers, booleans, null) with
 * object keys in sorted order. Undefined object members are omitted. Anything else is a programming
 * error and fails an assertion.
 */
export function canonicalJson(value: unknown): string {
  return render(value, 0);
}

function render(value: unknown, depth: number): string {
  assert.ok(depth <= MAX_DEPTH, 'canonicalJson: value nested too deeply');
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      assert.ok(Number.isFinite(value), 'canonicalJson: numbers must be finite');
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v) => render(v, depth + 1)).join(',')}]`;
      assert.ok(Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null, 'canonicalJson: only plain objects');
      const entries = Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${render(v, depth + 1)}`).join(',')}}`;
    }
    default:
      assert.fail(`canonicalJson: cannot serialize a ${typeof value}`);
  }
}
