/**
 * Wires the parts of a running server: certificates, credentials, lockouts,
 * history, hub, transport, sessions and heartbeats. `server.ts` parses the
 * config and calls {@linkcode startServer}; tests call it in-process.
 *
 * @module
 */
import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { LockoutAlerts } from "./alerts.ts";
import { Authenticator, type LockoutEvent } from "../auth/login.ts";
import { Hasher } from "../auth/hash.ts";
import { Lockout } from "../auth/lockout.ts";
import { CredentialStore } from "../auth/store.ts";
import { CERT_FILES, ensureDevCertificates } from "../net/cert_files.ts";
import { Hub, type ModerationEvent } from "../chat/hub.ts";
import { SqliteHistory } from "../chat/history.ts";
import { type Clock, type Random, systemClock, systemRandom } from "../util/clock.ts";
import { createHttpApp, type HttpServer, serveHttp } from "./http.ts";
import { getJoke, type Joke, JOKE_PROBLEMS } from "./joke_api.ts";
import {
  createServerMetrics,
  type JokeOutcome,
  monitorEventLoopLag,
  type ServerMetrics,
} from "./metrics.ts";
import { encodeFrame } from "../wire/protocol.ts";
import type { ServerConfig } from "./settings.ts";
import { Session } from "./session.ts";
import { sendMail } from "./smtp.ts";
import type { Connection } from "../net/connection.ts";
import { listen, type TlsServer } from "../net/tls_server.ts";

const log = getLogger(["banter", "server"]);
const audit = getLogger(["banter", "audit"]);

/** Server name and version sent in `hello`. */
export const SERVER_NAME = "banter/0.1.0";

/** What the server takes from its environment; real defaults. */
export interface ServerDeps {
  clock?: Clock;
  random?: Random;
  fetch?: typeof fetch;
  /** Where one-off announcements (first-start password, dev certs) go. */
  announce?: (line: string) => void;
  /** Called when an admin or the operator asks for shutdown. */
  onShutdownRequest?: (by: string) => void;
}

/** A started server. */
export interface RunningServer extends AsyncDisposable {
  /** Where it listens. */
  readonly addr: { hostname: string; port: number };
  /** Where `/healthz` and `/metrics` are served; undefined when off. */
  readonly httpAddr: { hostname: string; port: number } | undefined;
  /** The chat hub (the console enters it as operator). */
  readonly hub: Hub;
  /** Open sessions. */
  readonly sessions: ReadonlySet<Session>;
  /** Tell clients, flush history, stop. Idempotent. */
  shutdown(message?: string): Promise<void>;
  /** Settles when the server has shut down, whoever asked. */
  readonly closed: Promise<void>;
}

async function readPem(path: string, what: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    throw new Error(
      `Cannot read ${what} ${path}: ${error instanceof Error ? error.message : error}`,
      { cause: error },
    );
  }
}

const JOKE_OUTCOME_OF_PROBLEM = new Map<string, JokeOutcome>([
  [JOKE_PROBLEMS.timeout, "timeout"],
  [JOKE_PROBLEMS.notAJoke, "not_a_joke"],
  [JOKE_PROBLEMS.tooMuch, "too_much"],
  [JOKE_PROBLEMS.unreachable, "unreachable"],
  [JOKE_PROBLEMS.unresolvable, "unresolvable"],
]);

function jokeOutcome(joke: Joke): JokeOutcome {
  if (joke.source === "api") return "api";
  return JOKE_OUTCOME_OF_PROBLEM.get(joke.problem) ??
    (joke.problem.includes("answered HTTP") ? "http_error" : "error");
}

/** Lockout alerts by mail, when `smtpHost` is set. */
async function lockoutAlerts(
  config: ServerConfig,
  clock: Clock,
  metrics: ServerMetrics,
): Promise<LockoutAlerts | undefined> {
  const { smtpHost, alertFrom, alertTo } = config;
  if (smtpHost === undefined || alertFrom === undefined || alertTo === undefined) {
    return undefined;
  }
  const caCerts = config.smtpCa === undefined
    ? undefined
    : [await readPem(config.smtpCa, "mail server CA")];
  return new LockoutAlerts({
    from: alertFrom,
    to: alertTo,
    clock,
    serverName: SERVER_NAME,
    counters: metrics.alerts,
    send: (message, signal) =>
      sendMail(message, {
        host: smtpHost,
        port: config.smtpPort,
        security: config.smtpSecurity,
        timeoutMs: config.smtpTimeoutMs,
        signal,
        ...(caCerts ? { caCerts } : {}),
        ...(config.smtpUser === undefined ? {} : {
          username: config.smtpUser,
          password: config.smtpPassword ?? "",
        }),
      }),
  });
}

/**
 * Refuse a certificate and key that do not belong together (node:tls would
 * start anyway and fail every handshake). Never quotes either file.
 */
function checkKeyPair(cert: string, certPath: string, key: string, keyPath: string): void {
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

async function loadTls(config: ServerConfig, announce: (line: string) => void) {
  const usingDefaults = config.cert === undefined && config.key === undefined;
  if (usingDefaults && await ensureDevCertificates(config.certsDir)) {
    announce(
      `Created a dev CA and server certificate in ${config.certsDir}/ (clients trust ${
        join(config.certsDir, CERT_FILES.caCert)
      })`,
    );
  }
  const certPath = config.cert ?? join(config.certsDir, CERT_FILES.serverCert);
  const keyPath = config.key ?? join(config.certsDir, CERT_FILES.serverKey);
  const cert = await readPem(certPath, "server certificate");
  const key = await readPem(keyPath, "server key");
  checkKeyPair(cert, certPath, key, keyPath);
  return {
    cert,
    key,
    clientCa: config.clientCa === undefined
      ? undefined
      : await readPem(config.clientCa, "client CA"),
  };
}

/**
 * Start a server with `config`.
 *
 * @param config Validated configuration.
 * @param deps Clock, randomness, fetch, announcements.
 * @returns The running server.
 * @throws {Error} When certificates, credentials or the port cannot be used;
 * the message names the file or address.
 */
export async function startServer(
  config: ServerConfig,
  deps: ServerDeps = {},
): Promise<RunningServer> {
  const clock = deps.clock ?? systemClock;
  const random = deps.random ?? systemRandom;
  const announce = deps.announce ?? ((line: string) => console.log(line));
  const tls = await loadTls(config, announce);
  const metrics = createServerMetrics();
  const alerts = await lockoutAlerts(config, clock, metrics);

  await Deno.mkdir(config.data, { recursive: true, mode: 0o700 });
  const hasher = new Hasher({
    params: { logN: config.scryptLogN, r: 8, p: 1 },
  });
  const store = await CredentialStore.open(config.credentials, {
    onExternalChange: (changes) => {
      for (const { user, change } of changes) {
        audit.info("Account {user}: {change} by the admin CLI", { user, change });
      }
    },
    hasher,
    random,
    clock,
  });
  if (store.createdAdminPassword !== undefined) {
    announce(
      `Created ${config.credentials} with user "admin", password: ${store.createdAdminPassword} (shown once; change it with: deno task user passwd admin)`,
    );
  }
  const lockout = await Lockout.open(join(config.data, "lockout.json"), {
    clock,
  });
  const auth = new Authenticator({
    store,
    hasher,
    lockout,
    onError: (error: Error) =>
      log.error("Account storage problem: {error}", { error: error.message }),
    onLockout: (event: LockoutEvent) => {
      metrics.lockouts[event.scope].inc();
      audit.warn(
        "Locked {scope} after failed logins: {user} from {address} for {retryAfterMs} ms",
        {
          scope: event.scope,
          user: event.username,
          address: event.ip,
          retryAfterMs: event.retryAfterMs,
        },
      );
      alerts?.notify(event);
    },
  });
  const historyPath = join(config.data, "history.db");
  // Create it private before SQLite does (its -wal/-shm files copy the mode).
  await Deno.writeFile(historyPath, new Uint8Array(), {
    append: true,
    mode: 0o600,
  });
  await Deno.chmod(historyPath, 0o600);
  const history = new SqliteHistory(historyPath, {
    onError: (error) => log.error("Cannot store chat history: {error}", { error: error.message }),
  });
  const jokeFetch = deps.fetch ?? globalThis.fetch;
  let shuttingDown: Promise<void> | undefined;
  const hub = new Hub({
    clock,
    history,
    historyLimit: config.historyLimit,
    maxMessageLength: config.maxMessageLength,
    rate: { burst: config.rateBurst, perSecond: config.ratePerSecond },
    jokeCooldownMs: config.jokeCooldownMs,
    retentionDays: config.retentionDays,
    joke: async (signal?: AbortSignal) => {
      try {
        const joke = await getJoke({
          url: config.jokeUrl,
          timeoutMs: config.jokeTimeoutMs,
          fetch: jokeFetch,
          random,
          ...(signal ? { signal } : {}),
        });
        metrics.jokes[jokeOutcome(joke)].inc();
        return joke;
      } catch (error) {
        metrics.jokes[signal?.aborted ? "aborted" : "error"].inc();
        throw error;
      }
    },
    roleOf: (name: string) => store.get(name)?.role,
    onModeration: (event: ModerationEvent) =>
      audit.warn("{action} of {target} by {by}", {
        action: event.action,
        target: event.target,
        by: event.by,
      }),
    onShutdown: (by: string) => {
      audit.info("Shutdown requested by {user}", { user: by });
      if (deps.onShutdownRequest) deps.onShutdownRequest(by);
      else void running.shutdown(`Server shutting down (requested by ${by})`);
    },
  });

  const sessions = new Set<Session>();
  const perIp = new Map<string, number>();
  const refuse = async (conn: Connection, message: string) => {
    await conn.sink.write(encodeFrame({ type: "bye", code: "busy", message }))
      ?.catch(() => undefined);
    conn.close();
  };
  const handler = async (conn: Connection) => {
    const ip = conn.peer.address;
    if (sessions.size >= config.maxConnections) {
      log.warn("Refused {address}: server full", { address: ip });
      return await refuse(conn, "Server is full, try again later");
    }
    const count = perIp.get(ip) ?? 0;
    if (count >= config.maxConnectionsPerIp) {
      log.warn("Refused {address}: too many connections from it", {
        address: ip,
      });
      return await refuse(conn, "Too many connections from your address");
    }
    perIp.set(ip, count + 1);
    const session = new Session(conn, {
      hub,
      auth,
      clock,
      counters: metrics,
      serverName: SERVER_NAME,
      requirePassword: config.requirePassword,
      // A message is committed to history before any peer is sent it.
      beforeWrite: () => history.commit(),
      limits: {
        maxFrameBytes: config.maxFrameBytes,
        outboxBytes: config.outboxBytes,
        loginTimeoutMs: config.loginTimeoutMs,
      },
    });
    sessions.add(session);
    metrics.connectionsOpen.inc();
    try {
      await session.run();
    } finally {
      metrics.connectionsOpen.dec();
      sessions.delete(session);
      const left = (perIp.get(ip) ?? 1) - 1;
      if (left === 0) perIp.delete(ip);
      else perIp.set(ip, left);
    }
  };

  let transport: TlsServer;
  try {
    transport = await listen({
      hostname: config.hostname,
      port: config.port,
      cert: tls.cert,
      key: tls.key,
      ...(tls.clientCa === undefined ? {} : {
        clientCa: tls.clientCa,
        requireClientCert: config.requireClientCert,
      }),
      engine: config.tlsEngine,
      handshakeTimeoutMs: config.handshakeTimeoutMs,
      maxPendingHandshakes: config.maxPendingHandshakes,
      maxPendingHandshakesPerIp: config.maxPendingHandshakesPerIp,
      // Counted, not logged: a flood would drown the log.
      onPendingRefused: () => metrics.handshakesFailed.inc(),
      onHandshakeError: (error, address) => {
        metrics.handshakesFailed.inc();
        audit.info("TLS handshake failed from {address}: {error}", {
          address,
          error: error.message,
        });
      },
    }, handler);
  } catch (error) {
    history.close();
    throw new Error(
      `Cannot listen on ${config.hostname}:${config.port}: ${
        error instanceof Error ? error.message : error
      }`,
      { cause: error },
    );
  }

  let http: HttpServer | undefined;
  if (config.httpPort !== 0) {
    const app = createHttpApp({
      healthy: () => shuttingDown === undefined,
      metrics: () => metrics.registry.render(),
    });
    try {
      http = serveHttp(app.fetch, { hostname: config.httpHostname, port: config.httpPort });
    } catch (error) {
      await transport.close(0);
      history.close();
      throw new Error(
        `Cannot listen on ${config.httpHostname}:${config.httpPort}: ${
          error instanceof Error ? error.message : error
        }`,
        { cause: error },
      );
    }
  }
  const lag = monitorEventLoopLag(metrics.eventLoopLag);

  // One timer for every session's heartbeat, not one per session.
  const heartbeat = setInterval(() => {
    const now = clock.now();
    for (const session of sessions) {
      if (session.user === undefined) continue; // the login timeout covers these
      const idle = session.idleFor(now);
      if (idle >= config.deadAfterMs) {
        session.terminate("timeout", "No answer to heartbeat");
      } else if (idle >= config.pingIntervalMs) {
        session.ping();
      }
    }
  }, Math.max(5, Math.floor(config.pingIntervalMs / 2)));
  const pruner = setInterval(() => hub.prune(), 3_600_000);
  hub.prune();

  const closed = Promise.withResolvers<void>();
  const running: RunningServer = {
    addr: transport.addr,
    httpAddr: http?.addr,
    closed: closed.promise,
    hub,
    sessions,
    shutdown(message = "Server shutting down") {
      shuttingDown ??= (async () => {
        clearInterval(heartbeat);
        clearInterval(pruner);
        transport.stopAccepting();
        hub.shutdown(message);
        for (const session of sessions) session.terminate("shutdown", message);
        await transport.close(3000);
        await alerts?.close();
        lag[Symbol.dispose]();
        await http?.close();
        history.close();
        closed.resolve();
      })();
      return shuttingDown;
    },
    [Symbol.asyncDispose]() {
      return running.shutdown();
    },
  };
  log.info("Listening on {hostname}:{port} ({engine} TLS)", {
    hostname: transport.addr.hostname,
    port: transport.addr.port,
    engine: transport.engine,
  });
  if (http) {
    log.info("Serving /healthz and /metrics on http://{hostname}:{port}", http.addr);
  }
  return running;
}
