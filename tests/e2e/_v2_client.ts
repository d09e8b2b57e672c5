/**
 * Log in as a protocol version 2 client and read the login replay.
 *
 * @module
 */
import type { ServerFrame } from "../../lib/wire/protocol.ts";
import { TestClient } from "../_helpers.ts";
import { passwordOf } from "../_server.ts";

/** A room frame as it arrives on the wire. */
export type RoomFrame = Extract<ServerFrame, { type: "room" }>;

/** A version 2 client after its login replay. */
export interface V2Login extends AsyncDisposable {
  /** The connection; disposing the login closes it. */
  client: TestClient;
  welcome: Extract<ServerFrame, { type: "welcome" }>;
  /** The `room` frames of the replay, by room. */
  rooms: Map<string, RoomFrame>;
  conversations: Extract<ServerFrame, { type: "conversations" }>;
}

/**
 * Connect, say `hello` version 2 (with `resume`), log in and read up to `ready`.
 *
 * @param port The server's port.
 * @param user Who; the password is {@linkcode passwordOf}.
 * @param resume Per room, the newest id the client has.
 * @returns The client and what the replay said; disposing it closes the client.
 */
export async function loginV2(
  port: number,
  user: string,
  resume?: Record<string, number>,
): Promise<V2Login> {
  const client = await TestClient.connect(port);
  await client.send({ type: "hello", version: 2, ...(resume ? { resume } : {}) });
  await client.until((f) => f.type === "auth");
  await client.send({ type: "login", username: user, password: passwordOf(user) });
  const welcome = await client.until((f) => f.type === "welcome" || f.type === "bye");
  if (welcome.type !== "welcome") throw new Error(`Login failed: ${JSON.stringify(welcome)}`);
  const rooms = new Map<string, RoomFrame>();
  let conversations: V2Login["conversations"] | undefined;
  for (;;) {
    const frame = await client.until(() => true);
    if (frame.type === "room") rooms.set(frame.room, frame);
    if (frame.type === "conversations") conversations = frame;
    if (frame.type === "ready") break;
  }
  if (conversations === undefined) throw new Error("No conversations before ready");
  return {
    client,
    welcome,
    rooms,
    conversations,
    [Symbol.asyncDispose]: () => client[Symbol.asyncDispose](),
  };
}
