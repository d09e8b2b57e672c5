/**
 * `deno task migrate`: move a single-node install into a cluster. This
 * launcher reads the flags and starts `scripts/_migrate_run.ts` with the
 * least privilege they need: `--allow-read` of the data directory, the
 * credentials file and the NATS creds and CA files, `--allow-net` to the
 * NATS servers of `--cluster`, nothing else (no write, no environment).
 * Itself it runs with `--allow-run=deno` only. The exit status is the
 * migration's.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { TOOL_EXIT } from "../lib/util/exit_status.ts";
import {
  MIGRATE_USAGE,
  type MigrateArgs,
  MigrateUsageError,
  parseMigrateArgs,
} from "./_migrate_args.ts";

const RUN = fileURLToPath(new URL("./_migrate_run.ts", import.meta.url));

/**
 * The `deno run` flags of the migration for `args`.
 *
 * @param args The parsed flags.
 * @returns The permission flags.
 * @throws {MigrateUsageError} When a path holds a comma (flags are comma-separated).
 *
 * @example
 * ```ts
 * import { migratePermissions } from "./migrate.ts";
 * import { parseMigrateArgs } from "./_migrate_args.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * deepEqual(migratePermissions(parseMigrateArgs(["--cluster", "nats://10.0.0.1"])), [
 *   "--no-prompt",
 *   "--allow-read=data,data/credentials.json",
 *   "--allow-net=10.0.0.1:4222",
 * ]);
 * ```
 */
export function migratePermissions(args: MigrateArgs): string[] {
  const reads = [args.data, args.credentials, args.clusterCreds, args.clusterCa]
    .filter((path): path is string => path !== undefined);
  const comma = reads.find((path) => path.includes(","));
  if (comma !== undefined) {
    throw new MigrateUsageError(`Cannot grant reading ${JSON.stringify(comma)}: it holds a comma`);
  }
  return [
    "--no-prompt",
    `--allow-read=${[...new Set(reads)].join(",")}`,
    `--allow-net=${args.servers.map((server) => server.hostPort).join(",")}`,
  ];
}

/**
 * Start the migration with the permissions its flags need.
 *
 * @param args The command line, passed on unchanged.
 * @returns The migration's exit status (`TOOL_EXIT.usage` for bad flags).
 */
export async function main(args: string[]): Promise<number> {
  let flags: string[];
  try {
    const parsed = parseMigrateArgs(args);
    if (parsed.help) {
      console.log(MIGRATE_USAGE);
      return TOOL_EXIT.ok;
    }
    flags = migratePermissions(parsed);
  } catch (error) {
    if (!(error instanceof MigrateUsageError)) throw error;
    console.error(`migrate: ${error.message}\n${MIGRATE_USAGE}`);
    return TOOL_EXIT.usage;
  }
  const child = new Deno.Command("deno", {
    args: ["run", ...flags, RUN, ...args],
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  const status = await child.status;
  return status.code;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
