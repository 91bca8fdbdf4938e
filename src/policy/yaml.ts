// yaml.ts — reading a policy document from YAML text. Syntax errors, duplicate keys and validation
// errors all become a PolicyError that names the file, the path inside it, the line and column, what
// was expected and what was found.

import { isMap, isNode, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { POLICY_TEXT_BYTES_MAX } from './constants.js';
import { PolicyError } from './errors.js';
import type { PolicyDocument } from './model.js';
import { validatePolicy } from './validate.js';

/** ALIAS_COUNT_MAX bounds alias expansion (a "billion laughs" document is refused, not expanded). */
const ALIAS_COUNT_MAX = 50;

/** start is where a node begins in the source text, when the parser recorded it. */
function start(node: unknown): number | undefined {
  return isNode(node) ? (node.range?.[0] ?? undefined) : undefined;
}

/**
 * nodeOffset finds where a path points in the parsed document: the value when it exists (a scalar or
 * a collection), else the nearest enclosing node, so an unknown key points at the key itself.
 */
function nodeOffset(doc: Document, segments: ReadonlyArray<string | number>, atKey: boolean): number | undefined {
  let node: unknown = doc.contents;
  let offset = start(node);
  for (const [depth, segment] of segments.entries()) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && item.key.value === segment);
      if (pair === undefined) return offset;
      offset = start(pair.key) ?? offset;
      node = pair.value;
      const valueStart = start(node);
      // A present value is reported where it is; an unknown key where the key is (its value may be long).
      const last = depth === segments.length - 1;
      if (valueStart !== undefined && isScalar(node) && !(atKey && last)) offset = valueStart;
    } else if (isSeq(node) && typeof segment === 'number') {
      node = node.items[segment];
      const itemStart = start(node);
      if (itemStart === undefined) return offset;
      offset = itemStart;
    } else {
      return offset;
    }
  }
  return offset;
}

/**
 * parsePolicyYaml parses and validates a policy document written in YAML. `file` names the source in
 * errors. Throws PolicyError (code POLICY_SYNTAX for YAML that does not parse, else the validation code).
 */
export function parsePolicyYaml(text: string, file: string): PolicyDocument {
  if (Buffer.byteLength(text, 'utf8') > POLICY_TEXT_BYTES_MAX) {
    throw new PolicyError({ code: 'POLICY_LIMIT', file, pathSegments: [], expected: `at most ${POLICY_TEXT_BYTES_MAX} bytes`,
      found: `${Buffer.byteLength(text, 'utf8')} bytes` });
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, schema: 'core', strict: true });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem !== undefined) {
    const position = lineCounter.linePos(problem.pos[0]);
    throw new PolicyError({ code: 'POLICY_SYNTAX', file, pathSegments: [], expected: 'a valid YAML document',
      found: problem.message.split('\n')[0] ?? problem.code, line: position.line, column: position.col });
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: ALIAS_COUNT_MAX });
  } catch (error) {
    throw new PolicyError({ code: 'POLICY_SYNTAX', file, pathSegments: [], expected: 'a YAML document without excessive aliases',
      found: error instanceof Error ? error.message : String(error) });
  }
  try {
    return validatePolicy(value, file);
  } catch (error) {
    if (!(error instanceof PolicyError)) throw error;
    const offset = nodeOffset(doc, error.pathSegments, error.code === 'POLICY_UNKNOWN_KEY');
    if (offset === undefined) throw error;
    const { line, col } = lineCounter.linePos(offset);
    throw error.withPosition(line, col);
  }
}
