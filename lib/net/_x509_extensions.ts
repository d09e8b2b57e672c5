/**
 * Reads the three X.509 extensions a client-certificate check needs
 * (basicConstraints, keyUsage, extendedKeyUsage) from a DER certificate,
 * with a strict, bounded DER walk. `node:crypto`'s `X509Certificate` tells
 * neither the path length nor the keyUsage bits the same way on every
 * runtime, and this path must not load a full certificate library.
 *
 * @module
 */

/** The keyUsage bits, in the order of RFC 5280 §4.2.1.3. */
export const KEY_USAGES = [
  "digitalSignature",
  "nonRepudiation",
  "keyEncipherment",
  "dataEncipherment",
  "keyAgreement",
  "keyCertSign",
  "cRLSign",
  "encipherOnly",
  "decipherOnly",
] as const;

/** One keyUsage bit. */
export type KeyUsage = typeof KEY_USAGES[number];

/** The extendedKeyUsage OID for TLS client authentication. */
export const EKU_CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";

/** What a certificate says in the extensions read here; absent ones are undefined. */
export interface CertificateExtensions {
  /** basicConstraints: a CA, and the most CAs that may follow it below. */
  basicConstraints?: { ca: boolean; pathLength?: number };
  /** keyUsage bits that are set. */
  keyUsage?: ReadonlySet<KeyUsage>;
  /** extendedKeyUsage purposes, as dotted OIDs. */
  extendedKeyUsage?: readonly string[];
}

const OID_BASIC_CONSTRAINTS = "2.5.29.19";
const OID_KEY_USAGE = "2.5.29.15";
const OID_EXT_KEY_USAGE = "2.5.29.37";

const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  oid: 0x06,
  sequence: 0x30,
  extensions: 0xa3,
} as const;

/** One DER element: its tag and the bounds of its contents in `bytes`. */
interface Element {
  tag: number;
  start: number;
  end: number;
}

function malformed(what: string): SyntaxError {
  return new SyntaxError(`Cannot read certificate extensions: ${what}`);
}

/** The element starting at `at`, which must end by `limit`. */
function elementAt(bytes: Uint8Array, at: number, limit: number): Element {
  if (at + 2 > limit) throw malformed("truncated element");
  const tag = bytes[at]!;
  if ((tag & 0x1f) === 0x1f) throw malformed("multi-byte tag");
  let length = bytes[at + 1]!;
  let start = at + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4 || start + count > limit) throw malformed("bad length");
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[start + i]!;
    start += count;
  }
  const end = start + length;
  if (end > limit) throw malformed("element longer than its container");
  return { tag, start, end };
}

/** The elements directly inside `parent`. */
function children(bytes: Uint8Array, parent: Element): Element[] {
  const out: Element[] = [];
  for (let at = parent.start; at < parent.end;) {
    const child = elementAt(bytes, at, parent.end);
    out.push(child);
    at = child.end;
  }
  return out;
}

function expect(element: Element | undefined, tag: number, what: string): Element {
  if (element === undefined || element.tag !== tag) throw malformed(`expected ${what}`);
  return element;
}

function readOid(bytes: Uint8Array, element: Element): string {
  const parts: number[] = [];
  let value = 0;
  for (let i = element.start; i < element.end; i++) {
    const byte = bytes[i]!;
    value = value * 128 + (byte & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER / 128) throw malformed("OID arc too large");
    if (byte & 0x80) continue;
    if (parts.length === 0) {
      const first = Math.min(Math.floor(value / 40), 2);
      parts.push(first, value - first * 40);
    } else {
      parts.push(value);
    }
    value = 0;
  }
  return parts.join(".");
}

function readSmallInteger(bytes: Uint8Array, element: Element): number {
  const length = element.end - element.start;
  if (length < 1 || length > 4 || bytes[element.start]! & 0x80) {
    throw malformed("integer out of range");
  }
  let value = 0;
  for (let i = element.start; i < element.end; i++) value = value * 256 + bytes[i]!;
  return value;
}

function readBasicConstraints(bytes: Uint8Array, value: Element) {
  const fields = children(bytes, expect(value, TAG.sequence, "basicConstraints"));
  let ca = false;
  let pathLength: number | undefined;
  for (const field of fields) {
    if (field.tag === TAG.boolean) ca = bytes[field.start] !== 0;
    else if (field.tag === TAG.integer) pathLength = readSmallInteger(bytes, field);
    else throw malformed("unexpected basicConstraints field");
  }
  return pathLength === undefined ? { ca } : { ca, pathLength };
}

function readKeyUsage(bytes: Uint8Array, value: Element): Set<KeyUsage> {
  const bits = expect(value, TAG.bitString, "keyUsage");
  const set = new Set<KeyUsage>();
  // The first content byte counts the unused bits of the last byte.
  KEY_USAGES.forEach((usage, index) => {
    const at = bits.start + 1 + (index >> 3);
    if (at < bits.end && bytes[at]! & (0x80 >> (index & 7))) set.add(usage);
  });
  return set;
}

function readExtendedKeyUsage(bytes: Uint8Array, value: Element): string[] {
  const list = children(bytes, expect(value, TAG.sequence, "extendedKeyUsage"));
  return list.map((oid) => readOid(bytes, expect(oid, TAG.oid, "a purpose OID")));
}

/**
 * Reads basicConstraints, keyUsage and extendedKeyUsage from a certificate.
 *
 * @param der The certificate, DER.
 * @returns The extensions present; a certificate without extensions gives `{}`.
 * @throws {SyntaxError} When the DER is malformed.
 *
 * @example Usage
 * ```ts ignore
 * import { X509Certificate } from "node:crypto";
 * const { keyUsage } = readCertificateExtensions(new X509Certificate(pem).raw);
 * ```
 */
export function readCertificateExtensions(der: Uint8Array): CertificateExtensions {
  const certificate = elementAt(der, 0, der.length);
  const tbs = expect(
    children(der, expect(certificate, TAG.sequence, "a certificate"))[0],
    TAG.sequence,
    "tbsCertificate",
  );
  const wrapper = children(der, tbs).find((element) => element.tag === TAG.extensions);
  const result: CertificateExtensions = {};
  if (wrapper === undefined) return result;
  const list = expect(children(der, wrapper)[0], TAG.sequence, "extensions");
  for (const extension of children(der, list)) {
    const fields = children(der, expect(extension, TAG.sequence, "an extension"));
    const oid = readOid(der, expect(fields[0], TAG.oid, "an extension OID"));
    const octets = expect(fields.at(-1), TAG.octetString, "an extension value");
    const value = elementAt(der, octets.start, octets.end);
    if (oid === OID_BASIC_CONSTRAINTS) result.basicConstraints = readBasicConstraints(der, value);
    else if (oid === OID_KEY_USAGE) result.keyUsage = readKeyUsage(der, value);
    else if (oid === OID_EXT_KEY_USAGE) result.extendedKeyUsage = readExtendedKeyUsage(der, value);
  }
  return result;
}
