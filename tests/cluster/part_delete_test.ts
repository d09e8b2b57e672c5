/**
 * The hub's `/part` of a room's last member (removeMember, then deleteRoom)
 * on a ClusterHistory with a real nats-server: the room goes from the bucket
 * too (found by review: the delete was judged before this instance's own
 * membership write was stored, so it was refused and the room and its old
 * topic stayed for good).
 */
import { equal } from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { ClusterChatState } from "../../lib/cluster/kv_chat_state.ts";
import { ClusterHistory } from "../../lib/cluster/cluster_history.ts";
import { MemoryHistory } from "../../lib/chat/memory_history.ts";
import { within } from "../_helpers.ts";
import { startNats } from "../_nats.ts";

Deno.test("the last member's part deletes the room from the bucket, its topic with it", async () => {
  await using nats = await startNats();
  const nc = await connect({ servers: nats.url });
  const state = await ClusterChatState.open(nc);
  const history = new ClusterHistory(new MemoryHistory(), state);
  try {
    history.ensureRoom("x", 1);
    history.setTopic("x", "old topic");
    history.addMember("id-alice", "x");
    await history.settled();
    history.removeMember("id-alice", "x");
    equal(history.room("x")?.members, 0);
    history.deleteRoom("x");
    equal(history.room("x"), undefined, "gone here at once");
    await within(history.settled(), 10_000, "the writes");
    equal(state.room("x"), undefined, "and from the bucket");
    equal(history.room("x"), undefined, "and not put back here");
  } finally {
    history.close();
    await state.close();
    await nc.close();
  }
});
