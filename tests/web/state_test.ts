import { deepEqual, equal } from "node:assert/strict";
import { ChatState } from "../../web/state.ts";
import { checkInput } from "../../web/input.ts";

function message(id: number, from = "bob", text = `m${id}`) {
  return { type: "message" as const, id, room: "lobby", from, text, ts: id * 1000 };
}

function roomFrame(ids: number[], extra: Record<string, unknown> = {}) {
  return {
    type: "room" as const,
    room: "lobby",
    members: ["alice", "bob"],
    history: ids.map((id) => message(id)),
    retention_days: 30,
    ...extra,
  };
}

function ids(state: ChatState, room = "lobby"): number[] {
  return state.room(room).lines.flatMap((l) => l.kind === "message" ? [l.id] : []);
}

Deno.test("ChatState: a replay after a reconnect adds only the messages not held", () => {
  const state = new ChatState();
  state.user = "alice";
  state.apply(roomFrame([1, 2, 3]));
  deepEqual(state.resume(), { lobby: 3 });
  const again = state.apply(roomFrame([3, 4]));
  deepEqual(again.added.map((l) => l.kind === "message" && l.id), [4]);
  deepEqual(ids(state), [1, 2, 3, 4]);
});

Deno.test("ChatState: a truncated resume starts the room again instead of leaving a gap", () => {
  const state = new ChatState();
  state.apply(roomFrame([1, 2]));
  state.apply(roomFrame([60, 61], { truncated: true }));
  deepEqual(ids(state), [60, 61]);
  equal(state.room("lobby").hasOlder, true);
});

Deno.test("ChatState: history pages go before the held lines, overlaps dropped", () => {
  const state = new ChatState();
  state.historyLimit = 3;
  state.apply(roomFrame([7, 8, 9]));
  equal(state.room("lobby").hasOlder, true);
  state.apply({
    type: "history",
    room: "lobby",
    messages: [4, 5, 6, 7].map((id) => message(id)),
    truncated: true,
  });
  deepEqual(ids(state), [4, 5, 6, 7, 8, 9]);
  equal(state.room("lobby").firstId, 4);
  state.apply({ type: "history", room: "lobby", messages: [message(3)], truncated: false });
  deepEqual(ids(state), [3, 4, 5, 6, 7, 8, 9]);
  equal(state.room("lobby").hasOlder, false);
});

Deno.test("ChatState: live messages count unread and mentions elsewhere; a read event clears them", () => {
  const state = new ChatState();
  state.user = "alice";
  state.apply(roomFrame([1]));
  state.apply({ ...roomFrame([]), room: "dev" });
  state.current = "dev";
  state.apply(message(2));
  state.apply(message(3, "bob", "ALICE: look"));
  state.apply(message(4, "alice", "mine"));
  const lobby = state.room("lobby");
  deepEqual([lobby.unread, lobby.mentioned], [2, true]);
  state.apply({ type: "read", room: "lobby", last_read: 2 });
  deepEqual([lobby.unread, lobby.mentioned], [1, true]);
  state.apply({ type: "read", room: "lobby", last_read: 4 });
  deepEqual([lobby.unread, lobby.mentioned], [0, false]);
  equal(state.select("lobby"), undefined, "already read up to the newest");
});

Deno.test("ChatState: presence moves known members on and off line; an unknown one marks the list stale", () => {
  const state = new ChatState();
  state.apply(roomFrame([1]));
  state.apply({ type: "presence", user: "bob", online: false, ts: 1 });
  deepEqual([...state.room("lobby").members], ["alice"]);
  state.apply({ type: "presence", user: "bob", online: true, away: "lunch", ts: 2 });
  deepEqual([...state.room("lobby").members], ["alice", "bob"]);
  equal(state.away.get("bob"), "lunch");
  state.apply({ type: "presence", user: "carol", online: true, ts: 3 });
  equal(state.room("lobby").staleMembers, true);
  state.apply({ type: "who", room: "lobby", users: [{ name: "carol", role: "user" }] });
  deepEqual([...state.room("lobby").members], ["carol"]);
  equal(state.room("lobby").staleMembers, false);
});

Deno.test("checkInput() refuses too many characters or lines with the count", () => {
  const limits = { chars: 10, lines: 2 };
  equal(checkInput("0123456789", limits), undefined);
  equal(checkInput("0123456789a", limits), "Cannot send: 11 characters, at most 10");
  equal(checkInput("a\nb\nc", limits), "Cannot send: 3 lines, at most 2");
  equal(checkInput("/join\ndev", limits), "Cannot send: a /command is one line");
});
