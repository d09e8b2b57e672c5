/**
 * Ping floods from peers that never read (issue 13, item 1): pongs must not
 * pile up in memory. Before login pings are rate-limited and a flooder is
 * closed; after login a connection holds at most one unsent pong. The
 * bound is checked on what the server charges for each connection's queue.
 *
 * @module
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import type { ServerFrame } from "../../lib/wire/protocol.ts";
import { FakeClock } from "../_fake_clock.ts";
import { TestClient } from "../_helpers.ts";
import { startTestServer } from "../_server.ts";
import { pool, probeRoundTrips } from "./_attack.ts";

/** `count` ping frames from id `first` on, as one write. */
function pings(first: number, count: number): Uint8Array {
  return new TextEncoder().encode(
    Array.from({ length: count }, (_, i) => JSON.stringify({ type: "ping", id: first + i }) + "\n")
      .join(""),
  );
}

function codes(frames: readonly ServerFrame[]): string[] {
  return frames.map((f) => f.type === "error" || f.type === "bye" ? `${f.type}:${f.code}` : f.type);
}

/** Far under the outbox bound: a hello, the error and goodbye, a pong, their overhead. */
const PRE_LOGIN_CHARGE_BOUND = 16 * 1024;

Deno.test("before login, connections that flood pings and never read are closed after the ping burst, holding a few KiB each", async () => {
  // Fake time stands still: no login timeout, no refill; only the burst counts.
  const clock = new FakeClock();
  const burst = 10;
  await using s = await startTestServer({
    users: ["alice"],
    config: { preLoginPingBurst: burst },
    deps: { clock },
  });
  await using alice = await s.login("alice");
  const connections = 20;
  const perConnection = 900_000; // the review's ~0.9 MB each
  const flooders = await pool(
    Array.from({ length: connections }),
    10,
    () => TestClient.connect(s.port),
  );
  let mostCharged = 0;
  const charged = () => {
    for (const session of s.server.sessions) {
      if (session.user === undefined) {
        mostCharged = Math.max(mostCharged, session.queuedBytes);
      }
    }
  };
  try {
    const batch = pings(0, 2_000);
    await Promise.all(flooders.map(async (c) => {
      // Pings before hello are fatal at once; the rate applies from hello to login.
      await c.send({ type: "hello", version: 1 });
      for (let sent = 0; sent < perConnection; sent += batch.length) {
        try {
          await c.sendRaw(batch);
        } catch {
          return; // the server closed the connection
        }
        charged();
      }
    }));
    charged();
    for (const c of flooders) {
      const frames = await c.untilClosed(10_000);
      const pongs = frames.filter((f) => f.type === "pong").length;
      ok(pongs <= burst, `${pongs} pongs for a burst of ${burst}`);
      deepEqual(codes(frames.filter((f) => f.type !== "pong")), [
        "hello",
        "auth",
        "error:rate_limited",
        "bye:protocol_error",
      ]);
      const error = frames.find((f) => f.type === "error");
      equal(error?.type === "error" && error.message, "Too many pings before login");
    }
    ok(
      mostCharged <= PRE_LOGIN_CHARGE_BOUND,
      `a flooder's queue was charged ${mostCharged} bytes`,
    );
    await alice.send({ type: "ping", id: 1 });
    await alice.until((f) => f.type === "pong" && f.id === 1);
  } finally {
    await Promise.all(flooders.map((c) => c[Symbol.asyncDispose]()));
  }
});

Deno.test("before login, pings within the rate are answered: the bucket refills on the clock", async () => {
  const clock = new FakeClock();
  await using s = await startTestServer({
    config: { preLoginPingBurst: 2, preLoginPingsPerSecond: 1 },
    deps: { clock },
  });
  await using c = await s.client();
  await c.until((f) => f.type === "hello");
  await c.send({ type: "hello", version: 1 });
  await c.until((f) => f.type === "auth");
  for (let id = 1; id <= 6; id++) {
    await c.send({ type: "ping", id });
    await c.until((f) => f.type === "pong" && f.id === id);
    if (id >= 2) clock.advance(1000); // one token per second after the burst
  }
  await c.send({ type: "ping", id: 7 });
  await c.send({ type: "ping", id: 8 }); // no time has passed: over the rate
  deepEqual(codes(await c.untilClosed()), ["pong", "error:rate_limited", "bye:protocol_error"]);
});

/** The most a queue holds while its socket is stuck: a write in flight, a chunk, a pong. */
const STUCK_CHARGE_BOUND = 64 * 1024 + 4 * 4096;

Deno.test("a logged-in client that floods pings and never reads holds at most one pong, gets the newest when it reads, and alice stays responsive", async () => {
  await using s = await startTestServer({
    users: ["alice", "mallory"],
    config: { outboxBytes: 64 * 1024 },
  });
  await using alice = await s.login("alice");
  await using mallory = await s.login("mallory");
  const session = [...s.server.sessions].find((x) => x.user === "mallory");
  ok(session);
  const probe = probeRoundTrips(alice);
  await probe.ready;
  const perBatch = 2_000;
  const limit = 4 * 1024 * 1024;
  let sent = 0;
  let id = 0;
  let mostCharged = 0;
  while (sent < limit) {
    const batch = pings(id, perBatch);
    await mallory.sendRaw(batch); // throws if the server dropped mallory
    sent += batch.length;
    id += perBatch;
    mostCharged = Math.max(mostCharged, session.queuedBytes);
  }
  // Each of alice's pings is answered within the probe's failure bound; no
  // count during the flood: it is one burst down one connection (see
  // ROUND_TRIPS_DURING_ATTACK).
  await probe.stop();
  ok(mostCharged <= STUCK_CHARGE_BOUND, `mallory's queue was charged ${mostCharged} bytes`);
  // Reading now, mallory gets the pong to its last ping; most were replaced.
  await mallory.until((f) => f.type === "pong" && f.id === id - 1, 20_000);
  const pongs = mallory.received.filter((f) => f.type === "pong").length;
  ok(pongs < id, `${pongs} pongs for ${id} pings`);
});
