import { deepEqual, equal } from "node:assert/strict";
import type { ChatEvent, DirectMessage } from "../../lib/chat/message.ts";
import { ChatState } from "../../lib/client/chat_state.ts";
import { MAX_DMS_FETCHED, V2Session } from "../../lib/client/v2_session.ts";

/** A session over a view that records what it is asked to show, and a recording client. */
function session(interactive = true) {
  const state = new ChatState({ multiRoom: true });
  const shown: string[] = [];
  const printed: string[][] = [];
  const calls: string[] = [];
  const v2 = new V2Session({
    state,
    interactive,
    client: () => ({
      read: (room) => calls.push(`read ${room}`),
      lastId: () => 1_000,
      fetchDms: (user, limit) => calls.push(`fetch ${user} ${limit}`),
      readDms: (user, lastRead) => calls.push(`readDms ${user} ${lastRead}`),
    }),
    show: (event) => shown.push("room" in event ? `${event.kind} ${event.room}` : event.kind),
    render: (event) => [event.kind === "dm" ? `<${event.from}> ${event.text}` : event.kind],
    print: (lines) => printed.push(lines),
    info: (text) => printed.push([`-- ${text}`]),
    ring: () => calls.push("bell"),
    updatePrompt: () => {},
    roomSeen: () => {},
  });
  v2.connected(true);
  return { v2, state, shown, printed, calls };
}

function room(name: string, unread = 0): ChatEvent {
  return { kind: "room", room: name, members: ["alice"], history: [], retentionDays: 1, unread };
}

function dm(id: number, text: string): DirectMessage {
  return { kind: "dm", id, from: "bob", to: "alice", text, ts: 0 };
}

Deno.test("V2Session holds the login replay until ready, then shows #lobby and reads it", () => {
  const t = session();
  equal(t.v2.event(room("dev", 2), "alice"), true);
  equal(t.v2.event(room("lobby", 3), "alice"), true);
  deepEqual(t.shown, [], "nothing shown before ready");
  equal(t.v2.replaying, true);
  t.v2.event({ kind: "ready" }, "alice");
  equal(t.v2.replaying, false);
  deepEqual(t.shown, ["room lobby"]);
  equal(t.state.current, "lobby");
  deepEqual(t.calls, ["read lobby"]);
  deepEqual(t.state.rooms().map((r) => [r.name, r.unread]), [["lobby", 0], ["dev", 2]]);
});

Deno.test("V2Session keeps a room's lines until it is shown, then prints them once", () => {
  const t = session();
  t.v2.event(room("lobby"), "alice");
  t.v2.event(room("dev"), "alice");
  t.v2.event({ kind: "ready" }, "alice");
  const message: ChatEvent = {
    kind: "message",
    id: 7,
    room: "dev",
    from: "bob",
    text: "hi alice",
    ts: 0,
  };
  equal(t.v2.event(message, "alice"), true, "kept, not shown");
  deepEqual(t.calls.includes("bell"), true, "a mention rings");
  t.state.switchTo("dev");
  t.v2.showBacklog("alice");
  deepEqual(t.printed, [["-- #dev --", "message"]]);
  t.v2.showBacklog("alice");
  deepEqual(t.printed.at(-1), ["-- #dev --"], "taken once");
});

Deno.test("V2Session fetches unread DMs after login and shows only those not shown yet", () => {
  const t = session();
  t.v2.event({
    kind: "conversations",
    conversations: [
      { with: "bob", lastId: 3, lastRead: 0, unread: 80, unreadCapped: false },
      { with: "carol", lastId: 1, lastRead: 1, unread: 0, unreadCapped: false },
    ],
  }, "alice");
  deepEqual(t.calls, [`fetch bob ${MAX_DMS_FETCHED}`]);
  t.v2.event(dm(3, "live"), "alice"); // arrived live before the fetched page
  t.v2.event({
    kind: "history",
    with: "bob",
    messages: [dm(1, "one"), dm(2, "two"), dm(3, "live")],
    truncated: false,
  }, "alice");
  deepEqual(t.printed, [], "all shown already (live id 3 is newer)");
  t.v2.event({
    kind: "history",
    with: "bob",
    messages: [dm(3, "live"), dm(4, "four")],
    truncated: false,
  }, "alice");
  deepEqual(t.printed, [["-- 1 unread DM with bob --", "<bob> four"]]);
  deepEqual(t.calls.slice(1), ["readDms bob 3", "readDms bob 4"]);
});
