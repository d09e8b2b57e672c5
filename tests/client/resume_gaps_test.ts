import { deepEqual, equal, throws } from "node:assert/strict";
import type { ChatEvent, RoomEntered, RoomMessage } from "../../lib/chat/message.ts";
import { type GapOutput, type GapStep, ResumeGaps } from "../../lib/client/resume_gaps.ts";

function line(id: number, room = "dev"): RoomMessage {
  return { kind: "message", id, room, from: "bob", text: `line ${id}`, ts: 0 };
}

function lines(from: number, to: number, room = "dev"): RoomMessage[] {
  return Array.from({ length: to - from + 1 }, (_, i) => line(from + i, room));
}

function replay(room: string, history: RoomMessage[], truncated: boolean): RoomEntered {
  return { kind: "room", room, members: ["ann"], history, retentionDays: 30, truncated };
}

function page(room: string, messages: RoomMessage[], truncated: boolean): ChatEvent {
  return { kind: "history", room, messages, truncated };
}

/** What a step passes on, as short strings: `room dev 4..9`, `info ...`, or the kind. */
function shown(outputs: readonly GapOutput[]): string[] {
  return outputs.map((o) => {
    if ("info" in o) return `info ${o.info}`;
    const e = o.event;
    if (e.kind === "room") {
      const ids = e.history.map((m) => m.id);
      return `room ${e.room} ${ids.join(",")}${e.truncated ? " truncated" : ""}`;
    }
    return e.kind;
  });
}

function asked(step: GapStep): string[] {
  return step.requests.map((r) => `${r.room} before ${r.before} limit ${r.limit} id ${r.id}`);
}

Deno.test("ResumeGaps passes a resumed room on at once when its replay left nothing out", () => {
  const gaps = new ResumeGaps(new Map([["dev", 3]]));
  const step = gaps.take(replay("dev", lines(4, 5), false));
  deepEqual(shown(step.deliver), ["room dev 4,5"]);
  deepEqual(step.requests, []);
  equal(gaps.filling, false);
});

Deno.test("ResumeGaps fetches the lines a truncated replay left out, page by page, and holds everything meanwhile", () => {
  const gaps = new ResumeGaps(new Map([["dev", 3]]));
  const first = gaps.take(replay("dev", lines(10, 11), true));
  deepEqual(shown(first.deliver), []);
  deepEqual(asked(first), ["dev before 10 limit 2 id resume-gap:dev"]);
  equal(gaps.filling, true);
  // The rest of the replay and live lines wait behind the gap.
  deepEqual(shown(gaps.take({ kind: "ready" }).deliver), []);
  deepEqual(shown(gaps.take(line(12)).deliver), []);
  const second = gaps.take(page("dev", lines(8, 9), true));
  deepEqual(asked(second), ["dev before 8 limit 2 id resume-gap:dev"]);
  const third = gaps.take(page("dev", lines(6, 7), true));
  deepEqual(asked(third), ["dev before 6 limit 2 id resume-gap:dev"]);
  // This page reaches back to what the client had (3): the gap is closed.
  const last = gaps.take(page("dev", lines(3, 5), true));
  deepEqual(last.requests, []);
  deepEqual(shown(last.deliver), ["room dev 4,5,6,7,8,9,10,11", "ready", "message"]);
  equal(gaps.filling, false);
  // Afterwards events go straight through.
  deepEqual(shown(gaps.take(line(13)).deliver), ["message"]);
});

Deno.test("ResumeGaps stops at a page that is not truncated: the room has nothing older", () => {
  const gaps = new ResumeGaps(new Map([["dev", 3]]));
  gaps.take(replay("dev", lines(10, 11), true));
  const last = gaps.take(page("dev", lines(7, 9), false));
  deepEqual(shown(last.deliver), ["room dev 7,8,9,10,11"]);
});

Deno.test("ResumeGaps fills the gaps of several rooms before passing any on, in arrival order", () => {
  const gaps = new ResumeGaps(new Map([["dev", 3], ["ops", 4]]));
  deepEqual(asked(gaps.take(replay("dev", lines(10, 10), true))), [
    "dev before 10 limit 1 id resume-gap:dev",
  ]);
  deepEqual(asked(gaps.take(replay("ops", lines(11, 11, "ops"), true))), [
    "ops before 11 limit 1 id resume-gap:ops",
  ]);
  deepEqual(shown(gaps.take(replay("lobby", [], false)).deliver), []);
  deepEqual(shown(gaps.take(page("ops", [line(4, "ops"), line(9, "ops")], true)).deliver), []);
  const done = gaps.take(page("dev", [line(2), line(5)], true));
  deepEqual(shown(done.deliver), ["room dev 5,10", "room ops 9,11", "room lobby "]);
});

Deno.test("ResumeGaps leaves rooms it has no resume id for, and first logins, alone", () => {
  const gaps = new ResumeGaps(new Map([["dev", 3]]));
  deepEqual(shown(gaps.take(replay("ops", lines(10, 11, "ops"), true)).deliver), [
    "room ops 10,11 truncated",
  ]);
  // A room frame after the replay (a join) is not a resume.
  gaps.take({ kind: "ready" });
  deepEqual(shown(gaps.take(replay("dev", lines(10, 11), true)).deliver), [
    "room dev 10,11 truncated",
  ]);
});

Deno.test("ResumeGaps stops at its bound and says older missed lines are not shown", () => {
  const gaps = new ResumeGaps(new Map([["dev", 3]]), 4);
  gaps.take(replay("dev", lines(20, 21), true));
  gaps.take(page("dev", lines(18, 19), true));
  const last = gaps.take(page("dev", lines(16, 17), true));
  deepEqual(last.requests, []);
  deepEqual(shown(last.deliver), [
    "info Older lines of #dev missed while away are not shown (6 fetched)",
    "room dev 16,17,18,19,20,21 truncated",
  ]);
});

Deno.test("ResumeGaps passes the room on with what it has when its page is refused or late", () => {
  const refused = new ResumeGaps(new Map([["dev", 3]]));
  refused.take(replay("dev", lines(10, 11), true));
  refused.take(page("dev", lines(8, 9), true));
  deepEqual(shown(refused.failed("someone else's").deliver), []);
  deepEqual(shown(refused.failed("resume-gap:dev").deliver), [
    "info Older lines of #dev missed while away are not shown (4 fetched)",
    "room dev 8,9,10,11 truncated",
  ]);
  const late = new ResumeGaps(new Map([["dev", 3]]));
  late.take(replay("dev", lines(10, 11), true));
  late.take(line(12));
  deepEqual(shown(late.flush()), [
    "info Older lines of #dev missed while away are not shown (2 fetched)",
    "room dev 10,11 truncated",
    "message",
  ]);
  deepEqual(late.flush(), []);
});

Deno.test("ResumeGaps keeps only lines between the resume and the replay from a page", () => {
  const gaps = new ResumeGaps(new Map([["dev", 5]]));
  gaps.take(replay("dev", lines(10, 11), true));
  // A page that overlaps both ends (ids at or below 5, and 10 again).
  const done = gaps.take(page("dev", lines(4, 10), true));
  deepEqual(shown(done.deliver), ["room dev 6,7,8,9,10,11"]);
});

Deno.test("ResumeGaps refuses a bound that is not a positive integer", () => {
  throws(() => new ResumeGaps(new Map(), 0), RangeError);
});
