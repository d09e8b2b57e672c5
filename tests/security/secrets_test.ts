/**
 * Secrets stay secret: no password, hash or private key in logs, in what the
 * server says to clients, in /metrics or in error messages; the one-time
 * admin password only on stdout, once; every secret file 0600 in a 0700
 * directory, even under `umask 000`.
 *
 * @module
 */
import { equal, ok, rejects } from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CERT_FILES } from "../../lib/net/cert_files.ts";
import { type CertifiedKey, createCa } from "../../lib/net/certs.ts";
import type { ServerFrame } from "../../lib/wire/protocol.ts";
import { startServer } from "../../lib/server/app.ts";
import { tempDir, TestClient, testPki } from "../_helpers.ts";
import { passwordOf, startTestServer, testConfig, writeTestCerts } from "../_server.ts";
import { probe } from "../_tls_probe.ts";
import { captureLogs } from "./_log_capture.ts";
import { startCli, startServerProcess } from "../_process.ts";

const REPO = fileURLToPath(new URL("../../", import.meta.url));

/** The base64 body of a PEM, in 32-character pieces: any of them leaking is a leak. */
function pemPieces(pem: string): string[] {
  const body = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  const pieces: string[] = [];
  for (let i = 0; i + 32 <= body.length; i += 32) pieces.push(body.slice(i, i + 32));
  return pieces;
}

/** Every secret in `haystacks`, by name. */
function leaks(secrets: Record<string, string[]>, haystacks: string[]): string[] {
  const found: string[] = [];
  for (const [name, values] of Object.entries(secrets)) {
    for (const value of values) {
      if (haystacks.some((h) => h.includes(value))) found.push(`${name}: ${value.slice(0, 40)}`);
    }
  }
  return found;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

async function serverHashes(credentials: string): Promise<string[]> {
  const file = JSON.parse(await Deno.readTextFile(credentials));
  return Object.values(file.users as Record<string, { hash: string }>).flatMap(({ hash }) => [
    hash,
    ...hash.split("$").filter((part) => part.length >= 16), // salt and digest on their own
  ]);
}

Deno.test("no password, hash or key appears in logs, in frames sent to clients, or in /metrics", async () => {
  const p = await testPki();
  await using logs = await captureLogs();
  await using s = await startTestServer({
    users: ["alice", "victim"],
    config: { httpPort: freePort(), rateBurst: 100 },
  });
  const wrong = [
    "wrong-secret-1 horse",
    'wrong "secret" 2\nwith a newline',
    "wrong-secret-3 for nobody",
    `wrong-secret-4 ${"x".repeat(3000)}`,
  ];
  const frames: ServerFrame[] = [];
  const session = async (run: (c: TestClient) => Promise<unknown>) => {
    const c = await s.client();
    try {
      await run(c);
    } finally {
      frames.push(...c.received);
      await c[Symbol.asyncDispose]();
    }
  };
  const attempt = async (c: TestClient, username: string, password: string) => {
    await c.send({ type: "login", username, password });
    return await c.until((f) =>
      f.type === "auth_failed" || f.type === "welcome" || f.type === "bye"
    );
  };
  const greet = async (c: TestClient) => {
    await c.send({ type: "hello", version: 1 });
    await c.until((f) => f.type === "auth");
  };
  await session(async (c) => {
    await greet(c);
    await attempt(c, "alice", wrong[0]!);
    await attempt(c, "alice", wrong[1]!);
    await attempt(c, "nobody", wrong[2]!);
  });
  await session(async (c) => {
    await greet(c);
    await c.send({ type: "login", username: "alice", password: wrong[3]! }); // too long: a protocol error
    await c.untilClosed();
  });
  await session(async (c) => {
    await greet(c);
    for (let i = 0; i < 3; i++) await attempt(c, "victim", `victim-wrong-${i}`);
    await c.untilClosed();
  });
  await session(async (c) => {
    await c.login("alice", passwordOf("alice"));
    await c.send({ type: "say", text: "message-body-marker" });
    await c.until((f) => f.type === "message");
    await c.send({ type: "say", text: "end" });
    await c.untilClosed();
  });
  await probe(s.port, "not TLS at all\n"); // a handshake failure, audited
  const addr = s.server.httpAddr;
  ok(addr, "the ops endpoint is on");
  const metrics = await (await fetch(`http://127.0.0.1:${addr.port}/metrics`)).text();
  ok(metrics.includes("banter_"), "metrics were served");

  const secrets = {
    "alice's password": [passwordOf("alice")],
    "a wrong password": [...wrong.map((w) => w.slice(0, 24)), "victim-wrong-"],
    "a password hash": await serverHashes(s.config.credentials),
    "the server key": pemPieces(p.server.key),
    "the CA key": pemPieces(p.ca.key),
  };
  const logged = [...logs.text(), ...logs.json()];
  ok(logged.some((line) => line.includes("Failed login")), "failures were logged");
  equal(
    leaks({ ...secrets, "a message body": ["message-body-marker"] }, logged).join("\n"),
    "",
    "in the logs",
  );
  const said = frames.filter((f) => f.type !== "message" && f.type !== "room").map((f) =>
    JSON.stringify(f)
  );
  equal(leaks(secrets, said).join("\n"), "", "in frames to clients");
  equal(
    leaks({ ...secrets, "a user name": ["victim", "nobody"] }, [metrics]).join("\n"),
    "",
    "in /metrics",
  );
});

/** A key file that is not a key, and a real key that does not match the certificate. */
async function unusableKeys(dir: string): Promise<Array<[string, string[]]>> {
  const marker = "U0VDUkVUS0VZTUFURVJJQUxET05PVExFQUs".repeat(2);
  const garbage = join(dir, "garbage_key.pem");
  await Deno.writeTextFile(
    garbage,
    `-----BEGIN PRIVATE KEY-----\n${marker}\n-----END PRIVATE KEY-----\n`,
  );
  const other: CertifiedKey = await createCa("some other key");
  const mismatched = join(dir, "other_key.pem");
  await Deno.writeTextFile(mismatched, other.key);
  return [[garbage, [marker]], [mismatched, pemPieces(other.key)]];
}

/** Start must fail, and no message or stack in the error chain may show the key. */
async function refusedWithoutLeak(dir: string, engine: "node" | "deno"): Promise<void> {
  await writeTestCerts(dir);
  for (const [key, secret] of await unusableKeys(dir)) {
    const started = startServer(testConfig(dir, { key, tlsEngine: engine }), {
      announce: () => {},
    });
    await rejects(
      started.then(async (server) => {
        await server.shutdown();
        return server;
      }),
      (error: Error) => {
        const messages: string[] = [];
        for (let e: unknown = error; e instanceof Error; e = e.cause) {
          messages.push(e.message, e.stack ?? "");
        }
        equal(leaks({ key: secret }, messages).join("\n"), "", messages.join("\n"));
        return true;
      },
      `${engine} engine started with ${key}`,
    );
  }
}

Deno.test("deno engine: a server key that does not parse or does not match is refused at start, its contents never shown", async () => {
  await using dir = await tempDir();
  await refusedWithoutLeak(dir.path, "deno");
});

Deno.test({
  name:
    "node engine: a server key that does not parse or does not match is refused at start, its contents never shown",
  fn: async () => {
    await using dir = await tempDir();
    await refusedWithoutLeak(dir.path, "node");
  },
});

Deno.test("the CLI's password errors name the rule, never the password", async () => {
  await using dir = await tempDir();
  await writeTestCerts(dir.path);
  for (const password of ["short1", "carol-is-my-password", ""]) {
    const run = await startCli(dir.path, ["add", "carol"], password + "\n").result;
    equal(run.code, 1, run.stderr);
    ok(/password must/.test(run.stderr), run.stderr);
    if (password !== "") {
      ok(!run.stderr.includes(password) && !run.stdout.includes(password), run.stderr);
    }
  }
});

/** Mode bits of `path`. */
async function mode(path: string): Promise<number> {
  return (await Deno.stat(path)).mode! & 0o777;
}

/** Every file under `dir`, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) files.push(...await filesUnder(path));
    else if (entry.isFile) files.push(path);
  }
  return files;
}

Deno.test("under umask 000, the first start shows the admin password once on stdout only, and every secret file is 0600 in a 0700 directory", async () => {
  await using dir = await tempDir();
  await Deno.chmod(dir.path, 0o755);
  {
    await using server = await startServerProcess(dir.path, { openUmask: true });
    const [, password] = await server.stdout.waitFor(/password: (\S+)/);
    // A failed login writes lockout.json; a message writes the history.
    await using c = await TestClient.connect(server.port, {
      ca: await Deno.readTextFile(join(dir.path, "certs", CERT_FILES.caCert)),
    });
    equal((await c.login("admin", "not the password")).type, "auth_failed");
    await using admin = await TestClient.connect(server.port, {
      ca: await Deno.readTextFile(join(dir.path, "certs", CERT_FILES.caCert)),
    });
    equal((await admin.login("admin", password!)).type, "welcome");
    await admin.send({ type: "say", text: "hello" });
    await admin.until((f) => f.type === "message");
    server.kill("SIGTERM");
    equal((await server.status).code, 0, server.stderr.text);
    await Promise.all([server.stdout.done, server.stderr.done]);
    equal(server.stdout.text.split(password!).length - 1, 1, "shown once");
    ok(!server.stderr.text.includes(password!), "never in the log stream");
    for (const file of await filesUnder(dir.path)) {
      ok(!(await Deno.readTextFile(file).catch(() => "")).includes(password!), `not in ${file}`);
    }
  }
  // The admin CLI rewrites credentials.json and lockout.json under umask 000 too.
  const add = await startCli(dir.path, ["add", "carol"], "amber kettle 42\n", { openUmask: true })
    .result;
  equal(add.code, 0, add.stderr);
  const unlock = await startCli(dir.path, ["unlock", "admin"], "", { openUmask: true }).result;
  equal(unlock.code, 0, unlock.stderr);

  // Certificates are made by deno task certs, not by the server (next test).
  const secret = ["credentials.json", "data/lockout.json", "data/history.db"];
  for (const file of secret) equal((await mode(join(dir.path, file))).toString(8), "600", file);
  for (const file of await filesUnder(join(dir.path, "data"))) {
    equal((await mode(file)).toString(8), "600", file); // -wal and -shm too, when left behind
  }
  equal((await mode(join(dir.path, "data"))).toString(8), "700", "data");
});

Deno.test("under umask 000, deno task certs writes every private key 0600 in a 0700 directory", async () => {
  await using dir = await tempDir();
  const certs = join(dir.path, "certs");
  const child = new Deno.Command("/bin/sh", {
    args: [
      "-c",
      'umask 000 && exec "$0" "$@"',
      Deno.execPath(),
      "run",
      "--quiet",
      "--config",
      join(REPO, "deno.json"),
      `--allow-read=${certs}`,
      `--allow-write=${certs}`,
      join(REPO, "scripts", "certs.ts"),
      `--dir=${certs}`,
      "--client=alice",
      "--client=bob",
    ],
    stdout: "piped",
    stderr: "piped",
  });
  const out = await child.output();
  equal(out.code, 0, new TextDecoder().decode(out.stderr));
  equal((await mode(certs)).toString(8), "700");
  const files = await filesUnder(certs);
  const keys = files.filter((f) => f.endsWith(".key") || f.endsWith("_key.pem"));
  equal(keys.length, 4, "CA, server, alice, bob");
  for (const key of keys) equal((await mode(key)).toString(8), "600", key);
});
