/**
 * The one NATS connection of a cluster-mode instance: connect at start (an
 * unreachable cluster is one clear error), then follow the link's state so
 * the rest of the server can tell users when it is lost and when it is back.
 * The client reconnects by itself, forever, across every server given.
 *
 * @module
 */
import {
  connect,
  credsAuthenticator,
  type NatsConnection,
  type NodeConnectionOptions,
} from "@nats-io/transport-node";
import { whyUnreadable } from "../util/why_unreadable.ts";
import type { ClusterServer } from "./cluster_urls.ts";

/** Bound on the first connect to one server. */
export const CLUSTER_CONNECT_TIMEOUT_MS = 5_000;

/** Pause between reconnect attempts to one server once the link is lost. */
export const CLUSTER_RECONNECT_WAIT_MS = 250;

/**
 * How often the client pings the NATS server it is connected to. A node
 * killed with -9 closes its sockets and is noticed at once; a hung or cut-off
 * one (its host frozen, a network partition) only by unanswered pings: after
 * {@linkcode CLUSTER_MAX_PINGS_OUT} of them the link counts as lost and the
 * client moves to another server. The client's default (2 minutes, 2 pings)
 * would leave users on a dead node for 4 minutes.
 */
export const CLUSTER_PING_INTERVAL_MS = 5_000;

/** Unanswered pings before the server counts as gone. */
export const CLUSTER_MAX_PINGS_OUT = 3;

/** The cluster cannot be reached, or refused us, at start. */
export class ClusterUnreachableError extends Error {
  /**
   * @param message What failed, naming the servers (never a credential).
   * @param options The underlying error.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ClusterUnreachableError";
  }
}

/** Options for {@linkcode connectCluster}. */
export interface ClusterLinkOptions {
  /** The NATS servers, tried in turn. */
  servers: readonly ClusterServer[];
  /** A NATS `.creds` file (user JWT and NKey seed). */
  credsFile?: string | undefined;
  /** A CA file for the servers' certificates; turns TLS on. */
  caFile?: string | undefined;
  /** This instance's name, shown in the servers' connection lists. */
  name?: string;
  /** Bound on the first connect. @default {CLUSTER_CONNECT_TIMEOUT_MS} */
  connectTimeoutMs?: number;
  /** How often the server is pinged. @default {CLUSTER_PING_INTERVAL_MS} */
  pingIntervalMs?: number;
  /** Reads the creds and CA files. @default Deno.readFile */
  readFile?: (path: string) => Promise<Uint8Array>;
}

/** A connected link, with its state followed. */
export interface ClusterLink extends AsyncDisposable {
  /** The NATS connection, for the stores and the stream. */
  readonly connection: NatsConnection;
  /** Whether the link is up now. */
  readonly up: boolean;
  /** Call `listener` on every change of {@linkcode up}; returns the unsubscribe. */
  onChange(listener: (up: boolean) => void): () => void;
  /** Drain and close the connection; idempotent. */
  close(): Promise<void>;
}

/**
 * Connect to the cluster.
 *
 * @param options Servers, credentials, CA.
 * @returns The link, up.
 * @throws {ClusterUnreachableError} When no server can be reached, TLS or
 * authentication fails, or a creds or CA file cannot be read.
 */
export async function connectCluster(options: ClusterLinkOptions): Promise<ClusterLink> {
  const readFile = options.readFile ?? Deno.readFile;
  const where = options.servers.map((server) => server.url).join(", ");
  const connectOptions: NodeConnectionOptions = {
    servers: options.servers.map((server) => server.url),
    timeout: options.connectTimeoutMs ?? CLUSTER_CONNECT_TIMEOUT_MS,
    maxReconnectAttempts: -1,
    reconnectTimeWait: CLUSTER_RECONNECT_WAIT_MS,
    pingInterval: options.pingIntervalMs ?? CLUSTER_PING_INTERVAL_MS,
    maxPingOut: CLUSTER_MAX_PINGS_OUT,
    waitOnFirstConnect: false,
    // Without this the client builds an Error (a stack trace) for every
    // request and publish ack, in case it times out: 17 % of an instance's
    // CPU in the cluster bench's profile (bench/RESULTS.md, "Cluster").
    noAsyncTraces: true,
    ...(options.name === undefined ? {} : { name: options.name }),
  };
  if (options.credsFile !== undefined) {
    const creds = await readOwnFile(readFile, options.credsFile, "cluster credentials");
    connectOptions.authenticator = credsAuthenticator(creds);
  }
  if (options.caFile !== undefined) {
    const ca = await readOwnFile(readFile, options.caFile, "cluster CA");
    connectOptions.tls = { ca: new TextDecoder().decode(ca) };
  } else if (options.servers.some((server) => server.url.startsWith("tls:"))) {
    connectOptions.tls = {};
  }
  let connection: NatsConnection;
  try {
    connection = await connect(connectOptions);
  } catch (error) {
    throw new ClusterUnreachableError(
      `Cannot connect to the cluster at ${where}: ${reason(error)}`,
      { cause: error },
    );
  }
  return followLink(connection);
}

function followLink(connection: NatsConnection): ClusterLink {
  let up = true;
  const listeners = new Set<(up: boolean) => void>();
  const set = (next: boolean) => {
    if (next === up) return;
    up = next;
    for (const listener of listeners) listener(up);
  };
  const watching = (async () => {
    for await (const status of connection.status()) {
      if (status.type === "disconnect") set(false);
      else if (status.type === "reconnect") set(true);
    }
  })();
  let closing: Promise<void> | undefined;
  const link: ClusterLink = {
    connection,
    get up() {
      return up;
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      closing ??= (async () => {
        if (!connection.isClosed()) {
          await connection.drain().catch(() => connection.close());
        }
        await connection.closed();
        await watching;
      })();
      return closing;
    },
    [Symbol.asyncDispose]() {
      return link.close();
    },
  };
  return link;
}

/** Read a file the settings name; a missing permission stays itself, for the start-up advice. */
async function readOwnFile(
  readFile: (path: string) => Promise<Uint8Array>,
  path: string,
  what: string,
): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    throw new ClusterUnreachableError(
      `Cannot read the ${what} file ${path}: ${whyUnreadable(error)}`,
      { cause: error },
    );
  }
}

/** The client's error in a few words: its message, without a stack. */
function reason(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  if (code === "ENOTFOUND") return "the host name does not resolve";
  if (code === "ECONNREFUSED") return "connection refused";
  return error.message.split("\n")[0] ?? "unknown error";
}
