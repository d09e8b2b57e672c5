import { deepEqual, equal } from "node:assert/strict";
import { Hub } from "../../lib/chat/hub.ts";
import type { Connection } from "../../lib/net/connection.ts";
import {
  type LoginResult,
  Session,
  type SessionAuth,
  type SessionTokenStore,
} from "../../lib/server/session.ts";
import type { ServerFrame } from "../../lib/wire/protocol.ts";
import { FakeClock } from "../_fake_clock.ts";

const encoder = new TextEncoder();
const ALICE = { name: "alice", role: "user" as const, id: "A".repeat(22) };

/** A connection fed `lines`, recording what the session writes. */
function memoryConnection(lines: string[]) {
  const pending = [encoder.encode(lines.map((l) => l + "\n").join(""))];
  let open = true;
  let wake: (() => void) | undefined;
  const written: string[] = [];
  const conn: Connection = {
    peer: { address: "192.0.2.1", port: 1 },
    source: {
      async read() {
        for (;;) {
          const chunk = pending.shift();
          if (chunk) return chunk;
          if (!open) return undefined;
          await new Promise<void>((resolve) => wake = resolve);
        }
      },
      cancel() {
        open = false;
        wake?.();
        return Promise.resolve();
      },
    },
    sink: {
      write(bytes) {
        written.push(new TextDecoder().decode(bytes));
        return undefined;
      },
      close: () => Promise.resolve(),
    },
    close() {
      open = false;
      wake?.();
    },
  };
  const frames = () =>
    written.join("").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as ServerFrame);
  return { conn, frames };
}

const LOGIN = [
  JSON.stringify({ type: "hello", version: 2 }),
  JSON.stringify({ type: "login", username: "alice", password: "pw", want_token: true }),
];

function startSession(
  auth: SessionAuth,
  options: { tokens?: SessionTokenStore; banned?: boolean } = {},
) {
  const clock = new FakeClock(0);
  const hub = new Hub({ clock });
  const { conn, frames } = memoryConnection(LOGIN);
  const session = new Session(conn, {
    hub: { enter: (m) => hub.enter(m), isBanned: () => options.banned === true },
    auth,
    clock,
    serverName: "test",
    requirePassword: false,
    ...(options.tokens ? { tokens: options.tokens } : {}),
    limits: { maxFrameBytes: 65536, outboxBytes: 1 << 20, loginTimeoutMs: 30_000 },
  });
  return { clock, hub, frames, ran: session.run() };
}

function slowAuth() {
  const result = Promise.withResolvers<LoginResult>();
  const asked = Promise.withResolvers<void>();
  const auth: SessionAuth = {
    login() {
      asked.resolve();
      return result.promise;
    },
    loginWithCertificate: () => Promise.resolve({ ok: false, reason: "invalid" }),
    current: (user) => user,
  };
  return { auth, result, asked: asked.promise };
}

/** Lets every queued microtask run (the session's work here awaits no I/O). */
async function drainMicrotasks(): Promise<void> {
  for (let i = 0; i < 200; i++) await Promise.resolve();
}

const fastAuth: SessionAuth = {
  login: () => Promise.resolve({ ok: true, user: ALICE }),
  loginWithCertificate: () => Promise.resolve({ ok: false, reason: "invalid" }),
  current: (user) => user,
};

Deno.test("a password check that ends after the login timeout never enters the chat", async () => {
  const slow = slowAuth();
  const { clock, hub, frames, ran } = startSession(slow.auth);
  await slow.asked; // the password is being checked (scrypt, the login queue)
  clock.advance(30_000); // the login timer fires meanwhile
  await ran;
  slow.result.resolve({ ok: true, user: ALICE });
  await drainMicrotasks();
  deepEqual(hub.members().map((m) => m.name), []);
  equal(frames().some((f) => f.type === "welcome"), false);
  deepEqual(frames().at(-1), {
    type: "bye",
    code: "timeout",
    message: "Login did not finish in time",
  });
});

Deno.test("a token write that ends after the login timeout never enters the chat", async () => {
  const written = Promise.withResolvers<string>();
  const asked = Promise.withResolvers<void>();
  const tokens: SessionTokenStore = {
    issue() {
      asked.resolve();
      return written.promise;
    },
    check: () => Promise.resolve(undefined),
    revoke: () => Promise.resolve(),
  };
  const { clock, hub, frames, ran } = startSession(fastAuth, { tokens });
  await asked.promise;
  clock.advance(30_000);
  await ran;
  written.resolve("t".repeat(43));
  await drainMicrotasks();
  deepEqual(hub.members().map((m) => m.name), []);
  equal(frames().some((f) => f.type === "welcome"), false);
});

Deno.test("a token store that cannot write still lets the login in, without a token", async () => {
  const tokens: SessionTokenStore = {
    issue: () => Promise.reject(new Error("No space left on device (os error 28)")),
    check: () => Promise.resolve(undefined),
    revoke: () => Promise.resolve(),
  };
  const { hub, frames, ran } = startSession(fastAuth, { tokens });
  await drainMicrotasks();
  const welcome = frames().find((f) => f.type === "welcome");
  equal(welcome?.type, "welcome");
  equal(welcome !== undefined && "token" in welcome, false);
  deepEqual(hub.members().map((m) => m.name), ["alice"]);
  hub.shutdown("bye");
  await ran;
});

Deno.test("a banned user asking for a token is refused before any token is stored", async () => {
  let issued = 0;
  const tokens: SessionTokenStore = {
    issue: () => Promise.resolve(`${++issued}`.repeat(43)),
    check: () => Promise.resolve(undefined),
    revoke: () => Promise.resolve(),
  };
  const { frames, ran } = startSession(fastAuth, { tokens, banned: true });
  await ran;
  equal(issued, 0);
  equal(frames().at(-1)?.type === "bye" && (frames().at(-1) as { code: string }).code, "banned");
});
