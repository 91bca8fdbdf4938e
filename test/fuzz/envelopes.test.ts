// envelopes.test.ts — fuzzing signed commands (src/commands decode/verify, through the real
// StateMachine). Promise: no forged, corrupted or malleated envelope is ever accepted — not by the
// edge check (precheck), not by apply, not as the answer to a retry (resultForEnvelope) — and none of
// them throws anything but a CommandError at the edge, or makes apply throw; a rejected forgery never
// keeps the genuine envelope from applying.
//
// Method: a real StateMachine with the fixture cluster's setup applied (shared by the runs); a genuine admin
// command with fast-check's field values; copies of it corrupted byte-wise (flips, truncation,
// insertions), re-signed with S + L (the malleable half of Ed25519), with signatures duplicated,
// swapped to another key or dropped, and random bytes. "Accepted" is allowed only for a copy that
// carries the genuine body bytes and genuine signatures (a different but equivalent outer encoding).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CommandError, decodeSignedCommand, encodeSignedCommand, keyIdHex } from '../../src/commands/index.js';
import type { SignedCommand } from '../../src/commands/index.js';
import { StateMachine, policyEngines } from '../../src/state/index.js';
import { T0_MS, TestCluster, toEntries } from '../state/fixtures.js';
import { malleateSignature } from '../support/ed25519.js';
import { FuzzPlan, describeError, mutatedBytes } from './support.js';

const plan = new FuzzPlan(3);
/** World is a state machine after the fixture setup, and the cluster that signs for it. */
interface World {
  readonly cluster: TestCluster;
  readonly machine: StateMachine;
  next: number;
}

function freshWorld(): World {
  const cluster = new TestCluster();
  const machine = new StateMachine(cluster.genesis, policyEngines);
  const setup = toEntries(cluster.setup(2));
  for (const entry of setup) assert.equal(machine.apply(entry).ok, true);
  return { cluster, machine, next: setup.length + 1 };
}

/**
 * sharedWorld: one state machine serves many runs (each signs a new command with the next seq), and is
 * rebuilt before its entry times reach the commands' expiry (a day after T0).
 */
let shared: World | undefined;
function sharedWorld(): World {
  if (shared === undefined || shared.next > 50_000) shared = freshWorld();
  return shared;
}

function applyAt(world: World, payload: Uint8Array): ReturnType<StateMachine['apply']> {
  const index = world.next++;
  return world.machine.apply({ index, term: 1, timeMs: T0_MS + index * 1000, payload });
}

/** genuine signs an admin command from fuzzed field values. */
const genuineCommand = fc.record({
  kind: fc.constantFrom('state', 'image'),
  text: fc.stringMatching(/^[a-z0-9][a-z0-9 ._-]{0,38}[a-z0-9]$/),
  state: fc.constantFrom('normal', 'suspicious', 'attack'),
});
function sign(world: World, command: { kind: string; text: string; state: string }): Uint8Array {
  const { cluster } = world;
  return command.kind === 'state'
    ? cluster.as(cluster.admin, { kind: 'setDeviceState', deviceId: 'plug-0', state: command.state, reason: command.text }, 'home')
    : cluster.as(cluster.admin, { kind: 'putImage', name: 'fuzzed', digest: `sha256:${Buffer.from(command.text).toString('hex').padEnd(64, '0').slice(0, 64)}` }, 'home');
}

/** Forgery names a structural attack on a genuine envelope. */
type Forgery = 'malleate' | 'duplicate-signature' | 'other-key' | 'no-signature' | 'swap-signature-bytes';
function forge(world: World, genuine: Uint8Array, forgery: Forgery): Uint8Array {
  const envelope = decodeSignedCommand(genuine);
  const sig = envelope.signatures[0]!;
  const variants: Record<Forgery, SignedCommand> = {
    'malleate': { body: envelope.body, signatures: [{ keyId: sig.keyId, sig: malleateSignature(sig.sig) }] },
    'duplicate-signature': { body: envelope.body, signatures: [sig, sig] },
    'other-key': { body: envelope.body, signatures: [{ keyId: Buffer.from(keyIdHex(world.cluster.officeAdmin.publicKey), 'hex'), sig: sig.sig }] },
    'no-signature': { body: envelope.body, signatures: [] },
    'swap-signature-bytes': { body: envelope.body, signatures: [{ keyId: sig.keyId, sig: Uint8Array.from(sig.sig).reverse() }] },
  };
  return encodeSignedCommand(variants[forgery]);
}

/** Attack is how a copy is made: a structural forgery, or byte edits drawn with a seed. */
type Attack = { forgery: Forgery; edits: null } | { forgery: null; edits: number };
const attack: fc.Arbitrary<Attack> = fc.oneof(
  fc.constantFrom<Forgery>('malleate', 'duplicate-signature', 'other-key', 'no-signature', 'swap-signature-bytes').map((forgery): Attack => ({ forgery, edits: null })),
  fc.integer({ min: 0, max: 1_000_000 }).map((seed): Attack => ({ forgery: null, edits: seed })),
);
function copyOf(world: World, genuine: Uint8Array, how: Attack): Uint8Array {
  return how.forgery !== null ? forge(world, genuine, how.forgery) : fc.sample(mutatedBytes(fc.constant(genuine)), { seed: how.edits, numRuns: 1 })[0]!;
}

/** sameAsGenuine: the copy carries the genuine body and signatures byte for byte. */
function sameAsGenuine(copy: Uint8Array, genuine: Uint8Array): boolean {
  let a: SignedCommand;
  try {
    a = decodeSignedCommand(copy);
  } catch {
    return false;
  }
  const b = decodeSignedCommand(genuine);
  return Buffer.from(a.body).equals(Buffer.from(b.body)) && a.signatures.length === b.signatures.length
    && a.signatures.every((s, i) => Buffer.from(s.sig).equals(Buffer.from(b.signatures[i]!.sig)) && Buffer.from(s.keyId).equals(Buffer.from(b.signatures[i]!.keyId)));
}

/** checkCopy: a copy of `genuine` is accepted by the edge, apply and a retry answer only if it is the genuine one. */
function checkCopy(world: World, genuine: Uint8Array, copy: Uint8Array, genuineApplied: boolean): void {
  const same = sameAsGenuine(copy, genuine);
  let edgeAccepted = false;
  try {
    world.machine.precheck(copy, T0_MS);
    edgeAccepted = true;
  } catch (error) {
    assert.ok(error instanceof CommandError, `precheck threw ${describeError(error)}`);
  }
  if (!genuineApplied) assert.ok(!edgeAccepted || same, 'the edge accepted a forged or corrupted copy');
  const retry = world.machine.resultForEnvelope(copy);
  if (genuineApplied) assert.ok(retry === undefined || same, 'a forged or corrupted copy was answered as the applied original');
  const result = applyAt(world, copy);
  assert.ok(!result.ok || (same && !genuineApplied), `apply accepted a copy: ${JSON.stringify(result)}`);
}

describe('envelopes and command bodies', () => {
  test('a corrupted or forged copy is never accepted before the genuine one applies, and does not keep it from applying', () => {
    fc.assert(fc.property(genuineCommand, attack, (command, how) => {
      const world = sharedWorld();
      const genuine = sign(world, command);
      const copy = copyOf(world, genuine, how);
      checkCopy(world, genuine, copy, false);
      const applied = applyAt(world, genuine);
      if (!sameAsGenuine(copy, genuine)) assert.equal(applied.ok, true, `the genuine command was refused after a rejected copy: ${JSON.stringify(applied)}`);
    }), plan.parameters(plan.longMode ? 0 : 500));
  });

  test('after the genuine envelope applied, no corrupted or forged copy is answered as it or applied', () => {
    fc.assert(fc.property(genuineCommand, attack, (command, how) => {
      const world = sharedWorld();
      const genuine = sign(world, command);
      assert.equal(applyAt(world, genuine).ok, true);
      const copy = copyOf(world, genuine, how);
      checkCopy(world, genuine, copy, true);
    }), plan.parameters(plan.longMode ? 0 : 500));
  });

  test('random bytes are refused at the edge with a CodecError-free CommandError and rejected by apply without a throw', () => {
    const world = sharedWorld();
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      try {
        world.machine.precheck(bytes, T0_MS);
        assert.fail('random bytes passed the edge check');
      } catch (error) {
        assert.ok(error instanceof CommandError, `precheck threw ${describeError(error)}`);
      }
      assert.equal(world.machine.resultForEnvelope(bytes), undefined);
      assert.equal(applyAt(world, bytes).ok, false);
    }), plan.parameters(plan.longMode ? 0 : 1_000));
  });
});
