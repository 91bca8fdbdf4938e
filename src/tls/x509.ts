// x509.ts — the one place quorumgate writes an X.509 certificate: the ASN.1 comes from @peculiar/asn1-x509,
// the signature from node:crypto. Both the node certificate (node-cert.ts, self-signed with the Ed25519
// node key) and the API certificate for browsers (api-cert.ts, a P-256 key certified by the node key) are
// issued here; nothing is hand-encoded.
import { createHash, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier, AttributeTypeAndValue, AttributeValue, BasicConstraints, Certificate, Extension, Extensions,
  GeneralName, Name, RelativeDistinguishedName, SubjectAlternativeName, SubjectPublicKeyInfo, TBSCertificate, Validity,
  Version, id_ce_basicConstraints, id_ce_subjectAltName,
} from '@peculiar/asn1-x509';

/** ID_ED25519 is the signature algorithm of every certificate issued here (RFC 8410): the issuer is always a node key. */
export const ID_ED25519 = '1.3.101.112';
const ID_COMMON_NAME = '2.5.4.3';

/** CertificateRequest is what issueCertificate writes into the certificate. */
export interface CertificateRequest {
  /** issuerKey: the Ed25519 private key that signs (a node key). */
  readonly issuerKey: KeyObject;
  readonly issuerCommonName: string;
  readonly subjectCommonName: string;
  /** subjectSpki: the certified public key, DER SubjectPublicKeyInfo. */
  readonly subjectSpki: Buffer;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** dnsNames and ipAddresses go into subjectAltName (browsers and standard clients check them). */
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  /** extensions beyond basicConstraints (cA false, always) and subjectAltName. */
  readonly extensions?: readonly Extension[];
}

/**
 * issueCertificate signs a v3 end-entity certificate with the Ed25519 issuer key and returns it as PEM. The
 * serial number is derived from the certified key and notBefore, so the same request gives the same certificate.
 */
export function issueCertificate(request: CertificateRequest): string {
  const algorithm = new AlgorithmIdentifier({ algorithm: ID_ED25519 });
  const extensions = new Extensions([
    new Extension({ extnID: id_ce_basicConstraints, critical: true, extnValue: new OctetString(AsnConvert.serialize(new BasicConstraints({ cA: false }))) }),
    ...(request.extensions ?? []),
  ]);
  const altNames = [
    ...(request.dnsNames ?? []).map((dNSName) => new GeneralName({ dNSName })),
    ...(request.ipAddresses ?? []).map((iPAddress) => new GeneralName({ iPAddress })),
  ];
  if (altNames.length > 0) {
    extensions.push(new Extension({ extnID: id_ce_subjectAltName, critical: false, extnValue: new OctetString(AsnConvert.serialize(new SubjectAlternativeName(altNames))) }));
  }
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: serialFor(request.subjectSpki, request.notBefore),
    signature: algorithm,
    issuer: commonNameOnly(request.issuerCommonName),
    validity: new Validity({ notBefore: request.notBefore, notAfter: request.notAfter }),
    subject: commonNameOnly(request.subjectCommonName),
    subjectPublicKeyInfo: AsnConvert.parse(request.subjectSpki, SubjectPublicKeyInfo),
    extensions,
  });
  const signature = sign(null, Buffer.from(AsnConvert.serialize(tbs)), request.issuerKey);
  const cert = new Certificate({ tbsCertificate: tbs, signatureAlgorithm: algorithm, signatureValue: new Uint8Array(signature).buffer });
  return toPem(Buffer.from(AsnConvert.serialize(cert)));
}

/** wholeSeconds drops the milliseconds (an X.509 time has none). */
export function wholeSeconds(time: Date): Date {
  return new Date(Math.floor(time.getTime() / 1000) * 1000);
}

/** spkiSha256 is the base64 SHA-256 of a DER SubjectPublicKeyInfo: Chromium's --ignore-certificate-errors-spki-list pin. */
export function spkiSha256(spki: Buffer): string {
  return createHash('sha256').update(spki).digest('base64');
}

function commonNameOnly(commonName: string): Name {
  return new Name([new RelativeDistinguishedName([
    new AttributeTypeAndValue({ type: ID_COMMON_NAME, value: new AttributeValue({ utf8String: commonName }) }),
  ])]);
}

function serialFor(spki: Buffer, notBefore: Date): ArrayBuffer {
  const bytes = Buffer.concat([spki.subarray(spki.length - 8), Buffer.from(notBefore.getTime().toString(16).padStart(12, '0'), 'hex')]);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01; // a positive DER integer without a leading zero byte
  return new Uint8Array(bytes).buffer;
}

function toPem(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}
