import assert from "node:assert/strict";
import { join } from "node:path";
import { BannedError } from "../../lib/chat/hub.ts";
import { SqliteHistory } from "../../lib/chat/sqlite_history.ts";
import { FakeMember, makeHub, tempDir } from "./_fake_member.ts";

function threeInLobby() {
  const { hub, clock } = makeHub();
  const ann = new FakeMember("ann");
  const bob = new FakeMember("bob");
  const op = new FakeMember("root", "operator");
  const a = hub.enter(ann);
  const b = hub.enter(bob);
  const o = hub.enter(op);
  for (const m of [ann, bob, op]) m.clear();
  return { hub, clock, ann, bob, op, a, b, o };
}

Deno.test("/help lists what the caller may run", () => {
  const { ann, op, a, o } = threeInLobby();
  a.input("/help");
  const userHelp = ann.notices().map((n) => n.text).join("\n");
  for (
    const c of [
      "/who",
      "/rooms",
      "/join ROOM",
      "/msg USER TEXT",
      "/me",
      "/quit",
    ]
  ) {
    assert.ok(userHelp.includes(c), `${c} missing from help`);
  }
  assert.ok(!userHelp.includes("/kick"));
  o.input("/help");
  const opHelp = op.notices().map((n) => n.text).join("\n");
  for (
    const c of [
      "/kick USER [reason]",
      "/ban",
      "/unban",
      "/broadcast",
      "/shutdown",
    ]
  ) {
    assert.ok(opHelp.includes(c), `${c} missing from operator help`);
  }
});

Deno.test("an unknown command gets a hint", () => {
  const { ann, bob, a } = threeInLobby();
  a.input("/foo bar");
  assert.equal(ann.lastNotice(), "Unknown command /foo — type /help");
  assert.deepEqual(bob.events, []);
});

Deno.test("/who lists my room", () => {
  const { ann, a } = threeInLobby();
  a.input("/who");
  assert.equal(ann.lastNotice(), "In #lobby (3): ann, bob, root");
});

Deno.test("/join moves rooms with events to both rooms and history to the joiner", () => {
  const { hub, ann, bob, a, b } = threeInLobby();
  const dev = new FakeMember("dev1");
  const d = hub.enter(dev);
  d.input("/join Dev");
  d.input("dev talk");
  dev.clear();
  ann.clear();
  a.input("/join #dev");
  assert.equal(a.room, "dev");
  assert.deepEqual(ann.lastRoom()?.history.map((m) => m.text), ["dev talk"]);
  assert.deepEqual(ann.lastRoom()?.members, ["ann", "dev1"]);
  assert.deepEqual(dev.presence().map((e) => `${e.kind} ${e.user} ${e.room}`), [
    "join ann dev",
  ]);
  assert.ok(
    bob.presence().some((e) => e.kind === "leave" && e.user === "ann"),
  );
  b.input("lobby only");
  a.input("dev only");
  assert.deepEqual(ann.texts(), ["dev only"]);
  assert.deepEqual(bob.texts(), ["lobby only"]);
  a.input("/rooms");
  // Members, online or not: ann and dev1 stay members of the lobby too.
  assert.equal(ann.lastNotice(), "Rooms: #dev (2), #lobby (4)");
});

Deno.test("/join refuses bad room names", () => {
  const { ann, a } = threeInLobby();
  for (const bad of ["no spaces", "x".repeat(33), "bad!", "ünï"]) {
    a.input(`/join ${bad}`);
    assert.equal(ann.notices().at(-1)?.level, "error", bad);
  }
  assert.equal(a.room, "lobby");
  a.input("/join lobby");
  assert.match(ann.lastNotice(), /already in #lobby/);
});

Deno.test("a room stays in /rooms after its members moved on, and is deleted once its last member parts", () => {
  const { ann, a } = threeInLobby();
  a.input("/join tmp");
  a.input("/join lobby");
  a.input("/rooms");
  assert.equal(ann.lastNotice(), "Rooms: #lobby (3), #tmp (1)");
  a.input("/part tmp");
  a.input("/rooms");
  assert.equal(ann.lastNotice(), "Rooms: #lobby (3)");
});

Deno.test("/msg reaches only the sender and the receiver", () => {
  const { ann, bob, op, a } = threeInLobby();
  a.input("/msg BOB psst, secret");
  assert.equal(ann.dms().length, 1);
  assert.equal(bob.dms()[0], ann.dms()[0]);
  assert.deepEqual(
    {
      from: bob.dms()[0]?.from,
      to: bob.dms()[0]?.to,
      text: bob.dms()[0]?.text,
    },
    { from: "ann", to: "bob", text: "psst, secret" },
  );
  assert.deepEqual(op.events, []);
});

Deno.test("/msg to an offline user or without text gets a notice", () => {
  const { ann, a } = threeInLobby();
  a.input("/msg zed hello");
  assert.equal(ann.lastNotice(), "Cannot send: zed is not online");
  a.input("/msg bob");
  assert.equal(ann.lastNotice(), "Usage: /msg USER TEXT");
  assert.deepEqual(ann.dms(), []);
});

Deno.test("/me sends an action to the room", () => {
  const { ann, bob, a } = threeInLobby();
  a.input("/me waves");
  const [message] = bob.messages();
  assert.equal(message?.action, true);
  assert.equal(message?.text, "waves");
  assert.equal(message?.from, "ann");
  assert.equal(ann.messages()[0], message);
});

for (
  const command of [
    "/kick bob",
    "/ban bob",
    "/unban bob",
    "/broadcast hi",
    "/shutdown",
  ]
) {
  Deno.test(`a user running ${command.split(" ")[0]} is not allowed`, () => {
    let shutdowns = 0;
    const { hub } = makeHub({ onShutdown: () => shutdowns++ });
    const ann = new FakeMember("ann");
    const bob = new FakeMember("bob");
    const a = hub.enter(ann);
    hub.enter(bob);
    a.input(command);
    assert.match(ann.lastNotice(), /not allowed/);
    assert.equal(bob.closed, undefined);
    assert.equal(hub.isBanned("bob"), false);
    assert.equal(shutdowns, 0);
  });
}

Deno.test("/kick closes the user with code kicked and tells the room", () => {
  const { ann, bob, op, o } = threeInLobby();
  o.input("/kick bob spamming links");
  assert.deepEqual(bob.closed, {
    code: "kicked",
    message: "Kicked by root: spamming links",
  });
  assert.equal(op.lastNotice(), "Kicked bob");
  assert.deepEqual(
    ann.presence().map((e) => [e.kind, e.user, e.reason]),
    [["leave", "bob", "kicked: spamming links"]],
  );
  o.input("/kick bob");
  assert.equal(op.lastNotice(), "Cannot kick bob: not online");
});

Deno.test("an admin cannot kick the operator or another admin", () => {
  const { hub } = makeHub();
  const op = new FakeMember("root", "operator");
  const boss = new FakeMember("boss", "admin");
  const peer = new FakeMember("peer", "admin");
  hub.enter(op);
  const b = hub.enter(boss);
  hub.enter(peer);
  b.input("/kick root");
  b.input("/ban peer");
  b.input("/kick boss");
  assert.equal(op.closed, undefined);
  assert.equal(peer.closed, undefined);
  assert.equal(boss.closed, undefined);
  assert.deepEqual(boss.notices().map((n) => n.text), [
    "Cannot kick root: not allowed",
    "Cannot ban peer: not allowed",
    "Cannot kick yourself",
  ]);
});

Deno.test("an admin cannot /ban an offline admin, but can ban an offline user", () => {
  const roles = new Map([["peer", "admin" as const], ["eve", "user" as const]]);
  const { hub } = makeHub({ roleOf: (name) => roles.get(name) });
  const boss = new FakeMember("boss", "admin");
  const b = hub.enter(boss);
  boss.clear();
  b.input("/ban peer");
  b.input("/ban eve");
  assert.equal(hub.isBanned("peer"), false);
  assert.equal(hub.isBanned("eve"), true);
  assert.equal(boss.notices()[0]?.text, "Cannot ban peer: not allowed");
});

Deno.test("/ban survives a restart and /unban lifts it", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "history.db");
  {
    using history = new SqliteHistory(path);
    const { hub } = makeHub({ history });
    const op = new FakeMember("root", "operator");
    const bob = new FakeMember("bob");
    const o = hub.enter(op);
    hub.enter(bob);
    o.input("/ban bob trolling");
    assert.equal(bob.closed?.code, "banned");
    assert.match(bob.closed?.message ?? "", /trolling/);
    o.input("/ban offline-eve");
    hub.shutdown("restart");
  }
  {
    using history = new SqliteHistory(path);
    const { hub } = makeHub({ history });
    assert.throws(() => hub.enter(new FakeMember("bob")), BannedError);
    assert.equal(hub.isBanned("offline-eve"), true);
    const op = new FakeMember("root", "operator");
    const o = hub.enter(op);
    o.input("/unban bob");
    assert.equal(op.lastNotice(), "Unbanned bob");
    o.input("/unban bob");
    assert.equal(op.lastNotice(), "bob was not banned");
    hub.enter(new FakeMember("bob"));
  }
});

Deno.test("/broadcast sends one notice object to every room", () => {
  const { ann, bob, op, b, o } = threeInLobby();
  b.input("/join elsewhere");
  o.input("/broadcast restart at noon");
  const notice = ann.notices().at(-1);
  assert.equal(notice?.text, "Broadcast from root: restart at noon");
  assert.equal(bob.notices().at(-1), notice);
  assert.equal(op.notices().at(-1), notice);
});

Deno.test("/shutdown calls the server's hook", () => {
  const calls: string[] = [];
  const { hub } = makeHub({ onShutdown: (by) => calls.push(by) });
  const boss = new FakeMember("boss", "admin");
  hub.enter(boss).input("/shutdown");
  assert.deepEqual(calls, ["boss"]);
});

Deno.test("/shutdown without a hook says so", () => {
  const { op, o } = threeInLobby();
  o.input("/shutdown");
  assert.match(op.lastNotice(), /not enabled/);
});

Deno.test("kicks, bans and unbans are reported with who did them", () => {
  const events: unknown[] = [];
  const { hub } = makeHub({ onModeration: (e) => events.push(e) });
  const op = new FakeMember("root", "operator");
  const o = hub.enter(op);
  hub.enter(new FakeMember("bob"));
  o.input("/kick bob");
  o.input("/ban eve");
  o.input("/unban eve");
  o.input("/unban nobody");
  assert.deepEqual(events, [
    { action: "kick", by: "root", target: "bob", message: "Kicked by root" },
    { action: "ban", by: "root", target: "eve", message: "Banned by root" },
    { action: "unban", by: "root", target: "eve" },
  ]);
});

Deno.test("recent private messages are shown again to their two users on entering, to nobody else", () => {
  const { hub, a } = threeInLobby();
  a.input("/msg bob psst, secret");
  const bobAgain = new FakeMember("bob");
  hub.enter(bobAgain); // replaces the first bob session
  assert.deepEqual(bobAgain.dms().map((d) => d.text), ["psst, secret"]);
  const carol = new FakeMember("carol");
  hub.enter(carol);
  assert.deepEqual(carol.dms(), []);
});

Deno.test("/kick, /ban, /unban and /msg refuse a target that is not a user name, and report the moderation refusals", () => {
  const seen: unknown[] = [];
  const { hub } = makeHub({ onModeration: (event) => seen.push(event) });
  const op = new FakeMember("root", "operator");
  const o = hub.enter(op);
  op.clear();
  for (const command of ["/kick", "/ban", "/unban", "/msg"]) o.input(`${command} b\u202eob hi`);
  assert.deepEqual(
    op.notices().map((n) => [n.level, n.text.split(" (")[0]]),
    [
      ["error", "Cannot kick: not a user name"],
      ["error", "Cannot ban: not a user name"],
      ["error", "Cannot unban: not a user name"],
      ["error", "Cannot send: not a user name"],
    ],
  );
  assert.equal(hub.isBanned("b\u202eob"), false);
  assert.deepEqual(
    seen,
    ["kick", "ban", "unban"].map((action) => ({
      action,
      by: "root",
      target: "b\u202eob",
      refused: true,
    })),
  );
});
