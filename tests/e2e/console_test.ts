import { deepEqual, equal, match, ok } from "node:assert/strict";
import { tempDir, within } from "../_helpers.ts";
import { type ServerProcess, startServerProcess } from "../_process.ts";
import { loginAs, writeServerFiles } from "../_server.ts";
import { byeOf, messageWith, presenceOf } from "./_frames.ts";

/** Bound on exit. */
const EXIT_MS = 5_000;

/** The real server with the console on, on the test certificates and `users` in `dir`. */
async function consoleServer(dir: string, users: string[]): Promise<ServerProcess> {
  await writeServerFiles(dir, { users });
  return await startServerProcess(dir, { console: true });
}

Deno.test("the operator sees what clients say, and clients see what the operator types", async () => {
  await using dir = await tempDir();
  await using server = await consoleServer(dir.path, ["alice"]);
  await using alice = await loginAs(server.port, "alice");
  const room = await alice.until((f) => f.type === "room");
  ok(room.type === "room");
  deepEqual(room.members, ["alice", "operator"]);
  await server.stdout.waitFor(/-- alice joined #lobby/);

  await alice.send({ type: "say", text: "hello operator" });
  await server.stdout.waitFor(/<alice> hello operator/);

  await server.type("hello alice, this is the console");
  const said = await alice.until(messageWith("hello alice, this is the console"));
  equal(said.from, "operator");
});

Deno.test("the operator's /kick closes the user with bye kicked", async () => {
  await using dir = await tempDir();
  await using server = await consoleServer(dir.path, ["alice", "bob"]);
  await using alice = await loginAs(server.port, "alice");
  await using bob = await loginAs(server.port, "bob");
  await server.type("/kick alice");
  deepEqual(await byeOf(alice), { type: "bye", code: "kicked", message: "Kicked by operator" });
  equal((await bob.until(presenceOf("leave", "alice"))).reason, "kicked");
  await server.stdout.waitFor(/Kicked alice/);
});

Deno.test("the operator's /shutdown says bye shutdown to clients and the process exits 0", async () => {
  await using dir = await tempDir();
  await using server = await consoleServer(dir.path, ["alice", "bob"]);
  await using alice = await loginAs(server.port, "alice");
  await using bob = await loginAs(server.port, "bob");
  await server.type("/shutdown");
  for (const client of [alice, bob]) {
    deepEqual(await byeOf(client), {
      type: "bye",
      code: "shutdown",
      message: "Server shutting down (requested by operator)",
    });
  }
  const status = await within(server.status, EXIT_MS, "the server to exit");
  equal(status.code, 0, server.stderr.text);
  ok(!/\[(ERR|FTL)\]/.test(server.stderr.text), server.stderr.text);
});

Deno.test("SIGTERM says bye shutdown to clients and the process exits 0", async () => {
  await using dir = await tempDir();
  await using server = await consoleServer(dir.path, ["alice"]);
  // Logged in means main() has installed its signal listeners.
  await using alice = await loginAs(server.port, "alice");
  server.kill("SIGTERM");
  const bye = await byeOf(alice);
  ok(bye?.type === "bye");
  equal(bye.code, "shutdown");
  const status = await within(server.status, EXIT_MS, "the server to exit");
  deepEqual([status.code, status.signal], [0, null], server.stderr.text);
  match(server.stdout.text, /console closed/);
  ok(!/\[(ERR|FTL)\]/.test(server.stderr.text), server.stderr.text);
});
