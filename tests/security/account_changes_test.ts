/**
 * Live sessions follow account changes made with the admin CLI (a separate
 * process writing credentials.json): a demoted admin can no longer moderate,
 * a removed account or a changed password ends the session at once.
 *
 * @module
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import bcrypt from "bcryptjs";
import { CredentialStore } from "../../lib/auth/store.ts";
import type { ServerFrame } from "../../lib/wire/protocol.ts";
import { denoRun } from "../auth/_helpers.ts";
import { createClientCert } from "../../lib/net/certs.ts";
import { tempDir, TestClient, testPki } from "../_helpers.ts";
import { passwordOf, startTestServer, writeServerFiles } from "../_server.ts";

const SCRIPT = new URL("../../scripts/user.ts", import.meta.url);
type Notice = Extract<ServerFrame, { type: "notice" }>;

/** Run the real admin CLI against the server's files. */
async function userCli(dir: string, args: string[], input = ""): Promise<void> {
  const child = denoRun(SCRIPT, [...args, "--credentials", "credentials.json"], {
    cwd: dir,
    stdin: "piped",
  });
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(input));
  await writer.close();
  const { code, stderr } = await child.output();
  equal(code, 0, new TextDecoder().decode(stderr));
}

/** The `bye` that ends `client`'s session. */
async function byeOf(client: TestClient): Promise<ServerFrame | undefined> {
  return (await client.untilClosed()).find((f) => f.type === "bye");
}

Deno.test("an admin demoted, then re-passworded, then removed by the admin CLI loses /kick at once and is then closed", async () => {
  await using s = await startTestServer({
    admins: ["root"],
    users: ["bob"],
    config: { accountsRefreshMs: 20 },
  });
  await using bob = await s.login("bob");
  {
    await using root = await s.login("root");
    await root.until((f) => f.type === "room");
    await userCli(s.dir, ["role", "root", "user"]);
    const told = await root.until((f): f is Notice =>
      f.type === "notice" && f.text.includes("role")
    );
    deepEqual([told.level, told.text], ["warn", "Your role is now user"]);
    await root.send({ type: "say", text: "/kick bob" });
    const refused = await root.until((f): f is Notice =>
      f.type === "notice" && f.level === "error"
    );
    equal(refused.text, "Cannot run /kick: not allowed");

    const fresh = "a brand new passphrase 42";
    await userCli(s.dir, ["passwd", "root"], `${fresh}\n`);
    deepEqual(await byeOf(root), {
      type: "bye",
      code: "denied",
      message: "Your password was changed: log in again",
    });
    await using again = await s.login("root", fresh);
    await again.until((f) => f.type === "room");
    await userCli(s.dir, ["remove", "root"]);
    deepEqual(await byeOf(again), {
      type: "bye",
      code: "denied",
      message: "Your account was removed",
    });
    const old = await s.client();
    const answer = await old.login("root", passwordOf("root"));
    equal(answer.type, "auth_failed");
    await old[Symbol.asyncDispose]();
  }
  // bob was never touched.
  await bob.send({ type: "say", text: "still here" });
  ok(await bob.until((f) => f.type === "message" && f.text === "still here"));
});

/** Log in with a client certificate for `user` (no password, so no re-hash). */
async function certLogin(port: number, user: string): Promise<TestClient> {
  const p = await testPki();
  const client = await TestClient.connect(port, { cert: await createClientCert(p.ca, user) });
  await client.send({ type: "hello", version: 1 });
  await client.until((f) => f.type === "welcome" && f.user === user);
  return client;
}

Deno.test("the admin CLI's upgrade of logged-in users' bcrypt and SHA-256 hashes keeps their sessions; a new password still ends one", async () => {
  await using dir = await tempDir();
  await writeServerFiles(dir.path, { users: ["bob", "dave", "carol"] });
  const credentials = join(dir.path, "credentials.json");
  {
    const store = await CredentialStore.open(credentials);
    await store.setHash("bob", bcrypt.hashSync(passwordOf("bob"), 4));
    await store.setHash("dave", createHash("sha256").update(passwordOf("dave")).digest("hex"));
  }
  await using s = await startTestServer({
    dir: dir.path,
    // Certificate logins check no password, so the server does not re-hash.
    config: { accountsRefreshMs: 20, clientCa: join(dir.path, "certs", "ca.crt") },
  });
  await using bob = await certLogin(s.port, "bob");
  await using dave = await certLogin(s.port, "dave");
  await using carol = await s.login("carol");
  await carol.until((f) => f.type === "room");

  await userCli(s.dir, ["upgrade", "--scrypt-log-n", "10"]);
  const stored = await CredentialStore.open(credentials);
  for (const user of ["bob", "dave"]) {
    ok(stored.get(user)?.hash.startsWith("$scrypt-wrapped$"), user);
  }
  // A later change carol is told of: the server has read the upgrade by then.
  await userCli(s.dir, ["role", "carol", "admin"]);
  await carol.until((f) => f.type === "notice" && f.text === "Your role is now admin");
  for (const [client, text] of [[bob, "bob still here"], [dave, "dave still here"]] as const) {
    await client.send({ type: "say", text });
    ok(await client.until((f) => f.type === "message" && f.text === text));
  }

  await userCli(s.dir, ["passwd", "bob"], "a brand new passphrase 43\n");
  deepEqual(await byeOf(bob), {
    type: "bye",
    code: "denied",
    message: "Your password was changed: log in again",
  });
});

Deno.test("accounts removed by the admin CLI while the server runs leave no memberships: /rooms counts drop", async () => {
  await using s = await startTestServer({
    users: ["bob", "carol", "dave"],
    config: { accountsRefreshMs: 20 },
  });
  const rooms = async (client: TestClient) => {
    await client.send({ type: "say", text: "/rooms" });
    const answer = await client.until((f): f is Notice =>
      f.type === "notice" && f.text.startsWith("Rooms:")
    );
    return answer.text;
  };
  {
    // dave joins #dev and goes offline; he stays a member.
    await using dave = await s.login("dave");
    await dave.send({ type: "say", text: "/join dev" });
    await dave.until((f) => f.type === "room" && f.room === "dev");
  }
  await using bob = await s.login("bob");
  await bob.send({ type: "say", text: "/join dev" });
  await bob.until((f) => f.type === "room" && f.room === "dev");
  await using carol = await s.login("carol");
  await carol.send({ type: "say", text: "/join dev" });
  await carol.until((f) => f.type === "room" && f.room === "dev");
  equal(await rooms(bob), "Rooms: #dev (3), #lobby (3)");

  await userCli(s.dir, ["remove", "dave"]);
  await userCli(s.dir, ["remove", "carol"]);
  // dave's removal was written first: by carol's bye the server has seen both.
  deepEqual(await byeOf(carol), {
    type: "bye",
    code: "denied",
    message: "Your account was removed",
  });
  equal(await rooms(bob), "Rooms: #dev (1), #lobby (1)");
});
