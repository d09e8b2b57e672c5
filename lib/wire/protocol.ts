/**
 * The only place wire names live. Frames are JSON objects with a `type`;
 * {@linkcode parseClientFrame} and {@linkcode parseServerFrame} turn untrusted
 * lines into typed values (never a cast), the `encode*` functions turn typed
 * values into bytes. See docs/PROTOCOL.md.
 *
 * @module
 */
import {
  type ChatEvent,
  CLOSE_CODES,
  type RoomEntered,
  type RoomMessage,
} from "../chat/message.ts";
import { isRecord } from "../util/is_record.ts";
import { PeerError } from "./peer_error.ts";

/** Protocol version spoken by this build. */
export const PROTOCOL_VERSION = 1;

/** Longest string field accepted from a peer (characters). */
const MAX_FIELD_CHARS = 16 * 1024;

// ---------------------------------------------------------------- client -> server

/** First frame from a client. */
export interface ClientHello {
  type: "hello";
  version: number;
  client?: string;
}
/** Credentials, answering `auth`. */
export interface LoginFrame {
  type: "login";
  username: string;
  password: string;
  /** Ask for a session token in `welcome.token` (additive, for the web client). */
  want_token?: boolean;
}
/** Log in again with a session token instead of the password (additive). */
export interface TokenLoginFrame {
  type: "login";
  username: string;
  token: string;
}
/** End the session and revoke the token it logged in with or was given (additive). */
export interface LogoutFrame {
  type: "logout";
}
/** A line the user typed: chat text, a `/command`, `end` or `get_joke`. */
export interface SayFrame {
  type: "say";
  text: string;
}
/** Liveness probe; the peer answers `pong` with the same id. */
export interface PingFrame {
  type: "ping";
  id: number;
}
/** Answer to `ping`. */
export interface PongFrame {
  type: "pong";
  id: number;
}

/** Every frame a client may send. */
export type ClientFrame =
  | ClientHello
  | LoginFrame
  | TokenLoginFrame
  | LogoutFrame
  | SayFrame
  | PingFrame
  | PongFrame;

// ---------------------------------------------------------------- server -> client

/** First frame from the server. */
export interface ServerHello {
  type: "hello";
  version: number;
  server: string;
}
/** The server wants a username and password. */
export interface AuthFrame {
  type: "auth";
  attempts_left: number;
}
/** A login attempt failed. */
export interface AuthFailedFrame {
  type: "auth_failed";
  /** `token_invalid`: a session token was unknown, expired or revoked; it
   * costs none of the attempts. */
  reason: "invalid" | "locked" | "token_invalid";
  attempts_left: number;
  /** Present when `reason` is `locked`. */
  retry_after_ms?: number;
  message: string;
}
/** Login succeeded. */
export interface WelcomeFrame {
  type: "welcome";
  user: string;
  role: string;
  /** A session token, when the login asked for one (`want_token`). */
  token?: string;
}
/** The peer sent something wrong; `fatal` frames are followed by `bye`. */
export interface ErrorFrame {
  type: "error";
  code: string;
  message: string;
}
/**
 * Every `bye` code: the chat domain's close codes plus the session's own
 * (login refused or locked out, login timeout, protocol error, server busy).
 */
export const BYE_CODES = [
  ...CLOSE_CODES, // includes "denied"
  "locked",
  "timeout",
  "protocol_error",
  "busy",
] as const;

/** Why a connection is about to close: one of {@linkcode BYE_CODES}. */
export type ByeCode = typeof BYE_CODES[number];
/** The server closes the connection after this frame. */
export interface ByeFrame {
  type: "bye";
  code: ByeCode;
  message: string;
}
/** A chat event, see {@linkcode ChatEvent}; wire names are snake_case. */
export type EventFrame =
  | { type: "message" } & Omit<RoomMessage, "kind">
  | {
    type: "dm";
    id: number;
    from: string;
    to: string;
    text: string;
    ts: number;
  }
  | {
    type: "join" | "leave";
    room: string;
    user: string;
    ts: number;
    reason?: string;
  }
  | {
    type: "notice";
    level: "info" | "warn" | "error";
    text: string;
    ts: number;
  }
  | {
    type: "room";
    room: string;
    members: string[];
    history: Array<{ type: "message" } & Omit<RoomMessage, "kind">>;
    retention_days: number;
  };

/** Every frame a server may send. */
export type ServerFrame =
  | ServerHello
  | AuthFrame
  | AuthFailedFrame
  | WelcomeFrame
  | ErrorFrame
  | ByeFrame
  | EventFrame
  | PingFrame
  | PongFrame;

// ---------------------------------------------------------------- errors

/** Why a frame was refused. Sent to the peer as `error.code`. */
export type ProtocolErrorCode =
  | "invalid_json"
  | "not_object"
  | "unknown_type"
  | "invalid_field"
  | "unexpected";

/** A line that is not a valid frame of this protocol. */
export class ProtocolError extends PeerError<ProtocolErrorCode> {
  /**
   * @param code What was wrong.
   * @param message Human-readable text, safe to send to the peer.
   * @param options The underlying error, if any.
   */
  constructor(code: ProtocolErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = "ProtocolError";
  }
}

// ---------------------------------------------------------------- parsing

type Fields = Record<string, unknown>;

function parseObject(line: string): Fields {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (cause) {
    throw new ProtocolError("invalid_json", "Frame is not valid JSON", { cause });
  }
  if (!isRecord(value)) {
    throw new ProtocolError("not_object", "Frame is not a JSON object");
  }
  return value;
}

function str(o: Fields, key: string, max = MAX_FIELD_CHARS): string {
  const v = o[key];
  if (typeof v !== "string") {
    throw new ProtocolError("invalid_field", `Field "${key}" must be a string`);
  }
  if (v.length > max) {
    throw new ProtocolError("invalid_field", `Field "${key}" is too long`);
  }
  return v;
}

function optStr(o: Fields, key: string): string | undefined {
  return o[key] === undefined ? undefined : str(o, key);
}

function int(o: Fields, key: string): number {
  const v = o[key];
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw new ProtocolError(
      "invalid_field",
      `Field "${key}" must be a non-negative integer`,
    );
  }
  return v;
}

function optBool(o: Fields, key: string): boolean | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== "boolean") {
    throw new ProtocolError(
      "invalid_field",
      `Field "${key}" must be a boolean`,
    );
  }
  return v;
}

function oneOf<T extends string>(
  o: Fields,
  key: string,
  values: readonly T[],
): T {
  const v = str(o, key);
  const found = values.find((x) => x === v);
  if (found === undefined) {
    throw new ProtocolError(
      "invalid_field",
      `Field "${key}" has an unknown value`,
    );
  }
  return found;
}

function typeOf(o: Fields): string {
  const t = o["type"];
  if (typeof t !== "string") {
    throw new ProtocolError("invalid_field", 'Field "type" must be a string');
  }
  return t;
}

function unknownType(t: string): ProtocolError {
  return new ProtocolError(
    "unknown_type",
    `Unknown frame type ${JSON.stringify(t.slice(0, 40))}`,
  );
}

/**
 * Parse one line from a client.
 *
 * @param line One frame, newline removed.
 * @returns The typed frame.
 * @throws {ProtocolError} When the line is not a valid client frame.
 *
 * @example
 * ```ts
 * import { deepEqual as assertEquals } from "node:assert/strict";
 * import { parseClientFrame } from "./protocol.ts";
 * assertEquals(parseClientFrame('{"type":"say","text":"hi"}'), { type: "say", text: "hi" });
 * ```
 */
export function parseClientFrame(line: string): ClientFrame {
  const o = parseObject(line);
  const t = typeOf(o);
  switch (t) {
    case "hello": {
      const client = optStr(o, "client");
      return client === undefined
        ? { type: t, version: int(o, "version") }
        : { type: t, version: int(o, "version"), client };
    }
    case "login": {
      if (o["token"] !== undefined) {
        return { type: t, username: str(o, "username", 256), token: str(o, "token", 256) };
      }
      const wantToken = optBool(o, "want_token");
      return {
        type: t,
        username: str(o, "username", 256),
        // 1,024 code points may take 2,048 UTF-16 units.
        password: str(o, "password", 2048),
        ...(wantToken === undefined ? {} : { want_token: wantToken }),
      };
    }
    case "logout":
      return { type: t };
    case "say":
      return { type: t, text: str(o, "text") };
    case "ping":
    case "pong":
      return { type: t, id: int(o, "id") };
    default:
      throw unknownType(t);
  }
}

function messageFields(o: Fields): Omit<RoomMessage, "kind"> {
  const action = optBool(o, "action");
  const bot = optBool(o, "bot");
  return {
    id: int(o, "id"),
    room: str(o, "room"),
    from: str(o, "from"),
    text: str(o, "text"),
    ts: int(o, "ts"),
    ...(action === undefined ? {} : { action }),
    ...(bot === undefined ? {} : { bot }),
  };
}

function array(o: Fields, key: string): unknown[] {
  const v = o[key];
  if (!Array.isArray(v)) {
    throw new ProtocolError("invalid_field", `Field "${key}" must be an array`);
  }
  return v;
}

function object(v: unknown, key: string): Fields {
  if (!isRecord(v)) {
    throw new ProtocolError(
      "invalid_field",
      `Field "${key}" must hold objects`,
    );
  }
  return v;
}

/**
 * Parse one line from a server (the client treats the server as untrusted
 * input too).
 *
 * @param line One frame, newline removed.
 * @returns The typed frame.
 * @throws {ProtocolError} When the line is not a valid server frame.
 */
export function parseServerFrame(line: string): ServerFrame {
  const o = parseObject(line);
  const t = typeOf(o);
  switch (t) {
    case "hello":
      return { type: t, version: int(o, "version"), server: str(o, "server") };
    case "auth":
      return { type: t, attempts_left: int(o, "attempts_left") };
    case "auth_failed": {
      const retry = o["retry_after_ms"] === undefined
        ? {}
        : { retry_after_ms: int(o, "retry_after_ms") };
      return {
        type: t,
        reason: oneOf(o, "reason", ["invalid", "locked", "token_invalid"] as const),
        attempts_left: int(o, "attempts_left"),
        message: str(o, "message"),
        ...retry,
      };
    }
    case "welcome": {
      const token = optStr(o, "token");
      return {
        type: t,
        user: str(o, "user"),
        role: str(o, "role"),
        ...(token === undefined ? {} : { token }),
      };
    }
    case "error":
      return { type: t, code: str(o, "code"), message: str(o, "message") };
    case "bye":
      return {
        type: t,
        code: oneOf(o, "code", BYE_CODES),
        message: str(o, "message"),
      };
    case "message":
      return { type: t, ...messageFields(o) };
    case "dm":
      return {
        type: t,
        id: int(o, "id"),
        from: str(o, "from"),
        to: str(o, "to"),
        text: str(o, "text"),
        ts: int(o, "ts"),
      };
    case "join":
    case "leave": {
      const reason = optStr(o, "reason");
      return {
        type: t,
        room: str(o, "room"),
        user: str(o, "user"),
        ts: int(o, "ts"),
        ...(reason === undefined ? {} : { reason }),
      };
    }
    case "notice":
      return {
        type: t,
        level: oneOf(o, "level", ["info", "warn", "error"] as const),
        text: str(o, "text"),
        ts: int(o, "ts"),
      };
    case "room":
      return {
        type: t,
        room: str(o, "room"),
        members: array(o, "members").map((m) => {
          if (typeof m !== "string") {
            throw new ProtocolError(
              "invalid_field",
              'Field "members" must hold strings',
            );
          }
          return m;
        }),
        history: array(o, "history").map((m) => ({
          type: "message" as const,
          ...messageFields(object(m, "history")),
        })),
        retention_days: int(o, "retention_days"),
      };
    case "ping":
    case "pong":
      return { type: t, id: int(o, "id") };
    default:
      throw unknownType(t);
  }
}

/**
 * Turn a server frame back into the chat event it carries, for clients.
 *
 * @param frame A frame from {@linkcode parseServerFrame}.
 * @returns The event, or undefined for frames that are not chat events.
 */
export function eventOf(frame: ServerFrame): ChatEvent | undefined {
  switch (frame.type) {
    case "message": {
      const { type: _, ...rest } = frame;
      return { kind: "message", ...rest };
    }
    case "dm":
    case "join":
    case "leave":
    case "notice": {
      const { type, ...rest } = frame;
      return { kind: type, ...rest } as ChatEvent;
    }
    case "room":
      return {
        kind: "room",
        room: frame.room,
        members: frame.members,
        history: frame.history.map(({ type: _, ...rest }) => ({
          kind: "message" as const,
          ...rest,
        })),
        retentionDays: frame.retention_days,
      };
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------- encoding

const encoder = new TextEncoder();

/**
 * Encode any frame as one line of bytes.
 *
 * @param frame The frame.
 * @returns UTF-8 JSON plus `\n`.
 */
export function encodeFrame(frame: ClientFrame | ServerFrame): Uint8Array {
  // JSON.stringify escapes control characters, so no raw newline can appear.
  return encoder.encode(JSON.stringify(frame) + "\n");
}

function wireMessage(m: RoomMessage) {
  const { kind: _, ...rest } = m;
  return { type: "message" as const, ...rest };
}

/**
 * The wire frame for a chat event.
 *
 * @param event A domain event.
 * @returns The frame.
 */
export function frameOf(event: ChatEvent): EventFrame {
  switch (event.kind) {
    case "message":
      return wireMessage(event);
    case "room":
      return {
        type: "room",
        room: event.room,
        members: [...event.members],
        history: event.history.map(wireMessage),
        retention_days: event.retentionDays,
      };
    default: {
      const { kind, ...rest } = event;
      return { type: kind, ...rest } as EventFrame;
    }
  }
}

/**
 * Encode a `room` event within `maxBytes`, dropping its oldest history
 * messages as needed: a history of huge messages must not make the room
 * impossible to enter.
 *
 * @param event The member's room event (never shared between members).
 * @param maxBytes The largest frame wanted.
 * @returns The frame's bytes; over `maxBytes` only when even no history is.
 */
export function encodeRoomEvent(event: RoomEntered, maxBytes: number): Uint8Array {
  let history = event.history;
  for (;;) {
    const bytes = encodeFrame(frameOf(history === event.history ? event : { ...event, history }));
    if (bytes.length <= maxBytes || history.length === 0) return bytes;
    history = history.slice(Math.max(1, Math.ceil(history.length / 4)));
  }
}

const encodedEvents = new WeakMap<ChatEvent, Uint8Array>();

/**
 * Encode a chat event once, however many receivers it has: the bytes are
 * cached on the event object, which the hub shares between receivers.
 *
 * @param event A domain event.
 * @returns The frame's bytes; do not mutate them.
 */
export function encodeEvent(event: ChatEvent): Uint8Array {
  let bytes = encodedEvents.get(event);
  if (bytes === undefined) {
    bytes = encodeFrame(frameOf(event));
    encodedEvents.set(event, bytes);
  }
  return bytes;
}
