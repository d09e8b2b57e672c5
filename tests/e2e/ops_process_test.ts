/**
 * What an operator reads from a real server process: the start and stop
 * lines with values written plainly, the reason and count of a shutdown by
 * SIGTERM or Ctrl-C with the console off, and a failed TLS handshake named
 * by the peer's address.
 *
 * @module
 */
import { equal, match, ok, rejects } from "node:assert/strict";
import { tempDir, TestClient, testPki } from "../_helpers.ts";
import { startServerProcess } from "../_process.ts";
import { loginAs, writeServerFiles } from "../_server.ts";

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(`${signal} with the console off logs the shutdown and how many sessions it closed`, async () => {
    await using dir = await tempDir();
    await writeServerFiles(dir.path, { users: ["alice", "bob"] });
    await using server = await startServerProcess(dir.path);
    await using alice = await loginAs(server.port, "alice");
    await using bob = await loginAs(server.port, "bob");
    server.kill(signal);
    await alice.untilClosed();
    await bob.untilClosed();
    const status = await server.stop();
    equal(status.code, 0, server.stderr.text);
    match(
      server.stderr.text,
      new RegExp(`\\[INF\\] banter·server: Shutting down \\(${signal}\\)\n`),
    );
    match(server.stderr.text, /\[INF\] banter·server: Shut down: closed 2 sessions\n/);
  });
}

Deno.test("the text log writes addresses plainly and names the peer of a failed TLS handshake", async () => {
  await using dir = await tempDir();
  await writeServerFiles(dir.path);
  await using server = await startServerProcess(dir.path);
  match(
    server.stderr.text,
    new RegExp(`Listening on 127\\.0\\.0\\.1:${server.port} \\(node TLS\\)`),
  );
  ok(!/Listening on "/.test(server.stderr.text), server.stderr.text);
  const pki = await testPki();
  await rejects(TestClient.connect(server.port, { ca: pki.foreignCa.cert }));
  const [line] = await server.stderr.waitFor(/.*TLS handshake failed.*/);
  match(line, /banter·audit: TLS handshake failed from 127\.0\.0\.1: /);
  ok(!line.includes("unknown"), line);
  equal((await server.stop()).code, 0);
});
