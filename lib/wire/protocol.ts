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
  type DirectMessage,
  type RequestRef,
  type RoomEntered,
  type RoomMessage,
} from "../chat/message.ts";
import { isRecord } from "../util/is_record.ts";
import { PeerError } from "./peer_error.ts";

/**
 * Newest protocol version spoken by this build. A session speaks the
 * client's version if lower (see {@linkcode negotiateVersion}).
 */
export const PROTOCOL_VERSION = 2;

/**
 * The version the server's `hello` names: 1, so that clients of version 1,
 * which accept only their own version, keep working; `versions` lists all.
 */
export const HELLO_VERSION = 1;

/** Every version this build speaks. */
export const PROTOCOL_VERSIONS = [1, 2] as const;

/** Longest request `id` string (characters). */
export const MAX_REQUEST_ID_CHARS = 64;

/** Most rooms in a `hello`'s `resume`. */
export const MAX_RESUME_ROOMS = 1000;

/**
 * The version a session speaks with a client that says `version`.
 *
 * @param version The client's `hello.version`.
 * @returns `min(version, PROTOCOL_VERSION)`.
 * @throws {ProtocolError} When `version` is 0 (no such version).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { negotiateVersion } from "./protocol.ts";
 * equal(negotiateVersion(1), 1);
 * equal(negotiateVersion(7), 2);
 * ```
 */
export function negotiateVersion(version: number): 1 | 2 {
  if (version < 1) {
    throw new ProtocolError(
      "unexpected",
      `Unsupported protocol version ${version}; this server speaks 1 to ${PROTOCOL_VERSION}`,
    );
  }
  return version >= 2 ? 2 : 1;
}

/** Longest string field accepted from a peer (characters). */
const MAX_FIELD_CHARS = 16 * 1024;

// ---------------------------------------------------------------- client -> server

/** First frame from a client. */
export interface ClientHello {
  type: "hello";
  version: number;
  client?: string;
  /** Version 2: per room, the newest message id the client has. */
  resume?: Record<string, number>;
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
  /** Version 2: the room it is said in (default: the current room). */
  room?: string;
  /** Version 2: the request's id, echoed on its answers. */
  id?: RequestRef;
}

/** Version 2 requests; each may carry an `id` echoed on its answers. */
export type RequestFrame =
  & { id?: RequestRef }
  & (
    | { type: "join" | "part"; room: string }
    | { type: "dm"; to: string; text: string }
    | { type: "topic"; room: string; text: string }
    | { type: "away"; text?: string }
    | { type: "history"; room?: string; with?: string; before?: number; limit?: number }
    | { type: "read"; room?: string; with?: string; last_read: number }
  );
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
  | RequestFrame
  | PingFrame
  | PongFrame;

// ---------------------------------------------------------------- server -> client

/** First frame from the server. */
export interface ServerHello {
  type: "hello";
  version: number;
  server: string;
  /** Every version the server speaks. */
  versions?: number[];
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
  /** Version 2: the version the session speaks. */
  version?: number;
  /** Version 2: what the server allows. */
  limits?: WireLimits;
  /** A session token, when the login asked for one (`want_token`). */
  token?: string;
}

/** The server's limits, in `welcome` (version 2). */
export interface WireLimits {
  message_chars: number;
  message_lines: number;
  rate: { burst: number; per_second: number };
  history_limit: number;
  max_sessions: number;
  retention_days: number;
}
/** The peer sent something wrong; `fatal` frames are followed by `bye`. */
export interface ErrorFrame {
  type: "error";
  code: string;
  message: string;
  /** Version 2: the refused request's id; such an error is not fatal. */
  id?: RequestRef;
  /** `rate_limited`: when a request would pass again. */
  retry_after_ms?: number;
}

/** Version 2: a request with an `id` was done. */
export interface AckFrame {
  type: "ack";
  id: RequestRef;
  /** The id of the message it posted. */
  message_id?: number;
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
type WireMessage = { type: "message" } & Omit<RoomMessage, "kind">;
type WireDm = { type: "dm" } & Omit<DirectMessage, "kind">;
type Where = { room: string; with?: undefined } | { with: string; room?: undefined };

/** A chat event, see {@linkcode ChatEvent}; wire names are snake_case. */
export type EventFrame =
  | WireMessage
  | WireDm
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
    id?: RequestRef;
  }
  | {
    type: "room";
    room: string;
    members: string[];
    history: WireMessage[];
    retention_days: number;
    topic?: string;
    truncated?: boolean;
    last_read?: number;
    unread?: number;
    unread_capped?: boolean;
    mentioned?: boolean;
    id?: RequestRef;
  }
  | { type: "part"; room: string; user: string; ts: number }
  | { type: "presence"; user: string; online: boolean; away?: string; ts: number }
  | { type: "topic"; room: string; text: string; by: string; ts: number }
  | { type: "read"; last_read: number } & Where
  | {
    type: "who";
    room: string;
    users: { name: string; role: string; away?: string }[];
    id?: RequestRef;
  }
  | {
    type: "rooms";
    rooms: { name: string; topic: string; members: number }[];
    /** Rooms not listed. */
    more?: number;
    id?: RequestRef;
  }
  | {
    type: "help";
    commands: { name: string; usage: string; summary: string }[];
    id?: RequestRef;
  }
  | {
    type: "history";
    messages: (WireMessage | WireDm)[];
    truncated: boolean;
    id?: RequestRef;
  } & Where
  | {
    type: "conversations";
    conversations: {
      with: string;
      last_id: number;
      last_read: number;
      unread: number;
      unread_capped: boolean;
    }[];
  }
  | { type: "ready" };

/** Every frame a server may send. */
export type ServerFrame =
  | ServerHello
  | AuthFrame
  | AuthFailedFrame
  | WelcomeFrame
  | ErrorFrame
  | AckFrame
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
  | "unexpected"
  | "refused"
  | "rate_limited";

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

function optInt(o: Fields, key: string): number | undefined {
  return o[key] === undefined ? undefined : int(o, key);
}

/** A request's `id`: a string of at most 64 characters or a safe integer. */
function requestRef(o: Fields): { id?: RequestRef } {
  const v = o["id"];
  if (v === undefined) return {};
  if (typeof v === "string" && v.length <= MAX_REQUEST_ID_CHARS) return { id: v };
  if (typeof v === "number" && Number.isSafeInteger(v)) return { id: v };
  throw new ProtocolError(
    "invalid_field",
    `Field "id" must be a string of at most ${MAX_REQUEST_ID_CHARS} characters or an integer`,
  );
}

/** `room` or `with`, exactly one. */
function where(o: Fields): { room: string } | { with: string } {
  const room = optStr(o, "room");
  const other = optStr(o, "with");
  if ((room === undefined) === (other === undefined)) {
    throw new ProtocolError("invalid_field", 'Give exactly one of "room" and "with"');
  }
  return room !== undefined ? { room } : { with: other! };
}

function resumeOf(o: Fields): { resume?: Record<string, number> } {
  const v = o["resume"];
  if (v === undefined) return {};
  if (!isRecord(v)) throw new ProtocolError("invalid_field", 'Field "resume" must be an object');
  const entries = Object.entries(v);
  if (entries.length > MAX_RESUME_ROOMS) {
    throw new ProtocolError("invalid_field", `Field "resume" names over ${MAX_RESUME_ROOMS} rooms`);
  }
  const resume: Record<string, number> = Object.create(null);
  for (const [room, id] of entries) {
    if (room.length > 64 || typeof id !== "number" || !Number.isSafeInteger(id) || id < 0) {
      throw new ProtocolError(
        "invalid_field",
        'Field "resume" must map room names to non-negative integers',
      );
    }
    resume[room] = id;
  }
  return { resume };
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
 * @param version The version the session speaks: version 1 knows only
 *   `hello`, `login`, `say` (its `text`), `ping` and `pong`. @default 1
 * @returns The typed frame.
 * @throws {ProtocolError} When the line is not a valid client frame.
 *
 * @example
 * ```ts
 * import { deepEqual as assertEquals } from "node:assert/strict";
 * import { parseClientFrame } from "./protocol.ts";
 * assertEquals(parseClientFrame('{"type":"say","text":"hi"}'), { type: "say", text: "hi" });
 * assertEquals(parseClientFrame('{"type":"join","room":"dev","id":7}', 2), {
 *   type: "join", room: "dev", id: 7,
 * });
 * ```
 */
export function parseClientFrame(line: string, version = 1): ClientFrame {
  const o = parseObject(line);
  const t = typeOf(o);
  if (version >= 2) {
    const frame = parseRequest(o, t);
    if (frame !== undefined) return frame;
  }
  switch (t) {
    case "hello": {
      const client = optStr(o, "client");
      const hello: ClientHello = { type: t, version: int(o, "version") };
      if (client !== undefined) hello.client = client;
      if (hello.version >= 2) Object.assign(hello, resumeOf(o));
      return hello;
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

/** The frames only version 2 knows, and its form of `say`. */
function parseRequest(o: Fields, t: string): ClientFrame | undefined {
  const id = requestRef(o);
  switch (t) {
    case "say": {
      const room = optStr(o, "room");
      return { type: t, text: str(o, "text"), ...(room === undefined ? {} : { room }), ...id };
    }
    case "join":
    case "part":
      return { type: t, room: str(o, "room", 64), ...id };
    case "dm":
      return { type: t, to: str(o, "to", 256), text: str(o, "text"), ...id };
    case "topic":
      return { type: t, room: str(o, "room", 64), text: str(o, "text"), ...id };
    case "away": {
      const text = optStr(o, "text");
      return { type: t, ...(text === undefined ? {} : { text }), ...id };
    }
    case "history": {
      const before = optInt(o, "before");
      const limit = optInt(o, "limit");
      return {
        type: t,
        ...where(o),
        ...(before === undefined ? {} : { before }),
        ...(limit === undefined ? {} : { limit }),
        ...id,
      };
    }
    case "read":
      return { type: t, ...where(o), last_read: int(o, "last_read"), ...id };
    default:
      return undefined;
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

function dmFields(o: Fields): Omit<DirectMessage, "kind"> {
  return {
    id: int(o, "id"),
    from: str(o, "from"),
    to: str(o, "to"),
    text: str(o, "text"),
    ts: int(o, "ts"),
  };
}

function limitsOf(o: Fields): WireLimits {
  const rate = object(o["rate"], "rate");
  const perSecond = rate["per_second"];
  if (typeof perSecond !== "number" || !(perSecond > 0)) {
    throw new ProtocolError("invalid_field", 'Field "per_second" must be a positive number');
  }
  return {
    message_chars: int(o, "message_chars"),
    message_lines: int(o, "message_lines"),
    rate: { burst: int(rate, "burst"), per_second: perSecond },
    history_limit: int(o, "history_limit"),
    max_sessions: int(o, "max_sessions"),
    retention_days: int(o, "retention_days"),
  };
}

/** The fields a version 2 `room` frame adds. */
function roomExtras(o: Fields) {
  const extras: Record<string, unknown> = {};
  for (const key of ["topic"] as const) {
    const v = optStr(o, key);
    if (v !== undefined) extras[key] = v;
  }
  for (const key of ["truncated", "unread_capped", "mentioned"] as const) {
    const v = optBool(o, key);
    if (v !== undefined) extras[key] = v;
  }
  for (const key of ["last_read", "unread"] as const) {
    const v = optInt(o, key);
    if (v !== undefined) extras[key] = v;
  }
  Object.assign(extras, requestRef(o));
  return extras as {
    topic?: string;
    truncated?: boolean;
    unread_capped?: boolean;
    mentioned?: boolean;
    last_read?: number;
    unread?: number;
    id?: RequestRef;
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
    case "hello": {
      const hello: ServerHello = { type: t, version: int(o, "version"), server: str(o, "server") };
      if (o["versions"] !== undefined) {
        hello.versions = array(o, "versions").map((v) => int({ v }, "v"));
      }
      return hello;
    }
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
      const welcome: WelcomeFrame = { type: t, user: str(o, "user"), role: str(o, "role") };
      const version = optInt(o, "version");
      if (version !== undefined) welcome.version = version;
      if (o["limits"] !== undefined) welcome.limits = limitsOf(object(o["limits"], "limits"));
      const token = optStr(o, "token");
      if (token !== undefined) welcome.token = token;
      return welcome;
    }
    case "error": {
      const retry = optInt(o, "retry_after_ms");
      return {
        type: t,
        code: str(o, "code"),
        message: str(o, "message"),
        ...requestRef(o),
        ...(retry === undefined ? {} : { retry_after_ms: retry }),
      };
    }
    case "ack": {
      const messageId = optInt(o, "message_id");
      const { id } = requestRef(o);
      if (id === undefined) throw new ProtocolError("invalid_field", 'Field "id" is missing');
      return { type: t, id, ...(messageId === undefined ? {} : { message_id: messageId }) };
    }
    case "part":
      return { type: t, room: str(o, "room"), user: str(o, "user"), ts: int(o, "ts") };
    case "presence": {
      const online = optBool(o, "online");
      if (online === undefined) {
        throw new ProtocolError("invalid_field", 'Field "online" is missing');
      }
      const away = optStr(o, "away");
      return {
        type: t,
        user: str(o, "user"),
        online,
        ...(away === undefined ? {} : { away }),
        ts: int(o, "ts"),
      };
    }
    case "topic":
      return {
        type: t,
        room: str(o, "room"),
        text: str(o, "text"),
        by: str(o, "by"),
        ts: int(o, "ts"),
      };
    case "read":
      return { type: t, ...where(o), last_read: int(o, "last_read") };
    case "who":
      return {
        type: t,
        room: str(o, "room"),
        users: array(o, "users").map((u) => {
          const f = object(u, "users");
          const away = optStr(f, "away");
          return {
            name: str(f, "name"),
            role: str(f, "role"),
            ...(away === undefined ? {} : { away }),
          };
        }),
        ...requestRef(o),
      };
    case "rooms": {
      const more = optInt(o, "more");
      return {
        type: t,
        rooms: array(o, "rooms").map((r) => {
          const f = object(r, "rooms");
          return { name: str(f, "name"), topic: str(f, "topic"), members: int(f, "members") };
        }),
        ...(more === undefined ? {} : { more }),
        ...requestRef(o),
      };
    }
    case "help":
      return {
        type: t,
        commands: array(o, "commands").map((c) => {
          const f = object(c, "commands");
          return { name: str(f, "name"), usage: str(f, "usage"), summary: str(f, "summary") };
        }),
        ...requestRef(o),
      };
    case "history": {
      const truncated = optBool(o, "truncated") ?? false;
      return {
        type: t,
        ...where(o),
        messages: array(o, "messages").map((m) => {
          const f = object(m, "messages");
          return f["type"] === "dm" ? { type: "dm" as const, ...dmFields(f) } : {
            type: "message" as const,
            ...messageFields(f),
          };
        }),
        truncated,
        ...requestRef(o),
      };
    }
    case "conversations":
      return {
        type: t,
        conversations: array(o, "conversations").map((c) => {
          const f = object(c, "conversations");
          return {
            with: str(f, "with"),
            last_id: int(f, "last_id"),
            last_read: int(f, "last_read"),
            unread: int(f, "unread"),
            unread_capped: optBool(f, "unread_capped") ?? false,
          };
        }),
      };
    case "ready":
      return { type: t };
    case "bye":
      return {
        type: t,
        code: oneOf(o, "code", BYE_CODES),
        message: str(o, "message"),
      };
    case "message":
      return { type: t, ...messageFields(o) };
    case "dm":
      return { type: t, ...dmFields(o) };
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
        ...requestRef(o),
      };
    case "room":
      return {
        ...roomExtras(o),
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
    case "leave": {
      const { type, ...rest } = frame;
      return { kind: type, ...rest } as ChatEvent;
    }
    case "notice": {
      const { type: _, id, ...rest } = frame;
      return { kind: "notice", ...rest, ...(id === undefined ? {} : { ref: id }) };
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
        ...defined({
          topic: event.topic,
          truncated: event.truncated,
          last_read: event.lastRead,
          unread: event.unread,
          unread_capped: event.unreadCapped,
          mentioned: event.mentioned,
          id: event.ref,
        }),
      };
    case "notice":
    case "who":
    case "rooms":
    case "help": {
      const { kind, ref, ...rest } = event;
      return { type: kind, ...rest, ...defined({ id: ref }) } as EventFrame;
    }
    case "read": {
      const { kind: _, lastRead, ...rest } = event;
      return { type: "read", ...rest, last_read: lastRead } as EventFrame;
    }
    case "history": {
      const { kind: _, ref, messages, ...rest } = event;
      return {
        type: "history",
        ...rest,
        messages: messages.map((m) => {
          const { kind, ...fields } = m;
          return { type: kind, ...fields } as WireMessage | WireDm;
        }),
        ...defined({ id: ref }),
      } as EventFrame;
    }
    case "conversations":
      return {
        type: "conversations",
        conversations: event.conversations.map((c) => ({
          with: c.with,
          last_id: c.lastId,
          last_read: c.lastRead,
          unread: c.unread,
          unread_capped: c.unreadCapped,
        })),
      };
    default: {
      const { kind, ...rest } = event;
      return { type: kind, ...rest } as EventFrame;
    }
  }
}

/** `fields` without its undefined ones (the wire never carries null or undefined). */
function defined<T extends Record<string, unknown>>(fields: T): Partial<T> {
  const out: Partial<T> = {};
  for (const key in fields) if (fields[key] !== undefined) out[key] = fields[key];
  return out;
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
    const trimmed = history === event.history ? event : {
      ...event,
      history,
      // A version 2 frame says that more was missed than it holds.
      ...(event.truncated === undefined ? {} : { truncated: true }),
    };
    const bytes = encodeFrame(frameOf(trimmed));
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
