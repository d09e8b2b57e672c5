/**
 * Frame matchers and waits shared by the end-to-end tests.
 *
 * @module
 */
import type { ServerFrame } from "../../lib/wire/protocol.ts";
import { type TestClient, WAIT_MS } from "../_helpers.ts";

/** A room message as it arrives on the wire. */
export type MessageFrame = Extract<ServerFrame, { type: "message" }>;
/** A notice as it arrives on the wire. */
export type NoticeFrame = Extract<ServerFrame, { type: "notice" }>;
/** A join or leave as it arrives on the wire. */
export type PresenceFrame = Extract<ServerFrame, { type: "join" | "leave" }>;
/** A goodbye. */
export type ByeFrame = Extract<ServerFrame, { type: "bye" }>;

/** Whether `f` is a room message. */
export function isMessage(f: ServerFrame): f is MessageFrame {
  return f.type === "message";
}

/** Matches a room message with exactly this text. */
export function messageWith(text: string): (f: ServerFrame) => f is MessageFrame {
  return (f): f is MessageFrame => f.type === "message" && f.text === text;
}

/** Matches any notice. */
export function isNotice(f: ServerFrame): f is NoticeFrame {
  return f.type === "notice";
}

/** Matches a `join` or `leave` of `user`. */
export function presenceOf(
  type: "join" | "leave",
  user: string,
): (f: ServerFrame) => f is PresenceFrame {
  return (f): f is PresenceFrame => f.type === type && f.user === user;
}

/** Matches the `room` frame of `room`. */
export function roomFrame(
  room: string,
): (f: ServerFrame) => f is Extract<ServerFrame, { type: "room" }> {
  return (f): f is Extract<ServerFrame, { type: "room" }> => f.type === "room" && f.room === room;
}

/** Texts of the room messages among `frames`. */
export function textsOf(frames: readonly ServerFrame[]): string[] {
  return frames.filter(isMessage).map((f) => f.text);
}

/** The last frame of a closed connection, which should be its goodbye. */
export async function byeOf(client: TestClient, ms = WAIT_MS): Promise<ServerFrame | undefined> {
  const frames = await client.untilClosed(ms);
  return frames.at(-1);
}

/**
 * Read until `count` room messages have arrived; other frames are skipped
 * (they stay in `client.received`).
 *
 * @param client Who reads.
 * @param count How many messages.
 * @param ms Bound for all of them.
 * @returns The messages, in arrival order.
 */
export async function messages(
  client: TestClient,
  count: number,
  ms = WAIT_MS,
): Promise<MessageFrame[]> {
  const deadline = Date.now() + ms;
  const out: MessageFrame[] = [];
  while (out.length < count) {
    out.push(await client.until(isMessage, Math.max(1, deadline - Date.now())));
  }
  return out;
}

/**
 * Send `text` then a ping, and wait for the pong: once it arrives, the
 * server has handled the line (a session handles its frames in order).
 *
 * @param client Who says it.
 * @param text The line.
 * @param id Ping id, unique within the test.
 */
export async function sayAndSettle(client: TestClient, text: string, id: number): Promise<void> {
  await client.send({ type: "say", text });
  await client.send({ type: "ping", id });
  await client.until((f) => f.type === "pong" && f.id === id);
}
