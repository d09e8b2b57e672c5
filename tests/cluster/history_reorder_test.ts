/**
 * ClusterHistory keeps the order of one key's writes through their retries
 * (found by review: a ban and then an unban, both failing while the link
 * flapped, were retried apart and stored unban first, ban second, so the
 * user stayed banned). The buckets are a stand-in that fails on demand; the
 * retry timers are fake.
 */
import { equal } from "node:assert/strict";
import { ClusterHistory } from "../../lib/cluster/cluster_history.ts";
import { MemoryHistory } from "../../lib/chat/memory_history.ts";
import type { ClusterChatState } from "../../lib/cluster/kv_chat_state.ts";

/** Let every promise chain that is ready run. */
async function drain(): Promise<void> {
  for (let i = 0; i < 50; i++) await Promise.resolve();
}

Deno.test("a ban and then an unban that fail while the link is down are stored in that order once it is back", async () => {
  let down = true;
  const bucket = new Map<string, { name: string; ts: number }>();
  const order: string[] = [];
  const fail = () => {
    if (down) throw new Error("link down");
  };
  const state = {
    rooms: () => [],
    memberships: () => [],
    markers: () => [],
    bans: () => [],
    onMembership: () => () => {},
    onMarker: () => () => {},
    onRoom: () => () => {},
    onBanChange: () => () => {},
    ban: async (user: string, ts: number) => {
      await Promise.resolve();
      fail();
      order.push("ban");
      bucket.set(user.toLowerCase(), { name: user, ts });
    },
    unban: async (user: string) => {
      await Promise.resolve();
      fail();
      order.push("unban");
      bucket.delete(user.toLowerCase());
    },
    banOf: (user: string) => bucket.get(user.toLowerCase()),
  } as unknown as ClusterChatState;
  const timers = new Map<number, () => void>();
  let ids = 0;
  const fake = {
    setTimeout: (fn: () => void) => {
      timers.set(++ids, fn);
      return ids;
    },
    clearTimeout: (id: number) => void timers.delete(id),
  };
  /** Fire every retry timer waiting now, oldest first. */
  const fireAll = async () => {
    for (const [id, fn] of [...timers]) {
      timers.delete(id);
      fn();
      await drain();
    }
  };
  const history = new ClusterHistory(new MemoryHistory(), state, { timers: fake as never });
  history.ban("eve", 1);
  await drain();
  history.unban("eve");
  await drain();
  await fireAll(); // still down: the ban fails again
  down = false;
  while (timers.size > 0) await fireAll();
  await history.settled();
  history.close();
  equal(order.join(","), "ban,unban");
  equal(bucket.has("eve"), false);
  equal(history.isBanned("eve"), false);
});
