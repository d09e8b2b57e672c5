/**
 * Every server setting, in one table: flag, environment variable, config-file
 * key, type, default and help come from here.
 *
 * @module
 */
import { ConfigError, type ConfigOf, loadConfig, type Setting } from "../util/config.ts";
import { MAX_QUEUED_LOGINS, MAX_QUEUED_LOGINS_PER_ADDRESS } from "../auth/login.ts";
import { DEFAULT_JOKE_URL } from "./joke_api.ts";
import {
  DEFAULT_PRE_LOGIN_MAX_FRAME_BYTES,
  DEFAULT_PRE_LOGIN_PING_BURST,
  DEFAULT_PRE_LOGIN_PINGS_PER_SECOND,
  DEFAULT_PRE_LOGIN_READ_BURST_BYTES,
  DEFAULT_PRE_LOGIN_READ_BYTES_PER_SECOND,
} from "./read_budget.ts";
import { join } from "node:path";
import { isMailAddress } from "./smtp.ts";
import { parseClusterUrls } from "../cluster/cluster_urls.ts";

/** The accounts file's name in the data directory, its default place. */
export const CREDENTIALS_FILE = "credentials.json";

/** The server's settings. */
export const SERVER_SETTINGS = [
  { key: "hostname", type: "string", default: "127.0.0.1", help: "Address to listen on" },
  {
    key: "port",
    type: "integer",
    default: 9001,
    help: "TLS port (0 picks a free one)",
    min: 0,
    max: 65535,
  },
  {
    key: "webPort",
    type: "integer",
    default: 9443,
    help: "HTTPS port of the web client and its /ws WebSocket, on --hostname (0: off)",
    min: 0,
    max: 65535,
  },
  {
    key: "webOrigin",
    type: "string",
    default: undefined,
    help:
      "Page origins allowed to open /ws, comma-separated (https://chat.example.org:9443); default: the certificate's DNS and IP names and --hostname on the web port",
  },
  {
    key: "webConnectionsPerIp",
    type: "integer",
    default: 16,
    help:
      "Most HTTPS connections to the web port from one address before they become WebSockets (these count as connections)",
    min: 1,
  },
  {
    key: "certsDir",
    type: "string",
    default: "certs",
    help: "Directory of the dev CA and server certificate",
  },
  {
    key: "cert",
    type: "string",
    default: undefined,
    help: "Server certificate PEM (default: CERTS_DIR/server_cert.pem)",
  },
  {
    key: "key",
    type: "string",
    default: undefined,
    help: "Server private key PEM (default: CERTS_DIR/server_key.pem)",
  },
  {
    key: "clientCa",
    type: "string",
    default: undefined,
    help: "CA file for client certificates (turns on mutual TLS)",
  },
  {
    key: "clientCertPins",
    type: "string",
    default: undefined,
    help:
      'JSON file {"user": ["SHA-256 fingerprint", ...]}: only pinned client certificates log in',
  },
  {
    key: "requireClientCert",
    type: "boolean",
    default: false,
    help: "Refuse clients without a valid certificate",
  },
  {
    key: "requirePassword",
    type: "boolean",
    default: false,
    help: "Ask for a password even with a valid client certificate",
  },
  {
    key: "tlsEngine",
    type: "string",
    default: "node",
    help: "TLS implementation",
    choices: ["node", "deno"],
  },
  {
    key: "credentials",
    type: "string",
    default: undefined,
    defaultHelp: `DATA/${CREDENTIALS_FILE}`,
    help: "Credentials file (earlier versions kept it in ./credentials.json)",
  },
  {
    key: "data",
    type: "string",
    default: "data",
    help: "Data directory, made 0700: history.db (+ -wal, -shm), credentials.json (unless " +
      "--credentials), lockout.json, tokens.json (web sessions), activity.json (who is online, " +
      "for deno task user list)",
  },
  {
    key: "cluster",
    type: "string",
    default: undefined,
    help:
      "NATS servers nats://HOST:PORT[,...]: run as one of many instances on NATS JetStream (unset: embedded, one process)",
  },
  {
    key: "clusterCreds",
    type: "string",
    default: undefined,
    help: "NATS credentials file (.creds) for --cluster",
  },
  {
    key: "clusterCa",
    type: "string",
    default: undefined,
    help: "CA file for the NATS servers' certificates (turns TLS on for --cluster)",
  },
  {
    key: "clusterReplicas",
    type: "integer",
    default: 1,
    help:
      "Copies JetStream keeps of the message stream and buckets with --cluster: 1 on one NATS server, 3 on a 3-node NATS cluster",
    min: 1,
    max: 5,
  },
  {
    key: "clusterPresenceTtl",
    type: "integer",
    default: 30,
    help:
      "Seconds a cluster instance that stopped answering (killed, cut off) still counts its users online; it refreshes every third of it",
    min: 3,
    max: 3600,
  },
  {
    key: "clusterInstance",
    type: "string",
    default: undefined,
    help:
      "This instance's name in the cluster (presence, NATS connection list); unset: HOSTNAME:PORT and a random suffix",
  },
  {
    key: "maxFrameBytes",
    type: "integer",
    default: 64 * 1024,
    help: "Largest protocol frame in bytes",
    min: 1024,
    max: 16 * 1024 * 1024,
  },
  {
    key: "outboxBytes",
    type: "integer",
    default: 1024 * 1024,
    help: "Bytes queued for a slow client before it is dropped",
    min: 64 * 1024,
  },
  {
    key: "handshakeTimeoutMs",
    type: "integer",
    default: 10_000,
    help: "TLS handshake timeout",
    min: 1,
  },
  {
    key: "writeCoalesceMs",
    type: "integer",
    default: 2,
    help: "How long a busy connection gathers deliveries into one write (0: write each at once)",
    min: 0,
    max: 100,
  },
  {
    key: "writeCoalesceMaxMs",
    type: "integer",
    default: 2,
    help:
      "Longest gathering window, reached when many connections are busy (writes kept near 10,000/s)",
    min: 0,
    max: 100,
  },
  {
    key: "presenceDelayMs",
    type: "integer",
    default: 100,
    help:
      "How long a busy connection holds joins, leaves and presence for one write (0: send each at once)",
    min: 0,
    max: 1000,
  },
  {
    key: "loginTimeoutMs",
    type: "integer",
    default: 30_000,
    help: "Time allowed from connect to finished login",
    min: 1,
  },
  {
    key: "accountsRefreshMs",
    type: "integer",
    default: 1_000,
    help: "How often credentials.json is checked for changes by the admin CLI (one stat); " +
      "removed accounts and changed passwords end their sessions, role changes apply at once",
    min: 10,
  },
  {
    key: "preLoginMaxFrameBytes",
    type: "integer",
    default: DEFAULT_PRE_LOGIN_MAX_FRAME_BYTES,
    help: "Largest frame before login, in bytes (at most maxFrameBytes)",
    min: 256,
  },
  {
    key: "preLoginReadBurstBytes",
    type: "integer",
    default: DEFAULT_PRE_LOGIN_READ_BURST_BYTES,
    help: "Bytes read from a connection before login before its reads are paced",
    min: 1024,
  },
  {
    key: "preLoginReadBytesPerSecond",
    type: "integer",
    default: DEFAULT_PRE_LOGIN_READ_BYTES_PER_SECOND,
    help: "Bytes per second read from a connection before login, past the burst",
    min: 1,
  },
  {
    key: "preLoginPingBurst",
    type: "integer",
    default: DEFAULT_PRE_LOGIN_PING_BURST,
    help: "Pings a connection may send at once before login",
    min: 1,
  },
  {
    key: "preLoginPingsPerSecond",
    type: "integer",
    default: DEFAULT_PRE_LOGIN_PINGS_PER_SECOND,
    help: "Pings per second a connection may send before login, past the burst",
    min: 1,
  },
  {
    key: "loginQueue",
    type: "integer",
    default: MAX_QUEUED_LOGINS,
    help: "Password checks waiting for a hash, in all, before more get bye busy",
    min: 0,
  },
  {
    key: "loginQueuePerAddress",
    type: "integer",
    default: MAX_QUEUED_LOGINS_PER_ADDRESS,
    help: "Password checks waiting for a hash from one address before more get bye busy",
    min: 0,
  },
  {
    key: "pingIntervalMs",
    type: "integer",
    default: 20_000,
    help: "Heartbeat ping interval",
    min: 10,
  },
  {
    key: "deadAfterMs",
    type: "integer",
    default: 60_000,
    help: "A peer silent this long is dropped",
    min: 10,
  },
  {
    key: "maxConnections",
    type: "integer",
    default: 10_000,
    help: "Most connections at once",
    min: 1,
  },
  {
    key: "maxConnectionsPerIp",
    type: "integer",
    default: 50,
    help: "Most connections from one address (IPv6: one /64)",
    min: 1,
  },
  {
    key: "maxPendingHandshakes",
    type: "integer",
    default: 1024,
    help:
      "Most connections still in their TLS handshake, shared fairly by network (IPv4 /24, IPv6 /64)",
    min: 1,
  },
  {
    key: "maxPendingHandshakesPerIp",
    type: "integer",
    default: 64,
    help: "Most connections in their TLS handshake from one address (IPv6: one /64)",
    min: 1,
  },
  {
    key: "logSummaryMs",
    type: "integer",
    default: 10_000,
    help:
      "Refusals and failed handshakes: the first per address is logged, then one count per this interval",
    min: 1,
  },
  {
    key: "historyLimit",
    type: "integer",
    default: 50,
    help: "Messages of history shown on join",
    min: 0,
    max: 1000,
  },
  {
    key: "maxSessionsPerUser",
    type: "integer",
    default: 8,
    help: "Sessions one account may have at once; a newer one closes the oldest",
    min: 1,
    max: 1000,
  },
  {
    key: "retentionDays",
    type: "integer",
    default: 30,
    help: "Days history is kept (0 stores no message at all)",
    min: 0,
  },
  {
    key: "historyUserBytes",
    type: "integer",
    default: 50 * 1024 * 1024,
    help: "History bytes one user may hold; their oldest messages go first past it",
    min: 64 * 1024,
  },
  {
    key: "historyTotalBytes",
    type: "integer",
    default: 1024 * 1024 * 1024,
    help: "History bytes in all; the oldest messages go first past it",
    min: 64 * 1024,
  },
  {
    key: "diskFreeWarnBytes",
    type: "integer",
    default: 1024 * 1024 * 1024,
    help: "Warn in the log when the data directory's filesystem has less free space",
    min: 0,
  },
  {
    key: "maxMessageLength",
    type: "integer",
    default: 4096,
    help: "Longest chat message in characters",
    min: 1,
    max: 16 * 1024,
  },
  {
    key: "rateBurst",
    type: "integer",
    default: 10,
    help: "Messages a user may send at once",
    min: 1,
  },
  {
    key: "ratePerSecond",
    type: "integer",
    default: 2,
    help: "Sustained messages per second per user",
    min: 1,
  },
  { key: "jokeUrl", type: "string", default: DEFAULT_JOKE_URL, help: "Joke API URL" },
  { key: "jokeTimeoutMs", type: "integer", default: 3000, help: "Joke API timeout", min: 1 },
  {
    key: "jokeCooldownMs",
    type: "integer",
    default: 10_000,
    help: "Per-user pause between jokes",
    min: 0,
  },
  {
    key: "scryptLogN",
    type: "integer",
    default: 17,
    help: "scrypt cost for new hashes, log2(N)",
    min: 10,
    max: 22,
  },
  {
    key: "console",
    type: "string",
    default: "auto",
    help: "Operator console on stdin",
    choices: ["auto", "on", "off"],
  },
  {
    key: "logFormat",
    type: "string",
    default: "text",
    help: "Log format",
    choices: ["text", "json"],
  },
  {
    key: "logLevel",
    type: "string",
    default: "info",
    help: "Lowest log level",
    choices: ["debug", "info", "warning", "error"],
  },
  {
    key: "httpHostname",
    type: "string",
    default: "127.0.0.1",
    help: "Address of the /healthz and /metrics endpoint",
  },
  {
    key: "httpPort",
    type: "integer",
    default: 9002,
    help: "Port of the /healthz and /metrics endpoint (0: off)",
    min: 0,
    max: 65535,
  },
  {
    key: "smtpHost",
    type: "string",
    default: undefined,
    help: "Mail server for lockout alerts (unset: no alerts)",
  },
  { key: "smtpPort", type: "integer", default: 587, help: "Mail server port", min: 1, max: 65535 },
  {
    key: "smtpSecurity",
    type: "string",
    default: "starttls",
    help: "Mail server TLS: STARTTLS, TLS from the start, or none",
    choices: ["starttls", "tls", "none"],
  },
  {
    key: "smtpCa",
    type: "string",
    default: undefined,
    help: "CA file for the mail server's certificate (default: system roots)",
  },
  {
    key: "smtpUser",
    type: "string",
    default: undefined,
    help: "Mail server account (unset: no AUTH)",
  },
  {
    key: "smtpPassword",
    type: "string",
    default: undefined,
    help: "Mail server password; give it in BANTER_SMTP_PASSWORD or the config file, not as a flag",
  },
  {
    key: "smtpTimeoutMs",
    type: "integer",
    default: 10_000,
    help: "Time allowed to send one alert",
    min: 1,
  },
  {
    key: "alertFrom",
    type: "string",
    default: undefined,
    help: "Sender address of lockout alerts",
  },
  {
    key: "alertTo",
    type: "string",
    default: undefined,
    help: "Admin address that gets lockout alerts",
  },
] as const satisfies readonly Setting[];

/** The server's typed configuration, one property per setting;
 * `credentials` resolved ({@linkcode credentialsPath}). */
export type ServerConfig =
  & Omit<ConfigOf<typeof SERVER_SETTINGS>, "credentials">
  & { credentials: string };

/**
 * The accounts file: `credentials` when set, else `credentials.json` in
 * the data directory, so `--data DIR` alone moves every file the server
 * writes. The server and `scripts/user.ts` both resolve it here.
 *
 * @param values The loaded `credentials` and `data` settings.
 * @returns The path of the accounts file.
 *
 * @example
 * ```ts
 * import { credentialsPath } from "./settings.ts";
 * import { equal } from "node:assert/strict";
 *
 * equal(credentialsPath({ credentials: undefined, data: "/srv/banter" }), "/srv/banter/credentials.json");
 * equal(credentialsPath({ credentials: "/etc/accounts.json", data: "data" }), "/etc/accounts.json");
 * ```
 */
export function credentialsPath(
  values: { readonly credentials: string | undefined; readonly data: string },
): string {
  return values.credentials ?? join(values.data, CREDENTIALS_FILE);
}

/**
 * Parse the server's configuration.
 *
 * @param args Command-line arguments.
 * @param env Environment variables.
 * @param readFile Reads `--config FILE`.
 * @returns The config, or `help: true`.
 * @throws {ConfigError} Naming the setting at fault.
 */
export function parseServerConfig(
  args: readonly string[],
  env: Record<string, string | undefined> = {},
  readFile: (path: string) => string = (p) => Deno.readTextFileSync(p),
): { config: ServerConfig; help: boolean } {
  const loaded = loadConfig(SERVER_SETTINGS, { args, env, readFile });
  if (loaded.positionals.length > 0) {
    throw new ConfigError(`Unexpected argument "${loaded.positionals[0]}"`);
  }
  const config = { ...loaded.values, credentials: credentialsPath(loaded.values) };
  if (config.requireClientCert && config.clientCa === undefined) {
    throw new ConfigError(
      "requireClientCert needs clientCa",
      "requireClientCert",
    );
  }
  if (config.clientCertPins !== undefined && config.clientCa === undefined) {
    throw new ConfigError("clientCertPins needs clientCa", "clientCertPins");
  }
  if (config.deadAfterMs <= config.pingIntervalMs) {
    throw new ConfigError(
      "deadAfterMs must be longer than pingIntervalMs",
      "deadAfterMs",
    );
  }
  if (config.historyTotalBytes < config.historyUserBytes) {
    throw new ConfigError(
      "historyTotalBytes must be at least historyUserBytes",
      "historyTotalBytes",
    );
  }
  try {
    new URL(config.jokeUrl);
  } catch {
    throw new ConfigError(
      `Invalid jokeUrl: "${config.jokeUrl}" is not a URL`,
      "jokeUrl",
    );
  }
  checkCluster(config);
  checkAlerts(config);
  return { config, help: loaded.help };
}

/** The cluster's servers parse; its creds and CA only go with it. */
function checkCluster(config: ServerConfig): void {
  if (config.cluster === undefined) {
    for (const key of ["clusterCreds", "clusterCa"] as const) {
      if (config[key] !== undefined) throw new ConfigError(`${key} needs cluster`, key);
    }
    return;
  }
  try {
    parseClusterUrls(config.cluster);
  } catch (error) {
    if (error instanceof SyntaxError) throw new ConfigError(error.message, "cluster");
    throw error;
  }
}

/** Lockout alerts need both addresses, valid, and a password only over TLS. */
function checkAlerts(config: ServerConfig): void {
  for (const key of ["alertFrom", "alertTo"] as const) {
    const address = config[key];
    if (address !== undefined && !isMailAddress(address)) {
      throw new ConfigError(`Invalid ${key}: "${address}" is not a mail address`, key);
    }
    if (config.smtpHost !== undefined && address === undefined) {
      throw new ConfigError(`smtpHost needs ${key}`, key);
    }
  }
  if ((config.smtpUser === undefined) !== (config.smtpPassword === undefined)) {
    throw new ConfigError(
      "smtpUser and smtpPassword go together",
      config.smtpUser === undefined ? "smtpUser" : "smtpPassword",
    );
  }
  if (config.smtpUser !== undefined && config.smtpSecurity === "none") {
    throw new ConfigError(
      "smtpUser needs smtpSecurity starttls or tls: the password would go in clear",
      "smtpSecurity",
    );
  }
}
