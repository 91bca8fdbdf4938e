// peer-certificate.ts — who the far end of a TLS connection is, read from its certificate and
// checked against the agreed membership (DESIGN.md, trust model: a node key is its transport
// identity). No I/O here: TlsConnection calls these once the TLS 1.3 handshake has proven that
// the peer holds the private key of the certificate it presented.
//
// A node's certificate (src/tls/node-cert.ts) is self-signed and names the node in its subject
// ("CN=quorumgate node 3"). Neither the signature nor the dates are trusted: the node id is only a
// claim, and the claim stands when the membership names exactly the certificate's Ed25519 key for
// that node id (key pinning, as the former hand-made handshake's ClientHello claim was checked).
import type { X509Certificate } from 'node:crypto';
import { CertificateKeyError, certificateEd25519Key, sameKey } from '../tls/node-cert.js';
import { HandshakeError, NotMemberError } from './errors.js';
import { hex } from './keys.js';

/** MembershipCheck says whether `nodeId` with raw Ed25519 `publicKey` is a current member (asked at every handshake). */
export type MembershipCheck = (nodeId: number, publicKey: Uint8Array) => boolean;

/** AuthenticatedPeer is the far end of a connection once TLS and the membership have proven its identity. */
export interface AuthenticatedPeer {
  readonly nodeId: number;
  readonly publicKey: Uint8Array;
}

const SUBJECT_PATTERN = /^CN=quorumgate node ([1-9][0-9]{0,15})$/;

/** nodeCommonName is the subject common name of node `nodeId`'s transport certificate. */
export function nodeCommonName(nodeId: number): string {
  return `quorumgate node ${nodeId}`;
}

/**
 * claimedPeer reads the node id and Ed25519 key a peer certificate carries; throws HandshakeError
 * (with a code naming the failure) when there is no certificate, its key is not Ed25519, or its
 * subject does not name a node.
 */
export function claimedPeer(certificate: X509Certificate | undefined, side: 'client' | 'server'): AuthenticatedPeer {
  if (certificate === undefined) {
    throw new HandshakeError(`the ${side} presented no certificate; a node must present the certificate of its node key`, { code: 'TRANSPORT_NO_CERTIFICATE' });
  }
  let publicKey: Uint8Array;
  try {
    publicKey = certificateEd25519Key(certificate);
  } catch (error) {
    if (!(error instanceof CertificateKeyError)) throw error;
    throw new HandshakeError(`the ${side}'s certificate is refused: ${error.message}`, { code: 'TRANSPORT_CERTIFICATE_KEY', cause: error });
  }
  const subject = certificate.subject.trim();
  const match = SUBJECT_PATTERN.exec(subject);
  const nodeId = match === null ? Number.NaN : Number(match[1]);
  if (!Number.isSafeInteger(nodeId)) {
    throw new HandshakeError(`the ${side}'s certificate subject "${subject}" does not name a node (expected "CN=quorumgate node <id>")`, { code: 'TRANSPORT_CERTIFICATE_SUBJECT' });
  }
  return { nodeId, publicKey };
}

/**
 * checkDialer authenticates the node that dialed this one: its certificate's key must be the key
 * the membership names for the node id it claims, and it may not claim this node's own id.
 */
export function checkDialer(certificate: X509Certificate | undefined, selfNodeId: number, isMember: MembershipCheck): AuthenticatedPeer {
  const peer = claimedPeer(certificate, 'client');
  if (peer.nodeId === selfNodeId) throw new HandshakeError(`the dialer claims this node's own id ${selfNodeId}`);
  if (!isMember(peer.nodeId, peer.publicKey)) throw new NotMemberError(peer.nodeId, hex(peer.publicKey));
  return peer;
}

/**
 * checkListener authenticates the node this one dialed: it must be the node `expected` names, with
 * the key the peer list gave for it, and still a member.
 */
export function checkListener(certificate: X509Certificate | undefined, expected: AuthenticatedPeer, isMember: MembershipCheck): AuthenticatedPeer {
  const peer = claimedPeer(certificate, 'server');
  if (!sameKey(peer.publicKey, expected.publicKey)) {
    throw new HandshakeError(`node ${expected.nodeId} presented key ${hex(peer.publicKey)}, expected ${hex(expected.publicKey)}`, { code: 'TRANSPORT_WRONG_KEY' });
  }
  if (peer.nodeId !== expected.nodeId) throw new HandshakeError(`dialed node ${expected.nodeId}, but node ${peer.nodeId} answered`);
  if (!isMember(peer.nodeId, peer.publicKey)) throw new NotMemberError(peer.nodeId, hex(peer.publicKey));
  return peer;
}
