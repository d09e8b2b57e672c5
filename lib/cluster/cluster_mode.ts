/**
 * What `--cluster` does at start: connect to NATS first, before any local
 * file is opened, so an unreachable cluster is one clear line; and the name
 * this instance goes by in the cluster.
 *
 * @module
 */
import { parseClusterUrls } from "./cluster_urls.ts";
import { type ClusterLink, connectCluster } from "./link.ts";

/** The cluster settings, as the server's config holds them. */
export interface ClusterModeOptions {
  /** `--cluster`: comma-separated NATS URLs. */
  cluster?: string | undefined;
  /** `--cluster-creds`. */
  clusterCreds?: string | undefined;
  /** `--cluster-ca`. */
  clusterCa?: string | undefined;
  /** `--cluster-instance`: shown in the servers' connection lists too. */
  clusterInstance?: string | undefined;
}

/**
 * Connect to the cluster for a server.
 *
 * @param options The cluster settings.
 * @param name This instance's name.
 * @returns The link, up.
 * @throws {ClusterUnreachableError} When NATS cannot be reached or refuses us.
 */
export async function connectClusterMode(
  options: ClusterModeOptions,
  name: string,
): Promise<ClusterLink> {
  return await connectCluster({
    servers: parseClusterUrls(options.cluster ?? ""),
    credsFile: options.clusterCreds,
    caFile: options.clusterCa,
    name: `banter ${name}`,
  });
}

/**
 * This instance's name: `--cluster-instance`, else `HOST:PORT` and a random
 * suffix (two instances on one host and port, one after the other, are not
 * taken for one another).
 *
 * @param options The cluster settings.
 * @param where The chat listener's host and port.
 * @param random Four random bytes' source.
 * @returns The name.
 *
 * @example
 * ```ts
 * import { instanceName } from "./cluster_mode.ts";
 * import { equal } from "node:assert/strict";
 *
 * equal(instanceName({ cluster: "nats://n1", clusterInstance: "eu-1" }, "h:9001"), "eu-1");
 * equal(
 *   instanceName({ cluster: "nats://n1" }, "h:9001", () => new Uint8Array([1, 2, 3, 255])),
 *   "h:9001-010203ff",
 * );
 * ```
 */
export function instanceName(
  options: ClusterModeOptions,
  where: string,
  random: (bytes: number) => Uint8Array = (bytes) => crypto.getRandomValues(new Uint8Array(bytes)),
): string {
  if (options.clusterInstance !== undefined) return options.clusterInstance;
  const suffix = [...random(4)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${where}-${suffix}`;
}
