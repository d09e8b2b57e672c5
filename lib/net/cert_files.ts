/**
 * The certificate files of the original design, in one directory:
 * `ca.crt`, `ca.key`, `server_cert.pem`, `server_key.pem`, `client_cert.pem`,
 * `client_key.pem` (and `client_<name>_cert.pem` for more clients). Keys are
 * written 0600 and never overwritten without `force`.
 *
 * @module
 */
import { join } from "node:path";
import { writeFileAtomic } from "../util/atomic_write.ts";
import { exists } from "../util/exists.ts";
import { validateUserName } from "../auth/user_name.ts";
import {
  type CertificateAuthority,
  commonName,
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

/**
 * Where a client's certificate goes: `client_cert.pem`/`client_key.pem` for
 * the first client of a fresh directory, `client_<name>_cert.pem` and
 * `client_<name>_key.pem` otherwise.
 *
 * @param name The user name (the certificate's CN).
 * @param primary Whether it takes the plain `client_*` names.
 * @returns Certificate and key file names.
 */
export function clientFiles(name: string, primary: boolean): [string, string] {
  return primary
    ? [CERT_FILES.clientCert, CERT_FILES.clientKey]
    : [`client_${name}_cert.pem`, `client_${name}_key.pem`];
}

function checkClientNames(clients: readonly string[]): void {
  for (const name of clients) {
    const problem = validateUserName(name);
    if (problem !== undefined) {
      throw new TypeError(`Cannot issue a client certificate for "${name}": ${problem}`);
    }
  }
}

/**
 * Create (or reuse) the CA in `dir`, then issue the server certificate and
 * the asked-for client certificates. Every key path is checked before any
 * file is written, so a refused run changes nothing.
 *
 * @param dir Target directory; created if missing.
 * @param options Hosts, clients, force.
 * @returns The paths written.
 * @throws {KeyExistsError} When a key exists and `force` is not set.
 * @throws {TypeError} When a client name is not a valid user name.
 */
export async function writeCertificates(
  dir: string,
  options: WriteCertificatesOptions = {},
): Promise<string[]> {
  const clients = options.clients ?? [];
  checkClientNames(clients);
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const path = (name: string) => join(dir, name);
  const reuseCa = !options.force && await exists(path(CERT_FILES.caKey));
  const keys = [
    ...(reuseCa ? [] : [CERT_FILES.caKey]),
    CERT_FILES.serverKey,
    ...clients.map((name, i) => clientFiles(name, i === 0)[1]),
  ];
  if (!options.force) {
    for (const key of keys) {
      if (await exists(path(key))) throw new KeyExistsError(path(key));
    }
  }
  const written: string[] = [];
  const save = async (name: string, text: string, secret: boolean) => {
    await writeFileAtomic(path(name), text, { mode: secret ? 0o600 : 0o644 });
    written.push(path(name));
  };
  let ca: CertificateAuthority;
  if (reuseCa) {
    ca = await loadCa(
      await Deno.readTextFile(path(CERT_FILES.caCert)),
      await Deno.readTextFile(path(CERT_FILES.caKey)),
    );
  } else {
    ca = await createCa();
    await save(CERT_FILES.caKey, ca.key, true);
    await save(CERT_FILES.caCert, ca.cert, false);
  }
  const server = await createServerCert(ca, { hosts: options.hosts ?? [] });
  await save(CERT_FILES.serverKey, server.key, true);
  await save(CERT_FILES.serverCert, server.cert, false);
  for (const [i, name] of clients.entries()) {
    const [certName, keyName] = clientFiles(name, i === 0);
    const client = await createClientCert(ca, name);
    await save(keyName, client.key, true);
    await save(certName, client.cert, false);
  }
  return written;
}

/**
 * Issue client certificates from the CA already in `dir`. `client_cert.pem`
 * goes to the first client ever issued (and to that user again on
 * re-issue); everyone else gets `client_<name>_cert.pem`.
 *
 * @param dir The certificate directory holding ca.crt and ca.key.
 * @param clients User names (each becomes a CN).
 * @param force Replace existing keys.
 * @returns The paths written.
 * @throws {KeyExistsError} When a key exists and `force` is not set.
 * @throws {SyntaxError} When the CA files are not valid PEM (PKCS#8 key).
 */
export async function issueClientCertificates(
  dir: string,
  clients: readonly string[],
  force = false,
): Promise<string[]> {
  checkClientNames(clients);
  const ca = await loadCa(
    await Deno.readTextFile(join(dir, CERT_FILES.caCert)),
    await Deno.readTextFile(join(dir, CERT_FILES.caKey)),
  );
  // client_cert.pem belongs to whoever got it first; re-issuing for that user
  // replaces it, other users get client_<name>_* files.
  const primaryOwner = await exists(join(dir, CERT_FILES.clientKey))
    ? commonName(await Deno.readTextFile(join(dir, CERT_FILES.clientCert)))
    : undefined;
  const files = clients.map((name, i) =>
    clientFiles(name, primaryOwner === undefined ? i === 0 : name === primaryOwner)
  );
  if (!force) {
    for (const [, keyName] of files) {
      if (await exists(join(dir, keyName))) throw new KeyExistsError(join(dir, keyName));
    }
  }
  const written: string[] = [];
  for (const [i, name] of clients.entries()) {
    const [certName, keyName] = files[i]!;
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
