/**
 * Wires the parts of a running server: certificates, accounts, history, hub,
 * admission, transport, sessions, heartbeats and the ops endpoint. Each part
 * lives in its own module; this one only composes them. `server.ts` parses
 * the config and calls {@linkcode startServer}; tests call it in-process.
 *
 * @module
 */
import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { Hub, type ModerationEvent } from "../chat/hub.ts";
import { type Clock, type Random, systemClock, systemRandom } from "../util/clock.ts";
import { escapeUntrusted } from "../util/untrusted_text.ts";
import type { AccountChange } from "../auth/store.ts";
import { SessionTokens, tokenBinding } from "../auth/session_tokens.ts";
import { openAccounts } from "./accounts.ts";
import { ACTIVITY_FILE, ActivityLog, trackActivity } from "./activity.ts";
import { Admission, refuseBusy } from "./admission.ts";
import { startHeartbeat } from "./heartbeat.ts";
import { refuseExpiredCertificate, watchCertificateExpiry } from "./cert_expiry.ts";
import { checkDataFiles, createDataDirectories } from "./data_files.ts";
import { watchDiskSpace } from "./disk_space.ts";
import { CLUSTER_COPY_FILE, openHistory } from "./history_file.ts";
import { openClusterAccounts } from "./cluster_accounts.ts";
import { refuseLegacyCredentials } from "./legacy_credentials.ts";
import { createHttpApp, type HttpServer, serveHttp } from "./http.ts";
import { countedJokeSource } from "./joke_source.ts";
import { lockoutAlerts } from "./lockout_alerts.ts";
import {
  addClusterMetrics,
  createServerMetrics,
  monitorEventLoopLag,
  type RefusalReason,
} from "./metrics.ts";
import { Refusals } from "./refusals.ts";
import { SERVER_NAME } from "./server_name.ts";
import type { ServerConfig } from "./settings.ts";
import { Session } from "./session.ts";
import { FlushBatch } from "./flush_batch.ts";
import { connectClusterMode, instanceName } from "../cluster/cluster_mode.ts";
import { ClusterInstance } from "../cluster/instance.ts";
import type { ClusterLink } from "../cluster/link.ts";
import { DeferredFlushes } from "./deferred_flushes.ts";
import { TurnBudget } from "./turn_budget.ts";
import { shutDown, SHUTDOWN_DEADLINE_MS } from "./shutdown.ts";
import { loadTls } from "./tls_files.ts";
import { cannotListen, openTransport } from "./transport.ts";
import { serveWeb, type WebRefusalReason, type WebServer } from "./web.ts";
import { parseWebOrigins } from "./web_app.ts";
import type { Connection } from "../net/connection.ts";
import type { TlsServer } from "../net/tls_server.ts";

const log = getLogger(["banter", "server"]);
const audit = getLogger(["banter", "audit"]);

/** The metrics' name for each reason the web port closes a connection early. */
const WEB_REFUSALS = {
  address: "handshake_per_address",
  full: "handshake_pool_full",
  evicted: "handshake_evicted",
  per_address: "per_address",
  server_full: "server_full",
} as const satisfies Record<Exclude<WebRefusalReason, "idle">, RefusalReason>;

/** The session tokens' file in the data directory. */
export const TOKENS_FILE = "tokens.json";

/** How often expired history is pruned. */
const PRUNE_INTERVAL_MS = 3_600_000;

/** What the server takes from its environment; real defaults. */
export interface ServerDeps {
  /** Time and every server timer (heartbeat, login timeout, stalls). @default systemClock */
  clock?: Clock;
  random?: Random;
  fetch?: typeof fetch;
  /** Where one-off announcements (first-start password, dev certs) go. */
  announce?: (line: string) => void;
  /** Called when an admin or the operator asks for shutdown. */
  onShutdownRequest?: (by: string) => void;
  /** The web port to bind instead of `config.webPort` when that is on (tests: 0 picks a free one). */
  webPort?: number;
}

/** A started server. */
export interface RunningServer extends AsyncDisposable {
  /** Where it listens. */
  readonly addr: { hostname: string; port: number };
  /** Where `/healthz` and `/metrics` are served; undefined when off. */
  readonly httpAddr: { hostname: string; port: number } | undefined;
  /** Where the web client and its WebSocket are served; undefined when off. */
  readonly webAddr: { hostname: string; port: number } | undefined;
  /** The chat hub (the console enters it as operator). */
  readonly hub: Hub;
  /** Open sessions. */
  readonly sessions: ReadonlySet<Session>;
  /**
   * Tell clients, flush history, stop; logs "Shutting down (<reason>)" and,
   * once stopped, how many sessions it closed. Idempotent: the first call's
   * message and reason count.
   */
  shutdown(message?: string, reason?: string): Promise<void>;
  /** Settles when the server has shut down, whoever asked. */
  readonly closed: Promise<void>;
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
  const random = deps.random ?? systemRandom;
  // --cluster: NATS is reached first, before any local file is opened.
  const instance = config.cluster === undefined
    ? undefined
    : instanceName(config, `${config.hostname}:${config.port}`, (n) => random.bytes(n));
  const link: ClusterLink | undefined = config.cluster === undefined
    ? undefined
    : await connectClusterMode(
      config as typeof config & { cluster: string },
      instance!,
    );
  try {
    return await startWith(config, deps, link, instance);
  } catch (error) {
    await link?.close();
    throw error;
  }
}

async function startWith(
  config: ServerConfig,
  deps: ServerDeps,
  link: ClusterLink | undefined,
  instance: string | undefined,
): Promise<RunningServer> {
  const clock = deps.clock ?? systemClock;
  const random = deps.random ?? systemRandom;
  const announce = deps.announce ?? ((line: string) => console.log(line));
  const tls = await loadTls(config);
  const metrics = createServerMetrics();
  // Before anything is opened or written.
  refuseExpiredCertificate(tls.expiry, clock.now());
  const alerts = await lockoutAlerts(config, clock, metrics);

  await createDataDirectories(config);
  await checkDataFiles(config);
  await refuseLegacyCredentials(config);
  // Set once the hub exists: account changes end or demote live sessions.
  let followAccounts = (_changes: AccountChange[]) => {};
  const accountsOptions = {
    clock,
    random,
    announce,
    lockouts: metrics.lockouts,
    lockoutWriteErrors: metrics.lockoutWriteErrors,
    loginsPaused: metrics.loginsPaused,
    alerts,
    onAccountChange: (changes: AccountChange[]) => followAccounts(changes),
  };
  const clusterFigures = link === undefined ? undefined : addClusterMetrics(metrics.registry);
  // Cluster mode: accounts, lockouts and web session tokens live in NATS KV
  // (banter_auth), shared by every instance; else in the data directory.
  const clusterAccounts = link === undefined ? undefined : await openClusterAccounts(
    link.connection,
    config,
    {
      ...accountsOptions,
      cluster: config.cluster!,
      bucket: {
        replicas: config.clusterReplicas,
        onConflict: () => clusterFigures?.kvConflicts.inc(),
      },
    },
  ).catch((error: Error) => {
    throw new Error(`Cannot start in cluster mode: ${error.message}`, { cause: error });
  });
  const { store, auth } = clusterAccounts ?? await openAccounts(config, accountsOptions);
  // Browsers stay logged in with these; an account change revokes them.
  // Each is bound to its account's password hash and role: a change made
  // while the server was stopped ends them too.
  const tokens = clusterAccounts?.tokens ??
    await SessionTokens.open(join(config.data, TOKENS_FILE), {
      clock,
      random,
      bindingOf: (id) => {
        for (const { name } of store.list()) {
          const entry = store.get(name);
          if (entry?.id === id) return tokenBinding(entry);
        }
        return undefined;
      },
    });
  const localHistory = await openHistory(config.data, {
    maxBytesPerUser: config.historyUserBytes,
    maxBytes: config.historyTotalBytes,
    retentionDays: config.retentionDays,
    // Cluster mode: the local copy of the stream, never the embedded history.
    ...(link === undefined ? {} : { file: CLUSTER_COPY_FILE }),
  });
  let cluster: ClusterInstance | undefined;
  if (link !== undefined) {
    try {
      cluster = await ClusterInstance.open(link, {
        instance: instance!,
        clock,
        replicas: config.clusterReplicas,
        presenceTtlMs: config.clusterPresenceTtl * 1000,
        retentionDays: config.retentionDays,
        maxBytes: config.historyTotalBytes,
        messages: localHistory,
        figures: clusterFigures!,
      });
    } catch (error) {
      localHistory.close();
      await clusterAccounts?.close();
      throw new Error(`Cannot start in cluster mode: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
  const history = cluster?.history ?? localHistory;
  // Last logins and sessions online, for `deno task user list`.
  const activity = await ActivityLog.open(join(config.data, ACTIVITY_FILE), {
    clock,
    onError: (error) =>
      log.warn("Cannot write {file}: {error}", {
        file: ACTIVITY_FILE,
        error: error.message,
      }),
  });
  let shuttingDown: Promise<void> | undefined;
  const hub = new Hub({
    clock,
    history,
    historyLimit: config.historyLimit,
    maxSessionsPerUser: config.maxSessionsPerUser,
    // DMs reach offline accounts too (by the name's one account, if unique).
    accountOf: (name: string) => {
      const found = store.find(name);
      return found.length === 1 ? { name: found[0]!.name, account: found[0]!.id } : undefined;
    },
    maxMessageLength: config.maxMessageLength,
    rate: { burst: config.rateBurst, perSecond: config.ratePerSecond },
    jokeCooldownMs: config.jokeCooldownMs,
    retentionDays: config.retentionDays,
    joke: countedJokeSource({
      url: config.jokeUrl,
      timeoutMs: config.jokeTimeoutMs,
      fetch: deps.fetch ?? globalThis.fetch,
      random,
      clock,
      counters: metrics.jokes,
    }),
    // Names and bans are case-insensitive: `/ban ALICE` is judged by alice's
    // role (the highest, should an old file hold several of the name).
    roleOf: (name: string) => {
      const roles = store.find(name).map((entry) => entry.role);
      return roles.includes("admin") ? "admin" : roles[0];
    },
    onModeration: (event: ModerationEvent) => {
      audit.warn(
        event.refused
          ? "Refused {action} of {target} by {by}: not a user name"
          : "{action} of {target} by {by}",
        { action: event.action, target: escapeUntrusted(event.target), by: event.by },
      );
      // The user's sessions on other instances are closed too.
      if (cluster !== undefined && !event.refused && event.message !== undefined) {
        const code = event.action === "kick" ? "kicked" : "banned";
        void cluster.closeUserElsewhere(event.target, code, event.message);
      }
    },
    ...(cluster === undefined ? {} : {
      relay: cluster.relay,
      onOnlineChange: () => cluster.presenceChanged(),
    }),
    onShutdown: (by: string) => {
      audit.info("Shutdown requested by {user}", { user: by });
      if (deps.onShutdownRequest) deps.onShutdownRequest(by);
      else void running.shutdown(`Server shutting down (requested by ${by})`, `requested by ${by}`);
    },
  });

  try {
    await cluster?.attach(hub);
  } catch (error) {
    await cluster?.close();
    history.close();
    throw new Error(`Cannot start in cluster mode: ${(error as Error).message}`, { cause: error });
  }

  followAccounts = (changes) => {
    for (const { id, change, role } of changes) {
      if (change === "role" || change === "removed" || change === "password") {
        tokens.revokeAccount(id).catch((error: Error) =>
          log.error("Cannot revoke session tokens: {error}", { error: error.message })
        );
      }
      if (change === "role") hub.updateAccount({ account: id, change, role });
      else if (change === "removed" || change === "password") {
        hub.updateAccount({ account: id, change });
      }
    }
  };
  const sessions = new Set<Session>();
  // One microtask per turn starts the writes of every outbox pushed to.
  const flushes = new FlushBatch();
  // A busy connection's joins, leaves and presence wait for one write per
  // window; on the real clock, like the write coalescing.
  const deferrals = config.presenceDelayMs > 0
    ? new DeferredFlushes({ windowMs: config.presenceDelayMs, clock: systemClock })
    : undefined;
  // No turn of the event loop handles frames for long while writes wait:
  // real turns, so on the real clock.
  const turns = new TurnBudget({ clock: systemClock });
  const sessionHub = {
    enter: trackActivity(hub, activity),
    isBanned: (name: string) => hub.isBanned(name),
    banOf: (name: string) => hub.banOf(name),
    limits: hub.limits,
  };
  const admission = new Admission({
    maxConnections: config.maxConnections,
    maxConnectionsPerIp: config.maxConnectionsPerIp,
  });
  const refusals = new Refusals({ clock, intervalMs: config.logSummaryMs, counters: metrics });
  const handler = async (conn: Connection) => {
    const ticket = admission.admit(conn.peer.address);
    if (!ticket.admitted) {
      refusals.refused(conn.peer.address, ticket.reason === "full" ? "server_full" : "per_address");
      return await refuseBusy(conn, ticket);
    }
    const session = new Session(conn, {
      hub: sessionHub,
      auth,
      clock,
      counters: metrics,
      serverName: SERVER_NAME,
      requirePassword: config.requirePassword,
      tokens,
      // A message is committed to history before any peer is sent it.
      beforeWrite: () => history.commit(),
      flushes,
      ...(deferrals === undefined ? {} : { deferrals }),
      turns,
      limits: {
        maxFrameBytes: config.maxFrameBytes,
        outboxBytes: config.outboxBytes,
        loginTimeoutMs: config.loginTimeoutMs,
        preLogin: {
          maxFrameBytes: config.preLoginMaxFrameBytes,
          readBurstBytes: config.preLoginReadBurstBytes,
          readBytesPerSecond: config.preLoginReadBytesPerSecond,
          pingBurst: config.preLoginPingBurst,
          pingsPerSecond: config.preLoginPingsPerSecond,
        },
      },
    });
    sessions.add(session);
    metrics.connectionsOpen.inc();
    try {
      await session.run();
    } finally {
      metrics.connectionsOpen.dec();
      sessions.delete(session);
      ticket.release();
    }
  };

  let transport: TlsServer;
  try {
    transport = await openTransport(config, {
      tls,
      refusals,
      clock,
    }, handler);
  } catch (error) {
    history.close();
    await cluster?.close();
    await activity.close();
    throw error;
  }

  let http: HttpServer | undefined;
  if (config.httpPort !== 0) {
    const app = createHttpApp({
      healthy: () => shuttingDown === undefined,
      ...(cluster === undefined ? {} : { clusterUp: () => cluster.up }),
      metrics: () => {
        metrics.historyBytes.set(history.bytes);
        return metrics.registry.render();
      },
    });
    try {
      http = serveHttp(app.fetch, { hostname: config.httpHostname, port: config.httpPort });
    } catch (error) {
      await transport.close(0);
      history.close();
      await cluster?.close();
      await activity.close();
      throw cannotListen(config.httpHostname, config.httpPort, error);
    }
  }
  let web: WebServer | undefined;
  if (config.webPort !== 0) {
    const port = deps.webPort ?? config.webPort;
    try {
      web = await serveWeb(
        {
          hostname: config.hostname,
          port,
          cert: tls.cert,
          key: tls.key,
          ...(config.webOrigin === undefined ? {} : { origins: parseWebOrigins(config.webOrigin) }),
          clock,
          timeoutMs: config.handshakeTimeoutMs,
          maxConnections: config.maxConnections,
          maxConnectionsPerIp: config.webConnectionsPerIp,
          maxPendingHandshakes: config.maxPendingHandshakes,
          maxPendingHandshakesPerIp: config.maxPendingHandshakesPerIp,
          onRefused: (address, reason) =>
            reason === "idle"
              ? refusals.handshakeFailed(address, new Error("No HTTP request in time"))
              : refusals.refused(address, WEB_REFUSALS[reason]),
          onHandshakeError: (error, address) => refusals.handshakeFailed(address, error),
          // Deno takes messages of up to 64 MiB; these refuse one at once.
          webSocket: {
            maxMessageBytes: config.maxFrameBytes,
            preLogin: {
              maxMessageBytes: Math.min(config.preLoginMaxFrameBytes, config.maxFrameBytes),
              maxUnreadBytes: config.preLoginReadBurstBytes,
            },
          },
        },
        handler,
      );
    } catch (error) {
      await http?.close();
      await transport.close(0);
      history.close();
      await cluster?.close();
      throw error; // the missing bundle, or "Cannot listen on ..."
    }
  }
  const lag = monitorEventLoopLag(metrics.eventLoopLag, { timers: clock });
  const certificate = watchCertificateExpiry(tls.expiry, {
    clock,
    gauge: metrics.certificateDaysLeft,
  });
  const heartbeat = startHeartbeat(sessions, {
    clock,
    pingIntervalMs: config.pingIntervalMs,
    deadAfterMs: config.deadAfterMs,
  });
  const accountsId = clock.setInterval(() => {
    store.refresh().catch((error: Error) =>
      log.error("Cannot reload accounts: {error}", { error: error.message })
    );
  }, config.accountsRefreshMs);
  const accountsTimer = { [Symbol.dispose]: () => clock.clearInterval(accountsId) };
  const prunerId = clock.setInterval(() => hub.prune(), PRUNE_INTERVAL_MS);
  const pruner = { [Symbol.dispose]: () => clock.clearInterval(prunerId) };
  hub.prune();
  const disk = watchDiskSpace(config.data, {
    timers: clock,
    gauge: metrics.dataFreeBytes,
    warnBelowBytes: config.diskFreeWarnBytes,
    onCheck: () => metrics.historyBytes.set(history.bytes),
  });

  const closed = Promise.withResolvers<void>();
  const running: RunningServer = {
    addr: transport.addr,
    httpAddr: http?.addr,
    webAddr: web?.addr,
    closed: closed.promise,
    hub,
    sessions,
    shutdown(message = "Server shutting down", reason = "requested") {
      shuttingDown ??= (async () => {
        log.info("Shutting down ({reason})", { reason });
        // No message goes to a hub whose history is about to close.
        await cluster?.stopFollowing();
        const count = await shutDown({
          timers: [
            heartbeat,
            pruner,
            accountsTimer,
            refusals,
            disk,
            certificate,
            ...(deferrals === undefined ? [] : [deferrals]),
            turns,
          ],
          transport,
          hub,
          sessions,
          alerts,
          lag,
          // The web server's WebSockets are sessions: ended above, like TLS ones.
          http: {
            async close() {
              await web?.close(SHUTDOWN_DEADLINE_MS);
              await http?.close();
              await tokens.settled();
            },
          },
          history,
        }, message);
        await activity.close();
        await cluster?.close();
        await clusterAccounts?.close();
        await link?.close();
        log.info("Shut down: closed {count} {sessions}", {
          count,
          sessions: count === 1 ? "session" : "sessions",
        });
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
  if (web) log.info("Serving the web client on https://{hostname}:{port}", web.addr);
  if (http) {
    log.info("Serving /healthz and /metrics on http://{hostname}:{port}", http.addr);
  }
  return running;
}
