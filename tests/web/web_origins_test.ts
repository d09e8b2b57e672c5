import { deepEqual, equal, match, rejects, throws } from "node:assert/strict";
import { join } from "node:path";
import { createServerCert } from "../../lib/net/certs.ts";
import { certificateNames } from "../../lib/server/web.ts";
import { parseWebOrigins } from "../../lib/server/web_app.ts";
import { startWebServer } from "../_browser.ts";
import { tempDir, testPki } from "../_helpers.ts";
import type { TestServer } from "../_server.ts";

/** The status `/ws` answers a (non-upgrade) request from `origin`: 426 once the origin passed, 403 if not. */
async function wsStatus(s: TestServer, origin: string): Promise<number> {
  using client = Deno.createHttpClient({
    caCerts: [await Deno.readTextFile(join(s.dir, "certs", "ca.crt"))],
  });
  const response = await fetch(`https://localhost:${s.server.webAddr!.port}/ws`, {
    client,
    headers: { origin },
  });
  await response.body?.cancel();
  return response.status;
}

Deno.test("a page reached by one of the certificate's other names may open /ws", async () => {
  await using files = await tempDir();
  const pki = await testPki();
  const named = await createServerCert(pki.ca, { hosts: ["chat.example.org", "192.0.2.7"] });
  const cert = join(files.path, "cert.pem");
  const key = join(files.path, "key.pem");
  await Deno.writeTextFile(cert, named.cert);
  await Deno.writeTextFile(key, named.key, { mode: 0o600 });
  await using s = await startWebServer({ config: { cert, key } });
  const port = s.server.webAddr!.port;
  equal(await wsStatus(s, `https://chat.example.org:${port}`), 426);
  equal(await wsStatus(s, `https://192.0.2.7:${port}`), 426);
  equal(await wsStatus(s, `https://evil.example.org:${port}`), 403);
  equal(await wsStatus(s, `https://chat.example.org:${port + 1}`), 403);
});

Deno.test("--web-origin lets a page behind a proxy's name open /ws", async () => {
  await using s = await startWebServer({
    config: { webOrigin: "https://proxy.example.org, https://other.example:8443" },
  });
  equal(await wsStatus(s, "https://proxy.example.org"), 426);
  equal(await wsStatus(s, "https://other.example:8443"), 426);
  equal(await wsStatus(s, "https://other.example"), 403);
});

Deno.test("a --web-origin that is not an https origin stops the start with one line", async () => {
  await using dir = await tempDir();
  await rejects(
    startWebServer({ dir: dir.path, config: { webOrigin: "http://chat.example.org" } }),
    (e: Error) => {
      match(
        e.message,
        /^Cannot use --web-origin: "http:\/\/chat\.example\.org" is not an https:\/\/ origin$/,
      );
      return true;
    },
  );
});

Deno.test("parseWebOrigins() normalises origins and refuses paths and other schemes", () => {
  deepEqual(parseWebOrigins("https://Chat.Example.org:9443/, https://a.example:443"), [
    "https://chat.example.org:9443",
    "https://a.example",
  ]);
  for (const bad of ["https://a.example/page", "wss://a.example", "a.example", "https://"]) {
    throws(() => parseWebOrigins(bad), TypeError, bad);
  }
});

Deno.test("certificateNames() reads the DNS and IP names of the server certificate", async () => {
  const pki = await testPki();
  deepEqual(certificateNames(pki.otherNameServer.cert), ["chat.example.org"]);
  deepEqual(certificateNames("not a certificate"), []);
});
