/**
 * The checks a client certificate passes after the TLS library verified its
 * signatures and dates: what the library does not check (Deno's `node:tls`
 * accepted a sub-CA as a client certificate, a chain past a CA's path length
 * and a keyEncipherment-only certificate), and the optional pin list.
 *
 * - the leaf is no CA (basicConstraints cA false or absent);
 * - its keyUsage, when present, has digitalSignature;
 * - its extendedKeyUsage, when present, has clientAuth;
 * - every certificate above it up to the client CA is a CA (with
 *   keyCertSign when it has a keyUsage), and no CA has more CAs below it
 *   than its pathLenConstraint allows;
 * - with pins, the leaf's SHA-256 fingerprint is one pinned for its user.
 *
 * Uses `node:crypto` for parsing and links, and `_x509_extensions.ts` for
 * the extensions.
 *
 * @module
 */
import { X509Certificate } from "node:crypto";
import { EKU_CLIENT_AUTH, readCertificateExtensions } from "./_x509_extensions.ts";

/** The longest client chain followed, leaf and client CA included. */
export const MAX_CLIENT_CHAIN_LENGTH = 8;

/** Per user name, the SHA-256 fingerprints (64 upper-case hex digits) allowed to log in. */
export type ClientCertPins = ReadonlyMap<string, ReadonlySet<string>>;

/** What a client certificate is checked against. */
export interface ClientCertificatePolicy {
  /** The client CA certificates (the trust anchors). */
  readonly anchors: readonly X509Certificate[];
  /** When given, only pinned certificates name their user. */
  readonly pins?: ClientCertPins;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const FINGERPRINT = /^[0-9A-F]{64}$/;

/**
 * Parses every certificate of a PEM bundle (e.g. the `--client-ca` file).
 *
 * @param pem One or more PEM certificates.
 * @returns The certificates, in order.
 * @throws {SyntaxError} When the text holds no certificate or one that does not parse.
 */
export function parseCertificates(pem: string): X509Certificate[] {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new SyntaxError("Cannot read certificates: no PEM certificate");
  return blocks.map((block) => {
    try {
      return new X509Certificate(block);
    } catch (cause) {
      throw new SyntaxError("Cannot read certificates: a PEM certificate does not parse", {
        cause,
      });
    }
  });
}

/**
 * A fingerprint in the one form pins are compared in: 64 upper-case hex
 * digits, without colons.
 *
 * @param text `AB:CD:...` as `openssl x509 -fingerprint -sha256` prints it, or plain hex.
 * @returns The normalised fingerprint.
 * @throws {SyntaxError} When it is not a SHA-256 fingerprint.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { normaliseFingerprint } from "./client_certificate.ts";
 *
 * assert.equal(normaliseFingerprint("ab:".repeat(31) + "ab"), "AB".repeat(32));
 * ```
 */
export function normaliseFingerprint(text: string): string {
  const hex = text.replaceAll(":", "").toUpperCase();
  if (!FINGERPRINT.test(hex)) {
    throw new SyntaxError("Cannot read fingerprint: not 64 hex digits (SHA-256)");
  }
  return hex;
}

/**
 * Reads a pin list: a JSON object mapping user names to arrays of SHA-256
 * fingerprints, e.g. `{"alice": ["AB:CD:..."]}`.
 *
 * @param value The parsed JSON.
 * @returns The pins.
 * @throws {TypeError} When the shape is wrong.
 * @throws {SyntaxError} When a fingerprint is not one.
 */
export function parseClientCertPins(value: unknown): ClientCertPins {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError("Cannot read client certificate pins: not a JSON object");
  }
  const pins = new Map<string, ReadonlySet<string>>();
  for (const [user, list] of Object.entries(value)) {
    if (!Array.isArray(list) || !list.every((item) => typeof item === "string")) {
      throw new TypeError(
        "Cannot read client certificate pins: each user needs an array of fingerprints",
      );
    }
    pins.set(user, new Set(list.map(normaliseFingerprint)));
  }
  return pins;
}

/** The issuer of `child` among `candidates`: names match and its key signed `child`. */
function issuerOf(
  child: X509Certificate,
  candidates: readonly X509Certificate[],
): X509Certificate | undefined {
  return candidates.find((candidate) =>
    candidate.fingerprint256 !== child.fingerprint256 &&
    child.checkIssued(candidate) && child.verify(candidate.publicKey)
  );
}

/**
 * Why a client certificate that the TLS library accepted must still be
 * refused, or `undefined` when it passes.
 *
 * @param chain The certificates the client sent, DER, its own first.
 * @param user The user the certificate names (its CN), for the pins.
 * @param policy The client CAs and the optional pins.
 * @returns A short reason for the audit log, never quoting the certificate.
 *
 * @example Usage
 * ```ts ignore
 * const problem = clientCertificateProblem([leafDer], "alice", { anchors });
 * if (problem !== undefined) audit.warn("Client certificate refused: {problem}", { problem });
 * ```
 */
export function clientCertificateProblem(
  chain: readonly Uint8Array[],
  user: string | undefined,
  policy: ClientCertificatePolicy,
): string | undefined {
  let presented: X509Certificate[];
  try {
    presented = chain.slice(0, MAX_CLIENT_CHAIN_LENGTH).map((der) => new X509Certificate(der));
  } catch {
    return "a certificate of the chain does not parse";
  }
  const leaf = presented[0];
  if (leaf === undefined) return "no certificate";
  // The path from the leaf up to a client CA, built from what was sent and the anchors.
  const path = [leaf];
  const anchorPrints = new Set(policy.anchors.map((a) => a.fingerprint256));
  for (let top = leaf; !anchorPrints.has(top.fingerprint256);) {
    if (path.length >= MAX_CLIENT_CHAIN_LENGTH) return "the chain is too long";
    const issuer = issuerOf(top, policy.anchors) ?? issuerOf(top, presented.slice(1));
    if (issuer === undefined) return "the chain does not lead to the client CA";
    path.push(issuer);
    top = issuer;
  }
  try {
    const problem = leafProblem(leaf) ?? caProblem(path);
    if (problem !== undefined) return problem;
  } catch {
    return "a certificate's extensions do not parse";
  }
  if (policy.pins !== undefined) {
    const print = normaliseFingerprint(leaf.fingerprint256);
    if (user === undefined || !policy.pins.get(user)?.has(print)) {
      return "its fingerprint is not pinned for its user";
    }
  }
  return undefined;
}

function leafProblem(leaf: X509Certificate): string | undefined {
  const { basicConstraints, keyUsage, extendedKeyUsage } = readCertificateExtensions(leaf.raw);
  if (basicConstraints?.ca) return "it is a CA certificate";
  if (keyUsage !== undefined && !keyUsage.has("digitalSignature")) {
    return "its keyUsage lacks digitalSignature";
  }
  if (extendedKeyUsage !== undefined && !extendedKeyUsage.includes(EKU_CLIENT_AUTH)) {
    return "its extendedKeyUsage lacks clientAuth";
  }
  return undefined;
}

/** Every certificate above the leaf is a CA that allows the CAs below it. */
function caProblem(path: readonly X509Certificate[]): string | undefined {
  for (let i = 1; i < path.length; i++) {
    const { basicConstraints, keyUsage } = readCertificateExtensions(path[i]!.raw);
    if (!basicConstraints?.ca) return "an issuer in the chain is not a CA";
    if (keyUsage !== undefined && !keyUsage.has("keyCertSign")) {
      return "an issuer in the chain may not sign certificates";
    }
    const casBelow = i - 1;
    const limit = basicConstraints.pathLength;
    if (limit !== undefined && casBelow > limit) {
      return "the chain has more CAs than a path length allows";
    }
  }
  return undefined;
}
