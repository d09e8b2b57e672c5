/**
 * The `--cluster` value: one or more NATS server URLs, comma-separated, each
 * `nats://HOST:PORT` (or `tls://HOST:PORT`), parsed into what the NATS client
 * and the permission flags need.
 *
 * @module
 */

/** The NATS client port when a URL names none. */
export const DEFAULT_NATS_PORT = 4222;

/** URL schemes a NATS server is reached with. */
const SCHEMES = ["nats:", "tls:"] as const;

/** One NATS server of the cluster. */
export interface ClusterServer {
  /** As the NATS client takes it: `nats://HOST:PORT`. */
  readonly url: string;
  /** `HOST:PORT`, IPv6 in brackets, as `--allow-net` takes it. */
  readonly hostPort: string;
}

/**
 * Parse a `--cluster` value.
 *
 * @param text Comma-separated NATS URLs.
 * @returns The servers, in the order given, without duplicates.
 * @throws {SyntaxError} Naming the part that is not a NATS URL.
 *
 * @example
 * ```ts
 * import { parseClusterUrls } from "./cluster_urls.ts";
 * import { deepEqual } from "node:assert/strict";
 *
 * deepEqual(parseClusterUrls("nats://10.0.0.1:4222, nats://nats2").map((s) => s.hostPort), [
 *   "10.0.0.1:4222",
 *   "nats2:4222",
 * ]);
 * ```
 */
export function parseClusterUrls(text: string): ClusterServer[] {
  const parts = text.split(",").map((part) => part.trim());
  if (parts.every((part) => part === "")) {
    throw new SyntaxError("Cannot use the cluster address: it is empty");
  }
  const servers = new Map<string, ClusterServer>();
  for (const part of parts) {
    if (part === "") continue;
    const shown = redacted(part);
    let url: URL;
    try {
      url = new URL(part);
    } catch {
      throw new SyntaxError(
        `Cannot use the cluster address "${shown}": it is not a URL (nats://HOST:PORT)`,
      );
    }
    if (!(SCHEMES as readonly string[]).includes(url.protocol)) {
      throw new SyntaxError(
        `Cannot use the cluster address "${shown}": it is not nats://HOST:PORT`,
      );
    }
    if (url.hostname === "" || url.username !== "" || url.password !== "") {
      throw new SyntaxError(
        `Cannot use the cluster address "${shown}": it needs a host and no user or password (use --cluster-creds)`,
      );
    }
    if ((url.pathname !== "" && url.pathname !== "/") || url.search !== "" || url.hash !== "") {
      throw new SyntaxError(
        `Cannot use the cluster address "${shown}": it is nats://HOST:PORT, without a path`,
      );
    }
    const port = url.port === "" ? DEFAULT_NATS_PORT : Number(url.port);
    const hostPort = `${url.hostname}:${port}`;
    servers.set(hostPort, { url: `${url.protocol}//${hostPort}`, hostPort });
  }
  return [...servers.values()];
}

/** `part` with any user or password before an `@` replaced, so no secret reaches a message. */
function redacted(part: string): string {
  return part.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^@/]*@/i, "$1***@");
}
