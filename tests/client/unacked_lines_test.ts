import { deepEqual, equal } from "node:assert/strict";
import type { RoomEntered, RoomMessage } from "../../lib/chat/message.ts";
import { isChatLine, UnackedLines } from "../../lib/client/unacked_lines.ts";

function said(id: number, from: string, text: string, room = "lobby"): RoomMessage {
  return { kind: "message", id, room, from, text, ts: 0 };
}

function replay(room: string, history: RoomMessage[], truncated = false): RoomEntered {
  return { kind: "room", room, members: [], history, retentionDays: 30, truncated };
}

Deno.test("UnackedLines: lines answered with ack or error are settled and never sent again", () => {
  const lines = new UnackedLines();
  const first = lines.sent("one", "lobby");
  const second = lines.sent("two", "lobby");
  equal(lines.answered(first), true);
  equal(lines.answered(second), true);
  equal(lines.answered("line:99"), false);
  equal(lines.answered(7), false);
  lines.dropped();
  equal(lines.size, 0);
  deepEqual(lines.settle(), { resend: [], unknown: [] });
});

Deno.test("UnackedLines: a line its own echo came for is stored, even with no ack", () => {
  const lines = new UnackedLines();
  lines.sent("hi", "lobby");
  lines.echoed(said(5, "bob", "hi"), "ann"); // someone else's
  lines.echoed(said(6, "Ann", "hi", "dev"), "ann"); // another room
  equal(lines.size, 1);
  lines.echoed(said(7, "Ann", "hi"), "ann");
  equal(lines.size, 0);
});

Deno.test("UnackedLines: after a drop, the next replay settles each line: stored, sent again, or not known", () => {
  const lines = new UnackedLines();
  lines.sent("stored", "lobby");
  lines.sent("lost", "lobby");
  lines.sent("lost", "lobby"); // typed twice, stored once
  lines.sent("busy room", "dev");
  lines.sent("room gone", "old");
  lines.sent("no room", undefined);
  lines.dropped();
  lines.replayed(
    replay("lobby", [said(8, "bob", "lost"), said(9, "ann", "stored"), said(10, "ann", "lost")]),
    "ann",
  );
  lines.replayed(replay("dev", [said(11, "bob", "hi", "dev")], true), "ann");
  deepEqual(lines.settle(), {
    resend: [{ text: "lost", room: "lobby" }],
    unknown: [{ text: "busy room", room: "dev" }, { text: "room gone", room: "old" }, {
      text: "no room",
    }],
  });
  equal(lines.size, 0);
});

Deno.test("UnackedLines: lines sent on the new session before its replay ends are not judged by it", () => {
  const lines = new UnackedLines();
  lines.sent("old", "lobby");
  lines.dropped();
  lines.sent("new", "lobby");
  lines.replayed(replay("lobby", []), "ann");
  deepEqual(lines.settle().resend, [{ text: "old", room: "lobby" }]);
  equal(lines.size, 1); // "new" waits for its own ack
});

Deno.test("isChatLine() tracks chat text, not commands or the end of a session", () => {
  deepEqual(
    ["hi", " /me waves", "/who", "end", " end ", "get_joke", "", "ending soon"].map(isChatLine),
    [true, false, false, false, false, false, false, true],
  );
});
