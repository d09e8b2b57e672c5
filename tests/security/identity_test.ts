/**
 * Identity is the account, not the name: an account created under a removed
 * one's name inherits nothing, no account may pass for the server's own
 * speakers, and names that look like an existing one are refused.
 *
 * @module
 */
import { deepEqual, equal, rejects } from "node:assert/strict";
import { join } from "node:path";
import { DuplicateUserError } from "../../lib/auth/errors.ts";
import { Hasher } from "../../lib/auth/hash.ts";
import { CredentialStore } from "../../lib/auth/store.ts";
import type { ServerFrame } from "../../lib/wire/protocol.ts";
import { passwordOf, startTestServer, TEST_SCRYPT_LOG_N } from "../_server.ts";

type Dm = Extract<ServerFrame, { type: "dm" }>;
const hasher = new Hasher({ params: { logN: TEST_SCRYPT_LOG_N, r: 8, p: 1 } });

/** The admin CLI's view of the server's accounts file (same code, another writer). */
function adminCli(dir: string): Promise<CredentialStore> {
  return CredentialStore.open(join(dir, "credentials.json"), { hasher, createIfMissing: false });
}

Deno.test("an account created as ERIN after erin was removed does not receive erin's DMs", async () => {
  await using s = await startTestServer({ users: ["bob", "erin"] });
  {
    await using erin = await s.login("erin");
    await using bob = await s.login("bob");
    await bob.send({ type: "say", text: "/msg erin the door code is 4711" });
    await erin.until((f): f is Dm => f.type === "dm" && f.text.includes("4711"));
    await erin.send({ type: "say", text: "end" });
    await erin.untilClosed();
  }
  const cli = await adminCli(s.dir);
  await cli.remove("erin");
  await cli.add("ERIN", passwordOf("ERIN"));

  await using impostor = await s.login("ERIN");
  await impostor.until((f) => f.type === "room");
  // A DM of its own marks the end of what login delivered.
  await using bob = await s.login("bob");
  await bob.send({ type: "say", text: "/msg ERIN hello stranger" });
  await impostor.until((f): f is Dm => f.type === "dm" && f.text === "hello stranger");
  deepEqual(
    impostor.received.filter((f): f is Dm => f.type === "dm").map((f) => f.text),
    ["hello stranger"],
  );
});

Deno.test("an account named like the console or the joke bot is refused at login, with no console running", async () => {
  await using s = await startTestServer({ users: ["bob"] });
  // Written into the file by hand: the CLI and the store refuse the name.
  const path = join(s.dir, "credentials.json");
  const file = JSON.parse(await Deno.readTextFile(path));
  const bob = file.users.bob;
  file.users.operator = { ...bob, id: "operator-account-id-0001" };
  file.users["J0keBot"] = { ...bob, id: "jokebot-account-id-00001" };
  await Deno.writeTextFile(path, JSON.stringify(file), { mode: 0o600 });
  for (const name of ["operator", "J0keBot"]) {
    await using c = await s.client();
    const answer = await c.login(name, passwordOf("bob"));
    equal(answer.type, "welcome", name);
    const bye = (await c.untilClosed()).find((f) => f.type === "bye");
    deepEqual(bye, { type: "bye", code: "denied", message: "That name is reserved" }, name);
  }
});

Deno.test("the admin CLI's store refuses reserved names and look-alikes of existing accounts", async () => {
  await using s = await startTestServer({ users: ["alice", "mallory"] });
  const cli = await adminCli(s.dir);
  for (const name of ["operator", "JokeBot", "server", "0perator"]) {
    await rejects(cli.add(name, passwordOf(name)), TypeError, name);
  }
  for (const name of ["aIice", "a1ice", "alice.", "ALICE", "rnallory", "adm1n"]) {
    await rejects(cli.add(name, passwordOf(name)), DuplicateUserError, name);
  }
  deepEqual(cli.list().map((u) => u.name), ["admin", "alice", "mallory"]);
});
