import assert from "node:assert/strict";
import { MemoryHistory } from "../../lib/chat/memory_history.ts";
import { FakeMember, makeHub } from "./_fake_member.ts";

Deno.test("Hub.updateAccount() ends a removed account's sessions with denied, and only that account's", () => {
  const { hub } = makeHub();
  const erin = new FakeMember("erin", "admin", "id-erin");
  const bob = new FakeMember("bob", "user", "id-bob");
  hub.enter(erin);
  hub.enter(bob);
  bob.clear();
  assert.equal(hub.updateAccount({ account: "id-other", change: "removed" }), 0);
  assert.equal(hub.updateAccount({ account: "id-erin", change: "removed" }), 1);
  assert.deepEqual(erin.closed, { code: "denied", message: "Your account was removed" });
  assert.deepEqual(bob.presence().map((e) => [e.kind, e.user, e.reason]), [
    ["leave", "erin", "account removed"],
  ]);
  assert.deepEqual(hub.members().map((m) => m.name), ["bob"]);
  assert.equal(bob.closed, undefined);
});

Deno.test("Hub.updateAccount() ends the sessions of an account whose password changed", () => {
  const { hub } = makeHub();
  const bob = new FakeMember("bob", "user", "id-bob");
  hub.enter(bob);
  hub.updateAccount({ account: "id-bob", change: "password" });
  assert.deepEqual(bob.closed, {
    code: "denied",
    message: "Your password was changed: log in again",
  });
});

Deno.test("Hub.updateAccount() demotes a live admin at once: the next /kick is refused", () => {
  const { hub } = makeHub();
  const boss = new FakeMember("boss", "admin", "id-boss");
  const bob = new FakeMember("bob", "user", "id-bob");
  const b = hub.enter(boss);
  hub.enter(bob);
  boss.clear();
  hub.updateAccount({ account: "id-boss", change: "role", role: "user" });
  b.input("/kick bob");
  b.input("/ban bob");
  assert.deepEqual(boss.notices().map((n) => [n.level, n.text]), [
    ["warn", "Your role is now user"],
    ["error", "Cannot run /kick: not allowed"],
    ["error", "Cannot run /ban: not allowed"],
  ]);
  assert.equal(bob.closed, undefined);
  assert.equal(hub.members().find((m) => m.name === "boss")?.role, "user");
  // Promoted again, the same session may kick.
  hub.updateAccount({ account: "id-boss", change: "role", role: "admin" });
  b.input("/kick bob");
  assert.equal((bob.closed as { code: string } | undefined)?.code, "kicked");
});

Deno.test("Hub.updateAccount() never touches the operator console", () => {
  const { hub } = makeHub();
  const op = new FakeMember("operator", "operator");
  hub.enter(op);
  assert.equal(hub.updateAccount({ account: "~operator", change: "removed" }), 0);
  assert.equal(op.closed, undefined);
});

Deno.test("Hub.updateAccount() forgets a removed account's rooms and read markers, online or not", () => {
  const history = new MemoryHistory();
  const { hub } = makeHub({ history });
  const erin = new FakeMember("erin", "user", "id-erin");
  const e = hub.enter(erin);
  e.input("/join dev");
  history.markRead("id-erin", "#dev", 1);
  const dave = new FakeMember("dave", "user", "id-dave");
  const d = hub.enter(dave);
  d.input("/join dev");
  d.leave();
  const bob = new FakeMember("bob", "user", "id-bob");
  hub.enter(bob);
  assert.deepEqual(history.rooms().map((r) => [r.name, r.members]), [["dev", 2], ["lobby", 3]]);
  assert.equal(hub.updateAccount({ account: "id-erin", change: "removed" }), 1);
  assert.equal(hub.updateAccount({ account: "id-dave", change: "removed" }), 0, "offline");
  assert.deepEqual(history.rooms().map((r) => [r.name, r.members]), [["dev", 0], ["lobby", 1]]);
  assert.deepEqual([history.roomsOf("id-erin"), history.roomsOf("id-dave")], [[], []]);
  assert.equal(history.lastRead("id-erin", "#dev"), 0);
  // A changed password forgets nothing.
  hub.updateAccount({ account: "id-bob", change: "password" });
  assert.deepEqual(history.roomsOf("id-bob"), ["lobby"]);
});
