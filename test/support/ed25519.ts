// ed25519.ts — Ed25519 helpers for tests that attack signatures.

/** ED25519_ORDER is L, the order of Ed25519's base point group (RFC 8032). */
export const ED25519_ORDER = (1n << 252n) + 27742317777372353535851937790883648493n;

/**
 * malleateSignature adds L to a signature's S half (little-endian, bytes 32..63): S + L verifies under a
 * lax verifier (tweetnacl) and must be refused by the native one every node uses (DESIGN.md, Ed25519).
 */
export function malleateSignature(signature: Uint8Array): Uint8Array {
  let s = 0n;
  for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(signature[i] ?? 0);
  let sum = s + ED25519_ORDER;
  const out = Uint8Array.from(signature);
  for (let i = 32; i < 64; i++) {
    out[i] = Number(sum & 0xffn);
    sum >>= 8n;
  }
  return out;
}
