/**
 * webSocketConnection() over a real WebSocket on 127.0.0.1: Deno hands a
 * message over whole (it buffers up to its own limit first), so the bound
 * that applies is the connection's unread bound, 1 MiB by default.
 *
 * @module
 */
import { deepEqual, equal } from "node:assert/strict";
import { webSocketConnection, WebSocketMessageError } from "../../lib/net/websocket_connection.ts";
import type { Connection } from "../../lib/net/connection.ts";
import { within } from "../_helpers.ts";

const MIB = 1024 * 1024;

/** A WebSocket server on 127.0.0.1 whose one connection is handed out. */
function serveOne(): AsyncDisposable & { url: string; connection: Promise<Connection> } {
  const accepted = Promise.withResolvers<Connection>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    accepted.resolve(webSocketConnection(socket, { address: "127.0.0.1", port: 0 }));
    return response;
  });
  return {
    url: `ws://127.0.0.1:${server.addr.port}/`,
    connection: accepted.promise,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

/** A client WebSocket, open. */
async function open(url: string): Promise<WebSocket> {
  const socket = new WebSocket(url);
  await within(new Promise((resolve) => socket.onopen = resolve), 5_000, "the WebSocket to open");
  return socket;
}

Deno.test("a WebSocket message just under 1 MiB is handed on whole; one over it is refused as too_fast", async () => {
  await using server = serveOne();
  const client = await open(server.url);
  const connection = await server.connection;
  // The text plus its "\n" is exactly the bound: still taken.
  client.send("a".repeat(MIB - 1));
  const whole = await within(connection.source.read(), 5_000, "the message");
  equal(whole?.length, MIB, "one chunk: the whole message and its newline");
  client.send("b".repeat(MIB));
  const error = await within(
    connection.source.read().then(() => undefined, (e) => e),
    5_000,
    "the refusal",
  );
  equal(error instanceof WebSocketMessageError, true, String(error));
  deepEqual([error.code, error.message], ["too_fast", "Messages arrive faster than read"]);
  connection.close();
  client.close();
});
