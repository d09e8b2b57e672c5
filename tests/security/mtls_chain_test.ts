/**
 * Client certificates the TLS library verifies but that must not log anyone
 * in: a CA certificate used as a client certificate, a leaf under a sub-CA
 * (the dev CA has pathlen 0), a keyEncipherment-only certificate; and, with
 * a pin list, a valid certificate that is not pinned for its user. Each is
 * refused over a real TLS connection with an audit line; the good one still
 * logs in.
 *
 * @module
 */
import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import { type CertifiedKey, createClientCert, createSubCa } from "../../lib/net/certs.ts";
import { parseServerConfig } from "../../lib/server/settings.ts";
import { tempDir, TestClient, testPki } from "../_helpers.ts";
import { certificateAttempt } from "./_attack.ts";
import { passwordOf, startTestServer } from "../_server.ts";
import { captureLogs } from "./_log_capture.ts";

/** Certificates for CN=alice that the TLS library accepts and the server must not. */
async function badCertificates(): Promise<Record<string, CertifiedKey>> {
  const p = await testPki();
  const subCa = await createSubCa(p.ca, "Banter Sub CA");
  const underSubCa = await createClientCert(subCa, "alice");
  const subCaAlice = await createSubCa(p.ca, "alice");
  return {
    // rustls already refuses these two in the handshake (CA used as end
    // entity); the server's own check refuses them too (client_certificate_test.ts).
    "a CA certificate (cA true) as the client certificate": await createClientCert(p.ca, "alice", {
      ca: true,
      keyUsages: ["digitalSignature", "keyCertSign"],
    }),
    "a sub-CA certificate as the client certificate": subCaAlice,
    "a leaf under a sub-CA, past the dev CA's pathlen 0": {
      cert: underSubCa.cert + subCa.cert,
      key: underSubCa.key,
    },
    "keyUsage keyEncipherment only": await createClientCert(p.ca, "alice", {
      keyUsages: ["keyEncipherment"],
    }),
  };
}

async function mutualTlsServer(require: boolean, pins?: Record<string, string[]>) {
  const dir = await tempDir();
  const pinsFile = join(dir.path, "pins.json");
  if (pins) await Deno.writeTextFile(pinsFile, JSON.stringify(pins));
  const s = await startTestServer({
    dir: dir.path,
    users: ["alice", "bob"],
    config: {
      clientCa: join(dir.path, "certs", "ca.crt"),
      requireClientCert: require,
      ...(pins ? { clientCertPins: pinsFile } : {}),
    },
  });
  return {
    s,
    async [Symbol.asyncDispose]() {
      await s.stop();
      await dir[Symbol.asyncDispose]();
    },
  };
}

const WELCOME_ALICE = [
  { type: "hello", version: 1, server: "banter/0.1.0", versions: [1, 2] },
  { type: "welcome", user: "alice", role: "user" },
];

Deno.test("mutual TLS required: a CA as client certificate, a chain past pathlen 0 and a keyEncipherment-only certificate are refused and audited; a good one logs in", async () => {
  await using logs = await captureLogs();
  await using m = await mutualTlsServer(true);
  const p = await testPki();
  deepEqual(await certificateAttempt(m.s.port, p.alice), WELCOME_ALICE);
  const bad = await badCertificates();
  for (const [what, cert] of Object.entries(bad)) {
    equal(await certificateAttempt(m.s.port, cert), "refused", what);
  }
  equal(m.s.server.sessions.size, 0);
  const refusals = logs.text().filter((line) => line.includes("Client certificate from"));
  // The two the TLS library lets through, each refused with its reason.
  deepEqual(refusals.map((line) => line.replace(/^.*refused: /, "").replaceAll('"', "").trim()), [
    "the chain has more CAs than a path length allows",
    "its keyUsage lacks digitalSignature",
  ]);
  ok(refusals.every((line) => line.includes("127.0.0.1")), "the address is named");
});

Deno.test("mutual TLS optional: a refused certificate never names a user, the password is asked for", async () => {
  await using m = await mutualTlsServer(false);
  for (const [what, cert] of Object.entries(await badCertificates())) {
    const frames = await certificateAttempt(m.s.port, cert);
    ok(frames !== "refused", what);
    deepEqual(frames[1], { type: "auth", attempts_left: 3 }, what);
  }
  const bad = Object.values(await badCertificates())[0]!;
  await using c = await TestClient.connect(m.s.port, { cert: bad });
  equal((await c.login("alice", passwordOf("alice"))).type, "welcome", "the password still works");
});

Deno.test("with a pin list only the pinned certificate logs its user in; another valid one for the same user is refused", async () => {
  await using logs = await captureLogs();
  const p = await testPki();
  const pinned = new X509Certificate(p.alice.cert).fingerprint256;
  const bobCert = await createClientCert(p.ca, "bob");
  await using m = await mutualTlsServer(true, { alice: [pinned.toLowerCase()] });
  deepEqual(await certificateAttempt(m.s.port, p.alice), WELCOME_ALICE);
  const otherAlice = await createClientCert(p.ca, "alice");
  equal(await certificateAttempt(m.s.port, otherAlice), "refused", "a second alice certificate");
  equal(await certificateAttempt(m.s.port, bobCert), "refused", "bob has no pins");
  const refusals = logs.text().filter((line) => line.includes("Client certificate from"));
  equal(refusals.length, 2);
  ok(refusals.every((line) => line.includes("its fingerprint is not pinned for its user")));
});

Deno.test("a pin list without a client CA is refused at start, naming the setting", () => {
  throws(
    () => parseServerConfig(["--client-cert-pins", "pins.json"]),
    (error: Error) => error.message === "clientCertPins needs clientCa",
  );
});
