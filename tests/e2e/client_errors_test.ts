/**
 * What the real client process says, and which status it exits with, when
 * it cannot get in: client certificates required or refused, a port that
 * is not Banter (plain HTTP, HTTPS, something silent), wrong files, wrong
 * flags. Each against a real server on an ephemeral 127.0.0.1 port.
 *
 * @module
 */
import { equal, match, ok } from "node:assert/strict";
import { join } from "node:path";
import { Hono } from "hono";
import { ChatClient, type ClientIO, EXIT, HELLO_TIMEOUT_MS } from "../../lib/client/run.ts";
import type { CertifiedKey } from "../../lib/net/certs.ts";
import { listen } from "../../lib/net/tls_server.ts";
import { createHttpApp, serveHttp } from "../../lib/server/http.ts";
import { systemClock } from "../../lib/util/clock.ts";
import { clientArgs, startClient } from "../_client_process.ts";
import { FakeClock } from "../_fake_clock.ts";
import { tempDir, testPki, within } from "../_helpers.ts";
import { passwordOf, startTestServer, type TestServer } from "../_server.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

/** A server that requires a client certificate from the test CA. */
async function certificateRequired(dir: string): Promise<TestServer> {
  return await startTestServer({
    dir,
    users: ["alice"],
    config: { clientCa: join(dir, "certs", "ca.crt"), requireClientCert: true },
  });
}

/** Run the scripted client with `args` and input already ended; its status and output. */
async function scripted(
  args: string[],
  env: Record<string, string> = { BANTER_PASSWORD: "irrelevant-password" },
): Promise<{ status: number; output: string }> {
  await using client = startClient(args, { env });
  await client.closeStdin();
  const status = await client.status();
  return { status, output: client.output() };
}

/** Run the scripted client as x against `port`, trusting only the test CA: its status and output. */
async function scriptedTrustingTestCa(port: number): Promise<{ status: number; output: string }> {
  await using dir = await tempDir();
  await Deno.writeTextFile(join(dir.path, "ca.crt"), (await testPki()).ca.cert);
  return await scripted(["--port", String(port), "--ca", join(dir.path, "ca.crt"), "--user", "x"]);
}

/** Write a certificate pair as two files in `dir`; their flags. */
async function pairFlags(dir: string, name: string, pair: CertifiedKey): Promise<string[]> {
  await Deno.writeTextFile(join(dir, `${name}.crt`), pair.cert);
  await Deno.writeTextFile(join(dir, `${name}.key`), pair.key, { mode: 0o600 });
  return ["--cert", join(dir, `${name}.crt`), "--key", join(dir, `${name}.key`)];
}

Deno.test("a server that requires a client certificate says so, and the scripted client exits 1", async () => {
  await using dir = await tempDir();
  await using s = await certificateRequired(dir.path);
  const { status, output } = await scripted([
    ...clientArgs(dir.path, s.port, "alice"),
  ]);
  equal(status, EXIT.connection);
  match(output, /this server requires a client certificate: use --cert and --key/);
  ok(!/Connection (closed|lost)/.test(output), output);
});

Deno.test("a client certificate the server refuses is named, and the scripted client exits 1 even after its input ended", async () => {
  await using dir = await tempDir();
  await using s = await certificateRequired(dir.path);
  const { status, output } = await scripted([
    ...clientArgs(dir.path, s.port, "alice"),
    ...await pairFlags(dir.path, "foreign", (await testPki()).foreignAlice),
  ]);
  equal(status, EXIT.connection);
  match(output, /closed the connection before saying hello; it refused the client certificate/);
});

Deno.test("the client's certificate is still accepted where it is good", async () => {
  await using dir = await tempDir();
  await using s = await certificateRequired(dir.path);
  await using client = startClient([
    ...clientArgs(dir.path, s.port),
    ...await pairFlags(dir.path, "alice", (await testPki()).alice),
  ]);
  await client.write("end\n");
  equal(await client.status(), EXIT.ok);
  match(client.output(), /Logged in as alice/);
});

Deno.test("dialling the plain HTTP operations port says it answered HTTP", async () => {
  const app = createHttpApp({ healthy: () => true, metrics: () => "" });
  await using http = serveHttp(app.fetch, { hostname: "127.0.0.1", port: 0 });
  const { status, output } = await scripted(["--port", String(http.addr.port), "--user", "x"]);
  equal(status, EXIT.connection);
  match(output, /that port does not speak Banter \(it answered HTTP\)/);
  ok(!output.includes("InvalidContentType"), output);
});

Deno.test("dialling an HTTPS port says it is not Banter", async () => {
  const p = await testPki();
  const app = new Hono().get("/", (c) => c.text("a web page"));
  await using https = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: p.server.cert,
    key: p.server.key,
    onListen: () => {},
  }, app.fetch);
  const { status, output } = await scriptedTrustingTestCa(https.addr.port);
  equal(status, EXIT.connection);
  match(output, /that port does not speak Banter \(it is a TLS server for other protocols/);
});

for (
  const [what, first, pattern] of [
    ["answers HTTP inside TLS", "HTTP/1.1 400 Bad Request\r\n\r\n", /\(it answered HTTP\)/],
    ["sends a first line that is not JSON", "220 smtp.example.org ESMTP\r\n", /first line is not/],
  ] as const
) {
  Deno.test(`a TLS server that ${what} is not Banter, exit status 1`, async () => {
    const p = await testPki();
    await using server = await listen(
      { hostname: "127.0.0.1", port: 0, cert: p.server.cert, key: p.server.key },
      async (conn) => {
        await conn.sink.write(new TextEncoder().encode(first));
        await conn.sink.close();
      },
    );
    const { status, output } = await scriptedTrustingTestCa(server.addr.port);
    equal(status, EXIT.connection);
    match(output, /that port does not speak Banter/);
    match(output, pattern);
  });
}

/** What the client tells its user. */
function recordingIO(): ClientIO & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    canAsk: false,
    event: () => {},
    info: (text) => void lines.push(text),
    askUsername: () => Promise.resolve(undefined),
    askPassword: () => Promise.resolve(undefined),
  };
}

Deno.test("a TLS server that never says hello is named after the hello timeout on the clock", async () => {
  const p = await testPki();
  const hangUp = Promise.withResolvers<void>();
  await using server = await listen(
    { hostname: "127.0.0.1", port: 0, cert: p.server.cert, key: p.server.key },
    () => hangUp.promise, // waits for the client to speak first, as HTTPS does
  );
  const clock = new FakeClock();
  const io = recordingIO();
  const chat = new ChatClient({
    // The handshake on real time; only the wait for hello on the fake clock.
    connect: {
      hostname: "localhost",
      port: server.addr.port,
      caCerts: [p.ca.cert],
      clock: systemClock,
    },
    io,
    random: { float: () => 0, bytes: (n) => new Uint8Array(n) },
    clock,
    username: "alice",
    password: "irrelevant password",
  });
  const running = chat.run();
  await clock.untilPendingTimers(1);
  clock.advance(HELLO_TIMEOUT_MS - 1);
  equal(clock.pendingTimers, 1, "still waiting just before the timeout");
  clock.advance(1);
  equal(await within(running, 5000, "the client to give up"), EXIT.connection);
  hangUp.resolve();
  match(io.lines.join("\n"), /that port does not speak Banter \(no hello within 10 s\)/);
});

Deno.test("--ca with a file that holds no certificate says so, exit status 2", async () => {
  const { status, output } = await scripted(["--ca", join(ROOT, "README.md"), "--user", "x"]);
  equal(status, EXIT.usage);
  match(output, /--ca .*README\.md: holds no certificate/);
  ok(!/unknown issuer/i.test(output), output);
});

Deno.test("a name mismatch lists the names the certificate is valid for", async () => {
  const p = await testPki();
  await using server = await listen({
    hostname: "127.0.0.1",
    port: 0,
    cert: p.otherNameServer.cert,
    key: p.otherNameServer.key,
  }, async () => {});
  const { status, output } = await scriptedTrustingTestCa(server.addr.port);
  equal(status, EXIT.connection);
  match(
    output,
    /not valid for the name "127\.0\.0\.1" \(it is valid for chat\.example\.org: use one of those with --host\)/,
  );
});

Deno.test("a missing file names its flag, not an OS error, exit status 2", async () => {
  await using dir = await tempDir();
  const missing = join(dir.path, "pw.txt");
  for (
    const [flag, args] of [
      ["--password-file", ["--password-file", missing]],
      ["--ca", ["--ca", missing]],
      ["--cert", ["--cert", missing, "--key", missing]],
    ] as const
  ) {
    const { status, output } = await scripted([...args, "--user", "x"]);
    equal(status, EXIT.usage, flag);
    match(output, new RegExp(`Cannot read ${flag} ${RegExp.escape(missing)}: no such file`), flag);
    ok(!output.includes("os error"), output);
  }
});

/**
 * Log in as alice with a password file of `mode` and end at once: the
 * file's path and the client's output.
 */
async function withPasswordFile(mode: number): Promise<{ file: string; output: string }> {
  await using s = await startTestServer({ users: ["alice"] });
  const file = join(s.dir, "pw.txt");
  await Deno.writeTextFile(file, passwordOf("alice") + "\n", { mode });
  await Deno.chmod(file, mode);
  await using client = startClient([
    ...clientArgs(s.dir, s.port, "alice"),
    "--password-file",
    file,
  ]);
  await client.write("end\n");
  equal(await client.status(), EXIT.ok);
  return { file, output: client.output() };
}

Deno.test("a password file others can read gets a warning, and the login goes ahead", async () => {
  const { file, output } = await withPasswordFile(0o644);
  match(
    output,
    new RegExp(`--password-file ${RegExp.escape(file)} can be read by other users \\(mode 644\\)`),
  );
  match(output, /Logged in as alice/);
  ok(!output.includes(passwordOf("alice")), "the password is never shown");
});

Deno.test("a private password file gets no warning", async () => {
  const { output } = await withPasswordFile(0o600);
  ok(!output.includes("Warning"), output);
});

Deno.test("an unknown flag suggests the nearest one, exit status 2", async () => {
  const { status, output } = await scripted(["--hots", "chat.example.org"]);
  equal(status, EXIT.usage);
  match(output, /Unknown flag --hots: did you mean --host\?/);
});
