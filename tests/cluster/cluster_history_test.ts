/**
 * `ClusterHistory` on a real nats-server: two instances' stores, each
 * answering from its local copies, converge on what the buckets hold; a
 * change from the other instance is told to the listener, an instance's own
 * change is not.
 */
import { deepEqual, equal } from "node:assert/strict";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { ClusterChatState } from "../../lib/cluster/kv_chat_state.ts";
import { ClusterHistory, type ClusterHistoryListener } from "../../lib/cluster/cluster_history.ts";
import { MemoryHistory } from "../../lib/chat/memory_history.ts";
import { within } from "../_helpers.ts";
import { startNats } from "../_nats.ts";

/** One instance: its connection, buckets and history, and what its listener was told. */
interface Instance {
  nc: NatsConnection;
  state: ClusterChatState;
  history: ClusterHistory;
  told: string[];
  /** Resolves on the next thing told. */
  next(): Promise<string>;
}

async function instance(url: string): Promise<Instance> {
  const nc = await connect({ servers: url });
  const state = await ClusterChatState.open(nc);
  const history = new ClusterHistory(new MemoryHistory(), state);
  const told: string[] = [];
  let waiting: ((what: string) => void) | undefined;
  const tell = (what: string) => {
    told.push(what);
    waiting?.(what);
    waiting = undefined;
  };
  const listener: ClusterHistoryListener = {
    memberships: (account, rooms) => tell(`rooms ${account} ${rooms.join(",")}`),
    read: (account, conversation, id) => tell(`read ${account} ${conversation} ${id}`),
    topic: (room, topic) => tell(`topic ${room} ${topic}`),
    banned: (record) => tell(`banned ${record.name}`),
  };
  history.listen(listener);
  return {
    nc,
    state,
    history,
    told,
    next: () => new Promise((resolve) => waiting = resolve),
  };
}

async function close(...all: Instance[]): Promise<void> {
  for (const one of all) {
    await one.history.settled();
    one.history.close();
    await one.state.close();
    await one.nc.close();
  }
}

Deno.test("a change on one instance is applied and told on the other; the writer is not told its own", async () => {
  await using nats = await startNats();
  const a = await instance(nats.url);
  const b = await instance(nats.url);
  try {
    a.history.ensureRoom("dev", 1);
    a.history.addMember("id-ann", "dev");
    equal(a.history.roomsOf("id-ann").join(), "dev", "read your own write at once");
    const told = b.next();
    equal(await within(told, 5_000, "b to hear of ann's room"), "rooms id-ann dev");
    deepEqual(b.history.roomsOf("id-ann"), ["dev"]);
    equal(b.history.room("dev")?.members, 1);
    a.history.setTopic("dev", "shipping");
    equal(await within(b.next(), 5_000, "the topic"), "topic dev shipping");
    equal(b.history.room("dev")?.topic, "shipping");
    a.history.markRead("id-ann", "#dev", 42);
    equal(await within(b.next(), 5_000, "the marker"), "read id-ann #dev 42");
    equal(b.history.lastRead("id-ann", "#dev"), 42);
    a.history.ban("mallory", 5, { by: "root", reason: "spam" });
    equal(await within(b.next(), 5_000, "the ban"), "banned mallory");
    equal(b.history.banOf("MALLORY")?.reason, "spam");
    await a.history.settled();
    deepEqual(a.told, [], "nothing of its own was told back");
  } finally {
    await close(a, b);
  }
});

Deno.test("two instances changing one account's rooms at once both stand, and both copies end alike", async () => {
  await using nats = await startNats();
  const a = await instance(nats.url);
  const b = await instance(nats.url);
  try {
    for (const one of [a, b]) one.history.ensureRoom("lobby", 0);
    a.history.ensureRoom("dev", 1);
    b.history.ensureRoom("ops", 1);
    a.history.addMember("id-ann", "dev");
    b.history.addMember("id-ann", "ops");
    await a.history.settled();
    await b.history.settled();
    const both = () =>
      a.history.roomsOf("id-ann").join() === "dev,ops" &&
      b.history.roomsOf("id-ann").join() === "dev,ops";
    while (!both()) await within(Promise.race([a.next(), b.next()]), 5_000, "the merge");
    deepEqual(a.state.membershipsOf("id-ann"), ["dev", "ops"]);
  } finally {
    await close(a, b);
  }
});

Deno.test("a new instance loads rooms, memberships, markers and bans from the buckets", async () => {
  await using nats = await startNats();
  const a = await instance(nats.url);
  try {
    a.history.ensureRoom("dev", 7);
    a.history.setTopic("dev", "t");
    a.history.addMember("id-ann", "dev");
    a.history.markRead("id-ann", "@id-bob", 9);
    a.history.ban("eve", 3);
    await a.history.settled();
    const b = await instance(nats.url);
    try {
      deepEqual(b.history.room("dev"), { name: "dev", topic: "t", created: 7, members: 1 });
      deepEqual(b.history.roomsOf("id-ann"), ["dev"]);
      equal(b.history.lastRead("id-ann", "@id-bob"), 9);
      equal(b.history.isBanned("EVE"), true);
    } finally {
      await close(b);
    }
  } finally {
    await close(a);
  }
});
