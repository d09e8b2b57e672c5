import { equal, rejects } from "node:assert/strict";
import { openTransport } from "../../lib/server/transport.ts";
import { createServerMetrics } from "../../lib/server/metrics.ts";
import { Refusals } from "../../lib/server/refusals.ts";
import { parseServerConfig } from "../../lib/server/settings.ts";
import { systemClock } from "../../lib/util/clock.ts";
import { testPki } from "../_helpers.ts";

Deno.test("openTransport() on a taken port names the address and keeps the cause", async () => {
  const pki = await testPki();
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { config } = parseServerConfig([]);
  const metrics = createServerMetrics();
  for (const tlsEngine of ["node", "deno"] as const) {
    await rejects(
      openTransport(
        { ...config, hostname: "127.0.0.1", port: taken.addr.port, tlsEngine },
        {
          tls: { cert: pki.server.cert, key: pki.server.key, clientCa: undefined },
          refusals: new Refusals({ clock: systemClock, intervalMs: 10_000, counters: metrics }),
          clock: systemClock,
        },
        () => Promise.resolve(),
      ),
      (error: Error) => {
        equal(error.message.startsWith(`Cannot listen on 127.0.0.1:${taken.addr.port}: `), true);
        equal(error.cause instanceof Error, true, `${tlsEngine} engine keeps the cause`);
        return true;
      },
    );
  }
});
