/**
 * The flags of `deno task migrate`, shared by the launcher
 * (`scripts/migrate.ts`, which derives the permissions from them) and the
 * migration itself (`scripts/_migrate_run.ts`).
 *
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type ClusterServer, parseClusterUrls } from "../lib/cluster/cluster_urls.ts";
import { CREDENTIALS_FILE } from "../lib/server/settings.ts";
import { HISTORY_FILE } from "../lib/server/history_file.ts";
import { LOCKOUT_FILE } from "../lib/server/data_files.ts";

/** The web sessions' file in the data directory (`TOKENS_FILE` of lib/server/app.ts). */
const TOKENS_FILE = "tokens.json";

/** Copies of a bucket or stream at most (JetStream's own limit). */
export const MAX_REPLICAS = 5;

/** What the flags say. */
export interface MigrateArgs {
  readonly servers: ClusterServer[];
  readonly clusterCreds: string | undefined;
  readonly clusterCa: string | undefined;
  readonly data: string;
  readonly credentials: string;
  readonly lockout: string;
  readonly tokens: string;
  readonly history: string;
  readonly replicas: number;
  readonly retentionDays: number | undefined;
  readonly historyTotalBytes: number | undefined;
  readonly verify: boolean;
  readonly help: boolean;
}

/** Bad usage: a flag unknown, missing or out of range. */
export class MigrateUsageError extends Error {
  /** @param message What is wrong. */
  constructor(message: string) {
    super(message);
    this.name = "MigrateUsageError";
  }
}

/** The usage text. */
export const MIGRATE_USAGE = [
  "Usage: deno task migrate --cluster nats://HOST:PORT[,...] [--cluster-creds FILE] [--cluster-ca FILE]",
  "                         [--data DIR] [--credentials FILE] [--replicas N]",
  "                         [--retention-days N] [--history-total-bytes N] [--verify]",
  "Moves a single-node install (accounts, lockouts, web sessions, bans, rooms, memberships,",
  "read markers, messages and DMs) into the cluster; run it again to resume, or to check that",
  "nothing is left.",
  "Stop the server on that data first.",
  "  --cluster URLS            the NATS servers, comma-separated",
  "  --cluster-creds FILE      NATS credentials file (.creds)",
  "  --cluster-ca FILE         CA of the NATS servers' certificates (turns TLS on)",
  "  --data DIR                the install's data directory (default data)",
  "  --credentials FILE        its accounts file (default DATA/credentials.json)",
  "  --replicas N              copies of the buckets and of a new stream (default 1; 3 on 3 NATS nodes)",
  "  --retention-days N        a new stream's retention, as the servers' (default 30)",
  "  --history-total-bytes N   a new stream's max bytes, as the servers' (default 1 GiB)",
  "  --verify                  compare the install with the cluster and list the differences",
].join("\n");

/**
 * Parse the flags.
 *
 * @param args The command line.
 * @returns The settings.
 * @throws {MigrateUsageError} Naming the bad flag.
 */
export function parseMigrateArgs(args: string[]): MigrateArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        cluster: { type: "string" },
        "cluster-creds": { type: "string" },
        "cluster-ca": { type: "string" },
        data: { type: "string" },
        credentials: { type: "string" },
        replicas: { type: "string" },
        "retention-days": { type: "string" },
        "history-total-bytes": { type: "string" },
        verify: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    throw new MigrateUsageError((error as Error).message);
  }
  const data = values.data ?? "data";
  const base = {
    clusterCreds: values["cluster-creds"],
    clusterCa: values["cluster-ca"],
    data,
    credentials: values.credentials ?? join(data, CREDENTIALS_FILE),
    lockout: join(data, LOCKOUT_FILE),
    tokens: join(data, TOKENS_FILE),
    history: join(data, HISTORY_FILE),
    verify: values.verify ?? false,
    help: values.help ?? false,
  };
  if (base.help) {
    return {
      ...base,
      servers: [],
      replicas: 1,
      retentionDays: undefined,
      historyTotalBytes: undefined,
    };
  }
  if (values.cluster === undefined) throw new MigrateUsageError("--cluster is required");
  let servers: ClusterServer[];
  try {
    servers = parseClusterUrls(values.cluster);
  } catch (error) {
    throw new MigrateUsageError((error as Error).message);
  }
  return {
    ...base,
    servers,
    replicas: integer("replicas", values.replicas, 1, MAX_REPLICAS) ?? 1,
    retentionDays: integer("retention-days", values["retention-days"], 0),
    historyTotalBytes: integer("history-total-bytes", values["history-total-bytes"], 64 * 1024),
  };
}

function integer(
  flag: string,
  text: string | undefined,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new MigrateUsageError(
      `Cannot use --${flag} ${
        JSON.stringify(text.slice(0, 20))
      }: it is not an integer from ${min} to ${max}`,
    );
  }
  return value;
}
