/**
 * The server's certificate files: read the PEM files the config names (by
 * default `certs/server_cert.pem` and `certs/server_key.pem`) and check that
 * the key belongs to the certificate before anything listens. The server
 * never creates certificates and never reads the CA key: `deno task certs`
 * does, in its own process (`deno task server` runs it first when the files
 * are missing).
 *
 * @module
 */
import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { join } from "node:path";
import { CERT_FILES } from "../net/cert_files.ts";
import { type ClientCertPins, parseClientCertPins } from "../net/client_certificate.ts";
import { type CertificateExpiry, certificateNotAfter } from "./cert_expiry.ts";
import type { ServerConfig } from "./settings.ts";

/** The PEM texts the TLS listener starts with. */
export interface TlsFiles {
  /** Server certificate chain. */
  cert: string;
  /** Server private key. */
  key: string;
  /** CA that signs client certificates, when client certificates are on. */
  clientCa: string | undefined;
  /** Fingerprints allowed per user, when `clientCertPins` names a file. */
  clientCertPins?: ClientCertPins;
  /** When the server certificate ends, and what renews it. */
  expiry: CertificateExpiry;
}

/**
 * Read a PEM file, naming it in the error.
 *
 * @param path The file.
 * @param what What it is, for the error (e.g. "server key").
 * @returns Its text.
 * @throws {Error} "Cannot read <what> <path>: <reason>", with the cause.
 */
export async function readPem(path: string, what: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    throw new Error(
      `Cannot read ${what} ${path}: ${error instanceof Error ? error.message : error}`,
      { cause: error },
    );
  }
}

/**
 * Read the client certificate pin list: JSON `{"user": ["AB:CD:...", ...]}`
 * with SHA-256 fingerprints (as `openssl x509 -noout -fingerprint -sha256`
 * prints them, or plain hex).
 *
 * @param path The file.
 * @returns The pins.
 * @throws {Error} "Cannot use client certificate pins <path>: <reason>".
 */
export async function readClientCertPins(path: string): Promise<ClientCertPins> {
  const text = await readPem(path, "client certificate pins");
  try {
    return parseClientCertPins(JSON.parse(text));
  } catch (error) {
    const reason = error instanceof SyntaxError && !error.message.startsWith("Cannot")
      ? "not JSON"
      : error instanceof Error
      ? error.message
      : String(error);
    throw new Error(`Cannot use client certificate pins ${path}: ${reason}`, { cause: error });
  }
}

/**
 * Refuse a certificate and key that do not belong together (node:tls would
 * start anyway and fail every handshake). Never quotes either file.
 *
 * @param cert Certificate PEM.
 * @param certPath Where it came from, for the error.
 * @param key Private key PEM.
 * @param keyPath Where it came from, for the error.
 * @throws {Error} When either does not parse, or the key does not match.
 */
export function checkKeyPair(cert: string, certPath: string, key: string, keyPath: string): void {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(cert);
  } catch {
    throw new Error(`Cannot use server certificate ${certPath}: not a PEM certificate`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new Error(`Cannot use server key ${keyPath}: not a PEM private key`);
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new Error(`Cannot use server key ${keyPath}: it does not match ${certPath}`);
  }
}

/**
 * Load the server's certificate, key and client CA. When the default files
 * in `certsDir` are missing, the error says how to create them.
 *
 * @param config Certificate settings.
 * @returns The PEM texts.
 * @throws {Error} When a file cannot be read or the key does not match.
 */
export async function loadTls(
  config:
    & Pick<ServerConfig, "cert" | "key" | "certsDir" | "clientCa">
    & Partial<Pick<ServerConfig, "clientCertPins">>,
): Promise<TlsFiles> {
  const certPath = config.cert ?? join(config.certsDir, CERT_FILES.serverCert);
  const keyPath = config.key ?? join(config.certsDir, CERT_FILES.serverKey);
  const readDefault = async (path: string, what: string, given: string | undefined) => {
    try {
      return await readPem(path, what);
    } catch (error) {
      if (given !== undefined || !(error instanceof Error)) throw error;
      if (!(error.cause instanceof Deno.errors.NotFound)) throw error;
      throw new Error(
        `${error.message}. Create development certificates with: deno task certs --dir ${config.certsDir} (or give --cert and --key)`,
        { cause: error.cause },
      );
    }
  };
  const cert = await readDefault(certPath, "server certificate", config.cert);
  const key = await readDefault(keyPath, "server key", config.key);
  checkKeyPair(cert, certPath, key, keyPath);
  const renew = config.cert === undefined
    ? `renew the development certificates with: deno task certs --dir ${config.certsDir} --force (clients then trust the new ${
      join(config.certsDir, CERT_FILES.caCert)
    })`
    : `replace ${certPath} and ${keyPath} with a renewed certificate and key`;
  return {
    cert,
    key,
    expiry: { path: certPath, notAfter: certificateNotAfter(cert), renew },
    clientCa: config.clientCa === undefined
      ? undefined
      : await readPem(config.clientCa, "client CA"),
    ...(config.clientCertPins === undefined
      ? {}
      : { clientCertPins: await readClientCertPins(config.clientCertPins) }),
  };
}
