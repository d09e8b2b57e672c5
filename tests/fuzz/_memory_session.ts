/**
 * A {@linkcode Session} on an in-memory connection, with a stub or a real hub and a
 * stub authenticator: fast enough to run thousands of whole sessions per
 * test. The peer's bytes are all queued up front; the run ends when the
 * session closes its connection.
 *
 * @module
 */
import { validateUserName } from "../../lib/auth/user_name.ts";
import { concatBytes } from "../../lib/util/bytes.ts";
import { Hub } from "../../lib/chat/hub.ts";
import type { Member } from "../../lib/chat/message.ts";
import { parseServerFrame, type ServerFrame } from "../../lib/wire/protocol.ts";
import {
  type LoginResult,
  Session,
  type SessionAuth,
  type SessionHub,
} from "../../lib/server/session.ts";
import type { Connection } from "../../lib/net/connection.ts";
import { within } from "../_helpers.ts";
import { FakeClock } from "../_fake_clock.ts";

/** The only password the stub authenticator accepts. */
export const RIGHT_PASSWORD = "right password";

/**
 * Whether the stub authenticator lets `username` in: any valid account name
 * (as the real store only holds those) with {@linkcode RIGHT_PASSWORD}.
 */
export function stubAccepts(username: string, password: string): boolean {
  return validateUserName(username) === undefined && password === RIGHT_PASSWORD;
}

/** Logs in whoever {@linkcode stubAccepts}; names starting with `admin` get
 * role admin. Never locks. */
export const stubAuth: SessionAuth = {
  login({ username, password }): Promise<LoginResult> {
    return Promise.resolve(
      stubAccepts(username, password)
        ? {
          ok: true,
          user: { name: username, role: username.startsWith("admin") ? "admin" : "user" },
        }
        : { ok: false, reason: "invalid" },
    );
  },
  loginWithCertificate(): Promise<LoginResult> {
    return Promise.resolve({ ok: false, reason: "invalid" });
  },
  current: (user) => user,
};

/**
 * A hub that echoes each `say` back to its sender as a room message and
 * closes the member with code `end` when the text is exactly `end`, as the
 * real hub does (synchronously, inside `input`).
 */
export function echoHub(): SessionHub {
  let id = 0;
  return {
    isBanned: () => false,
    enter(member: Member) {
      return {
        request(request) {
          if (request.kind === "say") this.input(request.text);
          return { ok: true };
        },
        input(text: string) {
          if (text === "end") {
            member.close({ code: "end", message: `Goodbye, ${member.name}` });
            return;
          }
          member.deliver({
            kind: "message",
            id: ++id,
            room: "lobby",
            from: member.name,
            text,
            ts: 0,
          });
        },
        leave() {},
      };
    },
  };
}

/** A real hub with in-memory history and a clock that never moves. */
export function realHub(): Hub {
  return new Hub({ clock: { now: () => 0 } });
}

/** What the session sent, and how the run ended. */
export interface SessionRun {
  /** Every frame the session wrote, in order. */
  frames: ServerFrame[];
  /** Bytes the session wrote. */
  bytesOut: number;
  /** Lines that did not parse as server frames (should be none). */
  unparsable: string[];
}

/** Options for {@linkcode runSession}. */
export interface RunSessionOptions {
  hub?: SessionHub;
  auth?: SessionAuth;
  /** The frame size cap. @default 256 */
  maxFrameBytes?: number;
  /** Outbox bound. @default 64 KiB */
  outboxBytes?: number;
  /** Bound on the whole run. @default 5000 */
  ms?: number;
}

/**
 * Run one session over an in-memory connection, feeding it `chunks` (all queued
 * before it starts, read at its own pace), until it closes the connection.
 *
 * @param chunks What the peer sends, one element per write.
 * @param options Hub, auth and limits.
 * @returns The frames the session sent.
 * @throws {Error} When the session does not end within `ms`.
 */
export async function runSession(
  chunks: readonly Uint8Array[],
  options: RunSessionOptions = {},
): Promise<SessionRun> {
  // The peer's chunks wait here; once the session closes the connection,
  // what is left is still read, then the input ends.
  const pending = [...chunks];
  let inputOpen = true;
  let wake: (() => void) | undefined;
  const close = () => {
    inputOpen = false;
    wake?.();
  };
  const written: Uint8Array[] = [];
  const conn: Connection = {
    peer: { address: "192.0.2.1", port: 40000 },
    source: {
      async read() {
        for (;;) {
          const chunk = pending.shift();
          if (chunk !== undefined) return chunk;
          if (!inputOpen) return undefined;
          await new Promise<void>((resolve) => wake = resolve);
        }
      },
      cancel() {
        pending.length = 0;
        close();
        return Promise.resolve();
      },
    },
    sink: {
      write(bytes) {
        written.push(bytes.slice());
        return undefined;
      },
      close: () => Promise.resolve(),
    },
    close,
  };
  const session = new Session(conn, {
    hub: options.hub ?? echoHub(),
    auth: options.auth ?? stubAuth,
    clock: new FakeClock(0),
    serverName: "banter/fuzz",
    requirePassword: false,
    limits: {
      maxFrameBytes: options.maxFrameBytes ?? 256,
      outboxBytes: options.outboxBytes ?? 64 * 1024,
      loginTimeoutMs: 60_000,
    },
  });
  await within(session.run(), options.ms ?? 5000, "the session to end");
  const bytes = concatBytes(written);
  const text = new TextDecoder().decode(bytes);
  const lines = text.split("\n");
  const tail = lines.pop();
  const frames: ServerFrame[] = [];
  const unparsable: string[] = tail === "" ? [] : [`(unterminated) ${tail}`];
  for (const line of lines) {
    try {
      frames.push(parseServerFrame(line));
    } catch {
      unparsable.push(line);
    }
  }
  return { frames, bytesOut: bytes.length, unparsable };
}

/** Frames as short strings, e.g. `auth:3`, `error:invalid_json`, `bye:end`. */
export function signature(frame: ServerFrame): string {
  switch (frame.type) {
    case "auth":
      return `auth:${frame.attempts_left}`;
    case "auth_failed":
      return `auth_failed:${frame.reason}:${frame.attempts_left}`;
    case "error":
    case "bye":
      return `${frame.type}:${frame.code}`;
    case "ping":
    case "pong":
      return `${frame.type}:${frame.id}`;
    case "message":
      return `message:${frame.text}`;
    default:
      return frame.type;
  }
}
