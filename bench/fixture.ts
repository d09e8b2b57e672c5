/**
 * A throw-away directory for one benchmark run: the dev CA and server
 * certificate, and credential files with many users made up front.
 *
 * @module
 */
import { join } from "node:path";
import { Hasher } from "../lib/auth/hash.ts";
import { CREDENTIALS_VERSION, CredentialStore } from "../lib/auth/store.ts";
import { CERT_FILES, writeCertificates } from "../lib/net/cert_files.ts";

/** The password every benchmark user has. */
export const BENCH_PASSWORD = "bench horse battery 42";

/** Files of a benchmark run. */
export interface Fixture extends AsyncDisposable {
  /** The run's directory (removed on dispose unless kept). */
  readonly dir: string;
  /** Directory holding `ca.crt`, `server_cert.pem`, `server_key.pem`. */
  readonly certsDir: string;
  /** The CA certificate, PEM, that clients trust. */
  readonly ca: string;
  /** Server certificate and key paths (for peers). */
  readonly serverCert: string;
  readonly serverKey: string;
}

/** Options for {@linkcode createFixture}. */
export interface FixtureOptions {
  /** Keep the directory after dispose (to look at logs/profiles). @default false */
  keep?: boolean;
}

/**
 * Create a temporary directory with certificates.
 *
 * @param options Keep the directory or not.
 * @returns The fixture; dispose it to remove the directory.
 */
export async function createFixture(options: FixtureOptions = {}): Promise<Fixture> {
  const dir = await Deno.makeTempDir({ prefix: "banter-bench-" });
  const certsDir = join(dir, "certs");
  await writeCertificates(certsDir);
  return {
    dir,
    certsDir,
    ca: await Deno.readTextFile(join(certsDir, CERT_FILES.caCert)),
    serverCert: join(certsDir, CERT_FILES.serverCert),
    serverKey: join(certsDir, CERT_FILES.serverKey),
    async [Symbol.asyncDispose]() {
      if (!options.keep) await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Options for {@linkcode writeCredentials}. */
export interface CredentialsOptions {
  /** scrypt cost log2(N) of the stored hashes. */
  logN: number;
}

/**
 * Write a credentials file with `names`, all with {@linkcode BENCH_PASSWORD}.
 * One scrypt hash is computed and shared by every user: verifying it costs
 * the server exactly what a per-user hash would, and making 10,000 distinct
 * hashes would only slow the set-up down. The file is written in the
 * documented format in one go (adding users one by one rewrites the file
 * each time) and then loaded with {@linkcode CredentialStore} to check it.
 *
 * @param path Where to write `credentials.json`.
 * @param names User names.
 * @param options The hash cost.
 * @returns The path.
 * @throws {Error} When the store does not read back every user.
 */
export async function writeCredentials(
  path: string,
  names: readonly string[],
  options: CredentialsOptions,
): Promise<string> {
  const hasher = new Hasher({ params: { logN: options.logN, r: 8, p: 1 } });
  const hash = await hasher.hash(BENCH_PASSWORD);
  const users: Record<string, { role: "user"; hash: string }> = {};
  for (const name of names) users[name] = { role: "user", hash };
  await Deno.writeTextFile(path, JSON.stringify({ version: CREDENTIALS_VERSION, users }), {
    mode: 0o600,
  });
  const store = await CredentialStore.open(path, { hasher, createIfMissing: false });
  if (store.list().length !== names.length) {
    throw new Error(`Cannot write credentials: ${path} holds ${store.list().length} users`);
  }
  return path;
}

/**
 * Names `prefix0`, `prefix1`, ... .
 *
 * @param prefix Letters before the number.
 * @param count How many.
 * @returns The names.
 */
export function userNames(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}${i}`);
}
