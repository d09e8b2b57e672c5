/**
 * An in-process server on 127.0.0.1:0 with its own temp dir, cheap hashing
 * and test certificates, plus users made up front.
 *
 * @module
 */
import { join } from "node:path";
import { Hasher } from "../lib/auth/hash.ts";
import { CredentialStore } from "../lib/auth/store.ts";
import type { UserRole } from "../lib/auth/store.ts";
import { CERT_FILES } from "../lib/net/cert_files.ts";
import { type RunningServer, type ServerDeps, startServer } from "../lib/server/app.ts";
import { parseServerConfig, type ServerConfig } from "../lib/server/settings.ts";
import { TestClient, testPki } from "./_helpers.ts";

/** scrypt cost used by tests (2^10 instead of 2^17). */
export const TEST_SCRYPT_LOG_N = 10;

/** Every test user's password: a phrase plus the name's char codes. */
export function passwordOf(user: string): string {
  return `correct horse ${[...user].map((c) => c.charCodeAt(0)).join(".")}`;
}

/** Options for {@linkcode writeServerFiles}. */
export interface ServerFilesOptions {
  /** Users to create (role user unless listed in `admins`). @default {[]} */
  users?: string[];
  /** Admins to create. @default {[]} */
  admins?: string[];
}

/** Options for {@linkcode startTestServer}. */
export interface TestServerOptions extends ServerFilesOptions {
  /** Extra config, as it would come from flags. */
  config?: Partial<ServerConfig>;
  deps?: ServerDeps;
  /** Reuse this directory (e.g. for restart tests) instead of a new one. */
  dir?: string;
}

/** A running test server and its files. */
export interface TestServer extends AsyncDisposable {
  server: RunningServer;
  port: number;
  dir: string;
  config: ServerConfig;
  /** Connect a protocol client. */
  client(): Promise<TestClient>;
  /** Connect and log in; throws unless welcomed. */
  login(user: string, password?: string): Promise<TestClient>;
  /** Stop the server but keep the directory. */
  stop(): Promise<void>;
}

/**
 * Write the test PKI into `dir/certs`.
 *
 * @param dir A directory.
 */
export async function writeTestCerts(dir: string): Promise<void> {
  const p = await testPki();
  const certs = join(dir, "certs");
  await Deno.mkdir(certs, { recursive: true });
  await Deno.writeTextFile(join(certs, CERT_FILES.caCert), p.ca.cert);
  await Deno.writeTextFile(join(certs, CERT_FILES.caKey), p.ca.key, { mode: 0o600 });
  await Deno.writeTextFile(join(certs, CERT_FILES.serverCert), p.server.cert);
  await Deno.writeTextFile(join(certs, CERT_FILES.serverKey), p.server.key, { mode: 0o600 });
}

/**
 * Write what a server starts on into `dir`: the test PKI in `dir/certs` and
 * `dir/credentials.json` with the users, each with {@linkcode passwordOf}
 * (users that exist already are kept as they are).
 *
 * @param dir A directory.
 * @param options Users and admins.
 */
export async function writeServerFiles(
  dir: string,
  options: ServerFilesOptions = {},
): Promise<void> {
  await writeTestCerts(dir);
  const hasher = new Hasher({ params: { logN: TEST_SCRYPT_LOG_N, r: 8, p: 1 } });
  const store = await CredentialStore.open(join(dir, "credentials.json"), { hasher });
  for (const user of [...(options.users ?? []), ...(options.admins ?? [])]) {
    if (store.get(user)) continue;
    const role: UserRole = options.admins?.includes(user) ? "admin" : "user";
    await store.add(user, passwordOf(user), role);
  }
}

/**
 * Connect to a server on `port` and log in.
 *
 * @param port The server's TLS port.
 * @param user Who to log in as.
 * @param password Their password. @default {passwordOf(user)}
 * @returns The logged-in client.
 * @throws {Error} When the server does not answer with a welcome.
 */
export async function loginAs(
  port: number,
  user: string,
  password = passwordOf(user),
): Promise<TestClient> {
  const client = await TestClient.connect(port);
  const answer = await client.login(user, password);
  if (answer.type !== "welcome") {
    await client[Symbol.asyncDispose]();
    throw new Error(`Login of ${user} failed: ${JSON.stringify(answer)}`);
  }
  return client;
}

/** The config a test server runs with. */
export function testConfig(dir: string, extra: Partial<ServerConfig> = {}): ServerConfig {
  const { config } = parseServerConfig([]);
  return {
    ...config,
    port: 0,
    certsDir: join(dir, "certs"),
    credentials: join(dir, "credentials.json"),
    data: join(dir, "data"),
    scryptLogN: TEST_SCRYPT_LOG_N,
    httpPort: 0,
    webPort: 0,
    console: "off",
    jokeUrl: "http://127.0.0.1:9/jokes/random",
    jokeTimeoutMs: 500,
    ...extra,
  };
}

/**
 * Start a server for a test.
 *
 * @param options Users, config, deps.
 */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dir = options.dir ?? await Deno.makeTempDir({ prefix: "banter-srv-" });
  const ownsDir = options.dir === undefined;
  await writeServerFiles(dir, options);
  const config = testConfig(dir, options.config);
  const server = await startServer(config, { announce: () => {}, ...options.deps });
  const port = server.addr.port;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await server.shutdown();
  };
  return {
    server,
    port,
    dir,
    config,
    client: () => TestClient.connect(port),
    login: (user, password) => loginAs(port, user, password),
    stop,
    async [Symbol.asyncDispose]() {
      await stop();
      if (ownsDir) await Deno.remove(dir, { recursive: true });
    },
  };
}
