/**
 * Every server setting, in one table: flag, environment variable, config-file
 * key, type, default and help come from here.
 *
 * @module
 */
import { ConfigError, loadConfig, type Setting } from "../util/config.ts";
import { DEFAULT_JOKE_URL } from "./joke_api.ts";
import { isMailAddress } from "./smtp.ts";

function setting<T extends Setting["type"]>(
  key: string,
  type: T,
  defaultValue: Setting<T>["default"],
  help: string,
  extra: Partial<Pick<Setting, "choices" | "min" | "max" | "short">> = {},
): Setting<T> {
  return { key, type, default: defaultValue, help, ...extra };
}

/** The server's settings. */
export const SERVER_SETTINGS: readonly Setting[] = [
  setting("hostname", "string", "127.0.0.1", "Address to listen on"),
  setting("port", "integer", 9001, "TLS port (0 picks a free one)", {
    min: 0,
    max: 65535,
  }),
  setting(
    "certsDir",
    "string",
    "certs",
    "Directory of the dev CA and server certificate",
  ),
  setting(
    "cert",
    "string",
    undefined,
    "Server certificate PEM (default: CERTS_DIR/server_cert.pem)",
  ),
  setting(
    "key",
    "string",
    undefined,
    "Server private key PEM (default: CERTS_DIR/server_key.pem)",
  ),
  setting(
    "clientCa",
    "string",
    undefined,
    "CA file for client certificates (turns on mutual TLS)",
  ),
  setting(
    "requireClientCert",
    "boolean",
    false,
    "Refuse clients without a valid certificate",
  ),
  setting(
    "requirePassword",
    "boolean",
    false,
    "Ask for a password even with a valid client certificate",
  ),
  setting("tlsEngine", "string", "node", "TLS implementation", {
    choices: ["node", "deno"],
  }),
  setting("credentials", "string", "credentials.json", "Credentials file"),
  setting("data", "string", "data", "Data directory (history, lockouts)"),
  setting(
    "maxFrameBytes",
    "integer",
    64 * 1024,
    "Largest protocol frame in bytes",
    {
      min: 1024,
      max: 16 * 1024 * 1024,
    },
  ),
  setting(
    "outboxBytes",
    "integer",
    1024 * 1024,
    "Bytes queued for a slow client before it is dropped",
    {
      min: 64 * 1024,
    },
  ),
  setting("handshakeTimeoutMs", "integer", 10_000, "TLS handshake timeout", {
    min: 1,
  }),
  setting(
    "loginTimeoutMs",
    "integer",
    30_000,
    "Time allowed from connect to finished login",
    { min: 1 },
  ),
  setting("pingIntervalMs", "integer", 20_000, "Heartbeat ping interval", {
    min: 10,
  }),
  setting(
    "deadAfterMs",
    "integer",
    60_000,
    "A peer silent this long is dropped",
    { min: 10 },
  ),
  setting("maxConnections", "integer", 10_000, "Most connections at once", {
    min: 1,
  }),
  setting(
    "maxConnectionsPerIp",
    "integer",
    50,
    "Most connections from one address",
    { min: 1 },
  ),
  setting(
    "maxPendingHandshakes",
    "integer",
    1024,
    "Most connections still in their TLS handshake",
    {
      min: 1,
    },
  ),
  setting(
    "maxPendingHandshakesPerIp",
    "integer",
    64,
    "Most connections in their TLS handshake from one address",
    { min: 1 },
  ),
  setting("historyLimit", "integer", 50, "Messages of history shown on join", {
    min: 0,
    max: 1000,
  }),
  setting(
    "retentionDays",
    "integer",
    30,
    "Days history is kept (0 keeps none)",
    { min: 0 },
  ),
  setting(
    "maxMessageLength",
    "integer",
    4096,
    "Longest chat message in characters",
    {
      min: 1,
      max: 16 * 1024,
    },
  ),
  setting("rateBurst", "integer", 10, "Messages a user may send at once", {
    min: 1,
  }),
  setting(
    "ratePerSecond",
    "integer",
    2,
    "Sustained messages per second per user",
    { min: 1 },
  ),
  setting("jokeUrl", "string", DEFAULT_JOKE_URL, "Joke API URL"),
  setting("jokeTimeoutMs", "integer", 3000, "Joke API timeout", { min: 1 }),
  setting("jokeCooldownMs", "integer", 10_000, "Per-user pause between jokes", {
    min: 0,
  }),
  setting("scryptLogN", "integer", 17, "scrypt cost for new hashes, log2(N)", {
    min: 10,
    max: 22,
  }),
  setting("console", "string", "auto", "Operator console on stdin", {
    choices: ["auto", "on", "off"],
  }),
  setting("logFormat", "string", "text", "Log format", {
    choices: ["text", "json"],
  }),
  setting("logLevel", "string", "info", "Lowest log level", {
    choices: ["debug", "info", "warning", "error"],
  }),
  setting("httpHostname", "string", "127.0.0.1", "Address of the /healthz and /metrics endpoint"),
  setting("httpPort", "integer", 9002, "Port of the /healthz and /metrics endpoint (0: off)", {
    min: 0,
    max: 65535,
  }),
  setting("smtpHost", "string", undefined, "Mail server for lockout alerts (unset: no alerts)"),
  setting("smtpPort", "integer", 587, "Mail server port", { min: 1, max: 65535 }),
  setting(
    "smtpSecurity",
    "string",
    "starttls",
    "Mail server TLS: STARTTLS, TLS from the start, or none",
    {
      choices: ["starttls", "tls", "none"],
    },
  ),
  setting(
    "smtpCa",
    "string",
    undefined,
    "CA file for the mail server's certificate (default: system roots)",
  ),
  setting("smtpUser", "string", undefined, "Mail server account (unset: no AUTH)"),
  setting(
    "smtpPassword",
    "string",
    undefined,
    "Mail server password; give it in BANTER_SMTP_PASSWORD or the config file, not as a flag",
  ),
  setting("smtpTimeoutMs", "integer", 10_000, "Time allowed to send one alert", { min: 1 }),
  setting("alertFrom", "string", undefined, "Sender address of lockout alerts"),
  setting("alertTo", "string", undefined, "Admin address that gets lockout alerts"),
];

/** The server's typed configuration. */
export interface ServerConfig {
  hostname: string;
  port: number;
  certsDir: string;
  cert: string | undefined;
  key: string | undefined;
  clientCa: string | undefined;
  requireClientCert: boolean;
  requirePassword: boolean;
  tlsEngine: "node" | "deno";
  credentials: string;
  data: string;
  maxFrameBytes: number;
  outboxBytes: number;
  handshakeTimeoutMs: number;
  loginTimeoutMs: number;
  pingIntervalMs: number;
  deadAfterMs: number;
  maxConnections: number;
  maxConnectionsPerIp: number;
  maxPendingHandshakes: number;
  maxPendingHandshakesPerIp: number;
  historyLimit: number;
  retentionDays: number;
  maxMessageLength: number;
  rateBurst: number;
  ratePerSecond: number;
  jokeUrl: string;
  jokeTimeoutMs: number;
  jokeCooldownMs: number;
  scryptLogN: number;
  console: "auto" | "on" | "off";
  logFormat: "text" | "json";
  logLevel: "debug" | "info" | "warning" | "error";
  httpHostname: string;
  /** 0 turns the endpoint off. */
  httpPort: number;
  /** Unset: no lockout alerts. */
  smtpHost: string | undefined;
  smtpPort: number;
  smtpSecurity: "starttls" | "tls" | "none";
  smtpCa: string | undefined;
  smtpUser: string | undefined;
  smtpPassword: string | undefined;
  smtpTimeoutMs: number;
  alertFrom: string | undefined;
  alertTo: string | undefined;
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
  const config = loaded.values as unknown as ServerConfig;
  if (config.requireClientCert && config.clientCa === undefined) {
    throw new ConfigError(
      "requireClientCert needs clientCa",
      "requireClientCert",
    );
  }
  if (config.deadAfterMs <= config.pingIntervalMs) {
    throw new ConfigError(
      "deadAfterMs must be longer than pingIntervalMs",
      "deadAfterMs",
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
  checkAlerts(config);
  return { config, help: loaded.help };
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
