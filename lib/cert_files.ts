/**
 * The certificate files of the original design, in one directory:
 * `ca.crt`, `ca.key`, `server_cert.pem`, `server_key.pem`, `client_cert.pem`,
 * `client_key.pem` (and `client_<name>_cert.pem` for more clients). Keys are
 * written 0600 and never overwritten without `force`.
 *
 * @module
 */
import { join } from "node:path";
import { writeFileAtomic } from "./atomic_write.ts";
import {
  type CertificateAuthority,
  createCa,
  createClientCert,
  createServerCert,
  loadCa,
} from "./certs.ts";

/** File names inside the certificate directory. */
export const CERT_FILES = {
  caCert: "ca.crt",
  caKey: "ca.key",
  serverCert: "server_cert.pem",
  serverKey: "server_key.pem",
  clientCert: "client_cert.pem",
  clientKey: "client_key.pem",
} as const;

/** Options for {@linkcode writeCertificates}. */
export interface WriteCertificatesOptions {
  /** Extra server names or addresses. */
  hosts?: readonly string[];
  /** Client certificates to issue; the first goes to client_cert.pem. */
  clients?: readonly string[];
  /** Replace existing keys. @default false */
  force?: boolean;
}

/** A key file exists and `force` was not given. */
export class KeyExistsError extends Error {
  /** @param path The existing file. */
  constructor(readonly path: string) {
    super(`Cannot write ${path}: it exists (use --force to replace it)`);
    this.name = "KeyExistsError";
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Client certificate file names for the n-th client. */
export function clientFiles(name: string, index: number): [string, string] {
  return index === 0
    ? [CERT_FILES.clientCert, CERT_FILES.clientKey]
    : [`client_${name}_cert.pem`, `client_${name}_key.pem`];
}

/**
 * Create (or reuse) the CA in `dir`, then issue the server certificate and
 * the asked-for client certificates.
 *
 * @param dir Target directory; created if missing.
 * @param options Hosts, clients, force.
 * @returns The paths written.
 * @throws {KeyExistsError} When a key exists and `force` is not set.
 */
export async function writeCertificates(
  dir: string,
  options: WriteCertificatesOptions = {},
): Promise<string[]> {
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const path = (name: string) => join(dir, name);
  const written: string[] = [];
  const save = async (name: string, text: string, secret: boolean) => {
    if (secret && !options.force && await exists(path(name))) {
      throw new KeyExistsError(path(name));
    }
    await writeFileAtomic(path(name), text, { mode: secret ? 0o600 : 0o644 });
    written.push(path(name));
  };

  let ca: CertificateAuthority;
  if (!options.force && await exists(path(CERT_FILES.caKey))) {
    ca = await loadCa(
      await Deno.readTextFile(path(CERT_FILES.caCert)),
      await Deno.readTextFile(path(CERT_FILES.caKey)),
    );
    if (await exists(path(CERT_FILES.serverKey))) {
      throw new KeyExistsError(path(CERT_FILES.serverKey));
    }
  } else {
    ca = await createCa();
    await save(CERT_FILES.caKey, ca.key, true);
    await save(CERT_FILES.caCert, ca.cert, false);
  }
  const server = await createServerCert(ca, { hosts: options.hosts ?? [] });
  await save(CERT_FILES.serverKey, server.key, true);
  await save(CERT_FILES.serverCert, server.cert, false);
  for (const [i, name] of (options.clients ?? []).entries()) {
    const [certName, keyName] = clientFiles(name, i);
    const client = await createClientCert(ca, name);
    await save(keyName, client.key, true);
    await save(certName, client.cert, false);
  }
  return written;
}

/**
 * Issue client certificates from the CA already in `dir`.
 *
 * @param dir The certificate directory holding ca.crt and ca.key.
 * @param clients User names (each becomes a CN).
 * @param force Replace existing keys.
 * @returns The paths written.
 */
export async function issueClientCertificates(
  dir: string,
  clients: readonly string[],
  force = false,
): Promise<string[]> {
  const ca = await loadCa(
    await Deno.readTextFile(join(dir, CERT_FILES.caCert)),
    await Deno.readTextFile(join(dir, CERT_FILES.caKey)),
  );
  const written: string[] = [];
  for (const [i, name] of clients.entries()) {
    const [certName, keyName] = clientFiles(name, i);
    if (!force && await exists(join(dir, keyName))) {
      throw new KeyExistsError(join(dir, keyName));
    }
    const client = await createClientCert(ca, name);
    await writeFileAtomic(join(dir, keyName), client.key, { mode: 0o600 });
    await writeFileAtomic(join(dir, certName), client.cert, { mode: 0o644 });
    written.push(join(dir, keyName), join(dir, certName));
  }
  return written;
}

/**
 * Make sure a server certificate exists in `dir`, creating a dev CA and
 * server certificate on first start.
 *
 * @param dir The certificate directory.
 * @returns True when files were created.
 */
export async function ensureDevCertificates(dir: string): Promise<boolean> {
  if (
    await exists(join(dir, CERT_FILES.serverCert)) &&
    await exists(join(dir, CERT_FILES.serverKey))
  ) {
    return false;
  }
  await writeCertificates(dir, {});
  return true;
}
