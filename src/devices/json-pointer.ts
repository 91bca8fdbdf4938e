// json-pointer.ts — RFC 6901 JSON pointers, resolved against a parsed JSON document. Small enough to own:
// it reads only own properties (never the prototype chain) and never throws for a missing value.
import { badInput } from './errors.js';

/** MAX_POINTER_TOKENS bounds a pointer's depth. */
const MAX_POINTER_TOKENS = 32;

/** parsePointer splits a pointer into its unescaped reference tokens; `where` names it in the error. */
export function parsePointer(pointer: string, where: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw badInput(where, 'a JSON pointer (RFC 6901) starting with "/"', pointer);
  const tokens = pointer.slice(1).split('/');
  if (tokens.length > MAX_POINTER_TOKENS) throw badInput(where, `a JSON pointer of at most ${MAX_POINTER_TOKENS} tokens`, pointer);
  return tokens.map((token) => {
    if (/~[^01]|~$/.test(token)) throw badInput(where, 'a JSON pointer whose "~" is followed by 0 or 1', pointer);
    return token.replaceAll('~1', '/').replaceAll('~0', '~');
  });
}

/** resolvePointer finds the value at `tokens` in `document`: `{found: false}` when any step is missing. */
export function resolvePointer(document: unknown, tokens: readonly string[]): { found: true; value: unknown } | { found: false } {
  let current: unknown = document;
  for (const token of tokens) {
    if (Array.isArray(current)) {
      if (!/^(0|[1-9][0-9]*)$/.test(token)) return { found: false };
      const index = Number(token);
      if (index >= current.length) return { found: false };
      current = current[index];
    } else if (current !== null && typeof current === 'object' && Object.hasOwn(current, token)) {
      current = (current as Record<string, unknown>)[token];
    } else {
      return { found: false };
    }
  }
  return { found: true, value: current };
}
