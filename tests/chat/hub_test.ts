import assert from "node:assert/strict";
import { join } from "node:path";
import { BannedError, NameTakenError } from "../../lib/chat/hub.ts";
import { SqliteHistory } from "../../lib/chat/sqlite_history.ts";
import { FakeMember, makeHub, tempDir } from "./_fake_member.ts";

Deno.test("a message reaches everyone in the room, same object, same order", () => {
  const { hub } = makeHub();
  const ann = new FakeMember("ann");
  const bob = new FakeMember("bob");
  const cat = new FakeMember("cat");
  const a = hub.enter(ann);
  const b = hub.enter(bob);
  hub.enter(cat);
  a.input("one");
  b.input("two");
  a.input("three");
  for (const m of [ann, bob, cat]) {
    assert.deepEqual(m.texts(), ["one", "two", "three"]);
  }
  const ids = ann.messages().map((m) => m.id);
  assert.deepEqual(ids, [...ids].sort((x, y) => x - y));
  assert.equal(new Set(ids).size, 3);
  ann.messages().forEach((m, i) => {
    assert.equal(bob.messages()[i], m);
    assert.equal(cat.messages()[i], m);
  });
  assert.equal(ann.messages()[1]?.from, "bob");
});

Deno.test("messages carry the server time", () => {
  const { hub, clock } = makeHub();
  const ann = new FakeMember("ann");
  const a = hub.enter(ann);
  clock.advance(1234);
  a.input("hi");
  assert.equal(ann.messages()[0]?.ts, clock.now());
});

Deno.test("whitespace-only lines are ignored", () => {
  const { hub } = makeHub();
  const ann = new FakeMember("ann");
  const a = hub.enter(ann);
  ann.clear();
  a.input("");
  a.input("   \t ");
  assert.deepEqual(ann.events, []);
});

Deno.test("entering sends a room event to the newcomer and join to others", () => {
  const { hub } = makeHub({ retentionDays: 7 });
  const ann = new FakeMember("ann");
  const bob = new FakeMember("bob");
  hub.enter(ann);
  hub.enter(bob);
  const room = bob.lastRoom();
  assert.equal(room?.room, "lobby");
  assert.deepEqual(room?.members, ["ann", "bob"]);
  assert.equal(room?.retentionDays, 7);
  assert.deepEqual(
    ann.presence().map((e) => [e.kind, e.user, e.room]),
    [["join", "bob", "lobby"]],
  );
  assert.deepEqual(bob.presence(), []);
});

Deno.test("leaving tells the rest of the room why", () => {
  const { hub } = makeHub();
  const ann = new FakeMember("ann");
  hub.enter(ann);
  const b = hub.enter(new FakeMember("bob"));
  b.leave("timeout");
  b.leave("again");
  b.input("ghost");
  const leaves = ann.presence().filter((e) => e.kind === "leave");
  assert.deepEqual(leaves.map((e) => [e.user, e.reason]), [["bob", "timeout"]]);
  assert.deepEqual(ann.texts(), []);
  assert.equal(b.active, false);
  assert.equal(b.room, undefined);
  assert.deepEqual(hub.members().map((m) => m.name), ["ann"]);
});

Deno.test("a newcomer gets the last 50 messages of the room", () => {
  const { hub } = makeHub();
  const a = hub.enter(new FakeMember("ann", "operator"));
  for (let i = 1; i <= 60; i++) a.input(`m${i}`);
  const bob = new FakeMember("bob");
  hub.enter(bob);
  const history = bob.lastRoom()?.history ?? [];
  assert.equal(history.length, 50);
  assert.equal(history[0]?.text, "m11");
  assert.equal(history.at(-1)?.text, "m60");
});

Deno.test("history and increasing ids survive a restart on the same file", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "history.db");
  let lastId: number;
  {
    using history = new SqliteHistory(path);
    const { hub } = makeHub({ history });
    const ann = new FakeMember("ann");
    const a = hub.enter(ann);
    a.input("before restart");
    lastId = ann.messages()[0]!.id;
    hub.shutdown("restart");
  }
  {
    using history = new SqliteHistory(path);
    const { hub } = makeHub({ history });
    const ann = new FakeMember("ann");
    const a = hub.enter(ann);
    assert.deepEqual(ann.lastRoom()?.history.map((m) => m.text), [
      "before restart",
    ]);
    a.input("after restart");
    assert.ok(ann.messages()[0]!.id > lastId);
  }
});

Deno.test("prune deletes history older than the retention days", () => {
  const { hub, clock } = makeHub({ retentionDays: 2 });
  const a = hub.enter(new FakeMember("ann"));
  a.input("old");
  clock.advance(86_400_000 * 1.5);
  a.input("recent");
  clock.advance(86_400_000);
  assert.equal(hub.prune(), 1);
  const bob = new FakeMember("bob");
  hub.enter(bob);
  assert.deepEqual(bob.lastRoom()?.history.map((m) => m.text), ["recent"]);
});

Deno.test("a message over the length limit is refused with a notice", () => {
  const { hub } = makeHub({ maxMessageLength: 10 });
  const ann = new FakeMember("ann");
  const bob = new FakeMember("bob");
  const a = hub.enter(ann);
  hub.enter(bob);
  a.input("x".repeat(11));
  a.input("😀".repeat(10)); // 10 characters, 20 UTF-16 units
  assert.deepEqual(bob.texts(), ["😀".repeat(10)]);
  assert.equal(ann.notices()[0]?.level, "error");
  assert.match(ann.notices()[0]?.text ?? "", /11 characters.*limit is 10/);
});

Deno.test("rate limit lets a burst through, stops a flood, refills with time", () => {
  const { hub, clock } = makeHub({ rate: { burst: 10, perSecond: 2 } });
  const ann = new FakeMember("ann");
  const bob = new FakeMember("bob");
  const a = hub.enter(ann);
  hub.enter(bob);
  for (let i = 0; i < 30; i++) a.input(`line ${i}`);
  assert.equal(bob.texts().length, 10);
  const warns = ann.notices().filter((n) => n.level === "warn");
  assert.equal(warns.length, 1, "one warning per throttled streak");
  assert.match(warns[0]!.text, /Slow down: wait 1 s/);
  clock.advance(1000);
  a.input("after a second");
  a.input("and another");
  a.input("too soon");
  assert.deepEqual(bob.texts().slice(10), ["after a second", "and another"]);
  assert.equal(ann.notices().filter((n) => n.level === "warn").length, 2);
});

Deno.test("the operator is not rate limited", () => {
  const { hub } = makeHub({ rate: { burst: 1, perSecond: 1 } });
  const op = new FakeMember("console", "operator");
  const o = hub.enter(op);
  for (let i = 0; i < 5; i++) o.input(`${i}`);
  assert.equal(op.texts().length, 5);
});

for (const line of ["end", "  end  ", "/quit", "/QUIT now"]) {
  Deno.test(`"${line}" closes the member with code end`, () => {
    const { hub } = makeHub({ rate: { burst: 1, perSecond: 1 } });
    const ann = new FakeMember("ann");
    const bob = new FakeMember("bob");
    const a = hub.enter(ann);
    hub.enter(bob);
    a.input("spend the only token");
    a.input(line);
    assert.equal(ann.closed?.code, "end");
    assert.match(ann.closed?.message ?? "", /Goodbye/);
    assert.equal(a.active, false);
    assert.deepEqual(
      bob.presence().filter((e) => e.kind === "leave").map((e) => e.reason),
      ["quit"],
    );
  });
}

Deno.test("end inside a sentence is just a message", () => {
  const { hub } = makeHub();
  const ann = new FakeMember("ann");
  const a = hub.enter(ann);
  a.input("the end");
  a.input("End");
  assert.equal(ann.closed, undefined);
  assert.deepEqual(ann.texts(), ["the end", "End"]);
});

Deno.test("a second login of the same account is a second session: both stay, the room sees one join", () => {
  const { hub } = makeHub();
  const bob = new FakeMember("bob");
  hub.enter(bob);
  const first = new FakeMember("ann");
  const oldPresence = hub.enter(first);
  const second = new FakeMember("Ann");
  const newPresence = hub.enter(second);
  assert.equal(first.closed, undefined);
  assert.equal(oldPresence.active, true);
  assert.deepEqual(hub.members().map((m) => m.name).sort(), ["ann", "bob"]);
  newPresence.input("from the second");
  assert.deepEqual(bob.texts(), ["from the second"]);
  assert.deepEqual(first.texts(), ["from the second"]);
  oldPresence.leave("socket closed");
  assert.deepEqual(bob.presence().map((e) => `${e.kind} ${e.user}`), ["join ann"]);
  newPresence.leave("socket closed");
  assert.deepEqual(
    bob.presence().map((e) => `${e.kind} ${e.user}`),
    ["join ann", "leave ann"],
  );
});

Deno.test("a user cannot take over the operator's or the bot's name", () => {
  const { hub } = makeHub();
  const op = new FakeMember("root", "operator");
  hub.enter(op);
  assert.throws(() => hub.enter(new FakeMember("root")), NameTakenError);
  assert.throws(() => hub.enter(new FakeMember("jokebot")), NameTakenError);
  assert.equal(op.closed, undefined);
});

Deno.test("names with spaces are rejected", () => {
  const { hub } = makeHub();
  assert.throws(() => hub.enter(new FakeMember("a b")), TypeError);
  assert.throws(() => hub.enter(new FakeMember("")), TypeError);
});

Deno.test("shutdown closes everyone with code shutdown", () => {
  const { hub } = makeHub();
  const ann = new FakeMember("ann");
  const op = new FakeMember("console", "operator");
  const a = hub.enter(ann);
  hub.enter(op);
  hub.shutdown("Server going down");
  assert.deepEqual(ann.closed, {
    code: "shutdown",
    message: "Server going down",
  });
  assert.equal(op.closed?.code, "shutdown");
  assert.deepEqual(hub.members(), []);
  a.input("anyone?");
  assert.deepEqual(ann.texts(), []);
  assert.throws(() => hub.enter(new FakeMember("late")), /shut down/);
});

Deno.test("a banned name cannot enter", () => {
  const { hub } = makeHub();
  const op = hub.enter(new FakeMember("root", "operator"));
  op.input("/ban mallory");
  assert.equal(hub.isBanned("Mallory"), true);
  assert.throws(() => hub.enter(new FakeMember("Mallory")), BannedError);
});

Deno.test("hub options out of range are rejected", () => {
  assert.throws(() => makeHub({ historyLimit: -1 }), RangeError);
  assert.throws(() => makeHub({ maxMessageLength: 0 }), RangeError);
  assert.throws(() => makeHub({ rate: { burst: 0 } }), RangeError);
});

Deno.test("messages with control characters or lone surrogates are refused with a notice; tab is fine", () => {
  const { hub } = makeHub();
  const ann = new FakeMember("ann");
  const a = hub.enter(ann);
  ann.clear();
  for (
    const text of ["nul\0here", "esc \x1b[2J", "bell\x07", "c1 \x9b", "lone \ud800 half", "cr\rlf"]
  ) {
    a.input(text);
  }
  a.input("/me waves\x1b]52;c;aGk=\x07");
  assert.equal(ann.messages().length, 0);
  assert.equal(ann.notices().length, 7);
  assert.match(ann.notices()[0]!.text, /control characters/);
  a.input("tab\tseparated 😀");
  assert.deepEqual(ann.messages().map((m) => m.text), ["tab\tseparated 😀"]);
});

/** Spend `member`'s whole burst of `burst` lines in a fresh session. */
function spend(hub: ReturnType<typeof makeHub>["hub"], member: FakeMember, burst: number) {
  const presence = hub.enter(member);
  for (let i = 0; i < burst; i++) presence.input(`${member.name} ${i}`);
  return presence;
}

Deno.test("rate state follows the account across sessions, not the name or the connection", () => {
  const { hub, clock } = makeHub({ rate: { burst: 3, perSecond: 1 } });
  spend(hub, new FakeMember("ann", "user", "id-ann"), 3).leave();
  const again = new FakeMember("ann", "user", "id-ann");
  hub.enter(again).input("after re-login");
  assert.deepEqual([again.texts(), again.notices().map((n) => n.level)], [[], ["warn"]]);
  again.clear();
  // Another account under the same name (the old one removed) starts full.
  const other = new FakeMember("ann", "user", "id-ann-2");
  hub.enter(other).input("new account");
  assert.deepEqual(other.texts(), ["new account"]);
  clock.advance(1000);
  assert.equal(again.closed?.code, "replaced");
});

Deno.test("rate entries are bounded: full buckets of offline accounts go first, then the oldest offline", () => {
  const { hub, clock } = makeHub({ rate: { burst: 2, perSecond: 1 }, maxRateEntries: 2 });
  spend(hub, new FakeMember("ann", "user", "a"), 2).leave();
  clock.advance(2000); // ann's bucket is full again
  spend(hub, new FakeMember("bob", "user", "b"), 2).leave();
  // At the limit: ann's full bucket is dropped, bob's empty one kept.
  spend(hub, new FakeMember("cat", "user", "c"), 2).leave();
  const bob = new FakeMember("bob", "user", "b");
  hub.enter(bob).input("still limited");
  assert.deepEqual(bob.texts(), []);
  // At the limit with none full: the oldest offline (cat) goes, never bob online.
  hub.enter(new FakeMember("dan", "user", "d"));
  const cat = new FakeMember("cat", "user", "c");
  hub.enter(cat).input("forgotten");
  assert.deepEqual(cat.texts(), ["forgotten"]);
  hub.enter(new FakeMember("eve", "user", "e"));
  const bobAgain = new FakeMember("bob", "user", "b"); // a second session of bob's
  hub.enter(bobAgain).input("still limited, online all along");
  assert.deepEqual([bob.closed?.code, bobAgain.texts()], [undefined, []]);
});

Deno.test("reserved names and their look-alikes cannot enter as users, even with no operator online", () => {
  const { hub } = makeHub();
  for (const name of ["operator", "0perator", "server", "JokeBot", "J0keBot"]) {
    assert.throws(() => hub.enter(new FakeMember(name, "admin")), NameTakenError, name);
  }
  const op = new FakeMember("operator", "operator");
  hub.enter(op);
  assert.equal(op.closed, undefined);
});

Deno.test("DMs follow the account: a new account under a removed one's name sees none of them", () => {
  const { hub } = makeHub();
  const bob = new FakeMember("bob", "user", "id-bob");
  const erin = new FakeMember("erin", "user", "id-erin-1");
  const b = hub.enter(bob);
  const e = hub.enter(erin);
  b.input("/msg erin the secret");
  assert.deepEqual(erin.dms().map((dm) => dm.text), ["the secret"]);
  e.leave();
  const again = new FakeMember("erin", "user", "id-erin-1");
  hub.enter(again).leave();
  assert.deepEqual(again.dms().map((dm) => dm.text), ["the secret"], "same account: kept");
  const impostor = new FakeMember("ERIN", "user", "id-erin-2");
  hub.enter(impostor);
  assert.deepEqual(impostor.dms(), []);
});
