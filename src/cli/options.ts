// options.ts — small helpers shared by the command files: repeatable options and the action wrapper type.
import type { Context } from './context.js';

/** collect is a commander option parser that accumulates a repeatable option into a list. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/**
 * Action wraps a command handler for commander: it builds the invocation's Context from the global
 * options and calls the handler with the command's positional arguments and its own options.
 */
export type Action = <A extends unknown[]>(handler: (ctx: Context, ...args: A) => Promise<void>) => (...commanderArgs: unknown[]) => Promise<void>;
