import { deepEqual, equal, ok } from "node:assert/strict";
import { join } from "node:path";
import { CredentialStore } from "../../lib/auth/store.ts";
import type { ServerFrame } from "../../lib/wire/protocol.ts";
import { passwordOf, startTestServer } from "../_server.ts";
import type { TestClient } from "../_helpers.ts";

type Welcome = Extract<ServerFrame, { type: "welcome" }>;

async function tokenOf(client: TestClient, user: string): Promise<string> {
  await client.send({ type: "hello", version: 1 });
  await client.until((f) => f.type === "auth");
  await client.send({
    type: "login",
    username: user,
    password: passwordOf(user),
    want_token: true,
  });
  const welcome = await client.until((f): f is Welcome => f.type === "welcome");
  ok(welcome.token !== undefined);
  return welcome.token;
}

async function tokenLogin(client: TestClient, user: string, token: string): Promise<ServerFrame> {
  await client.send({ type: "hello", version: 1 });
  await client.until((f) => f.type === "auth");
  await client.send({ type: "login", username: user, token });
  return await client.until((f) => f.type === "welcome" || f.type === "auth_failed");
}

Deno.test("a session token logs in again without the password; a bad one costs no attempt", async () => {
  await using s = await startTestServer({ users: ["alice", "bob"] });
  await using first = await s.client();
  const token = await tokenOf(first, "alice");
  await using again = await s.client();
  const welcome = await tokenLogin(again, "alice", token);
  deepEqual(welcome, { type: "welcome", user: "alice", role: "user" });
  await using other = await s.client();
  const refused = await tokenLogin(other, "bob", token);
  equal(refused.type === "auth_failed" && refused.reason, "token_invalid", "bound to alice");
  equal(refused.type === "auth_failed" && refused.attempts_left, 3);
  const next = await other.until((f) => f.type === "auth");
  deepEqual(next, { type: "auth", attempts_left: 3 }, "the password's three attempts are all left");
});

Deno.test("logout ends the session and revokes its token; a password change revokes them all", async () => {
  await using s = await startTestServer({ users: ["alice"] });
  await using a = await s.client();
  const token = await tokenOf(a, "alice");
  await a.send({ type: "logout" });
  const bye = await a.until((f) => f.type === "bye");
  deepEqual(bye, { type: "bye", code: "end", message: "Logged out" });
  await using b = await s.client();
  const refused = await tokenLogin(b, "alice", token);
  equal(refused.type === "auth_failed" && refused.reason, "token_invalid");

  await using c = await s.client();
  const second = await tokenOf(c, "alice");
  const store = await CredentialStore.open(join(s.dir, "credentials.json"));
  await store.setPassword("alice", "a brand new passphrase 123");
  await using d = await s.client();
  const after = await tokenLogin(d, "alice", second);
  equal(after.type === "auth_failed" && after.reason, "token_invalid");
});

Deno.test("a password or role changed while the server was stopped ends the account's tokens", async () => {
  await using first = await startTestServer({ users: ["alice", "bob", "carol"] });
  const tokens: Record<string, string> = {};
  for (const user of ["alice", "bob", "carol"]) {
    await using c = await first.client();
    tokens[user] = await tokenOf(c, user);
  }
  await first.stop();
  const store = await CredentialStore.open(join(first.dir, "credentials.json"));
  await store.setPassword("alice", "a brand new passphrase 123");
  await store.setRole("bob", "admin");
  await using second = await startTestServer({ dir: first.dir, users: ["alice", "bob", "carol"] });
  for (const user of ["alice", "bob"]) {
    await using c = await second.client();
    const refused = await tokenLogin(c, user, tokens[user]!);
    equal(refused.type === "auth_failed" && refused.reason, "token_invalid", user);
  }
  await using c = await second.client();
  deepEqual(await tokenLogin(c, "carol", tokens["carol"]!), {
    type: "welcome",
    user: "carol",
    role: "user",
  });
});
