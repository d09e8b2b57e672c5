import { deepEqual, equal, ok } from "node:assert/strict";
import { systemClock } from "../../lib/util/clock.ts";
import { passwordOf, startTestServer } from "../_server.ts";
import type { TestClient } from "../_helpers.ts";
import type { ServerFrame } from "../../lib/wire/protocol.ts";
import { isNotice, sayAndSettle } from "./_frames.ts";

/** The notices `client` got for one line, after the line settled. */
async function noticesFor(client: TestClient, text: string, id: number): Promise<string[]> {
  const before = client.received.length;
  await sayAndSettle(client, text, id);
  return client.received.slice(before).filter(isNotice).map((n) => n.text);
}

/** Log in as `user` on a fresh connection and return every frame to the close. */
async function loginFrames(s: { client(): Promise<TestClient> }, user: string) {
  await using client = await s.client();
  const answer = await client.login(user, passwordOf(user));
  return [answer, ...await client.untilClosed()] as ServerFrame[];
}

/** Real timers (heartbeats keep their pace), a time the test sets: it
 * starts at 2023-11-14 22:13:20 UTC. */
function setClock() {
  const clock = { ...systemClock, at: 1_700_000_000_000, now: () => clock.at };
  return clock;
}
const WHEN = "2023-11-14 22:13 UTC";

Deno.test("/ban of a name that is no account is refused and names /ban --pre; --pre bans the name", async () => {
  const clock = setClock();
  await using s = await startTestServer({ users: ["alice"], admins: ["root"], deps: { clock } });
  await using root = await s.login("root");
  await root.until((f) => f.type === "room");
  deepEqual(await noticesFor(root, "/ban dave", 1), [
    "Cannot ban dave: no such user (to ban the name before it exists: /ban --pre dave [reason])",
  ]);
  equal(s.server.hub.isBanned("dave"), false);
  deepEqual(await noticesFor(root, "/ban --pre dave squatting", 2), [
    "Banned dave (the name; no account needed)",
  ]);
  equal(s.server.hub.isBanned("DAVE"), true);
  deepEqual(await noticesFor(root, "/ban dave again", 3), [
    `Cannot ban dave: already banned by root on ${WHEN}: squatting`,
  ]);
  deepEqual(await noticesFor(root, "/ban --pre", 4), [
    "Usage: /ban USER [reason] | --pre NAME [reason]",
  ]);
});

Deno.test("a banned user is told who banned them, when and why on every later login", async () => {
  const clock = setClock();
  await using s = await startTestServer({ users: ["bob"], admins: ["root"], deps: { clock } });
  await using root = await s.login("root");
  await root.until((f) => f.type === "room");
  await sayAndSettle(root, "/ban bob spamming links", 1);
  const bye = {
    type: "bye",
    code: "banned",
    message: `You are banned from this server (banned by root on ${WHEN}: spamming links)`,
  };
  for (let i = 0; i < 2; i++) {
    const frames = await loginFrames(s, "bob");
    deepEqual(frames.at(-1), bye, `login ${i + 1}`);
    ok(!frames.some((f) => f.type === "welcome" || f.type === "room"));
  }
  await sayAndSettle(root, "/unban bob", 2);
  await using welcome = await s.client();
  equal((await welcome.login("bob", passwordOf("bob"))).type, "welcome");
});

Deno.test("/bans lists name, by, when and reason to admins only", async () => {
  const clock = setClock();
  await using s = await startTestServer({
    users: ["alice", "bob", "carol"],
    admins: ["root"],
    deps: { clock },
  });
  await using root = await s.login("root");
  await using alice = await s.login("alice");
  await root.until((f) => f.type === "room");
  await alice.until((f) => f.type === "room");
  deepEqual(await noticesFor(root, "/bans", 1), ["No bans"]);
  await sayAndSettle(root, "/ban bob", 2);
  clock.at += 60_000;
  await sayAndSettle(root, "/ban carol rude to everyone", 3);
  deepEqual(await noticesFor(root, "/bans", 4), [
    "Bans (2, newest first):",
    "carol — banned by root on 2023-11-14 22:14 UTC: rude to everyone",
    `bob — banned by root on ${WHEN}`,
  ]);
  deepEqual(await noticesFor(alice, "/bans", 5), ["Cannot run /bans: not allowed"]);
});
