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
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CERT_FILES } from "../net/cert_files.ts";
import { CONFIG_ENV } from "../util/config.ts";
import type { ServerConfig } from "./settings.ts";
import { parseClusterUrls } from "../cluster/cluster_urls.ts";

/** The web client's bundle, read when the web port is on (lib/server/web.ts finds it there). */
const WEB_DIST_READ = "web/dist";

/** The checkout this file belongs to: the directory of server.ts. */
const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The one directory inside the checkout the server may write (the default `--data`). */
const REPO_DATA = "data";

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
  /**
   * The checkout the server runs from (the directory of server.ts); no
   * granted path may cover it, and writes inside it only under `data/`.
   *
   * @default the directory two levels above this file
   */
  repoRoot?: string;
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
 * comma-separated), or a granted path would reach the server's own code or
 * keys: any read or write path that is, or contains, the checkout (the
 * directory of server.ts) or `--certs-dir`; a write path inside
 * `--certs-dir`; a write path inside the checkout other than `data/` and
 * below. Paths are judged as written (resolved against `cwd`, symlinks
 * not followed).
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
    // The web port relays to its own HTTP server on loopback (lib/server/web.ts).
    ...(config.webPort === 0 ? [] : ["127.0.0.1"]),
    new URL(config.jokeUrl).host,
    ...(config.smtpHost === undefined ? [] : [`${netHost(config.smtpHost)}:${config.smtpPort}`]),
    ...(config.cluster === undefined
      ? []
      : parseClusterUrls(config.cluster).map((s) => s.hostPort)),
  ]);
  guardPaths(config, {
    cwd,
    repoRoot: options.repoRoot ?? REPO_ROOT,
    configFile: options.configFile,
    writes: inData ? [] : [credentialsDir],
  });
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

interface GuardOptions {
  readonly cwd: string;
  readonly repoRoot: string;
  readonly configFile: string | undefined;
  /** The credentials directory, when it is not the data directory. */
  readonly writes: readonly string[];
}

/** Refuse paths whose grant would reach the checkout or the certificates' keys. */
function guardPaths(config: ServerConfig, options: GuardOptions): void {
  const at = (path: string) => resolve(options.cwd, path);
  const repo = at(options.repoRoot);
  const certs = at(config.certsDir);
  const fix =
    "use a directory outside the checkout (or under its data/) that holds neither the code nor the certificates";
  const writes: [string, string][] = [
    ["--data", config.data],
    ...options.writes.map((dir): [string, string] => [`--credentials ${config.credentials}`, dir]),
  ];
  for (const [flag, dir] of writes) {
    const path = at(dir);
    const covered = covers(path, repo)
      ? `the server's own code (${repo})`
      : covers(path, certs) || covers(certs, path)
      ? `the certificates and keys (${certs})`
      : covers(repo, path) && !covers(join(repo, REPO_DATA), path)
      ? `the checkout (${repo}) outside data/`
      : undefined;
    if (covered !== undefined) {
      throw new PermissionPathError(
        `Cannot start with ${
          flag === "--data" ? `--data ${dir}` : flag
        }: write access to ${path} would reach ${covered}; ${fix}`,
      );
    }
  }
  const reads: [string, string | undefined][] = [
    ["--config", options.configFile],
    ["--cert", config.cert],
    ["--key", config.key],
    ["--client-ca", config.clientCa],
    ["--client-cert-pins", config.clientCertPins],
    ["--smtp-ca", config.smtpCa],
  ];
  for (const [flag, file] of reads) {
    if (file === undefined) continue;
    const path = at(file);
    const covered = covers(path, repo) ? repo : covers(path, certs) ? certs : undefined;
    if (covered !== undefined) {
      throw new PermissionPathError(
        `Cannot start with ${flag} ${file}: read access to ${path} would cover all of ${covered}, keys included; name the file itself`,
      );
    }
  }
}

/** Whether `outer` is `inner` or one of its ancestors (both absolute). */
function covers(outer: string, inner: string): boolean {
  const rel = relative(outer, inner);
  return rel === "" || (!rel.startsWith("..") && !rel.startsWith("/"));
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
