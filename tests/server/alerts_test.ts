import { FakeClock } from "../_fake_clock.ts";
import { deepEqual, equal, match, ok, rejects } from "node:assert/strict";
import { join } from "node:path";
import type { LogRecord } from "@logtape/logtape";
import { SMTPServer, type SMTPServerSession } from "smtp-server";
import { LockoutAlerts, lockoutMessage } from "../../lib/server/alerts.ts";
import type { LockoutEvent } from "../../lib/auth/login.ts";
import { CERT_FILES } from "../../lib/net/cert_files.ts";
import { setupLogging } from "../../lib/util/log.ts";
import { createServerMetrics } from "../../lib/server/metrics.ts";
import { type MailMessage, MAX_REPLY_BYTES, sendMail, SmtpError } from "../../lib/server/smtp.ts";
import { tempDir, testPki, within } from "../_helpers.ts";
import { closedPort } from "../_joke_api.ts";
import { passwordOf, startTestServer, type TestServer } from "../_server.ts";
import { messageWith } from "../e2e/_frames.ts";

/** A mail as the local SMTP server received it. */
interface ReceivedMail {
  from: string;
  to: string[];
  /** The AUTH user, when the client logged in. */
  user: string | undefined;
  /** Whether the session ran over TLS. */
  secure: boolean;
  headers: string;
  /** The decoded body. */
  text: string;
  /** Everything after DATA, as sent. */
  raw: string;
}

interface MailSinkOptions {
  /** Require AUTH with this account. */
  auth?: { user: string; pass: string };
  /** Offer STARTTLS (with the test server certificate). @default true */
  starttls?: boolean;
  /** Speak TLS from the first byte (as on port 465). @default false */
  implicitTls?: boolean;
  /** AUTH mechanisms offered. @default ["PLAIN", "LOGIN"] */
  authMethods?: string[];
  /** Quote the password the client sent in the reply to a failed AUTH. */
  echoPassword?: boolean;
}

/** An SMTP server on 127.0.0.1 that keeps what it receives. */
interface MailSink extends AsyncDisposable {
  port: number;
  received: ReceivedMail[];
  /** The next mail not yet returned by `next`. */
  next(ms?: number): Promise<ReceivedMail>;
}

function decodeBody(raw: string): { headers: string; text: string } {
  const split = raw.indexOf("\r\n\r\n");
  const headers = raw.slice(0, split);
  const body = raw.slice(split + 4).replace(/\s+/g, "");
  const bytes = Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
  return { headers, text: new TextDecoder().decode(bytes) };
}

async function startMailSink(options: MailSinkOptions = {}): Promise<MailSink> {
  const pki = await testPki();
  const received: ReceivedMail[] = [];
  const waiters: (() => void)[] = [];
  let taken = 0;
  const server = new SMTPServer({
    key: pki.server.key,
    cert: pki.server.cert,
    logger: false,
    closeTimeout: 1000,
    secure: options.implicitTls ?? false,
    authOptional: options.auth === undefined,
    ...(options.authMethods ? { authMethods: options.authMethods } : {}),
    disabledCommands: [
      ...(options.auth ? [] : ["AUTH"]),
      ...(options.starttls === false ? ["STARTTLS"] : []),
    ],
    onAuth(auth, _session, callback) {
      const want = options.auth;
      if (want && auth.username === want.user && auth.password === want.pass) {
        callback(null, { user: auth.username });
      } else {
        const echo = options.echoPassword ? ` (${auth.password})` : "";
        callback(new Error(`Invalid username or password${echo}`));
      }
    },
    onData(stream, session: SMTPServerSession, callback) {
      const chunks: Uint8Array[] = [];
      stream.on("data", (chunk: Uint8Array) => chunks.push(chunk));
      stream.on("end", () => {
        const raw = new TextDecoder().decode(
          Uint8Array.from(chunks.flatMap((c) => [...c])),
        );
        const mailFrom = session.envelope.mailFrom;
        received.push({
          from: mailFrom === false ? "" : mailFrom.address,
          to: session.envelope.rcptTo.map((r) => r.address),
          user: session.user,
          secure: session.secure,
          raw,
          ...decodeBody(raw),
        });
        for (const wake of waiters.splice(0)) wake();
        callback();
      });
    },
  });
  // Connection errors (a client refusing our certificate) are expected in some tests.
  server.on("error", () => undefined);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const address = server.server.address();
  if (address === null || typeof address === "string") throw new Error("No SMTP port");
  return {
    port: address.port,
    received,
    async next(ms = 5000) {
      await within(
        (async () => {
          while (received.length <= taken) {
            await new Promise<void>((resolve) => waiters.push(resolve));
          }
        })(),
        ms,
        "a mail",
      );
      return received[taken++]!;
    },
    [Symbol.asyncDispose]: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Accepts connections and never says a word. */
function silentServer(): AsyncDisposable & {
  port: number;
  accepted: Promise<void>;
  readonly connections: number;
} {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const accepted = Promise.withResolvers<void>();
  const loop = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      accepted.resolve();
    }
  })();
  return {
    port: listener.addr.port,
    accepted: accepted.promise,
    get connections() {
      return conns.length;
    },
    async [Symbol.asyncDispose]() {
      listener.close();
      await loop;
      for (const conn of conns) {
        try {
          conn.close();
        } catch (error) {
          if (!(error instanceof Deno.errors.BadResource)) throw error;
        }
      }
    },
  };
}

/** Log records captured so far, and a way to wait for one. */
interface Logs {
  readonly records: LogRecord[];
  /** Resolves with the first record (already logged or coming) that matches. */
  waitFor(match: (record: LogRecord) => boolean, ms?: number): Promise<LogRecord>;
}

/** Collects log records while `run` runs. */
async function withLogs<T>(run: (logs: Logs) => Promise<T>): Promise<T> {
  const records: LogRecord[] = [];
  let logged = Promise.withResolvers<void>();
  const reset = await setupLogging({
    level: "debug",
    sink: (record) => {
      records.push(record);
      logged.resolve();
      logged = Promise.withResolvers<void>();
    },
  });
  const waitFor = (match: (record: LogRecord) => boolean, ms = 5000) =>
    within(
      (async () => {
        for (;;) {
          const found = records.find(match);
          if (found) return found;
          await logged.promise;
        }
      })(),
      ms,
      "a log record",
    );
  try {
    return await run({ records, waitFor });
  } finally {
    await reset();
  }
}

/** Every log record as text, values included. */
function logText(records: readonly LogRecord[]): string {
  return records
    .map((r) => JSON.stringify([r.category, r.rawMessage, r.message, r.properties]))
    .join("\n");
}

const MESSAGE: MailMessage = {
  from: "banter@example.org",
  to: "admin@example.org",
  subject: "Banter: login lockout (account)",
  text: "Locked\n.\nA line that was a lone dot, and ümlauts\n",
  date: new Date(Date.UTC(2026, 0, 1)),
};

const LOCKOUT: LockoutEvent = {
  scope: "account",
  username: "alice",
  ip: "192.0.2.7",
  retryAfterMs: 60_000,
};

Deno.test("sendMail() delivers over STARTTLS with AUTH, checking the server against the CA", async () => {
  const pki = await testPki();
  await using sink = await startMailSink({ auth: { user: "banter", pass: "mail-secret" } });
  await sendMail(MESSAGE, {
    host: "localhost",
    port: sink.port,
    caCerts: [pki.ca.cert],
    username: "banter",
    password: "mail-secret",
  });
  const mail = await sink.next();
  equal(mail.from, "banter@example.org");
  deepEqual(mail.to, ["admin@example.org"]);
  equal(mail.user, "banter");
  equal(mail.secure, true, "the message went over TLS");
  match(mail.headers, /^Subject: Banter: login lockout \(account\)$/m);
  match(mail.headers, /^Date: Thu, 01 Jan 2026 00:00:00 \+0000$/m);
  equal(mail.text, MESSAGE.text, "the body arrives intact, lone dot and UTF-8 included");
});

Deno.test("sendMail() with security tls speaks TLS from the start, checking the CA", async () => {
  const pki = await testPki();
  await using sink = await startMailSink({
    implicitTls: true,
    auth: { user: "banter", pass: "mail-secret" },
  });
  await rejects(
    sendMail(MESSAGE, { host: "localhost", port: sink.port, security: "tls" }),
    SmtpError,
    "an unknown CA is refused",
  );
  await sendMail(MESSAGE, {
    host: "localhost",
    port: sink.port,
    security: "tls",
    caCerts: [pki.ca.cert],
    username: "banter",
    password: "mail-secret",
  });
  const mail = await sink.next();
  equal(mail.secure, true);
  equal(mail.user, "banter");
  equal(sink.received.length, 1);
});

Deno.test("sendMail() refuses a server that does not offer STARTTLS", async () => {
  await using sink = await startMailSink({ starttls: false });
  await rejects(
    sendMail(MESSAGE, { host: "localhost", port: sink.port }),
    (error) => error instanceof SmtpError && /STARTTLS/.test(error.message),
  );
  equal(sink.received.length, 0);
});

Deno.test("sendMail() refuses a server whose certificate it cannot verify", async () => {
  await using sink = await startMailSink();
  await rejects(sendMail(MESSAGE, { host: "localhost", port: sink.port }), SmtpError);
  equal(sink.received.length, 0);
});

Deno.test("sendMail() sends in clear only when told, and never a password in clear", async () => {
  await using sink = await startMailSink({ starttls: false });
  await rejects(
    sendMail(MESSAGE, {
      host: "localhost",
      port: sink.port,
      security: "none",
      username: "banter",
      password: "mail-secret",
    }),
    /without TLS/,
  );
  await sendMail(MESSAGE, { host: "localhost", port: sink.port, security: "none" });
  equal((await sink.next()).secure, false);
});

Deno.test("sendMail() errors name the failed step but never the password", async () => {
  const pki = await testPki();
  await using sink = await startMailSink({ auth: { user: "banter", pass: "right" } });
  const error = await sendMail(MESSAGE, {
    host: "localhost",
    port: sink.port,
    caCerts: [pki.ca.cert],
    username: "banter",
    password: "wrong-Secret-42",
  }).then(() => undefined, (e: unknown) => e);
  ok(error instanceof SmtpError);
  equal(error.code, 535);
  match(error.message, /AUTH PLAIN answered 535/);
  ok(!error.message.includes("wrong-Secret-42"));
  ok(!error.message.includes(btoa("\0banter\0wrong-Secret-42")), "nor its base64");
});

for (const mechanism of ["PLAIN", "LOGIN"]) {
  Deno.test(`sendMail() errors never quote the password, even when a server echoes it (AUTH ${mechanism})`, async () => {
    const pki = await testPki();
    await using sink = await startMailSink({
      auth: { user: "banter", pass: "right" },
      authMethods: [mechanism],
      echoPassword: true,
    });
    const error = await sendMail(MESSAGE, {
      host: "localhost",
      port: sink.port,
      caCerts: [pki.ca.cert],
      username: "banter",
      password: "wrong-Secret-42",
    }).then(() => undefined, (e: unknown) => e);
    ok(error instanceof SmtpError);
    equal(error.code, 535);
    match(error.message, new RegExp(`AUTH ${mechanism} answered 535 .*Invalid username`));
    ok(!error.message.includes("wrong-Secret-42"), error.message);
    equal(error.cause, undefined, "no nodemailer error with the server's words attached");
  });
}

Deno.test("sendMail() to a dead port fails at once with an SmtpError", async () => {
  await rejects(
    within(
      sendMail(MESSAGE, { host: "127.0.0.1", port: closedPort(), security: "none" }),
      5000,
      "x",
    ),
    SmtpError,
  );
});

Deno.test("sendMail() against a server that never answers stops when the signal aborts", async () => {
  await using silent = silentServer();
  const abort = new AbortController();
  const sending = sendMail(MESSAGE, {
    host: "127.0.0.1",
    port: silent.port,
    signal: abort.signal,
    timeoutMs: 60_000,
  });
  await silent.accepted;
  abort.abort(new Error("stop"));
  await rejects(within(sending, 2000, "the aborted send"), /stop/);
});

Deno.test("sendMail() gives up on a server whose reply exceeds MAX_REPLY_BYTES", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    const conn = await listener.accept();
    const line = new TextEncoder().encode(`220-${"x".repeat(1000)}\r\n`);
    try {
      for (let sent = 0; sent <= MAX_REPLY_BYTES; sent += line.length) await conn.write(line);
      // Then wait: only the client's limit can end the exchange early.
      while (await conn.read(new Uint8Array(1024)) !== null);
    } catch (error) {
      if (
        !(error instanceof Deno.errors.BrokenPipe || error instanceof Deno.errors.ConnectionReset)
      ) {
        throw error;
      }
    } finally {
      conn.close();
    }
  })();
  await rejects(
    within(
      sendMail(MESSAGE, { host: "127.0.0.1", port: listener.addr.port, security: "none" }),
      5000,
      "the overlong reply",
    ),
    SmtpError,
  );
  listener.close();
  await serving;
});

Deno.test("sendMail() against a server that never answers gives up at timeoutMs on its clock", async () => {
  await using silent = silentServer();
  const clock = new FakeClock();
  // An hour: real time cannot reach it during the test, only the fake clock.
  const timeoutMs = 3_600_000;
  const sending = sendMail(MESSAGE, { host: "127.0.0.1", port: silent.port, timeoutMs, clock });
  await within(silent.accepted, 5000, "the connection");
  clock.advance(timeoutMs);
  await rejects(within(sending, 5000, "the deadline"), /no answer within 3600000 ms/);
});

Deno.test("sendMail() refuses addresses that could inject headers or commands, before connecting", async () => {
  await using silent = silentServer();
  const bad = ["a@b.example\r\nBcc: c@d.example", "<a@b.example>", "a b@c.example", "nobody"];
  for (const address of bad) {
    for (const message of [{ ...MESSAGE, to: address }, { ...MESSAGE, from: address }]) {
      await rejects(
        sendMail(message, { host: "127.0.0.1", port: silent.port, security: "none" }),
        TypeError,
        `refused ${JSON.stringify(address)}`,
      );
    }
  }
  equal(silent.connections, 0, "no connection was opened");
});

Deno.test("sendMail() encodes a subject that is not printable ASCII", async () => {
  await using sink = await startMailSink({ starttls: false });
  await sendMail({ ...MESSAGE, subject: "Sperre für\r\nBcc: x" }, {
    host: "127.0.0.1",
    port: sink.port,
    security: "none",
  });
  const mail = await sink.next();
  const subject = mail.headers.split("\r\n").find((l) => l.startsWith("Subject: "))!;
  match(subject, /^Subject: =\?UTF-8\?B\?[A-Za-z0-9+/=]+\?=$/);
  ok(!mail.raw.includes("\r\nBcc:"));
  deepEqual(mail.to, ["admin@example.org"], "one recipient, no smuggled Bcc");
});

Deno.test("lockoutMessage() names the account and address, escaping control characters", () => {
  const message = lockoutMessage(
    { ...LOCKOUT, username: "mallory\u001b[31m\nBcc: x" },
    { from: "b@example.org", to: "a@example.org", serverName: "banter/0.1.0", now: 0 },
  );
  match(message.text, /locked the account "mallory\\u\{1b\}\[31m\\u\{a\}Bcc: x"/);
  match(message.text, /^Source address: 192\.0\.2\.7$/m);
  match(message.text, /^Locked for: 1 minute \(until 1970-01-01T00:01:00\.000Z\)$/m);
  equal(message.subject, "banter/0.1.0: login lockout (account)");
});

Deno.test("LockoutAlerts sends one mail per lockout to the admin address", async () => {
  await using sink = await startMailSink({ starttls: false });
  const metrics = createServerMetrics();
  const alerts = new LockoutAlerts({
    from: "banter@example.org",
    to: "admin@example.org",
    clock: new FakeClock(),
    counters: metrics.alerts,
    send: (message, signal) =>
      sendMail(message, { host: "127.0.0.1", port: sink.port, security: "none", signal }),
  });
  alerts.notify(LOCKOUT);
  alerts.notify({ ...LOCKOUT, scope: "ip", username: "bob" });
  await alerts.settled();
  const [first, second] = [await sink.next(), await sink.next()];
  deepEqual(first.to, ["admin@example.org"]);
  match(first.text, /locked the account "alice"/);
  match(second.text, /locked the address 192\.0\.2\.7/);
  equal(metrics.alerts.sent.value, 2);
  await alerts.close();
});

Deno.test("LockoutAlerts with a dead mail server logs the failure and never throws", async () => {
  await withLogs(async ({ records }) => {
    const metrics = createServerMetrics();
    const alerts = new LockoutAlerts({
      from: "banter@example.org",
      to: "admin@example.org",
      clock: new FakeClock(),
      counters: metrics.alerts,
      send: (message, signal) =>
        sendMail(message, { host: "127.0.0.1", port: closedPort(), security: "none", signal }),
    });
    alerts.notify(LOCKOUT); // returns at once: nothing to await
    await within(alerts.settled(), 5000, "the failed alert");
    equal(metrics.alerts.failed.value, 1);
    const failure = records.find((r) => r.category.join(".") === "banter.alert");
    ok(failure, "the failure is logged");
    equal(failure.level, "error");
    match(logText([failure]), /Cannot send lockout alert to/);
    await alerts.close();
  });
});

Deno.test("LockoutAlerts drops alerts beyond its bound instead of queueing without end", async () => {
  await withLogs(async () => {
    const metrics = createServerMetrics();
    const release = Promise.withResolvers<void>();
    const sent: string[] = [];
    const alerts = new LockoutAlerts({
      from: "banter@example.org",
      to: "admin@example.org",
      clock: new FakeClock(),
      counters: metrics.alerts,
      maxPending: 2,
      send: async (message) => {
        await release.promise;
        sent.push(message.text);
      },
    });
    for (const name of ["a", "b", "c", "d", "e"]) alerts.notify({ ...LOCKOUT, username: name });
    // "a" is being sent; "b" and "c" wait; "d" and "e" are dropped.
    equal(metrics.alerts.dropped.value, 2);
    release.resolve();
    await alerts.settled();
    equal(sent.length, 3);
    equal(metrics.alerts.sent.value, 3);
    await alerts.close();
  });
});

Deno.test("LockoutAlerts.close() aborts a send in progress and drops the queue", async () => {
  await withLogs(async () => {
    const metrics = createServerMetrics();
    const started = Promise.withResolvers<void>();
    const alerts = new LockoutAlerts({
      from: "banter@example.org",
      to: "admin@example.org",
      clock: new FakeClock(),
      counters: metrics.alerts,
      send: (_message, signal) => {
        started.resolve();
        return new Promise((_, reject) =>
          signal.addEventListener("abort", () => reject(signal.reason))
        );
      },
    });
    alerts.notify(LOCKOUT);
    alerts.notify(LOCKOUT);
    await started.promise;
    await within(alerts.close(), 2000, "close");
    equal(metrics.alerts.failed.value, 1);
    equal(metrics.alerts.dropped.value, 1);
    alerts.notify(LOCKOUT);
    equal(metrics.alerts.dropped.value, 2, "after close, alerts are dropped");
  });
});

Deno.test("a server locking an account after three wrong passwords mails the admin, without the password", async () => {
  await using dir = await tempDir();
  await using sink = await startMailSink();
  const wrong = "Wrong-Horse-Battery-99";
  await withLogs(async ({ records }) => {
    await using s = await startTestServer({
      dir: dir.path,
      users: ["alice"],
      config: {
        smtpHost: "localhost",
        smtpPort: sink.port,
        smtpSecurity: "starttls",
        smtpCa: join(dir.path, "certs", CERT_FILES.caCert),
        alertFrom: "banter@example.org",
        alertTo: "admin@example.org",
      },
    });
    await using client = await s.client();
    equal((await client.login("alice", wrong)).type, "auth_failed");
    for (let i = 0; i < 2; i++) {
      await client.until((f) => f.type === "auth");
      await client.send({ type: "login", username: "alice", password: wrong });
      await client.until((f) => f.type === "auth_failed");
    }
    const mail = await sink.next();
    deepEqual(mail.to, ["admin@example.org"]);
    equal(mail.secure, true);
    match(mail.text, /locked the account "alice"/);
    match(mail.text, /^Source address: 127\.0\.0\.1$/m);
    for (const secret of [wrong, passwordOf("alice")]) {
      ok(!mail.raw.includes(secret) && !mail.text.includes(secret), "no password in the mail");
    }
    const text = logText(records);
    match(text, /Locked \{scope\} after failed logins/);
    ok(!text.includes(wrong), "no password in the logs");
    equal(sink.received.length, 1, "one alert for one lockout");
  });
});

/** Lock `user` by three wrong passwords on one connection. */
async function lockOut(s: TestServer, user: string): Promise<void> {
  await using client = await s.client();
  equal((await client.login(user, "a wrong guess")).type, "auth_failed");
  for (let i = 1; i < 3; i++) {
    await client.until((f) => f.type === "auth");
    await client.send({ type: "login", username: user, password: "a wrong guess" });
    await client.until((f) => f.type === "auth_failed");
  }
}

/** Alice says something and Bob hears it. */
async function chatStillWorks(s: TestServer, text: string): Promise<void> {
  await using alice = await s.login("alice");
  await using bob = await s.login("bob");
  await alice.send({ type: "say", text });
  await bob.until(messageWith(text));
}

const ALERT_ADDRESSES = { alertFrom: "banter@example.org", alertTo: "admin@example.org" };

Deno.test("a dead mail server changes nothing for users: the alert failure is only logged", async () => {
  await withLogs(async (logs) => {
    await using s = await startTestServer({
      users: ["alice", "bob", "mallory"],
      config: {
        smtpHost: "127.0.0.1",
        smtpPort: closedPort(),
        smtpSecurity: "none",
        ...ALERT_ADDRESSES,
      },
    });
    await lockOut(s, "mallory");
    const failure = await logs.waitFor((r) =>
      r.category.join(".") === "banter.alert" && r.level === "error"
    );
    match(String(failure.rawMessage), /Cannot send lockout alert/);
    await chatStillWorks(s, "still chatting");
    await within(s.stop(), 5000, "shutdown");
  });
});

Deno.test("a mail server that never answers holds up neither logins, chat nor shutdown", async () => {
  await withLogs(async (logs) => {
    await using silent = silentServer();
    await using s = await startTestServer({
      users: ["alice", "bob", "mallory"],
      config: {
        smtpHost: "127.0.0.1",
        smtpPort: silent.port,
        smtpSecurity: "none",
        smtpTimeoutMs: 600_000,
        ...ALERT_ADDRESSES,
      },
    });
    await lockOut(s, "mallory");
    await silent.accepted; // the alert is now stuck waiting for a greeting
    await chatStillWorks(s, "not waiting for mail");
    await within(s.stop(), 5000, "shutdown with an alert in flight");
    ok(logs.records.some((r) => r.category.join(".") === "banter.alert" && r.level === "error"));
  });
});
