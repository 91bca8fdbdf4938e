// verify-ahead.ts — the API's edge check verifies a command's signatures in Node's thread pool first.
//
// Issue #18: on the leader, Ed25519 verification was a fifth of the main thread's CPU per write at 64
// clients, and the main thread is what limits throughput (it carries HTTP, Raft and apply). The same native
// verifier runs in the pool and records what verifies in the process's memo (commands/crypto.ts
// verifyInBackground); precheck, and later apply, then find the signatures there. Nothing is decided here.
// Only commands that arrive together are verified ahead (see verifiedAhead).
import { verifyInBackground } from '../commands/index.js';
import type { StateMachine } from '../state/index.js';

/** arrivalsThisTurn counts the commands that reached verifiedAhead in this turn of the event loop. */
let arrivalsThisTurn = 0;

/**
 * verifiedAhead verifies the signatures of the envelope `bytes` in the thread pool, against the state's
 * current keys, and resolves with the same bytes once done (a signature that fails, or that could not be
 * checked ahead, is left to precheck, which verifies it on the spot and refuses it). Never rejects.
 * Only a command that arrives in the same turn as another one goes to the pool: a lone command (one
 * client) has nothing to overlap with, and the hand-off cost more CPU per write than it saved (bench:etcd
 * profiles, issue #18); precheck verifies it on the spot, as before.
 */
export async function verifiedAhead(machine: Pick<StateMachine, 'signatureChecks'>, bytes: Uint8Array): Promise<Uint8Array> {
  if (arrivalsThisTurn === 0) setImmediate(() => { arrivalsThisTurn = 0; });
  arrivalsThisTurn += 1;
  if (arrivalsThisTurn >= 2) await verifyInBackground(machine.signatureChecks(bytes));
  return bytes;
}
