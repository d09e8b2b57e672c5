import { equal, rejects } from "node:assert/strict";
import type { Connection } from "../../lib/net/connection.ts";
import {
  CLOSE_MESSAGE_TOO_BIG,
  webSocketConnection,
  type WebSocketConnectionOptions,
  WebSocketMessageError,
} from "../../lib/net/websocket_connection.ts";

/** A real WebSocket over loopback: the server side as a Connection, the client as a browser would hold it. */
async function pair(options: WebSocketConnectionOptions): Promise<
  AsyncDisposable & { conn: Connection; client: WebSocket; closed: Promise<CloseEvent> }
> {
  const accepted = Promise.withResolvers<Connection>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    accepted.resolve(webSocketConnection(socket, { address: "127.0.0.1", port: 1 }, options));
    return response;
  });
  const client = new WebSocket(`ws://127.0.0.1:${server.addr.port}/`);
  const closed = new Promise<CloseEvent>((resolve) => client.addEventListener("close", resolve));
  await new Promise((resolve, reject) => {
    client.addEventListener("open", resolve);
    client.addEventListener("error", reject);
  });
  const conn = await accepted.promise;
  return {
    conn,
    client,
    closed,
    async [Symbol.asyncDispose]() {
      client.close();
      await closed;
      conn.close();
      await server.shutdown();
    },
  };
}

const LIMITS: WebSocketConnectionOptions = {
  maxMessageBytes: 1024,
  preLogin: { maxMessageBytes: 64, maxUnreadBytes: 128 },
};

async function refusedWith(conn: Connection, code: string): Promise<void> {
  await rejects(conn.source.read(), (e: unknown) => {
    equal(e instanceof WebSocketMessageError && e.code, code);
    return true;
  });
}

Deno.test("a message over the pre-login cap closes the WebSocket with 1009 at once", async () => {
  await using p = await pair(LIMITS);
  p.client.send("x".repeat(65));
  equal((await p.closed).code, CLOSE_MESSAGE_TOO_BIG);
  await refusedWith(p.conn, "frame_too_large");
});

Deno.test("after login the frame cap holds: a message within it is read, a larger one closes with 1009", async () => {
  await using p = await pair(LIMITS);
  p.conn.loggedIn?.();
  p.client.send("y".repeat(1000));
  equal((await p.conn.source.read())?.length, 1001);
  p.client.send("z".repeat(1025));
  equal((await p.closed).code, CLOSE_MESSAGE_TOO_BIG);
  await refusedWith(p.conn, "frame_too_large");
});

Deno.test("a multi-megabyte message is refused with 1009 under the default cap", async () => {
  await using p = await pair({});
  p.client.send("w".repeat(3 * 1024 * 1024));
  equal((await p.closed).code, CLOSE_MESSAGE_TOO_BIG);
  await refusedWith(p.conn, "frame_too_large");
});

Deno.test("before login, bytes sent faster than they are read past the read burst are refused", async () => {
  await using p = await pair(LIMITS);
  for (let i = 0; i < 3; i++) p.client.send("v".repeat(60)); // 183 bytes unread > 128
  // The close handshake ends after the server has taken all three, unread.
  p.client.close();
  await p.closed;
  equal((await p.conn.source.read())?.length, 61);
  equal((await p.conn.source.read())?.length, 61);
  await refusedWith(p.conn, "too_fast");
});
