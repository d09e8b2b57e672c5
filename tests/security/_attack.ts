/**
 * Tools for the attack tests: a normal user's round-trip probe that runs
 * while an attack does, raw TCP peers, and bounded concurrency.
 *
 * @module
 */
import type { CertifiedKey } from "../../lib/net/certs.ts";
import type { ServerFrame } from "../../lib/wire/protocol.ts";
import { TestClient, within } from "../_helpers.ts";

/**
 * How long one of the probe's pings may go unanswered before the test fails.
 * A bound for a hang (a starved or dead session), not a speed goal: how fast
 * users are answered under load is measured by `deno task bench`.
 */
export const PROBE_FAILURE_MS = 30_000;

/**
 * Round trips a normal user must complete during an attack. Ordering, not
 * timing: the user's pings are answered while the attack is still going
 * on, so the server does not serve the attacker first and the user after.
 *
 * Only for attacks made of many connections or many events. A flood down
 * one connection is a single burst that the server handles before it turns
 * to other sockets (a ping flood of a few MB held alice's pong for its whole
 * 40 ms, even from another process), so those tests check the failure bound
 * only.
 */
export const ROUND_TRIPS_DURING_ATTACK = 3;

/** A running round-trip probe. */
export interface Probe {
  /** Resolves after the first round trip: start the attack then. */
  readonly ready: Promise<void>;
  /**
   * Stop probing; call it once the attack is over. Resolves with how many
   * round trips were sent after {@linkcode Probe.ready} and answered before
   * this call, that is, during the attack.
   *
   * @throws {Error} When a ping was not answered within
   * {@linkcode PROBE_FAILURE_MS}.
   */
  stop(): Promise<number>;
}

/**
 * Keep pinging as `client` (logged in) until stopped: one ping, wait for its
 * pong (frames in between are kept in `client.received`), repeat. The probe
 * is the client's only reader until stopped.
 *
 * @param client A logged-in client.
 * @param options The first ping id.
 * @returns The probe.
 */
export function probeRoundTrips(
  client: TestClient,
  options: { firstId?: number } = {},
): Probe {
  const { firstId = 1_000_000 } = options;
  const ready = Promise.withResolvers<void>();
  let during = 0;
  let stopped = false;
  const loop = (async () => {
    for (let i = 0; !stopped; i++) {
      const id = firstId + i;
      await client.send({ type: "ping", id });
      await client.until((f) => f.type === "pong" && f.id === id, PROBE_FAILURE_MS);
      if (i === 0) ready.resolve();
      else if (!stopped) during++;
    }
  })();
  loop.catch(ready.reject);
  return {
    ready: ready.promise,
    async stop() {
      stopped = true;
      await loop;
      return during;
    },
  };
}

/**
 * Run `task` for every item, at most `concurrency` at a time.
 *
 * @param items Inputs.
 * @param concurrency How many run at once.
 * @param task The work.
 * @returns The results, in input order.
 */
export async function pool<T, R>(
  items: readonly T[],
  concurrency: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

/** A plain TCP connection to the server's port, closed on dispose. */
export interface RawPeer extends Disposable {
  conn: Deno.TcpConn;
  /** Resolves when the server closes (or resets) the connection. */
  closed: Promise<void>;
  /** Bytes the server sent before closing. */
  readonly received: number;
  /** Whether {@linkcode RawPeer.closed} has resolved. */
  readonly isClosed: boolean;
}

/**
 * Open a TCP connection and watch for the server closing it; optionally
 * send `payload` first.
 *
 * @param port The server's port on 127.0.0.1.
 * @param payload Bytes to send after connecting.
 * @returns The peer.
 */
export async function rawPeer(port: number, payload?: Uint8Array): Promise<RawPeer> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  if (payload !== undefined) await conn.write(payload);
  const counted = { received: 0, closed: false };
  const closed = (async () => {
    const buf = new Uint8Array(4096);
    // Bounded: a peer that talks forever would pass 1 MiB first.
    while (counted.received < 1 << 20) {
      let n: number | null;
      try {
        n = await conn.read(buf);
      } catch {
        return; // reset, or closed by dispose
      }
      if (n === null) return;
      counted.received += n;
    }
  })().finally(() => {
    counted.closed = true;
  });
  const peer: RawPeer = {
    conn,
    closed,
    get received() {
      return counted.received;
    },
    get isClosed() {
      return counted.closed;
    },
    [Symbol.dispose]() {
      try {
        conn.close();
      } catch (error) {
        if (!(error instanceof Deno.errors.BadResource)) throw error;
      }
    },
  };
  return peer;
}

/**
 * Wait for `count` of `peers` to be closed by the server.
 *
 * @param peers The peers.
 * @param count How many must close.
 * @param ms Bound.
 */
export async function closedCount(
  peers: readonly RawPeer[],
  count: number,
  ms: number,
): Promise<void> {
  let closed = 0;
  const enough = Promise.withResolvers<void>();
  if (count <= 0) enough.resolve();
  for (const peer of peers) {
    peer.closed.then(() => {
      if (++closed >= count) enough.resolve();
    });
  }
  await within(
    enough.promise,
    ms,
    `${count} of ${peers.length} connections to be closed by the server`,
  );
}

/** Resolves after `ms` unless `event` settles first; for pacing an attacker, never for synchronising. */
export function paced(event: Promise<unknown>, ms: number): Promise<unknown> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    event,
    new Promise((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * How a connection with this client certificate (or none) ends: the first
 * two frames after `hello`, or "refused" when TLS or the server turned it
 * away before any frame.
 *
 * @param port The server's port on localhost.
 * @param cert The client certificate, if any.
 */
export async function certificateAttempt(
  port: number,
  cert?: CertifiedKey,
): Promise<ServerFrame[] | "refused"> {
  let client: TestClient;
  try {
    client = await TestClient.connect(port, cert ? { cert } : {});
  } catch {
    return "refused"; // failed in the handshake
  }
  await using c = client;
  let first: ServerFrame | undefined;
  try {
    first = await c.next();
  } catch (error) {
    if (error instanceof Error && error.message.startsWith("Timed out")) throw error;
    return "refused"; // TLS 1.3: the refusal arrives after the handshake
  }
  if (first === undefined) return "refused";
  await c.send({ type: "hello", version: 1 });
  return [first, (await c.next())!];
}
