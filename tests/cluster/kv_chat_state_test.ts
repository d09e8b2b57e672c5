/**
 * Bans, memberships and read markers shared by two instances on one real
 * nats-server: what one writes the other reads, concurrent writes lose nothing.
 */
import { deepEqual, equal } from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { ClusterChatState } from "../../lib/cluster/kv_chat_state.ts";
import { within } from "../_helpers.ts";
import { startNats } from "../_nats.ts";

/** Bound on one instance seeing another's write. */
const SEE_MS = 5_000;

/** Two instances' states on one nats-server; disposed together. */
async function twoInstances(): Promise<
  { a: ClusterChatState; b: ClusterChatState; conflicts: () => number } & AsyncDisposable
> {
  const nats = await startNats();
  const ncA = await connect({ servers: nats.url });
  const ncB = await connect({ servers: nats.url });
  let conflicts = 0;
  const options = { onConflict: () => conflicts++ };
  const a = await ClusterChatState.open(ncA, options);
  const b = await ClusterChatState.open(ncB, options);
  return {
    a,
    b,
    conflicts: () => conflicts,
    async [Symbol.asyncDispose]() {
      await a.close();
      await b.close();
      await ncA.close();
      await ncB.close();
      await nats[Symbol.asyncDispose]();
    },
  };
}

/** Wait until `check` holds, re-checked on every change `state` sees. */
async function eventually(state: ClusterChatState, check: () => boolean, what: string) {
  const seen = Promise.withResolvers<void>();
  const test = () => {
    if (check()) seen.resolve();
  };
  const stop = state.onChange(test);
  test();
  await within(seen.promise, SEE_MS, what).finally(stop);
}

Deno.test("a ban on one instance is seen on the other; the first of two at once stands", async () => {
  await using cluster = await twoInstances();
  const { a, b } = cluster;
  const banned: string[] = [];
  const stop = b.onBan((record) => banned.push(record.name));
  const [first, second] = await Promise.all([
    a.ban("Mallory", 1000, { by: "boss", reason: "spam" }),
    b.ban("mallory", 2000, { by: "root", reason: "again" }),
  ]);
  equal(first !== second, true, "exactly one of the two bans is new");
  await eventually(a, () => a.isBanned("MALLORY"), "the ban on a");
  await eventually(b, () => b.isBanned("mallory"), "the ban on b");
  deepEqual(a.banOf("mallory"), b.banOf("mallory"), "both instances hold the same record");
  equal(banned.length, 1);
  stop();
  equal(await b.unban("MALLORY"), true);
  await eventually(a, () => !a.isBanned("mallory"), "the unban on a");
  equal(await a.unban("mallory"), false);
});

Deno.test("rooms joined on two instances at once for one account are all kept", async () => {
  await using cluster = await twoInstances();
  const { a, b } = cluster;
  const rooms = ["alpha", "beta", "gamma", "delta", "omega", "zeta"];
  const results = await Promise.all(
    rooms.map((room, i) => (i % 2 === 0 ? a : b).addMember("acct-1", room)),
  );
  deepEqual(results, rooms.map(() => true));
  const all = [...rooms].sort();
  await eventually(a, () => a.roomsOf("acct-1").join() === all.join(), "every room on a");
  await eventually(b, () => b.roomsOf("acct-1").join() === all.join(), "every room on b");
  equal(cluster.conflicts() > 0, true, "the two instances did race");
  equal(await a.addMember("acct-1", "alpha"), false);
  equal(await b.removeMember("acct-1", "alpha"), true);
  await eventually(a, () => !a.roomsOf("acct-1").includes("alpha"), "alpha left on a");
  equal(await a.removeMember("acct-1", "alpha"), false);
});

Deno.test("a read marker only moves forward, whichever instance writes last", async () => {
  await using cluster = await twoInstances();
  const { a, b } = cluster;
  await Promise.all([a.markRead("acct-1", "#main", 10), b.markRead("acct-1", "#main", 5)]);
  await eventually(b, () => b.lastRead("acct-1", "#main") === 10, "marker 10 on b");
  await eventually(a, () => a.lastRead("acct-1", "#main") === 10, "marker 10 on a");
  equal(await b.markRead("acct-1", "#main", 7), false);
  equal(a.lastRead("acct-1", "@acct-2"), 0);
});
