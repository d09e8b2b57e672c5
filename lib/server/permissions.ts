/**
 * The least privilege a server with a given config needs, as `deno run`
 * flags: read and write only the files and directories the config names,
 * the network only at the addresses it listens on and the hosts it calls.
 * `scripts/serve.ts` (`deno task server`) starts the server with them, so
 * `--data /srv/banter` or `--hostname 192.0.2.1` widen exactly what they
 * name; `server.ts` names the flag when a process was started without it.
 *
 * @module
 */
import { dirname, join, resolve } from "node:path";
import { CERT_FILES } from "../net/cert_files.ts";
import { CONFIG_ENV } from "../util/config.ts";
import type { ServerConfig } from "./settings.ts";
import { parseClusterUrls } from "../cluster/cluster_urls.ts";

/** The web client's bundle, read when the web port is on (lib/server/web.ts finds it there). */
const WEB_DIST_READ = "web/dist";

/** The flags every server process gets, whatever the config says. */
export const FIXED_SERVER_FLAGS = [
  "--no-prompt",
  "--allow-env=BANTER_*,NO_COLOR,TERM",
  "--allow-sys=statfs",
] as const;

/** A config path that cannot go into a permission flag, or would give too much. */
export class PermissionPathError extends Error {
  /** @param message What is wrong and what to do. */
  constructor(message: string) {
    super(message);
    this.name = "PermissionPathError";
  }
}

/** Options for {@linkcode serverPermissions}. */
export interface ServerPermissionOptions {
  /** The `--config` file, read at start. */
  configFile?: string | undefined;
  /** The working directory relative paths are judged from. @default Deno.cwd() */
  cwd?: string;
}

/**
 * The `--allow-*` flags (plus {@linkcode FIXED_SERVER_FLAGS}) for `config`.
 * Reads: the config file, the certificate and key, `ca.crt` of the certs
 * directory, the client CA and pins, the mail CA, `./credentials.json`
 * (the check for accounts left there by earlier versions), the data
 * directory and the credentials file's directory. Writes: the data
 * directory and the credentials file's directory. Network: the chat and
 * ops addresses, the joke API's host, the mail server and the NATS servers
 * of `--cluster` (whose creds and CA files are read too).
 *
 * @param config The server's configuration.
 * @param options The config file and working directory.
 * @returns The flags, in a stable order.
 * @throws {PermissionPathError} When a path holds a comma (flags are
 * comma-separated) or the credentials file sits in the working directory
 * (write access there would let the server rewrite its own code).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { parseServerConfig } from "./settings.ts";
 * import { serverPermissions } from "./permissions.ts";
 * const { config } = parseServerConfig(["--data", "/srv/banter", "--hostname", "192.0.2.1"]);
 * const flags = serverPermissions(config, { cwd: "/opt/banter" });
 * equal(flags.find((f) => f.startsWith("--allow-write")), "--allow-write=/srv/banter");
 * equal(
 *   flags.find((f) => f.startsWith("--allow-net")),
 *   "--allow-net=192.0.2.1,127.0.0.1,official-joke-api.appspot.com",
 * );
 * ```
 */
export function serverPermissions(
  config: ServerConfig,
  options: ServerPermissionOptions = {},
): string[] {
  const cwd = options.cwd ?? Deno.cwd();
  const credentialsDir = dirname(config.credentials);
  const inData = resolve(cwd, credentialsDir) === resolve(cwd, config.data);
  if (!inData && resolve(cwd, credentialsDir) === resolve(cwd)) {
    throw new PermissionPathError(
      `Cannot start with --credentials ${config.credentials}: it is in the working directory, and write access there would let the server rewrite its own code; keep it in the data directory (the default) or a directory of its own`,
    );
  }
  const writes = unique([config.data, ...(inData ? [] : [credentialsDir])]);
  const reads = unique([
    ...(options.configFile === undefined ? [] : [options.configFile]),
    ...writes,
    config.cert ?? join(config.certsDir, CERT_FILES.serverCert),
    config.key ?? join(config.certsDir, CERT_FILES.serverKey),
    join(config.certsDir, CERT_FILES.caCert),
    "credentials.json",
    ...(config.webPort === 0 ? [] : [WEB_DIST_READ]),
    ...[config.clientCa, config.clientCertPins, config.smtpCa].filter(isString),
    ...[config.clusterCreds, config.clusterCa].filter(isString),
  ]);
  const hosts = unique([
    netHost(config.hostname),
    ...(config.hostname === "127.0.0.1" ? ["localhost"] : []),
    ...(config.httpPort === 0 ? [] : [netHost(config.httpHostname)]),
    new URL(config.jokeUrl).host,
    ...(config.smtpHost === undefined ? [] : [`${netHost(config.smtpHost)}:${config.smtpPort}`]),
    ...(config.cluster === undefined
      ? []
      : parseClusterUrls(config.cluster).map((s) => s.hostPort)),
  ]);
  for (const value of [...reads, ...hosts]) {
    if (value.includes(",")) {
      throw new PermissionPathError(
        `Cannot start with ${value}: a comma cannot go into a permission flag; rename it`,
      );
    }
  }
  return [
    `--allow-net=${hosts.join(",")}`,
    `--allow-read=${reads.join(",")}`,
    `--allow-write=${writes.join(",")}`,
    ...FIXED_SERVER_FLAGS,
  ];
}

/**
 * The `--config` file a server with these flags and environment reads.
 *
 * @param args Command-line arguments.
 * @param env Environment variables.
 * @returns Its path, or undefined when there is none.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { configFileOf } from "./permissions.ts";
 * equal(configFileOf(["--config=banter.jsonc"], {}), "banter.jsonc");
 * equal(configFileOf([], { BANTER_CONFIG: "/etc/banter.jsonc" }), "/etc/banter.jsonc");
 * ```
 */
export function configFileOf(
  args: readonly string[],
  env: Record<string, string | undefined>,
): string | undefined {
  for (const [i, arg] of args.entries()) {
    if (arg === "--") break;
    if (arg === "--config") return args[i + 1];
    if (arg.startsWith("--config=")) return arg.slice("--config=".length);
  }
  return env[CONFIG_ENV];
}

/** A host as `--allow-net` takes it: IPv6 in brackets. */
function netHost(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

function isString(value: string | undefined): value is string {
  return value !== undefined;
}
