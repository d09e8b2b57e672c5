/**
 * Clients that end their side of the connection (a TLS close_notify, then
 * the TCP half-close) are closed by the server, before and after login, on
 * both TLS engines: the node engine keeps a half-closed socket open for what
 * is still being written (`allowHalfOpen`), so the session's end of reading
 * must be what closes it, and no socket may stay half-open.
 *
 * @module
 */
import type { TestClient } from "../_helpers.ts";
import { startTestServer } from "../_server.ts";

const USERS = Array.from({ length: 10 }, (_, i) => `user${i}`);

for (const engine of ["node", "deno"] as const) {
  for (const stage of ["before login", "logged in"] as const) {
    Deno.test(`${engine} engine: clients that half-close ${stage} are closed by the server`, async () => {
      await using server = await startTestServer({ users: USERS, config: { tlsEngine: engine } });
      const clients: TestClient[] = [];
      for (const user of USERS) {
        clients.push(stage === "logged in" ? await server.login(user) : await server.client());
      }
      for (const client of clients) await client.conn.sink.close();
      // Each read ends (the server closed), or the wait times out and fails.
      for (const client of clients) await client.untilClosed();
    });
  }
}
