/**
 * What the admin CLI says when its permissions are too narrow for the
 * files its settings name: `deno task user` grants read of `data` and
 * `credentials.json` and write of `data` only, with `--no-prompt`, so a
 * `--data` or `--credentials` elsewhere fails with Deno's `NotCapable`.
 * This turns that into one line naming the `deno run` command that grants
 * what the settings need, instead of a prompt or a stack trace.
 *
 * @module
 */
import { dirname, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { parseClusterUrls } from "../lib/cluster/cluster_urls.ts";
import {
  type MissingPermission,
  missingPermission,
  shellLine,
} from "../lib/util/permission_advice.ts";

/** What `deno task user` grants (deno.json), as `deno run` flags. */
export const USER_TASK_GRANTS = {
  read: ["data", "credentials.json"],
  write: ["data"],
  env: "BANTER_*",
} as const;

/** What `--cluster` adds to the grants: its servers, and its creds and CA files. */
export interface UserClusterGrants {
  /** `HOST:PORT` of each NATS server. */
  readonly net: readonly string[];
  /** The `--cluster-creds` and `--cluster-ca` files. */
  readonly read: readonly string[];
}

/**
 * What the CLI's `--cluster`, `--cluster-creds` and `--cluster-ca`
 * arguments need granted.
 *
 * @param args The CLI's arguments.
 * @returns The grants, or `undefined` without `--cluster`.
 * @throws {SyntaxError} When `--cluster` is not a list of NATS URLs.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { clusterGrants } from "./_user_permissions.ts";
 *
 * deepEqual(clusterGrants(["list", "--cluster", "nats://10.0.0.1,nats://10.0.0.2:4223", "--cluster-ca=ca.pem"]), {
 *   net: ["10.0.0.1:4222", "10.0.0.2:4223"],
 *   read: ["ca.pem"],
 * });
 * deepEqual(clusterGrants(["list"]), undefined);
 * ```
 */
export function clusterGrants(args: readonly string[]): UserClusterGrants | undefined {
  const { values } = parseArgs({
    args: [...args],
    strict: false,
    allowPositionals: true,
    options: {
      cluster: { type: "string" },
      "cluster-creds": { type: "string" },
      "cluster-ca": { type: "string" },
    },
  });
  const flag = (name: string) => typeof values[name] === "string" ? values[name] : undefined;
  const cluster = flag("cluster");
  if (cluster === undefined) return undefined;
  const read = [flag("cluster-creds"), flag("cluster-ca")]
    .filter((path): path is string => path !== undefined);
  return { net: parseClusterUrls(cluster).map((server) => server.hostPort), read };
}

/**
 * The `deno run` permission flags of `scripts/user.ts`: the task's grants
 * ({@linkcode USER_TASK_GRANTS}), plus the NATS servers and the creds and
 * CA files of `--cluster`.
 *
 * @param cluster What `--cluster` needs, if given.
 * @returns The flags, `--no-prompt` first.
 */
export function userRunFlags(cluster?: UserClusterGrants): string[] {
  return [
    "--no-prompt",
    `--allow-read=${[...USER_TASK_GRANTS.read, ...cluster?.read ?? []].join(",")}`,
    `--allow-write=${USER_TASK_GRANTS.write.join(",")}`,
    `--allow-env=${USER_TASK_GRANTS.env}`,
    ...(cluster === undefined ? [] : [`--allow-net=${cluster.net.join(",")}`]),
  ];
}

/** The files the CLI's settings name, as far as they are known. */
export interface UserFiles {
  /** The data directory. */
  readonly data?: string;
  /** The credentials file. */
  readonly credentials?: string;
  /** The server's config file, when one is named. */
  readonly config?: string;
}

/**
 * The one line for a permission the CLI lacked, or `undefined` when
 * `error` is another kind of error.
 *
 * @param error What the command threw (or loading its settings).
 * @param args The CLI's arguments, for the command line to run instead.
 * @param files The files its settings name, as far as they were resolved.
 * @returns The line to print, without the `user: ` prefix.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { permissionAdvice } from "./_user_permissions.ts";
 *
 * const denied = new Deno.errors.NotCapable(
 *   'Requires read access to "/srv/banter/credentials.json", run again with the --allow-read flag',
 * );
 * equal(
 *   permissionAdvice(denied, ["list", "--data", "/srv/banter"], {
 *     data: "/srv/banter",
 *     credentials: "/srv/banter/credentials.json",
 *   }),
 *   "Cannot read /srv/banter/credentials.json: not allowed to this process (deno task " +
 *     "user may read only data/ and credentials.json, write only data/); run instead: " +
 *     "deno run --no-prompt " +
 *     "--allow-read=data,credentials.json,/srv/banter --allow-write=data,/srv/banter " +
 *     "'--allow-env=BANTER_*' scripts/user.ts list --data /srv/banter",
 * );
 * ```
 */
export function permissionAdvice(
  error: unknown,
  args: readonly string[],
  files: UserFiles,
): string | undefined {
  const missing = missingPermission(error);
  if (missing === undefined) return undefined;
  const cluster = clusterGrantsOrNone(args);
  const { read, write } = grantsFor(files, missing, cluster?.read ?? []);
  const command = shellLine([
    "--no-prompt",
    `--allow-read=${read.join(",")}`,
    `--allow-write=${write.join(",")}`,
    `--allow-env=${USER_TASK_GRANTS.env}`,
    ...(cluster === undefined ? [] : [`--allow-net=${cluster.net.join(",")}`]),
    "scripts/user.ts",
    ...args,
  ]);
  const action = missing.kind === "net" ? "connect to" : missing.kind;
  return `Cannot ${action} ${missing.target}: not allowed to this process ` +
    `(deno task user may read only data/ and credentials.json, write only data/); ` +
    `run instead: deno run ${command}`;
}

/** The task's grants plus the directories the settings name (the
 * credentials file's too: its lock and temporary files sit beside it). */
function grantsFor(
  files: UserFiles,
  missing: MissingPermission,
  clusterFiles: readonly string[],
): { read: string[]; write: string[] } {
  const read: string[] = [...USER_TASK_GRANTS.read, ...clusterFiles];
  const write: string[] = [...USER_TASK_GRANTS.write];
  const add = (list: string[], path: string) => {
    if (!list.some((granted) => covers(granted, path))) list.push(path);
  };
  const dirs = [files.data, files.credentials && dirname(files.credentials)]
    .filter((path): path is string => path !== undefined);
  for (const dir of dirs) {
    add(read, dir);
    add(write, dir);
  }
  if (files.config !== undefined) add(read, files.config);
  // What the settings could not tell (e.g. the config file was the problem).
  if (missing.kind === "read") add(read, missing.target);
  if (missing.kind === "write") add(write, missing.target);
  return { read, write };
}

/** {@linkcode clusterGrants}, or `undefined` when `--cluster` does not parse (the CLI says so itself). */
function clusterGrantsOrNone(args: readonly string[]): UserClusterGrants | undefined {
  try {
    return clusterGrants(args);
  } catch (error) {
    if (error instanceof SyntaxError) return undefined;
    throw error;
  }
}

/** Whether a grant of `granted` covers `path` (itself or below it). */
function covers(granted: string, path: string): boolean {
  const rel = relative(resolve(granted), resolve(path));
  return rel === "" || (!rel.startsWith("..") && !rel.startsWith("/"));
}
