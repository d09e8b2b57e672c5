/**
 * X.509 generation for Banter's own CA: a CA, server certificates and client
 * certificates, ECDSA P-256, made in-process on Web Crypto (no openssl needed).
 *
 * @module
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(crypto);

const ALGORITHM = {
  name: "ECDSA",
  namedCurve: "P-256",
  hash: "SHA-256",
} as const;

const DAY_MS = 86_400_000;

/** A certificate and its private key, both PEM. */
export interface CertifiedKey {
  /** The certificate, PEM. */
  cert: string;
  /** The PKCS#8 private key, PEM. */
  key: string;
}

/** An issuing CA: its PEM pair plus the parsed objects used to sign. */
export interface CertificateAuthority extends CertifiedKey {
  /** @internal parsed certificate */
  certificate: x509.X509Certificate;
  /** @internal signing key */
  signingKey: CryptoKey;
}

/** Options shared by every generator. */
export interface ValidityOptions {
  /** Start of validity. @default now */
  notBefore?: Date;
  /** Validity in days from `notBefore`. @default 825 (leaf), 3650 (CA) */
  days?: number;
}

/** Options for {@linkcode createServerCert}. */
export interface ServerCertOptions extends ValidityOptions {
  /** Extra DNS names or IP addresses, on top of localhost, 127.0.0.1 and ::1. */
  hosts?: readonly string[];
  /** Include localhost, 127.0.0.1 and ::1. @default true */
  localhost?: boolean;
}

/** A keyUsage bit, as RFC 5280 names it. */
export type KeyUsageName = keyof typeof x509.KeyUsageFlags;

/** Options for {@linkcode createClientCert}: tests use them to make bad certificates. */
export interface ClientCertOptions extends ValidityOptions {
  /** keyUsage bits. @default ["digitalSignature"] */
  keyUsages?: readonly KeyUsageName[];
  /** Mark it a CA (basicConstraints cA true), as a sub-CA is. @default false */
  ca?: boolean;
}

/** How {@linkcode issue} shapes a certificate. */
interface IssueShape {
  ca: boolean;
  pathLength?: number;
  keyUsages: readonly KeyUsageName[];
}

const LEAF: IssueShape = { ca: false, keyUsages: ["digitalSignature"] };

function randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = bytes[0]! & 0x7f; // keep it positive
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function pem(label: string, der: ArrayBuffer): string {
  const b64 = btoa(String.fromCharCode(...new Uint8Array(der)));
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

async function exportKey(key: CryptoKey): Promise<string> {
  return pem("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", key));
}

function newKeys(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"]);
}

function validity(options: ValidityOptions, defaultDays: number) {
  const notBefore = options.notBefore ?? new Date();
  const notAfter = new Date(
    notBefore.getTime() + (options.days ?? defaultDays) * DAY_MS,
  );
  return { notBefore, notAfter };
}

function isIpAddress(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(":");
}

/**
 * Escape a value for an X.500 distinguished name string.
 *
 * @param value The attribute value.
 * @returns The escaped value.
 */
function dnValue(value: string): string {
  return value.replace(/[,+"\\<>;=#]/g, (c) => `\\${c}`);
}

/**
 * Create a self-signed CA certificate (basicConstraints CA:TRUE, keyUsage
 * keyCertSign and cRLSign).
 *
 * @param name Common name of the CA.
 * @param options Validity.
 * @returns The CA, ready to sign leaves.
 */
export async function createCa(
  name = "Banter Dev CA",
  options: ValidityOptions = {},
): Promise<CertificateAuthority> {
  const keys = await newKeys();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=${dnValue(name)}`,
    ...validity(options, 3650),
    signingAlgorithm: ALGORITHM,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    cert: certificate.toString("pem") + "\n",
    key: await exportKey(keys.privateKey),
    certificate,
    signingKey: keys.privateKey,
  };
}

/**
 * Load a CA from its PEM certificate and PKCS#8 key, to issue more leaves.
 *
 * @param cert CA certificate, PEM.
 * @param key CA private key, PKCS#8 PEM.
 * @returns The CA.
 * @throws {SyntaxError} When either PEM cannot be parsed.
 */
export async function loadCa(
  cert: string,
  key: string,
): Promise<CertificateAuthority> {
  let certificate: x509.X509Certificate;
  let signingKey: CryptoKey;
  try {
    certificate = new x509.X509Certificate(cert);
    const der = x509.PemConverter.decodeFirst(key);
    signingKey = await crypto.subtle.importKey(
      "pkcs8",
      der,
      ALGORITHM,
      false,
      ["sign"],
    );
  } catch (cause) {
    throw new SyntaxError(
      "Cannot load CA: certificate or key is not valid PEM",
      {
        cause,
      },
    );
  }
  return { cert, key, certificate, signingKey };
}

async function issue(
  ca: CertificateAuthority,
  subject: string,
  extensions: x509.Extension[],
  options: ValidityOptions,
  shape: IssueShape = LEAF,
): Promise<CertifiedKey & { certificate: x509.X509Certificate; signingKey: CryptoKey }> {
  const keys = await newKeys();
  const usages = shape.keyUsages.reduce((bits, name) => bits | x509.KeyUsageFlags[name], 0);
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject,
    // The CA's subject as encoded (not re-encoded from text), so chains built
    // on CAs made elsewhere (e.g. openssl) match byte for byte.
    issuer: ca.certificate.subjectName,
    ...validity(options, shape.ca ? 3650 : 825),
    signingAlgorithm: ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: ca.signingKey,
    extensions: [
      new x509.BasicConstraintsExtension(shape.ca, shape.pathLength, true),
      new x509.KeyUsagesExtension(usages, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.certificate),
      ...extensions,
    ],
  });
  return {
    cert: certificate.toString("pem") + "\n",
    key: await exportKey(keys.privateKey),
    certificate,
    signingKey: keys.privateKey,
  };
}

/**
 * Issue an intermediate CA under `ca` (basicConstraints cA, keyUsage
 * keyCertSign and cRLSign). Banter never needs one; tests use it to check
 * that a client chain respects the dev CA's path length of 0.
 *
 * @param ca The issuing CA.
 * @param name Common name of the sub-CA.
 * @param options Validity.
 * @returns The sub-CA, ready to sign leaves.
 */
export function createSubCa(
  ca: CertificateAuthority,
  name: string,
  options: ValidityOptions = {},
): Promise<CertificateAuthority> {
  return issue(ca, `CN=${dnValue(name)}`, [], options, {
    ca: true,
    keyUsages: ["keyCertSign", "cRLSign"],
  });
}

/**
 * Issue a server certificate: SAN localhost, 127.0.0.1, ::1 plus `hosts`;
 * EKU serverAuth.
 *
 * @param ca The issuing CA.
 * @param options Extra hosts and validity.
 * @returns The certificate and key.
 */
export async function createServerCert(
  ca: CertificateAuthority,
  options: ServerCertOptions = {},
): Promise<CertifiedKey> {
  const hosts = [
    ...new Set([
      ...(options.localhost === false ? [] : ["localhost", "127.0.0.1", "::1"]),
      ...(options.hosts ?? []),
    ]),
  ];
  const { cert, key } = await issue(ca, `CN=${dnValue(hosts[0] ?? "localhost")}`, [
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    new x509.SubjectAlternativeNameExtension(
      hosts.map((value) => ({
        type: isIpAddress(value) ? "ip" as const : "dns" as const,
        value,
      })),
    ),
  ], options);
  return { cert, key };
}

/**
 * Issue a client certificate whose CN is the user name; EKU clientAuth.
 *
 * @param ca The issuing CA.
 * @param user The user name put in the CN.
 * @param options Validity; for tests, other key usages or the CA flag.
 * @returns The certificate and key.
 */
export async function createClientCert(
  ca: CertificateAuthority,
  user: string,
  options: ClientCertOptions = {},
): Promise<CertifiedKey> {
  const { cert, key } = await issue(
    ca,
    `CN=${dnValue(user)}`,
    [
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
    ],
    options,
    {
      ca: options.ca ?? false,
      keyUsages: options.keyUsages ?? LEAF.keyUsages,
    },
  );
  return { cert, key };
}

/**
 * Read the subject common name of a PEM or DER certificate.
 *
 * @param cert The certificate.
 * @returns The CN, or undefined when it has none.
 */
export function commonName(cert: string | Uint8Array): string | undefined {
  const parsed = new x509.X509Certificate(
    typeof cert === "string" ? cert : new Uint8Array(cert),
  );
  return parsed.subjectName.getField("CN")[0];
}
