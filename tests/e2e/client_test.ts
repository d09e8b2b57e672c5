import { doesNotMatch, equal, match, ok } from "node:assert/strict";
import { join } from "node:path";
import { testPki } from "../_helpers.ts";
import { clientArgs, type ClientProcess, startClient } from "../_client_process.ts";
import { passwordOf, startTestServer } from "../_server.ts";
import { LineReader } from "../../lib/wire/framing.ts";
import { encodeFrame, type ServerFrame } from "../../lib/wire/protocol.ts";
import type { CertifiedKey } from "../../lib/net/certs.ts";
import { type ConnectionHandler, listen } from "../../lib/net/tls_server.ts";

/** A stand-in TLS server and the real client pointed at it as alice. */
interface StandIn extends AsyncDisposable {
  client: ClientProcess;
}

/**
 * Serve `handler` with the server certificate `pair` and start the client
 * trusting `ca` (the test CA unless told otherwise).
 */
async function clientAgainst(
  handler: ConnectionHandler,
  options: { pair?: CertifiedKey; ca?: string } = {},
): Promise<StandIn> {
  const p = await testPki();
  const pair = options.pair ?? p.server;
  const server = await listen(
    { hostname: "127.0.0.1", port: 0, cert: pair.cert, key: pair.key },
    handler,
  );
  const dir = await Deno.makeTempDir();
  const ca = join(dir, "ca.crt");
  await Deno.writeTextFile(ca, options.ca ?? p.ca.cert);
  const client = startClient(
    ["--port", String(server.addr.port), "--ca", ca, "--user", "alice"],
    { env: { BANTER_PASSWORD: "irrelevant-password" } },
  );
  return {
    client,
    async [Symbol.asyncDispose]() {
      await client[Symbol.asyncDispose]();
      await server.close(1000);
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("scripted client logs in, chats and exits 0 after end", async () => {
  await using s = await startTestServer({ users: ["alice", "bob"] });
  await using bob = await s.login("bob");
  await using client = startClient(clientArgs(s.dir, s.port, "alice"), {
    env: { BANTER_PASSWORD: passwordOf("alice") },
  });
  await client.write("hello from a script\nend\n");
  equal(await client.status(), 0);
  const seen = await bob.until((f) => f.type === "message");
  equal(seen.type === "message" && seen.text, "hello from a script");
  match(client.output(), /Logged in as alice/);
  match(client.output(), /<alice> hello from a script/);
  match(client.output(), /Goodbye/i);
});

Deno.test("scripted client reads the password from --password-file and ends at end of input", async () => {
  await using s = await startTestServer({ users: ["alice"] });
  const file = join(s.dir, "pw.txt");
  await Deno.writeTextFile(file, passwordOf("alice") + "\n");
  await using client = startClient([
    ...clientArgs(s.dir, s.port, "alice"),
    "--password-file",
    file,
  ]);
  await client.write("/who\n");
  await client.closeStdin();
  equal(await client.status(), 0);
  match(client.output(), /In #lobby \(1\): alice/);
});

Deno.test("the client reads its settings from the file named by BANTER_CONFIG", async () => {
  await using s = await startTestServer({ users: ["alice"] });
  const config = join(s.dir, "client.jsonc");
  await Deno.writeTextFile(
    config,
    `// port and CA from the file, as documented in --help\n${
      JSON.stringify({ port: s.port, ca: join(s.dir, "certs", "ca.crt"), user: "alice" })
    }`,
  );
  await using client = startClient([], {
    env: { BANTER_PASSWORD: passwordOf("alice"), BANTER_CONFIG: config },
  });
  await client.write("end\n");
  equal(await client.status(), 0);
  match(client.output(), /Logged in as alice/);
});

Deno.test("a wrong password is one clear line and exit status 3", async () => {
  await using s = await startTestServer({ users: ["alice"] });
  await using client = startClient(clientArgs(s.dir, s.port, "alice"), {
    env: { BANTER_PASSWORD: "not the password" },
  });
  equal(await client.status(), 3);
  match(client.output(), /Login failed: wrong user name or password/);
  doesNotMatch(client.output(), /attempts left/, "nothing is asked again when scripted");
});

Deno.test("a locked account is explained and exits 4", async () => {
  await using s = await startTestServer({ users: ["alice"] });
  for (let i = 0; i < 3; i++) {
    await using c = await s.client();
    await c.login("alice", "wrong password " + i);
  }
  await using client = startClient(clientArgs(s.dir, s.port, "alice"), {
    env: { BANTER_PASSWORD: passwordOf("alice") },
  });
  equal(await client.status(), 4);
  match(client.output(), /it is locked from here, try again in \d+ minute/);
});

Deno.test("an unreachable server is one clear line and exit status 1", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  await using client = startClient(["--port", String(port), "--user", "x"], {
    env: { BANTER_PASSWORD: "irrelevant-password" },
  });
  equal(await client.status(), 1);
  match(client.output(), /connection refused/);
});

for (
  const [name, certOf, pattern] of [
    ["an unknown CA", "foreign", /not signed by a trusted CA/],
    ["a name mismatch", "otherName", /not valid for the name "127\.0\.0\.1"/],
    ["an expired certificate", "expired", /has expired/],
  ] as const
) {
  Deno.test(`TLS failure with ${name} names the cause`, async () => {
    const p = await testPki();
    const pair = certOf === "otherName"
      ? p.otherNameServer
      : certOf === "expired"
      ? p.expiredServer
      : p.server;
    await using run = await clientAgainst(async () => {}, {
      pair,
      ...(certOf === "foreign" ? { ca: p.foreignCa.cert } : {}),
    });
    equal(await run.client.status(), 1);
    match(run.client.output(), pattern);
  });
}

Deno.test("escape sequences from the network never reach the terminal, even from a hostile server", async () => {
  // Our server refuses control characters in messages, so play a hostile one
  // that sends them anyway, in a name and in a message.
  const evil = "evil \x1b[2J\x1b]52;c;aGk=\x07 \u202Egnp.exe\u202C bell\x07 done";
  await using run = await clientAgainst(async (conn) => {
    const lines = new LineReader(conn.source);
    const send = (frame: ServerFrame) => conn.sink.write(encodeFrame(frame));
    await send({ type: "hello", version: 1, server: "hostile/1" });
    await lines.next(); // hello
    await send({ type: "auth", attempts_left: 3 });
    await lines.next(); // login
    await send({ type: "welcome", user: "alice", role: "user" });
    await send({
      type: "message",
      id: 1,
      room: "lobby",
      from: "mal\x1b[31mlory",
      text: evil,
      ts: Date.now(),
    });
    await lines.next(); // end
    await send({ type: "bye", code: "end", message: "Goodbye \x1b[2J" });
    await conn.sink.close();
  });
  const { client } = run;
  await client.waitFor("done");
  await client.write("end\n");
  equal(await client.status(), 0);
  const out = client.output();
  ok(!out.includes("\x1b"), "no ESC in output");
  ok(!out.includes("\x07"), "no BEL in output");
  ok(!out.includes("\u202E"), "no bidi override in output");
  match(out, /mal.*lory.* evil/);
});

Deno.test("the client reconnects and logs in again after a server restart", async () => {
  const first = await startTestServer({ users: ["alice"] });
  const port = first.port;
  await using client = startClient(clientArgs(first.dir, port, "alice"), {
    env: { BANTER_PASSWORD: passwordOf("alice") },
  });
  await client.waitFor("Logged in as alice");
  await first.stop();
  await client.waitFor(/reconnecting in \d+ s/);
  await using second = await startTestServer({ dir: first.dir, config: { port } });
  await client.waitFor(/Logged in as alice[\s\S]*Reconnected after \d+s/, 20_000);
  equal(second.server.hub.members().map((m) => m.name).join(), "alice");
  await client.closeStdin(); // scripted end of input: says end
  equal(await client.status(), 0);
  await Deno.remove(first.dir, { recursive: true });
});

Deno.test("interactive client in a terminal keeps the typed line below incoming messages", async () => {
  await using s = await startTestServer({ users: ["alice", "bob"] });
  await using bob = await s.login("bob");
  await using client = startClient(clientArgs(s.dir, s.port), { tty: true });
  await client.waitFor("Username >> ");
  await client.write("alice\r");
  await client.waitFor("Password >> ");
  const before = client.output().length;
  await client.write(passwordOf("alice") + "\r");
  await client.waitFor("Logged in as alice");
  ok(!client.output().slice(before).includes(passwordOf("alice")), "password not echoed");
  await client.write("half-typ");
  await client.waitFor("half-typ");
  await bob.send({ type: "say", text: "incoming while typing" });
  const screen = await client.waitFor(/incoming while typing[\s\S]*half-typ/);
  // The message is printed where the status line was, then the status line
  // and the input are redrawn below it.
  // (the terminal's output processing turns \n into \r\n)
  match(
    screen,
    // deno-lint-ignore no-control-regex -- the screen's escape codes are the point
    /\x1b\[J[^\n]*<bob> incoming while typing\r*\n\r\x1b\[2K\[#lobby\] alice[^\n]*\n\r\x1b\[2K\[#lobby\] alice> half-typ/,
  );
  await client.write("ed line\r");
  const said = await bob.until((f) => f.type === "message" && f.from === "alice");
  equal(said.type === "message" && said.text, "half-typed line");
  await client.write("\x1b[A"); // Up arrow recalls the last line
  // deno-lint-ignore no-control-regex -- the redraw's escape code is the point
  await client.waitFor(/<alice> half-typed line[\s\S]*\x1b\[2K\[#lobby\] alice> half-typed line/);
  await client.write("\x15end\r"); // Ctrl-U clears, then end
  equal(await client.status(), 0);
});

Deno.test("with --no-reconnect a server shutdown is one line and exit status 7", async () => {
  await using s = await startTestServer({ users: ["alice"] });
  await using client = startClient([...clientArgs(s.dir, s.port, "alice"), "--no-reconnect"], {
    env: { BANTER_PASSWORD: passwordOf("alice") },
  });
  await client.waitFor("Logged in as alice");
  await s.stop();
  equal(await client.status(), 7);
  match(client.output(), /Server shutting down/);
});

Deno.test("a server that breaks the protocol is one clear line and exit status 6", async () => {
  await using run = await clientAgainst(async (conn) => {
    await conn.sink.write(encodeFrame({ type: "hello", version: 1, server: "broken/1" }));
    await conn.sink.write(new TextEncoder().encode('{"type":"auth","attempts_left":"three"}\n'));
    await conn.sink.close();
  });
  equal(await run.client.status(), 6);
  match(run.client.output(), /Protocol error from server: Field "attempts_left"/);
});
