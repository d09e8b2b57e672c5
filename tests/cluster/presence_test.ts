/**
 * Cluster-wide presence on a real nats-server, time faked per instance: two
 * presences on two connections stand for two Banter instances.
 */
import { deepEqual } from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import {
  ClusterPresence,
  PRESENCE_REFRESH_MS,
  PRESENCE_TTL_MS,
  type PresentUser,
} from "../../lib/cluster/presence.ts";
import { FakeClock } from "../_fake_clock.ts";
import { within } from "../_helpers.ts";
import { startNats } from "../_nats.ts";

const SEE_MS = 5_000;
const alice: PresentUser = { account: "acct-a", name: "alice" };
const bob: PresentUser = { account: "acct-b", name: "bob" };

/** Wait until `presence.who()` lists exactly `names`. */
function untilWho(presence: ClusterPresence, names: string[]): Promise<void> {
  const done = Promise.withResolvers<void>();
  const check = () => {
    if (presence.who().map((u) => u.name).join() === names.join()) done.resolve();
  };
  const stop = presence.onChange(check);
  check();
  return within(done.promise, SEE_MS, `who = ${names}`).finally(stop);
}

Deno.test("/who lists the users of every instance, on every instance; a clean stop removes them at once", async () => {
  await using nats = await startNats();
  const ncA = await connect({ servers: nats.url });
  const ncB = await connect({ servers: nats.url });
  try {
    const a = await ClusterPresence.open(ncA, { instance: "a", clock: new FakeClock() });
    const b = await ClusterPresence.open(ncB, { instance: "b", clock: new FakeClock() });
    await a.set([alice]);
    await b.set([bob]);
    await untilWho(a, ["alice", "bob"]);
    await untilWho(b, ["alice", "bob"]);
    await a.close();
    await untilWho(b, ["bob"]);
    await b.close();
  } finally {
    await ncA.close();
    await ncB.close();
  }
});

Deno.test("an instance killed without a goodbye loses its users' presence within the TTL", async () => {
  await using nats = await startNats();
  const ncA = await connect({ servers: nats.url });
  const ncB = await connect({ servers: nats.url });
  const clockB = new FakeClock();
  const b = await ClusterPresence.open(ncB, { instance: "b", clock: clockB });
  try {
    const a = await ClusterPresence.open(ncA, { instance: "a", clock: new FakeClock() });
    await a.set([alice]);
    await b.set([bob]);
    await untilWho(b, ["alice", "bob"]);
    // Killed: its connection is gone, it never refreshes or deletes again.
    await ncA.close();
    clockB.advance(PRESENCE_TTL_MS - 1);
    deepEqual(b.who().map((u) => u.name), ["alice", "bob"]);
    clockB.advance(2);
    deepEqual(b.who().map((u) => u.name), ["bob"], "alice is gone, bob (refreshed here) stays");
  } finally {
    await b.close();
    await ncB.close();
  }
});

Deno.test("a live instance's refreshes keep its users present past the TTL", async () => {
  await using nats = await startNats();
  const ncA = await connect({ servers: nats.url });
  const ncB = await connect({ servers: nats.url });
  const clockA = new FakeClock();
  const clockB = new FakeClock();
  const a = await ClusterPresence.open(ncA, { instance: "a", clock: clockA });
  const b = await ClusterPresence.open(ncB, { instance: "b", clock: clockB });
  try {
    await a.set([alice]);
    await untilWho(b, ["alice"]);
    for (let i = 0; i < 4; i++) {
      // a refreshes; b waits until it has seen that refresh, then its time moves on.
      const seen = Promise.withResolvers<void>();
      const stop = b.onChange(() => seen.resolve());
      clockA.advance(PRESENCE_REFRESH_MS);
      await within(seen.promise, SEE_MS, "a's refresh").finally(stop);
      clockB.advance(PRESENCE_REFRESH_MS);
    }
    deepEqual(b.who().map((u) => u.name), ["alice"]);
  } finally {
    await a.close();
    await b.close();
    await ncA.close();
    await ncB.close();
  }
});
