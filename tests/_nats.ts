/**
 * A real nats-server (Debian's `nats-server` package) for the cluster tests:
 * one node with JetStream on a free loopback port and a temporary store
 * directory, or three routed nodes forming one JetStream cluster. Ready is an
 * event (the server's own "Server is ready" / metadata-leader log line), never
 * a sleep; every wait is bounded.
 *
 * @module
 */
import { join } from "node:path";
import { Output } from "./_process.ts";
import { within } from "./_helpers.ts";
import { connect, delay } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";

/** Bound on a nats-server reaching ready, and on it ending. */
export const NATS_START_MS = 15_000;

/** The nats-server binary. */
const NATS_SERVER = "nats-server";

/** One running nats-server process. */
export interface NatsNode extends AsyncDisposable {
  /** Its client port on 127.0.0.1. */
  readonly port: number;
  /** `nats://127.0.0.1:PORT`. */
  readonly url: string;
  /** Its log so far (stderr). */
  readonly output: Output;
  /** Send `signal` without waiting (SIGSTOP freezes it: a hung node; SIGCONT thaws it). */
  signal(signal: Deno.Signal): void;
  /** Kill it with `signal` and wait for it to end. */
  kill(signal?: Deno.Signal): Promise<void>;
  /** Start it again on the same port and store (after {@linkcode kill}). */
  restart(): Promise<void>;
}

/** Options for {@linkcode startNats}. */
export interface NatsOptions {
  /** The JetStream store directory; a temporary one, removed on dispose, when unset. */
  storeDir?: string;
  /** Client port. @default free (nats-server picks one) */
  port?: number;
  /** Extra arguments (cluster routes, server name). */
  args?: string[];
  /** The log line that means ready. @default /Server is ready/ */
  ready?: RegExp;
}

/**
 * Start one nats-server with JetStream on 127.0.0.1.
 *
 * @param options Store directory, port, extra arguments.
 * @returns The running node; dispose stops it and removes a temporary store.
 * @throws {Error} When nats-server is missing or not ready in time.
 */
export async function startNats(options: NatsOptions = {}): Promise<NatsNode> {
  const ownStore = options.storeDir === undefined;
  const storeDir = options.storeDir ?? await Deno.makeTempDir({ prefix: "banter-nats-" });
  let port = options.port ?? -1;
  let child: Deno.ChildProcess | undefined;
  let output = new Output();
  const ready = options.ready ?? /Server is ready/;
  const spawn = async () => {
    child = new Deno.Command(NATS_SERVER, {
      args: [
        "-js",
        "-sd",
        storeDir,
        "-a",
        "127.0.0.1",
        "-p",
        String(port),
        ...(options.args ?? []),
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    output = new Output(child.stdout, child.stderr);
    try {
      const listening = await output.waitFor(
        /Listening for client connections on 127\.0\.0\.1:(\d+)/,
        NATS_START_MS,
      );
      port = Number(listening[1]);
      await output.waitFor(ready, NATS_START_MS);
    } catch (error) {
      try {
        child.kill("SIGKILL");
      } catch { /* already ended */ }
      await child.status;
      throw error;
    }
  };
  await spawn();
  const node: NatsNode = {
    get port() {
      return port;
    },
    get url() {
      return `nats://127.0.0.1:${port}`;
    },
    get output() {
      return output;
    },
    signal(signal: Deno.Signal) {
      child?.kill(signal);
    },
    async kill(signal: Deno.Signal = "SIGTERM") {
      const running = child;
      if (running === undefined) return;
      child = undefined;
      try {
        running.kill(signal);
      } catch { /* already ended */ }
      await within(running.status, NATS_START_MS, "nats-server to end");
      await output.done;
    },
    restart: spawn,
    async [Symbol.asyncDispose]() {
      await node.kill("SIGKILL");
      if (ownStore) await Deno.remove(storeDir, { recursive: true });
    },
  };
  return node;
}

/** Three routed nodes forming one JetStream cluster. */
export interface NatsCluster extends AsyncDisposable {
  readonly nodes: readonly [NatsNode, NatsNode, NatsNode];
  /** Every node's client URL, comma-separated, as `--cluster` takes them. */
  readonly urls: string;
  /** The node a server name (`n1`, `n2`, `n3`, as NATS reports it) stands for. */
  node(name: string): NatsNode;
  /**
   * Wait (bounded) until the running nodes answer JetStream API requests
   * again: after a node is killed, a new metadata leader may be needed first.
   */
  untilJetStreamAnswers(): Promise<void>;
}

/**
 * Start a 3-node JetStream cluster on 127.0.0.1 (nodes n1, n2, n3, each
 * routed to all). Ready when a metadata leader is elected, so R3 streams and
 * buckets can be created.
 *
 * @returns The cluster; dispose stops every node and removes their stores.
 */
export async function startNatsCluster(): Promise<NatsCluster> {
  const root = await Deno.makeTempDir({ prefix: "banter-nats-cluster-" });
  const routePorts = freePorts(3);
  const routes = routePorts.map((port) => `nats://127.0.0.1:${port}`).join(",");
  const names = ["n1", "n2", "n3"];
  const results = await Promise.allSettled(names.map((name, i) =>
    startNats({
      storeDir: join(root, name),
      args: [
        "-n",
        name,
        "--cluster_name",
        "banter-test",
        "-cluster",
        `nats://127.0.0.1:${routePorts[i]}`,
        "-routes",
        routes,
      ],
    })
  ));
  const started = results.flatMap((r) => r.status === "fulfilled" ? [r.value] : []);
  try {
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
    // A metadata leader needs a quorum; R3 placement also needs the leader to
    // count all three peers current, which can lag behind on a busy machine.
    await Promise.any(
      started.map((node) => node.output.waitFor(/new metadata leader/, NATS_START_MS)),
    );
    await untilR3Placeable(started.map((node) => node.url));
  } catch (error) {
    for (const node of started) await node[Symbol.asyncDispose]();
    await Deno.remove(root, { recursive: true });
    throw error;
  }
  const nodes = started as unknown as [NatsNode, NatsNode, NatsNode];
  return {
    nodes,
    get urls() {
      return nodes.map((node) => node.url).join(",");
    },
    node(name) {
      const node = nodes[names.indexOf(name)];
      if (node === undefined) {
        throw new RangeError(`Cannot find NATS node ${name}: not n1, n2 or n3`);
      }
      return node;
    },
    untilJetStreamAnswers: () => untilJetStreamAnswers(nodes.map((node) => node.url)),
    async [Symbol.asyncDispose]() {
      for (const node of nodes) await node[Symbol.asyncDispose]();
      await Deno.remove(root, { recursive: true });
    },
  };
}

/** Pause between placement probes while the cluster settles (bounded by NATS_START_MS). */
const PLACEMENT_PROBE_MS = 100;

/**
 * Create and delete an R3 probe stream until the cluster places it: "no
 * suitable peers for placement" means a peer is not yet current. Bounded.
 */
async function untilR3Placeable(servers: string[]): Promise<void> {
  const nc = await connect({ servers });
  try {
    // No API check up front: on a busy machine the first requests may time out.
    const jsm = await jetstreamManager(nc, { checkAPI: false, timeout: 2_000 });
    const deadline = performance.now() + JETSTREAM_BACK_MS;
    for (;;) {
      try {
        await jsm.streams.add({
          name: "BANTER_TEST_PROBE",
          subjects: ["banter-test-probe"],
          num_replicas: 3,
        });
        await jsm.streams.delete("BANTER_TEST_PROBE");
        return;
      } catch (error) {
        if (performance.now() > deadline) throw error;
        await delay(PLACEMENT_PROBE_MS);
      }
    }
  } finally {
    await nc.close();
  }
}

/** Bound on the JetStream API answering again after a node is lost (an election on a busy machine). */
export const JETSTREAM_BACK_MS = 30_000;

/** Ask for the account's JetStream info until an answer comes (bounded, short tries). */
async function untilJetStreamAnswers(servers: string[]): Promise<void> {
  const nc = await connect({ servers, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  try {
    const deadline = performance.now() + JETSTREAM_BACK_MS;
    for (;;) {
      try {
        const reply = await nc.request("$JS.API.INFO", "", { timeout: 1_000 });
        const body = reply.json<{ error?: unknown }>();
        if (body.error === undefined) return;
      } catch (error) {
        if (performance.now() > deadline) throw error;
      }
      if (performance.now() > deadline) {
        throw new Error(`Timed out after ${JETSTREAM_BACK_MS} ms waiting for JetStream to answer`);
      }
      await delay(PLACEMENT_PROBE_MS);
    }
  } finally {
    await nc.close();
  }
}

/** `count` distinct free loopback ports (route ports must be known to every node up front). */
function freePorts(count: number): number[] {
  const listeners = Array.from(
    { length: count },
    () => Deno.listen({ hostname: "127.0.0.1", port: 0 }),
  );
  const ports = listeners.map((l) => (l.addr as Deno.NetAddr).port);
  for (const listener of listeners) listener.close();
  return ports;
}
