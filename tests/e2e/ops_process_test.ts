/**
 * What an operator reads from a real server process: the start and stop
 * lines with values written plainly, the reason and count of a shutdown by
 * SIGTERM, Ctrl-C or SIGHUP with the console off, and a failed TLS handshake named
 * by the peer's address.
 *
 * @module
 */
import { equal, match, ok, rejects } from "node:assert/strict";
import { join } from "node:path";
import { CERT_FILES } from "../../lib/net/cert_files.ts";
import { certificateNotAfter } from "../../lib/server/cert_expiry.ts";
import { tempDir, TestClient, testPki, within } from "../_helpers.ts";
import { PROCESS_MS, spawnServerProcess, startServerProcess } from "../_process.ts";
import { loginAs, writeServerFiles, writeTestCerts } from "../_server.ts";

for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
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

for (const engine of ["node", "deno"] as const) {
  Deno.test(`the text log writes addresses plainly and names the peer of a failed TLS handshake (${engine} engine)`, async () => {
    await using dir = await tempDir();
    await writeServerFiles(dir.path);
    await using server = await startServerProcess(dir.path, { args: [`--tls-engine=${engine}`] });
    match(
      server.stderr.text,
      new RegExp(`Listening on 127\\.0\\.0\\.1:${server.port} \\(${engine} TLS\\)`),
    );
    ok(!/Listening on "/.test(server.stderr.text), server.stderr.text);
    const pki = await testPki();
    await rejects(TestClient.connect(server.port, { ca: pki.foreignCa.cert }));
    const [line] = await server.stderr.waitFor(/.*TLS handshake failed.*/);
    match(line, /banter·audit: TLS handshake failed from 127\.0\.0\.1: /);
    ok(!line.includes("unknown"), line);
    equal((await server.stop()).code, 0);
  });
}

Deno.test("an expired development certificate stops the start with the command that renews it", async () => {
  await using dir = await tempDir();
  await writeTestCerts(dir.path);
  const certs = join(dir.path, "certs");
  const { expiredServer } = await testPki();
  await Deno.writeTextFile(join(certs, CERT_FILES.serverCert), expiredServer.cert);
  await Deno.writeTextFile(join(certs, CERT_FILES.serverKey), expiredServer.key);
  await using server = spawnServerProcess(dir.path);
  const status = await within(server.status, PROCESS_MS, "the server to exit");
  await server.stderr.done;
  equal(status.code, 1);
  const expired = certificateNotAfter(expiredServer.cert).toISOString().slice(0, 10);
  const cert = join(certs, CERT_FILES.serverCert);
  equal(
    server.stderr.text,
    `banter: Cannot use server certificate ${cert}: it expired on ${expired} and clients refuse it; renew the development certificates with: deno task certs --dir ${certs} --force (clients then trust the new ${
      join(certs, CERT_FILES.caCert)
    })\n`,
  );
});
