// handshake.test.ts — goal: the key exchange authenticates both node identities, binds every
// signature to this connection's transcript (so nothing recorded can be replayed, reflected or
// moved to another cluster or node), derives matching per-direction keys, and refuses
// non-members; the frame cipher rejects tampered, replayed and reordered frames; the framer
// never buffers beyond its limit. Method: the Initiator and Responder state machines driven
// directly (no sockets), with recorded messages replayed across sessions and hellos built by
// hand with protobufjs to forge what a hostile peer could send.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, sign } from 'node:crypto';
import protobuf from 'protobufjs';
import nacl from 'tweetnacl';
import {
  CipherState, CodecError, DecryptError, FrameDecoder, FrameTooLargeError, HandshakeError, Initiator, NotMemberError,
  Responder, findRepositoryRoot, frameHeader, generateNodeIdentity, nodeIdentityFromPrivateKey, nodeIdentityFromSeed,
} from '../../src/transport/index.js';
import type { MembershipCheck, NodeIdentity } from '../../src/transport/index.js';

const CLUSTER = new Uint8Array(32).fill(1);
const alice = generateNodeIdentity(1); // initiator
const bob = generateNodeIdentity(2); // responder
const everyone: MembershipCheck = () => true;
const root = protobuf.loadSync([`${findRepositoryRoot()}/proto/raft.proto`, `${findRepositoryRoot()}/proto/transport.proto`]);
const ClientHello = root.lookupType('quorumgate.transport.ClientHello');
const ServerHello = root.lookupType('quorumgate.transport.ServerHello');
const ClientAuth = root.lookupType('quorumgate.transport.ClientAuth');

function pair(options: { initiatorIsMember?: MembershipCheck; responderIsMember?: MembershipCheck; responder?: NodeIdentity } = {}): { initiator: Initiator; responder: Responder } {
  const responderIdentity = options.responder ?? bob;
  return {
    initiator: new Initiator(alice, CLUSTER, { nodeId: 2, publicKey: bob.publicKey }, options.initiatorIsMember ?? everyone),
    responder: new Responder(responderIdentity, CLUSTER, options.responderIsMember ?? everyone),
  };
}

function complete(): { initiatorKeys: { sendKey: Buffer; receiveKey: Buffer }; responderKeys: { sendKey: Buffer; receiveKey: Buffer }; hello: Uint8Array; serverHello: Uint8Array; clientAuth: Uint8Array } {
  const { initiator, responder } = pair();
  const hello = initiator.clientHello();
  const serverHello = responder.onClientHello(hello);
  const { clientAuth, result } = initiator.onServerHello(serverHello);
  const accepted = responder.onClientAuth(clientAuth);
  assert.equal(result.peer.nodeId, 2);
  assert.equal(accepted.peer.nodeId, 1);
  assert.deepEqual(Buffer.from(accepted.peer.publicKey), Buffer.from(alice.publicKey));
  return { initiatorKeys: result.keys, responderKeys: accepted.keys, hello, serverHello, clientAuth };
}

function transcript(clientHello: Uint8Array, serverHelloBody: Uint8Array): Buffer {
  const u32 = (n: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32BE(n, 0); return b; };
  return createHash('sha256').update('quorumgate/transport/v1')
    .update(u32(clientHello.length)).update(clientHello).update(u32(serverHelloBody.length)).update(serverHelloBody).digest();
}

describe('handshake', () => {
  test('both sides authenticate each other and derive matching, distinct per-direction keys', () => {
    const { initiatorKeys, responderKeys } = complete();
    assert.deepEqual(initiatorKeys.sendKey, responderKeys.receiveKey);
    assert.deepEqual(initiatorKeys.receiveKey, responderKeys.sendKey);
    assert.notDeepEqual(initiatorKeys.sendKey, initiatorKeys.receiveKey);
  });

  test('every connection gets fresh keys (fresh X25519 ephemerals)', () => {
    assert.notDeepEqual(complete().initiatorKeys.sendKey, complete().initiatorKeys.sendKey);
  });

  test('a ServerHello recorded from one connection does not authenticate another', () => {
    const recorded = complete().serverHello;
    const { initiator } = pair();
    initiator.clientHello();
    assert.throws(() => initiator.onServerHello(recorded), (error: Error) => error instanceof HandshakeError && /signature .* is invalid/.test(error.message));
  });

  test('a ClientAuth recorded from one connection does not authenticate another', () => {
    const recorded = complete();
    const responder = new Responder(bob, CLUSTER, everyone);
    responder.onClientHello(recorded.hello); // even the same ClientHello: the responder's ephemeral is new
    assert.throws(() => responder.onClientAuth(recorded.clientAuth), HandshakeError);
  });

  test('the responder\'s signature cannot be reflected as the initiator\'s (role labels differ)', () => {
    const { initiator, responder } = pair();
    const hello = initiator.clientHello();
    const serverHello = ServerHello.decode(responder.onClientHello(hello)) as unknown as { signature: Uint8Array };
    assert.throws(() => responder.onClientAuth(ClientAuth.encode({ signature: serverHello.signature }).finish()), HandshakeError);
  });

  test('a dialer refuses a responder with another key, another node id, or one that is not a member', () => {
    const impostor = generateNodeIdentity(2);
    const wrongKey = pair({ responder: impostor });
    assert.throws(() => wrongKey.initiator.onServerHello(wrongKey.responder.onClientHello(wrongKey.initiator.clientHello())), /presented key/);
    const notMember = pair({ initiatorIsMember: () => false });
    assert.throws(() => notMember.initiator.onServerHello(notMember.responder.onClientHello(notMember.initiator.clientHello())), NotMemberError);
    const otherNode = new Initiator(alice, CLUSTER, { nodeId: 3, publicKey: bob.publicKey }, everyone);
    assert.throws(() => new Responder(bob, CLUSTER, everyone).onClientHello(otherNode.clientHello()), /meant to reach node 3, this is node 2/);
  });

  test('a responder refuses another cluster, another protocol version, bad key sizes, a non-member and garbage', () => {
    const base = { protocolVersion: 1, clusterId: CLUSTER, nodeId: 1, identityPublicKey: alice.publicKey, ephemeralPublicKey: new Uint8Array(32).fill(9), responderNodeId: 2 };
    const refuse = (fields: object, pattern: RegExp): void => {
      assert.throws(() => new Responder(bob, CLUSTER, everyone).onClientHello(ClientHello.encode({ ...base, ...fields }).finish()),
        (error: Error) => pattern.test(error.message));
    };
    refuse({ clusterId: new Uint8Array(32).fill(2) }, /cluster id 0202.* is not this cluster's 0101/);
    refuse({ protocolVersion: 2 }, /protocol version 2, expected 1/);
    refuse({ identityPublicKey: new Uint8Array(31) }, /identityPublicKey must be 32 bytes, got 31/);
    refuse({ nodeId: 2 }, /initiator node id 2 is invalid/);
    assert.throws(() => new Responder(bob, CLUSTER, everyone).onClientHello(Buffer.from([0x12, 0x40])), CodecError);
    const { initiator, responder } = pair({ responderIsMember: () => false });
    assert.throws(() => responder.onClientHello(initiator.clientHello()), (error: Error) => error instanceof NotMemberError && /node 1 with key/.test(error.message));
    // Membership is asked again once the identity is proven: a member removed mid-handshake is refused.
    let member = true;
    const late = pair({ responderIsMember: () => member });
    const { clientAuth } = late.initiator.onServerHello(late.responder.onClientHello(late.initiator.clientHello()));
    member = false;
    assert.throws(() => late.responder.onClientAuth(clientAuth), NotMemberError);
  });

  test('a low-order ephemeral key (all zeros) is refused even with a valid signature', () => {
    const hello = ClientHello.encode({ protocolVersion: 1, clusterId: CLUSTER, nodeId: 1, identityPublicKey: alice.publicKey, ephemeralPublicKey: new Uint8Array(32), responderNodeId: 2 }).finish();
    const responder = new Responder(bob, CLUSTER, everyone);
    const serverHello = ServerHello.decode(responder.onClientHello(hello)) as unknown as { body: Uint8Array };
    const signature = sign(null, Buffer.concat([Buffer.from('quorumgate/transport/v1 initiator'), transcript(hello, serverHello.body)]), alice.privateKey);
    assert.throws(() => responder.onClientAuth(ClientAuth.encode({ signature }).finish()), /low-order point|not a valid X25519 key/);
  });

  test('the transcript construction documented in transport.proto is what the responder signs', () => {
    const { initiator, responder } = pair();
    const hello = initiator.clientHello();
    const serverHello = responder.onClientHello(hello);
    const decoded = ServerHello.decode(serverHello) as unknown as { body: Uint8Array };
    // If the documented transcript differed from the implementation, this forged-but-correct auth would fail.
    const signature = sign(null, Buffer.concat([Buffer.from('quorumgate/transport/v1 initiator'), transcript(hello, decoded.body)]), alice.privateKey);
    initiator.onServerHello(serverHello);
    assert.equal(responder.onClientAuth(ClientAuth.encode({ signature }).finish()).peer.nodeId, 1);
  });
});

describe('node keys', () => {
  test('a seed gives the same public key natively as tweetnacl derives from it, and PEM round-trips', () => {
    const seed = new Uint8Array(32).map((_, i) => i * 7 + 1);
    const identity = nodeIdentityFromSeed(4, seed);
    assert.deepEqual(Buffer.from(identity.publicKey), Buffer.from(nacl.sign.keyPair.fromSeed(seed).publicKey));
    const pem = identity.privateKey.export({ format: 'pem', type: 'pkcs8' });
    assert.deepEqual(Buffer.from(nodeIdentityFromPrivateKey(4, pem).publicKey), Buffer.from(identity.publicKey));
    assert.throws(() => nodeIdentityFromSeed(4, new Uint8Array(31)), /seed must be 32 bytes, got 31/);
  });
});

describe('frame cipher', () => {
  const key = Buffer.alloc(32, 7);
  function split(frame: Buffer): { header: Buffer; body: Buffer } {
    return { header: frame.subarray(0, 4), body: frame.subarray(4) };
  }

  test('frames open in order and carry their plaintext', () => {
    const sender = new CipherState(key);
    const receiver = new CipherState(key);
    for (const text of ['one', '', 'three']) assert.equal(receiver.open(split(sender.seal(Buffer.from(text)))).toString(), text);
  });

  test('a flipped bit in the body, tag or length prefix fails authentication', () => {
    for (const position of [4, 10, 22]) {
      const frame = new CipherState(key).seal(Buffer.from('hello raft'));
      frame.writeUInt8(frame.readUInt8(position) ^ 1, position);
      assert.throws(() => new CipherState(key).open(split(frame)), DecryptError);
    }
    const frame = new CipherState(key).seal(Buffer.from('hello raft'));
    const header = Buffer.from(frame.subarray(0, 4));
    header.writeUInt8(header.readUInt8(3) ^ 1, 3); // AAD changed
    assert.throws(() => new CipherState(key).open({ header, body: frame.subarray(4) }), DecryptError);
  });

  test('a replayed or reordered frame fails authentication', () => {
    const sender = new CipherState(key);
    const first = sender.seal(Buffer.from('first'));
    const second = sender.seal(Buffer.from('second'));
    const receiver = new CipherState(key);
    receiver.open(split(first));
    assert.throws(() => receiver.open(split(first)), /frame 1 failed authentication/);
    assert.throws(() => new CipherState(key).open(split(second)), DecryptError);
  });

  test('a body shorter than the tag fails authentication', () => {
    assert.throws(() => new CipherState(key).open({ header: frameHeader(3), body: Buffer.alloc(3) }), DecryptError);
  });
});

describe('framing', () => {
  test('frames split at every byte boundary come out whole and in order', () => {
    const stream = Buffer.concat([frameHeader(3), Buffer.from('abc'), frameHeader(0), frameHeader(5), Buffer.from('hello')]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const decoder = new FrameDecoder(16);
      const out: string[] = [];
      for (const part of [stream.subarray(0, cut), stream.subarray(cut)]) {
        decoder.push(part);
        for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) out.push(frame.body.toString());
      }
      assert.deepEqual(out, ['abc', '', 'hello'], `cut at ${cut}`);
      assert.equal(decoder.pendingBytes, 0);
    }
  });

  test('a length prefix above the limit is refused before any body byte is buffered', () => {
    const decoder = new FrameDecoder(16);
    decoder.push(frameHeader(17));
    assert.throws(() => decoder.next(), (error: Error) => error instanceof FrameTooLargeError && /17 bytes exceeds maxFrameBytes 16/.test(error.message));
    const exact = new FrameDecoder(16);
    exact.push(Buffer.concat([frameHeader(16), Buffer.alloc(16)]));
    assert.equal(exact.next()!.body.length, 16);
  });
});
