/**
 * Every client setting, in one table: flag, environment variable, config-file
 * key, type, default and help come from here.
 *
 * @module
 */
import { ConfigError, type ConfigOf, loadConfig, type Setting } from "../util/config.ts";
import {
  MAX_SERVERS,
  parseServerAddress,
  type ServerAddress,
  serverAddressProblem,
} from "./server_address.ts";

/** The CA certificate trusted when `--ca` is not given and this file exists. */
export const DEFAULT_CA = "certs/ca.crt";

/** The client's settings. */
export const CLIENT_SETTINGS = [
  {
    key: "host",
    type: "strings",
    default: ["127.0.0.1"],
    defaultHelp: "127.0.0.1",
    help:
      "Server name or address (verified against its certificate), HOST or HOST:PORT ([::1]:9001 for IPv6); repeat --host (or separate with commas) to give several: the first login tries each in turn, a reconnect goes to the next one",
    check: serverAddressProblem,
  },
  {
    key: "port",
    type: "integer",
    default: 9001,
    help: "Server port, for each --host that names none",
    min: 1,
    max: 65535,
  },
  {
    key: "ca",
    type: "string",
    default: undefined,
    help: `CA certificate to trust (default: ${DEFAULT_CA} when present, else the system roots)`,
  },
  {
    key: "cert",
    type: "string",
    default: undefined,
    help: "Client certificate PEM, for mutual TLS",
  },
  {
    key: "key",
    type: "string",
    default: undefined,
    help: "Client private key PEM, for mutual TLS",
  },
  {
    key: "user",
    type: "string",
    default: undefined,
    help: "User name (asked when missing on a terminal)",
  },
  {
    key: "passwordFile",
    type: "string",
    default: undefined,
    help: "Read the password from this file (else BANTER_PASSWORD, else asked)",
  },
  {
    key: "reconnect",
    type: "boolean",
    default: true,
    help:
      "Reconnect with backoff when the connection drops or a first login is answered busy (--no-reconnect to exit)",
  },
  {
    key: "maxReconnects",
    type: "integer",
    default: 20,
    help: "Failed reconnects (or busy first logins) in a row before giving up",
    min: 0,
  },
  {
    key: "bell",
    type: "boolean",
    default: false,
    help:
      "Ring the terminal bell for every mention or DM (else only when the terminal is not focused)",
  },
] as const satisfies readonly Setting[];

/** The client's typed configuration, one property per setting. */
export type ClientConfig = ConfigOf<typeof CLIENT_SETTINGS>;

/**
 * Parse the client's configuration. With `--help` the config is returned
 * as loaded, unchecked, so help is shown whatever else was given.
 *
 * @param args Command-line arguments.
 * @param env Environment variables.
 * @param readFile Reads `--config FILE`.
 * @returns The config and the servers it names (in the order given), or `help: true`.
 * @throws {ConfigError} Naming the setting at fault.
 *
 * @example
 * ```ts
 * import { deepEqual, equal } from "node:assert/strict";
 * const { config, servers } = parseClientConfig(
 *   ["--host", "a.example.org", "--host", "b.example.org:9002", "--no-reconnect"],
 * );
 * deepEqual(servers, [
 *   { hostname: "a.example.org", port: 9001 },
 *   { hostname: "b.example.org", port: 9002 },
 * ]);
 * equal(config.reconnect, false);
 * ```
 */
export function parseClientConfig(
  args: readonly string[],
  env: Record<string, string | undefined> = {},
  readFile: (path: string) => string = (p) => Deno.readTextFileSync(p),
): { config: ClientConfig; servers: ServerAddress[]; help: boolean } {
  const loaded = loadConfig(CLIENT_SETTINGS, { args, env, readFile });
  const config = loaded.values;
  if (loaded.help) return { config, servers: [], help: true };
  if (loaded.positionals.length > 0) {
    throw new ConfigError(`Unexpected argument "${loaded.positionals[0]}"`);
  }
  if ((config.cert === undefined) !== (config.key === undefined)) {
    throw new ConfigError(
      "--cert and --key go together",
      config.cert === undefined ? "cert" : "key",
    );
  }
  return { config, servers: serversOf(config), help: false };
}

/** The servers `--host` names, each with `--port` when it gives none. */
function serversOf(config: ClientConfig): ServerAddress[] {
  if (config.host.length === 0) throw new ConfigError("Invalid host: no server given", "host");
  if (config.host.length > MAX_SERVERS) {
    throw new ConfigError(
      `Invalid host: ${config.host.length} servers given, at most ${MAX_SERVERS}`,
      "host",
    );
  }
  return config.host.map((text) => {
    const parsed = parseServerAddress(text, config.port);
    // Each item passed serverAddressProblem when loaded.
    if (typeof parsed === "string") throw new ConfigError(`Invalid host: ${parsed}`, "host");
    return parsed;
  });
}
