import { equal, match, ok, rejects } from "node:assert/strict";
import { join } from "node:path";
import { CERT_FILES } from "../../lib/net/cert_files.ts";
import { setupLogging } from "../../lib/util/log.ts";
import type { ServerFrame } from "../../lib/wire/protocol.ts";
import { tempDir, TestClient, testPki, within } from "../_helpers.ts";
import { closedPort, startFakeJokeApi } from "../_joke_api.ts";
import { passwordOf, startTestServer, type TestServer } from "../_server.ts";
import { messageWith } from "./_frames.ts";

/** One JSON log line. */
interface JsonRecord {
  level: string;
  logger: string;
  message: string;
  properties: Record<string, unknown>;
}

/** The server's log output in JSON lines, as `--log-format json` writes it. */
interface JsonLogs extends AsyncDisposable {
  /** Everything written so far. */
  text(): string;
  /** Each line parsed; throws on a line that is not JSON. */
  records(): JsonRecord[];
  /** Resolves with the first record (already written or coming) that matches. */
  waitFor(match: (r: JsonRecord) => boolean, ms?: number): Promise<JsonRecord>;
  /** Flush and stop capturing. */
  close(): Promise<void>;
}

async function captureJsonLogs(): Promise<JsonLogs> {
  const decoder = new TextDecoder();
  let text = "";
  let wake = Promise.withResolvers<void>();
  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      text += decoder.decode(chunk);
      wake.resolve();
      wake = Promise.withResolvers<void>();
    },
  });
  const reset = await setupLogging({ format: "json", level: "debug", writable });
  let closing: Promise<void> | undefined;
  const records = () =>
    text.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line) as JsonRecord);
  const close = () => closing ??= reset();
  return {
    text: () => text,
    records,
    waitFor: (match, ms = 5000) =>
      within(
        (async () => {
          for (;;) {
            const found = records().find(match);
            if (found) return found;
            await wake.promise;
          }
        })(),
        ms,
        "a log record",
      ),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Samples of a Prometheus text exposition by `name{labels}`; checks each line's form. */
function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*$/.test(line)) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    ok(sample, `a metrics line: ${JSON.stringify(line)}`);
    samples.set(sample[1]!, Number(sample[2]));
  }
  return samples;
}

/** GET /metrics of a running server. */
async function scrape(base: string): Promise<{ text: string; samples: Map<string, number> }> {
  const response = await fetch(`${base}/metrics`);
  equal(response.status, 200);
  match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  const text = await response.text();
  return { text, samples: parseMetrics(text) };
}

/** A test server with the ops endpoint on a free loopback port. */
async function serverWithHttp(
  options: Parameters<typeof startTestServer>[0] = {},
): Promise<{ s: TestServer; base: string }> {
  const s = await startTestServer({
    ...options,
    config: { httpPort: closedPort(), ...options.config },
  });
  const addr = s.server.httpAddr;
  ok(addr, "the ops endpoint is on");
  equal(addr.hostname, "127.0.0.1");
  return { s, base: `http://127.0.0.1:${addr.port}` };
}

/** Three wrong passwords on one connection; returns every frame seen to the end. */
async function failThreeTimes(s: TestServer, user: string, password: string) {
  await using client = await s.client();
  const frames: ServerFrame[] = [await client.login(user, password)];
  for (let i = 1; i < 3; i++) {
    await client.until((f) => f.type === "auth");
    await client.send({ type: "login", username: user, password });
    frames.push(await client.until((f) => f.type === "auth_failed"));
  }
  frames.push(...await client.untilClosed());
  return frames;
}

Deno.test("GET /healthz and /metrics of a running server report real traffic", async () => {
  await using logs = await captureJsonLogs();
  await using api = startFakeJokeApi();
  const { s, base } = await serverWithHttp({
    users: ["alice", "bob"],
    config: { jokeUrl: api.url("/official") },
  });
  await using _server = s;
  const health = await fetch(`${base}/healthz`);
  equal(health.status, 200);
  equal(await health.text(), "ok\n");
  const before = (await scrape(base)).samples;
  equal(before.get('banter_logins_total{result="ok"}'), 0);

  await using alice = await s.login("alice");
  await using bob = await s.login("bob");
  await using stranger = await s.client();
  equal((await stranger.login("alice", "not alice's password")).type, "auth_failed");
  const pki = await testPki();
  await rejects(TestClient.connect(s.port, { ca: pki.foreignCa.cert }));
  await logs.waitFor((r) => r.message.startsWith("TLS handshake failed"));
  for (const text of ["one", "two", "three", "get_joke"]) {
    await alice.send({ type: "say", text });
  }
  await bob.until(messageWith("three"));
  await bob.until((f) => f.type === "message" && f.from === "JokeBot");

  const after = (await scrape(base)).samples;
  equal(after.get('banter_logins_total{result="ok"}'), 2);
  equal(after.get('banter_logins_total{result="failed"}'), 1);
  equal(after.get("banter_connections_open"), 3, "alice, bob and the stranger");
  equal(after.get("banter_tls_handshakes_failed_total"), 1);
  equal(after.get("banter_messages_received_total"), 4);
  const delivered = after.get("banter_messages_delivered_total") ?? 0;
  ok(delivered >= 8, `three lines and a joke to two members: ${delivered}`);
  equal(after.get('banter_joke_fetches_total{outcome="api"}'), 1);
  equal(after.get("banter_backpressure_drops_total"), 0);
  equal(after.get('banter_lockouts_total{scope="account"}'), 0);
  ok((after.get("banter_event_loop_lag_seconds") ?? -1) >= 0);
  // Four stored messages: the three lines and the joke, each charged text + 64 bytes.
  ok((after.get("banter_history_bytes") ?? 0) >= 4 * 64, "history held, as charged");

  const stopping = s.stop();
  const during = await fetch(`${base}/healthz`).catch(() => undefined);
  if (during) {
    equal(during.status, 503, "never healthy once shutdown has begun");
    await during.body?.cancel();
  }
  await stopping;
  await rejects(fetch(`${base}/healthz`), "the ops port is closed after shutdown");
});

Deno.test("a failing-login run ending in a lockout is audited in JSON lines without any secret", async () => {
  await using logs = await captureJsonLogs();
  const { s, base } = await serverWithHttp({ users: ["alice", "bob"] });
  await using _server = s;
  const wrong = "Tr0ub4dor&3-wrong";
  const frames = await failThreeTimes(s, "alice", wrong);
  equal(frames.filter((f) => f.type === "auth_failed").length, 3);
  await using again = await s.client();
  const locked = await again.login("alice", passwordOf("alice"));
  ok(
    locked.type === "auth_failed" && locked.reason === "locked",
    "the right password is locked out",
  );

  const body = "a private chat line 7c1f";
  await using bob = await s.login("bob");
  await bob.send({ type: "say", text: body });
  await bob.until(messageWith(body));
  const metrics = await scrape(base);
  equal(metrics.samples.get('banter_lockouts_total{scope="account"}'), 1);
  equal(metrics.samples.get('banter_logins_total{result="failed"}'), 4);
  equal(metrics.samples.get('banter_logins_total{result="ok"}'), 1);
  await s.stop();
  await logs.close();

  const records = logs.records(); // every line parses as JSON
  const audit = records.filter((r) => r.logger === "banter.audit");
  const failures = audit.filter((r) => r.message.startsWith("Failed login"));
  equal(failures.length, 4);
  ok(failures.every((r) => r.properties.address === "127.0.0.1"), "failures name the source");
  ok(failures.every((r) => r.level === "WARN"));
  const lockout = audit.find((r) => r.message.startsWith("Locked"));
  ok(lockout, "the lockout is audited");
  equal(lockout.properties.user, "alice");
  ok(audit.some((r) => r.message.startsWith("Login") && r.properties.user === "bob"));

  const credentials = JSON.parse(await Deno.readTextFile(s.config.credentials));
  const hashes = JSON.stringify(credentials).match(/\$scrypt\$[^"]+/g) ?? [];
  ok(hashes.length >= 2, "the credential file has hashes to look for");
  const key = await Deno.readTextFile(join(s.config.certsDir, CERT_FILES.serverKey));
  const keyBody = key.split("\n").find((l) => l.length > 40)!;
  const secrets = [wrong, passwordOf("alice"), passwordOf("bob"), body, keyBody, ...hashes];
  for (const secret of secrets) {
    ok(!logs.text().includes(secret), `the logs do not contain ${secret.slice(0, 12)}…`);
    ok(!metrics.text.includes(secret), `/metrics does not contain ${secret.slice(0, 12)}…`);
  }
});

Deno.test("--http-port 0 turns the ops endpoint off", async () => {
  await using s = await startTestServer({ config: { httpPort: 0 } });
  equal(s.server.httpAddr, undefined);
});

Deno.test("a taken HTTP port stops the start with an error naming the address", async () => {
  await using dir = await tempDir();
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  await rejects(
    startTestServer({ dir: dir.path, config: { httpPort: taken.addr.port } }),
    new RegExp(`Cannot listen on 127\\.0\\.0\\.1:${taken.addr.port}`),
  );
});

Deno.test("kicks and bans are audited with who did them", async () => {
  await using logs = await captureJsonLogs();
  await using s = await startTestServer({ users: ["bob", "carol"], admins: ["root"] });
  await using root = await s.login("root");
  await using bob = await s.login("bob");
  await using carol = await s.login("carol");
  await root.send({ type: "say", text: "/kick bob flooding" });
  await root.send({ type: "say", text: "/ban carol" });
  await bob.untilClosed();
  await carol.untilClosed();
  const kicked = await logs.waitFor((r) =>
    r.logger === "banter.audit" && r.properties.action === "kick"
  );
  equal(kicked.properties.target, "bob");
  equal(kicked.properties.by, "root");
  const banned = await logs.waitFor((r) =>
    r.logger === "banter.audit" && r.properties.action === "ban"
  );
  equal(banned.properties.target, "carol");
  equal(banned.properties.by, "root");
});
