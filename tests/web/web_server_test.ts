import { deepEqual, equal, match, rejects } from "node:assert/strict";
import { join } from "node:path";
import { readWebFiles } from "../../lib/server/web.ts";
import { CONTENT_SECURITY_POLICY, webOrigins } from "../../lib/server/web_app.ts";
import { startWebServer } from "../_browser.ts";
import { startTestServer } from "../_server.ts";
import { tempDir } from "../_helpers.ts";

const EXPECTED = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "strict-transport-security": "max-age=31536000",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

Deno.test("every web route carries the security headers; /ws refuses a foreign or missing Origin", async () => {
  await using s = await startWebServer();
  const base = `https://localhost:${s.server.webAddr!.port}`;
  using client = Deno.createHttpClient({
    caCerts: [await Deno.readTextFile(join(s.dir, "certs", "ca.crt"))],
  });
  const cases: Array<[string, Record<string, string>, number]> = [
    ["/", {}, 200],
    ["/app.js", {}, 200],
    ["/app.css", {}, 200],
    ["/no-such-page", {}, 404],
    ["/ws", { origin: "https://evil.example", upgrade: "websocket" }, 403],
    ["/ws", { upgrade: "websocket" }, 403],
    ["/ws", { origin: `https://localhost:${s.server.webAddr!.port}` }, 426],
  ];
  for (const [path, headers, status] of cases) {
    const response = await fetch(base + path, { client, headers });
    await response.body?.cancel();
    equal(response.status, status, path);
    for (const [name, value] of Object.entries(EXPECTED)) {
      equal(response.headers.get(name), value, `${name} on ${path}`);
    }
  }
  match(CONTENT_SECURITY_POLICY, /^default-src 'self'/);
  match(CONTENT_SECURITY_POLICY, /frame-ancestors 'none'/);
  equal(/unsafe-inline|unsafe-eval/.test(CONTENT_SECURITY_POLICY), false);
});

Deno.test("webOrigins allows the configured host and, for loopback, its aliases", () => {
  deepEqual(
    [...webOrigins("127.0.0.1", 9443)].sort(),
    ["https://127.0.0.1:9443", "https://[::1]:9443", "https://localhost:9443"],
  );
  deepEqual([...webOrigins("chat.example.org", 443)], ["https://chat.example.org"]);
});

Deno.test("a missing web bundle is one line naming deno task web:build", async () => {
  await rejects(readWebFiles("/nonexistent/web/dist"), (e: Error) => {
    match(e.message, /^Cannot serve the web client: .*run deno task web:build$/);
    equal(e.message.includes("\n"), false);
    return true;
  });
});

Deno.test("a taken web port stops the server start with the address", async () => {
  await using dir = await tempDir();
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  await rejects(
    startTestServer({ dir: dir.path, config: { webPort: taken.addr.port } }),
    (e: Error) => {
      match(e.message, new RegExp(`^Cannot listen on 127\\.0\\.0\\.1:${taken.addr.port}: `));
      return true;
    },
  );
});
