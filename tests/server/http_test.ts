import { equal, match } from "node:assert/strict";
import { createHttpApp, serveHttp } from "../../lib/server/http.ts";

function app(state: { healthy: boolean }) {
  return createHttpApp({
    healthy: () => state.healthy,
    metrics: () => "# HELP up Up\n# TYPE up gauge\nup 1\n",
  });
}

Deno.test("GET /healthz answers 200 while accepting and 503 once shutting down", async () => {
  const state = { healthy: true };
  const http = app(state);
  const up = await http.request("/healthz");
  equal(up.status, 200);
  equal(await up.text(), "ok\n");
  state.healthy = false;
  const down = await http.request("/healthz");
  equal(down.status, 503);
  equal(await down.text(), "shutting down\n");
});

Deno.test("GET /metrics answers the Prometheus text format 0.0.4, never cached", async () => {
  const response = await app({ healthy: true }).request("/metrics");
  equal(response.status, 200);
  match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  equal(response.headers.get("cache-control"), "no-store");
  equal(await response.text(), "# HELP up Up\n# TYPE up gauge\nup 1\n");
});

Deno.test("the HTTP app answers 404 for other paths and methods", async () => {
  const http = app({ healthy: true });
  const other = await http.request("/admin");
  equal(other.status, 404);
  await other.body?.cancel();
  const post = await http.request("/metrics", { method: "POST" });
  equal(post.status, 404);
  await post.body?.cancel();
});

Deno.test("serveHttp() serves the app on a loopback port until closed", async () => {
  const server = serveHttp(app({ healthy: true }).fetch, { hostname: "127.0.0.1", port: 0 });
  equal(server.addr.hostname, "127.0.0.1");
  const response = await fetch(`http://127.0.0.1:${server.addr.port}/healthz`);
  equal(response.status, 200);
  await response.body?.cancel();
  await server.close();
  await server.close(); // idempotent
});
