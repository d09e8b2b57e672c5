import { deepEqual, equal } from "node:assert/strict";
import { ChatState, MAX_PENDING_LINES, mentions } from "../../lib/client/chat_state.ts";

Deno.test("mentions() finds the name as a word in any case, not inside another word", () => {
  equal(mentions("hey Alice, look", "alice"), true);
  equal(mentions("@alice", "alice"), true);
  equal(mentions("alice: hi", "alice"), true);
  equal(mentions("malice aforethought", "alice"), false);
  equal(mentions("alice_bot says hi", "alice"), false);
  equal(mentions("anything", ""), false);
});

Deno.test("ChatState with one room at a time: entering a room leaves the one before", () => {
  const state = new ChatState();
  state.joined("lobby", { members: ["alice", "bob"] });
  state.joined("dev");
  deepEqual(state.rooms().map((r) => r.name), ["dev"]);
  equal(state.current, "dev");
});

Deno.test("ChatState counts unread and mentions in other rooms and clears them on switch", () => {
  const state = new ChatState({ multiRoom: true });
  state.joined("lobby");
  state.joined("dev");
  state.joined("ops", { unread: 4, mentioned: 1 }); // as protocol v2 sends them
  equal(state.current, "lobby", "the first room joined stays current");
  state.message("lobby", {});
  state.message("dev", {});
  state.message("dev", { mention: true });
  deepEqual(state.others().map((r) => [r.name, r.unread, r.mentioned]), [
    ["dev", 2, 1],
    ["ops", 4, 1],
  ]);
  equal(state.switchTo("dev"), true);
  deepEqual(state.others().map((r) => [r.name, r.unread]), [["lobby", 0], ["ops", 4]]);
  equal(state.switchTo("nowhere"), false);
});

Deno.test("ChatState cycles rooms both ways and picks the Nth", () => {
  const state = new ChatState({ multiRoom: true });
  for (const room of ["a", "b", "c"]) state.joined(room);
  equal(state.cycle(1), "b");
  equal(state.cycle(1), "c");
  equal(state.cycle(1), "a");
  equal(state.cycle(-1), "c");
  equal(state.switchToNumber(2), "b");
  equal(state.switchToNumber(9), undefined);
  equal(state.current, "b");
});

Deno.test("ChatState part moves to the next room", () => {
  const state = new ChatState({ multiRoom: true });
  for (const room of ["a", "b", "c"]) state.joined(room);
  state.switchTo("b");
  state.left("b");
  equal(state.current, "c");
  state.left("c");
  equal(state.current, "a");
  state.left("a");
  equal(state.current, undefined);
});

Deno.test("ChatState tracks members for completion from the room, presence and speakers", () => {
  const state = new ChatState();
  state.joined("lobby", { members: ["bob"] });
  state.presence("lobby", "carol", true);
  state.message("lobby", { from: "dave" });
  state.presence("lobby", "bob", false);
  deepEqual(state.members(), ["carol", "dave"]);
});

Deno.test("ChatState keeps pending lines until taken, once, up to a bound", () => {
  const state = new ChatState();
  equal(state.addPending("one", 1), true);
  equal(state.addPending("two", 2), true);
  deepEqual(state.takePending().map((p) => p.text), ["one", "two"]);
  deepEqual(state.takePending(), []);
  for (let i = 0; i < MAX_PENDING_LINES; i++) state.addPending(`l${i}`, i);
  equal(state.addPending("over", 0), false);
});
