// Goal: the module rules of issue #19 hold and stay held: the API imports nothing from src/node (the
// node implements the ports the API declares in src/api/ports.ts), no core module (src/raft, src/state,
// src/storage, src/api) names a planted bug, and no function in src/ is longer than 70 lines (no exceptions).
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

/** longFunctionsIn lists the functions (declarations, methods, arrows, expressions) of a source text longer than the bound. */
function longFunctionsIn(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, file.endsWith('x') ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
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

/** functionOfLines is the source of a function `name` spanning exactly `lines` lines, in the given form. */
function functionOfLines(form: 'declaration' | 'arrow' | 'method', name: string, lines: number): string {
  const body = Array.from({ length: lines - 2 }, (_, i) => `  const v${i} = ${i};`).join('\n');
  if (form === 'declaration') return `function ${name}(): void {\n${body}\n}\n`;
  if (form === 'arrow') return `app.get('/x', async () => {\n${body}\n});\n`;
  return `class C${name} {\n${name}(): void {\n${body}\n}\n}\n`;
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

  test(`no function in src/ is longer than ${MAX_FUNCTION_LINES} lines`, () => {
    // No exceptions: the last five long functions were split in issue #19 (item 6).
    const found = sourceFiles(SRC).flatMap((file) => longFunctionsIn(file, readFileSync(file, 'utf8')));
    assert.deepEqual(found, []);
  });

  test(`the long-function rule finds a function of ${MAX_FUNCTION_LINES + 1} lines in every form, and not one of ${MAX_FUNCTION_LINES}`, () => {
    // The rule's self-check: without it, a broken finder would pass the rule above by finding nothing.
    for (const form of ['declaration', 'arrow', 'method'] as const) {
      const file = join(SRC, `self-check-${form}.ts`);
      assert.deepEqual(longFunctionsIn(file, functionOfLines(form, 'fits', MAX_FUNCTION_LINES)), [], form);
      const found = longFunctionsIn(file, functionOfLines(form, 'tooLong', MAX_FUNCTION_LINES + 1));
      assert.equal(found.length, 1, `${form}: ${found.join(', ')}`);
      assert.match(found[0]!, new RegExp(`\\(${MAX_FUNCTION_LINES + 1} lines\\)$`));
    }
  });
});
