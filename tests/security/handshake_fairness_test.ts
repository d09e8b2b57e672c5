/**
 * The pending-handshake pool shared fairly: a few networks holding every
 * slot with silent sockets cannot keep a newcomer from another network out.
 * Real sockets from several loopback addresses; time is fake, so no
 * handshake times out on its own.
 *
 * @module
 */
import { deepEqual, ok } from "node:assert/strict";
import type { TransportEngine } from "../../lib/net/tls_server.ts";
import { FakeClock } from "../_fake_clock.ts";
import { within } from "../_helpers.ts";
import { startTestServer } from "../_server.ts";
import { silentPeers } from "./_from_address.ts";

/** Four networks (each its own /24), none of them 127.0.0.0/24 where the user is. */
const ATTACKERS = ["127.1.0.1", "127.2.0.1", "127.3.0.1", "127.4.0.1"];
const POOL = 32;

for (const engine of ["node", "deno"] as TransportEngine[]) {
  Deno.test(`${engine} engine: while four other networks hold every pending-handshake slot, a user from a fifth logs in, and the oldest handshake of the heaviest network makes room`, async () => {
    await using s = await startTestServer({
      users: ["alice"],
      config: { tlsEngine: engine, maxPendingHandshakes: POOL, maxPendingHandshakesPerIp: 64 },
      deps: { clock: new FakeClock() },
    });
    await using peers = silentPeers(ATTACKERS);
    const held = [];
    for (const from of ATTACKERS) {
      for (let i = 0; i < POOL / ATTACKERS.length; i++) held.push(await peers.open(s.port, from));
    }
    // The pool is full: one more from the first network is closed at once
    // (the server takes connections in order, so all 32 are counted first).
    const canary = await peers.open(s.port, ATTACKERS[0]!);
    if (engine === "node") await within(canary.closed, 5_000, "the canary to be refused");

    await using alice = await within(s.login("alice"), 10_000, "alice's login");
    ok(alice);
    if (engine === "node") {
      // Deno.listenTls cannot free a pending socket (an accepted risk), so
      // only node shows which one went: the oldest of a heaviest network.
      await within(held[0]!.closed, 5_000, "the oldest attacker socket to be dropped");
      deepEqual(held.filter((p) => p.isClosed).map((p) => p.from), [ATTACKERS[0]]);
    }
  });
}
