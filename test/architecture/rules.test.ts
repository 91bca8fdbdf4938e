// Goal: the module rules of issue #19 hold and stay held: the API imports nothing from src/node (the
// node implements the ports the API declares in src/api/ports.ts), no core module (src/raft, src/state,
// src/storage, src/api) names a planted bug, and no function in src/ is longer than 70 lines.
// Method: read every source file under src/ and parse it with the TypeScript compiler API.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { repoPath } from '../support/paths.js';

const SRC = repoPath('src');
const MAX_FUNCTION_LINES = 70;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.tsx?$/.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

function importsOf(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const specifiers: string[] = [];
  source.forEachChild((node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      specifiers.push(node.moduleSpecifier.text);
    }
  });
  return specifiers;
}

/** longFunctions lists the functions (declarations, methods, arrows, expressions) of a file longer than the bound. */
function longFunctions(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true, file.endsWith('x') ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const lines = end - start + 1;
      if (lines > MAX_FUNCTION_LINES) {
        const name = node.name !== undefined && ts.isIdentifier(node.name) ? node.name.text : '(anonymous)';
        found.push(`${relative(SRC, file)}:${start + 1} ${name} (${lines} lines)`);
      }
    }
    node.forEachChild(visit);
  };
  visit(source);
  return found;
}

describe('module rules (issue #19)', () => {
  test('src/api imports nothing from src/node', () => {
    const offenders = sourceFiles(join(SRC, 'api')).flatMap((file) => importsOf(file).filter((s) => /(^|\/)node\//.test(s) && s.startsWith('..')).map((s) => `${relative(SRC, file)} imports ${s}`));
    assert.deepEqual(offenders, []);
  });

  test('no core module names a planted bug in its code (comments may explain how tests plant one)', () => {
    const offenders: string[] = [];
    for (const module of ['raft', 'state', 'storage', 'api']) {
      for (const file of sourceFiles(join(SRC, module))) {
        const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
        const visit = (node: ts.Node): void => {
          if ((ts.isIdentifier(node) || ts.isStringLiteral(node)) && /(^|[^a-z])plant|Plant|planted/.test(node.text)) {
            offenders.push(`${relative(SRC, file)}:${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1}: ${node.text}`);
          }
          node.forEachChild(visit);
        };
        visit(source);
      }
    }
    assert.deepEqual(offenders, []);
  });

  test(`no function in src/ is longer than ${MAX_FUNCTION_LINES} lines, except the listed ones, which may only shrink`, () => {
    // A ratchet: the functions still over the bound on 2026-12-06 (issue #19 item 6 is open for them).
    // A new long function fails; so does one of these growing, or being split (then remove it from here).
    const allowed = new Map<string, number>([]);
    const found = sourceFiles(SRC).flatMap(longFunctions).map((line) => /^(\S+):\d+ (\S+) \((\d+) lines\)$/.exec(line)!);
    const problems: string[] = [];
    for (const [, file, name, lines] of found) {
      const bound = allowed.get(`${file} ${name}`);
      if (bound === undefined) problems.push(`${file} ${name}: ${lines} lines (new)`);
      else if (Number(lines) > bound) problems.push(`${file} ${name}: grew from ${bound} to ${lines} lines`);
    }
    for (const key of allowed.keys()) {
      if (!found.some(([, file, name]) => `${file} ${name}` === key)) problems.push(`${key}: now within the bound; remove it from the allowed list`);
    }
    assert.deepEqual(problems, []);
  });
});
