// assert.ts — the one assertion helper of quorumgate's modules (TigerStyle: assertions on
// preconditions, postconditions and invariants, kept on in production). A broken invariant is a bug,
// never an operating error: the error it throws is never caught, and the process crashes. Each module
// keeps its own error class (its stable `code` names the module) and builds its `assert` here.

/** AssertionMessage is the text of a failed assertion, or a function computing it only on failure. */
export type AssertionMessage = string | (() => string);

/** Assert throws when `condition` is false; the message says which invariant broke, with the values. */
export type Assert = (condition: boolean, message: AssertionMessage) => asserts condition;

/** InvariantError is the base of every module's assertion error; `code` names the module. Never caught. */
export class InvariantError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = new.target.name;
  }
}

/** assertWith returns the module's assert: on a false condition it throws `fail(message)`. */
export function assertWith(fail: (message: string) => InvariantError): Assert {
  return (condition: boolean, message: AssertionMessage): asserts condition => {
    if (!condition) throw fail(typeof message === 'string' ? message : message());
  };
}
