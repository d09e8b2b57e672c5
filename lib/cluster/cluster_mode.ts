/**
 * What `--cluster` does at start. It connects to NATS first, so an
 * unreachable cluster is one clear line; then, until the cluster's stores
 * (accounts, lockouts, bans, memberships, read markers and presence in KV,
 * messages in a JetStream stream) are wired into the server, it refuses to
 * start, naming what is missing, rather than run as an instance that would
 * silently keep its own separate chat.
 *
 * @module
 */
import { parseClusterUrls } from "./cluster_urls.ts";
import { connectCluster } from "./link.ts";

/** What a cluster-mode server still lacks; named in the refusal. */
export const CLUSTER_MODE_MISSING =
  "its shared accounts, lockouts, bans, memberships, read markers, presence (NATS KV) and message stream (JetStream) are not wired in yet";

/** `--cluster` was given but cluster mode cannot run. */
export class ClusterModeUnavailableError extends Error {
  /** @param message What is missing and what to do. */
  constructor(message: string) {
    super(message);
    this.name = "ClusterModeUnavailableError";
  }
}

/** The cluster settings, as the server's config holds them. */
export interface ClusterModeOptions {
  /** `--cluster`: comma-separated NATS URLs. */
  cluster: string;
  /** `--cluster-creds`. */
  clusterCreds?: string | undefined;
  /** `--cluster-ca`. */
  clusterCa?: string | undefined;
}

/**
 * Start cluster mode: connect, then refuse (see the module doc).
 *
 * @param options The cluster settings.
 * @returns Never, for now.
 * @throws {ClusterUnreachableError} When NATS cannot be reached or refuses us.
 * @throws {ClusterModeUnavailableError} Once connected: cluster mode is not complete.
 */
export async function startClusterMode(options: ClusterModeOptions): Promise<never> {
  const link = await connectCluster({
    servers: parseClusterUrls(options.cluster),
    credsFile: options.clusterCreds,
    caFile: options.clusterCa,
    name: "banter",
  });
  await link.close();
  throw new ClusterModeUnavailableError(
    `Cannot start in cluster mode: connected to ${options.cluster}, but ${CLUSTER_MODE_MISSING}; start without --cluster (embedded: one process, credentials.json, SQLite)`,
  );
}
