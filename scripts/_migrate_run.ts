/**
 * The migration itself, started by `scripts/migrate.ts` with the least
 * privilege its flags need (read the install's files and the NATS creds
 * and CA, the network only to the NATS servers). Prints the summary, or
 * with `--verify` the differences, and exits 0; one line and a non-zero
 * exit for anything that stops it.
 *
 * @module
 */
import { connectCluster } from "../lib/cluster/link.ts";
import { migrate, summaryLines } from "../lib/cluster/migrate.ts";
import { openMigrationSource } from "../lib/cluster/migration_source.ts";
import { verifyMigration } from "../lib/cluster/migration_verify.ts";
import { TOOL_EXIT } from "../lib/util/exit_status.ts";
import { MIGRATE_USAGE, MigrateUsageError, parseMigrateArgs } from "./_migrate_args.ts";

/**
 * Run the migration (or `--verify`).
 *
 * @param args The command line.
 * @returns The exit status ({@linkcode TOOL_EXIT}): `ok` when done (or no
 * difference found), `failure` when it stopped or found differences,
 * `usage` on bad flags.
 */
export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseMigrateArgs(args);
  } catch (error) {
    if (!(error instanceof MigrateUsageError)) throw error;
    console.error(`migrate: ${error.message}\n${MIGRATE_USAGE}`);
    return TOOL_EXIT.usage;
  }
  if (parsed.help) {
    console.log(MIGRATE_USAGE);
    return TOOL_EXIT.ok;
  }
  try {
    using source = await openMigrationSource(parsed);
    await using link = await connectCluster({
      servers: parsed.servers,
      credsFile: parsed.clusterCreds,
      caFile: parsed.clusterCa,
      name: "banter-migrate",
    });
    if (parsed.verify) {
      const differences = await verifyMigration(source, link.connection, parsed.replicas);
      for (const line of differences) console.log(`difference: ${line}`);
      console.log(
        differences.length === 0
          ? "verify: the cluster holds everything of this install"
          : `verify: ${differences.length} differences`,
      );
      return differences.length === 0 ? TOOL_EXIT.ok : TOOL_EXIT.failure;
    }
    const summary = await migrate(source, link.connection, {
      replicas: parsed.replicas,
      ...(parsed.retentionDays === undefined ? {} : { retentionDays: parsed.retentionDays }),
      ...(parsed.historyTotalBytes === undefined ? {} : { maxBytes: parsed.historyTotalBytes }),
    });
    for (const line of summaryLines(summary)) console.log(line);
    return TOOL_EXIT.ok;
  } catch (error) {
    console.error(`migrate: ${oneLine(error)}`);
    return TOOL_EXIT.failure;
  }
}

/** An error as one line, without a stack. */
function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0] ?? "unknown error";
}

if (import.meta.main) Deno.exit(await main(Deno.args));
