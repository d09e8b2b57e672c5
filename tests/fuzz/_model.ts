/**
 * Reference models the fuzz tests compare the code against, written from
 * docs/PROTOCOL.md rather than from the code: how bytes split into frames
 * (section 2), what a client frame may hold (section 4), and what a server
 * answers in each connection state (section 3).
 *
 * @module
 */
import type { FrameErrorCode } from "../../lib/wire/framing.ts";
import type { ClientFrame, ProtocolErrorCode } from "../../lib/wire/protocol.ts";

/** What the framing model makes of a whole byte stream. */
export interface ModelLines {
  /** Lines, in order, up to the first bad one. */
  lines: string[];
  /** Why the stream failed, if it did. */
  error?: FrameErrorCode;
}

/**
 * Split `bytes` into frames: on `\n` only, one `\r` before it dropped, at
 * most `max` bytes each, strict UTF-8 (a BOM is kept), and a final
 * unterminated line dropped unless it is already longer than a frame may
 * be (`max` plus room for a `\r`).
 *
 * @param bytes Everything the peer sent.
 * @param max The frame cap.
 * @returns The lines, and the error that ended the stream.
 */
export function modelLines(bytes: Uint8Array, max: number): ModelLines {
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const lines: string[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 0x0a) continue;
    let end = i;
    if (end > start && bytes[end - 1] === 0x0d) end--;
    if (end - start > max) return { lines, error: "frame_too_long" };
    try {
      lines.push(decoder.decode(bytes.subarray(start, end)));
    } catch {
      return { lines, error: "invalid_utf8" };
    }
    start = i + 1;
  }
  if (bytes.length - start > max + 1) return { lines, error: "frame_too_long" };
  return { lines };
}

/** What parsing one client line should give. */
export type ModelFrame =
  | { ok: ClientFrame }
  | { error: ProtocolErrorCode };

/** Longest string field, in UTF-16 code units (PROTOCOL.md, value types). */
const MAX_STRING = 16_384;

class Refused extends Error {
  constructor(readonly code: ProtocolErrorCode) {
    super(code);
  }
}

function field(o: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(o, key) ? o[key] : undefined;
}

function string(o: Record<string, unknown>, key: string, max = MAX_STRING): string {
  const v = field(o, key);
  if (typeof v !== "string" || v.length > max) throw new Refused("invalid_field");
  return v;
}

function int(o: Record<string, unknown>, key: string): number {
  const v = field(o, key);
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > Number.MAX_SAFE_INTEGER) {
    throw new Refused("invalid_field");
  }
  return v;
}

/**
 * The client frame a line holds, per PROTOCOL.md section 4, or the error
 * code it must be refused with.
 *
 * @param line One frame's text.
 * @returns The frame, or the error code.
 */
export function modelClientFrame(line: string, version = 1): ModelFrame {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { error: "invalid_json" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { error: "not_object" };
  }
  const o = value as Record<string, unknown>;
  const type = field(o, "type");
  if (typeof type !== "string") return { error: "invalid_field" };
  try {
    if (version >= 2) {
      const request = modelRequest(o, type);
      if (request !== undefined) return { ok: request };
    }
    switch (type) {
      case "hello": {
        const client = field(o, "client") === undefined ? undefined : string(o, "client");
        const version = int(o, "version");
        if (version >= 2) modelResume(o);
        return { ok: client === undefined ? { type, version } : { type, version, client } };
      }
      case "login":
        return {
          ok: {
            type,
            username: string(o, "username", 256),
            // 1,024 characters (MAX_PASSWORD_LENGTH) may take 2,048 UTF-16 units.
            password: string(o, "password", 2048),
          },
        };
      case "say":
        return { ok: { type, text: string(o, "text") } };
      case "ping":
      case "pong":
        return { ok: { type, id: int(o, "id") } };
      default:
        return { error: "unknown_type" };
    }
  } catch (error) {
    if (error instanceof Refused) return { error: error.code };
    throw error;
  }
}

/** PROTOCOL.md version 2: a request's `id` is a string of at most 64 or a safe integer. */
function modelRef(o: Record<string, unknown>): { id?: string | number } {
  const v = field(o, "id");
  if (v === undefined) return {};
  if (typeof v === "string" && v.length <= 64) return { id: v };
  if (typeof v === "number" && Number.isSafeInteger(v)) return { id: v };
  throw new Refused("invalid_field");
}

function optString(o: Record<string, unknown>, key: string, max = MAX_STRING) {
  return field(o, key) === undefined ? undefined : string(o, key, max);
}

/** `room` or `with`, exactly one (version 2 `history` and `read`). */
function modelWhere(o: Record<string, unknown>): void {
  const room = optString(o, "room");
  const other = optString(o, "with");
  if ((room === undefined) === (other === undefined)) throw new Refused("invalid_field");
}

function modelResume(o: Record<string, unknown>): void {
  const v = field(o, "resume");
  if (v === undefined) return;
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Refused("invalid_field");
  const entries = Object.entries(v);
  if (entries.length > 1000) throw new Refused("invalid_field");
  for (const [room, id] of entries) {
    if (room.length > 64 || typeof id !== "number" || !Number.isSafeInteger(id) || id < 0) {
      throw new Refused("invalid_field");
    }
  }
}

/** The frames version 2 adds (PROTOCOL.md section 14), as the model sees them. */
function modelRequest(o: Record<string, unknown>, type: string): ClientFrame | undefined {
  const ref = () => modelRef(o);
  switch (type) {
    case "say": {
      const id = ref();
      const text = string(o, "text");
      optString(o, "room");
      return { type, text, ...id };
    }
    case "join":
    case "part": {
      const id = ref();
      return { type, room: string(o, "room", 64), ...id };
    }
    case "dm": {
      const id = ref();
      return { type, to: string(o, "to", 256), text: string(o, "text"), ...id };
    }
    case "topic": {
      const id = ref();
      return { type, room: string(o, "room", 64), text: string(o, "text"), ...id };
    }
    case "away": {
      const id = ref();
      optString(o, "text");
      return { type, ...id };
    }
    case "history": {
      const id = ref();
      modelWhere(o);
      if (field(o, "before") !== undefined) int(o, "before");
      if (field(o, "limit") !== undefined) int(o, "limit");
      return { type, room: "", ...id } as ClientFrame;
    }
    case "read": {
      const id = ref();
      modelWhere(o);
      return { type, last_read: int(o, "last_read"), room: "", ...id } as ClientFrame;
    }
    default:
      return undefined;
  }
}

/**
 * Before login (PROTOCOL.md, section 10): frames nest at most 16 levels,
 * counted on the text with strings taken out, and 10 pings are answered
 * before the rate applies (the model's clock never moves). The pre-login
 * frame cap (16 KiB) is above every cap the fuzz tests use, so it is not
 * modelled.
 */
const PRE_LOGIN_DEPTH = 16;
const PRE_LOGIN_PINGS = 10;

function deeperThan(line: string, max: number): boolean {
  const brackets = line.replace(/"(?:[^"\\]|\\[\s\S])*"?/g, "").replace(/[^[\]{}]/g, "");
  let depth = 0;
  for (const b of brackets) {
    depth = b === "[" || b === "{" ? depth + 1 : Math.max(0, depth - 1);
    if (depth > max) return true;
  }
  return false;
}

/** What the hub does with one `say` in the session model. */
export type SayModel = (text: string) => "end" | string[];

/** The echo hub: `end` (exactly) ends, anything else comes back as a message. */
export const echoSay: SayModel = (text) => text === "end" ? "end" : [`message:${text}`];

/**
 * What a server answers to a whole input, per PROTOCOL.md section 3, as
 * frame signatures (see `signature` in `_memory_session.ts`).
 *
 * @param input Everything the peer sent.
 * @param max The frame cap.
 * @param accepts Whether a user name and password log in.
 * @param say What the hub answers to a `say`. @default {echoSay}
 * @returns The signatures of every frame the server sends, in order;
 *   `undefined` when the input never reaches an end (the server would wait).
 */
export function modelSession(
  input: Uint8Array,
  max: number,
  accepts: (username: string, password: string) => boolean,
  say: SayModel = echoSay,
): string[] | undefined {
  const out = ["hello"];
  const fatal = (code: string) => [...out, `error:${code}`, "bye:protocol_error"];
  const { lines, error } = modelLines(input, max);
  let state: "hello" | "auth" | "chat" = "hello";
  let left = 3;
  let pings = 0;
  let version = 1;
  for (const line of lines) {
    if (state !== "chat" && deeperThan(line, PRE_LOGIN_DEPTH)) return fatal("too_deep");
    const parsed = modelClientFrame(line, version);
    if ("error" in parsed) return fatal(parsed.error);
    const frame = parsed.ok;
    // Heartbeats are answered in every state after the client's hello; before
    // it a ping or pong is not a hello, so fatal (PROTOCOL.md sections 3, 4).
    if (state === "hello" && frame.type !== "hello") return fatal("unexpected");
    if (frame.type === "ping") {
      if (state !== "chat" && ++pings > PRE_LOGIN_PINGS) return fatal("rate_limited");
      out.push(`pong:${frame.id}`);
      continue;
    }
    if (frame.type === "pong") continue;
    switch (state) {
      case "hello":
        // Version 1 and up are spoken (as min(version, 2)); 0 is none.
        if (frame.type !== "hello" || frame.version < 1) return fatal("unexpected");
        version = Math.min(frame.version, 2);
        out.push("auth:3");
        state = "auth";
        break;
      case "auth":
        // The model's parser makes only password logins (no session tokens).
        if (frame.type !== "login" || !("password" in frame)) return fatal("unexpected");
        if (accepts(frame.username, frame.password)) {
          out.push("welcome");
          state = "chat";
          break;
        }
        left--;
        out.push(`auth_failed:invalid:${left}`);
        if (left === 0) return [...out, "bye:denied"];
        out.push(`auth:${left}`);
        break;
      case "chat": {
        const id = version >= 2 && "id" in frame ? frame.id : undefined;
        switch (frame.type) {
          case "say": {
            const answer = say(frame.text);
            if (answer === "end") return [...out, "bye:end"];
            out.push(...answer);
            if (id !== undefined) out.push("ack");
            break;
          }
          case "join":
          case "part":
          case "dm":
          case "topic":
          case "away":
          case "history":
          case "read":
            if (version < 2) return fatal("unexpected");
            if (id !== undefined) out.push("ack");
            break;
          default:
            return fatal("unexpected");
        }
      }
    }
  }
  return error === undefined ? undefined : fatal(error);
}
