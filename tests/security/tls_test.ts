/**
 * The TLS door: old protocol versions, non-AEAD suites, plaintext, HTTP and
 * garbage are refused on both engines (checked with `openssl s_client` and
 * raw probes); in mutual-TLS mode only a valid certificate from the client
 * CA gets in, and an unverified certificate never names a user.
 *
 * @module
 */
import { deepEqual, equal, match, ok } from "node:assert/strict";
import { join } from "node:path";
import {
  type CertifiedKey,
  createCa,
  createClientCert,
  createServerCert,
} from "../../lib/net/certs.ts";
import type { TransportEngine } from "../../lib/net/tls_server.ts";
import { tempDir, TestClient, testPki } from "../_helpers.ts";
import { certificateAttempt } from "./_attack.ts";
import { passwordOf, startTestServer, type TestServer } from "../_server.ts";
import { probe, tls11ClientHello } from "../_tls_probe.ts";

const OPENSSL = "/usr/bin/openssl";

/** Every TLS 1.2 suite OpenSSL knows that is not an AEAD (CBC, RC4, NULL, ...). */
const NON_AEAD_SUITES = "ALL:COMPLEMENTOFALL:!AESGCM:!AESCCM:!CHACHA20:!ARIAGCM:@SECLEVEL=0";

interface Handshake {
  /** `TLSv1.2`, `TLSv1.3`, or undefined when no session was set up. */
  protocol: string | undefined;
  cipher: string | undefined;
  output: string;
}

/** Run `openssl s_client` against the server, verifying it with the test CA. */
async function sClient(port: number, caFile: string, args: string[]): Promise<Handshake> {
  const { stdout, stderr } = await new Deno.Command(OPENSSL, {
    args: [
      "s_client",
      "-connect",
      `127.0.0.1:${port}`,
      "-servername",
      "localhost",
      "-CAfile",
      caFile,
      "-verify_return_error",
      ...args,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(10_000),
  }).output();
  const output = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  const session = output.match(/New, (TLSv[\d.]+), Cipher is (\S+)/);
  return { protocol: session?.[1], cipher: session?.[2], output };
}

async function withServer(
  engine: TransportEngine,
  test: (s: TestServer, caFile: string) => Promise<void>,
): Promise<void> {
  await using s = await startTestServer({ config: { tlsEngine: engine } });
  await test(s, join(s.dir, "certs", "ca.crt"));
}

for (const engine of ["node", "deno"] as const) {
  Deno.test(`${engine} engine: TLS 1.0 and 1.1 are refused, even when the client offers every suite`, async () => {
    await withServer(engine, async (s, ca) => {
      for (const version of ["-tls1", "-tls1_1"]) {
        const result = await sClient(s.port, ca, [version, "-cipher", "ALL:@SECLEVEL=0"]);
        equal(result.protocol, undefined, `${version}: ${result.output}`);
        // The server's alert, not the client refusing to try.
        match(result.output, /alert (handshake failure|protocol version)/i);
      }
    });
  });

  Deno.test(`${engine} engine: TLS 1.2 without an AEAD suite is refused`, async () => {
    await withServer(engine, async (s, ca) => {
      for (
        const suites of [
          "AES128-SHA",
          "ECDHE-ECDSA-AES128-SHA",
          "ECDHE-ECDSA-AES256-SHA384",
          NON_AEAD_SUITES,
        ]
      ) {
        const result = await sClient(s.port, ca, ["-tls1_2", "-cipher", suites]);
        equal(result.protocol, undefined, `${suites} was accepted: ${result.cipher}`);
        match(result.output, /handshake failure|alert/i);
      }
    });
  });

  Deno.test(`${engine} engine: TLS 1.2 with ECDHE and AEAD, and TLS 1.3, work; the default choice is forward-secret AEAD`, async () => {
    await withServer(engine, async (s, ca) => {
      for (
        const suite of [
          "ECDHE-ECDSA-AES128-GCM-SHA256",
          "ECDHE-ECDSA-AES256-GCM-SHA384",
          "ECDHE-ECDSA-CHACHA20-POLY1305",
        ]
      ) {
        const result = await sClient(s.port, ca, ["-tls1_2", "-cipher", suite]);
        deepEqual([result.protocol, result.cipher], ["TLSv1.2", suite], result.output);
        match(result.output, /Verify return code: 0 \(ok\)/);
      }
      const chosen = await sClient(s.port, ca, ["-tls1_2"]);
      equal(chosen.protocol, "TLSv1.2");
      match(chosen.cipher ?? "", /^ECDHE-(ECDSA|RSA)-(AES\d+-GCM-SHA\d+|CHACHA20-POLY1305)$/);
      const tls13 = await sClient(s.port, ca, ["-tls1_3"]);
      equal(tls13.protocol, "TLSv1.3", tls13.output);
      match(tls13.cipher ?? "", /^TLS_(AES_\d+_GCM_SHA\d+|CHACHA20_POLY1305_SHA256)$/);
    });
  });

  Deno.test(`${engine} engine: plaintext, HTTP, garbage and a TLS 1.1 hello on the TLS port get no frame and are closed`, async () => {
    await withServer(engine, async (s) => {
      await using alice = await s.client();
      for (
        const payload of [
          '{"type":"hello","version":1}\n',
          "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n",
          "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
          crypto.getRandomValues(new Uint8Array(4096)),
          new Uint8Array(4096),
          tls11ClientHello(),
        ]
      ) {
        const result = await probe(s.port, payload);
        ok(result.closed, "closed");
        // At most a TLS alert record (content type 21), never a ServerHello or a frame.
        ok(
          result.bytes.length === 0 || (result.bytes[0] === 0x15 && result.bytes.length <= 7),
          `answered ${result.bytes.subarray(0, 16)}`,
        );
      }
      // Someone connected properly was not disturbed.
      equal((await alice.next())?.type, "hello");
    });
  });
}

Deno.test("HTTP sent inside TLS is a protocol error, answered with error and bye", async () => {
  await using s = await startTestServer();
  await using c = await s.client();
  await c.sendRaw("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
  const frames = await c.untilClosed();
  deepEqual(frames.slice(-2).map((f) => `${f.type}:${"code" in f ? f.code : ""}`), [
    "error:invalid_json",
    "bye:protocol_error",
  ]);
});

async function mutualTlsServer(require: boolean) {
  const dir = await tempDir();
  const s = await startTestServer({
    dir: dir.path,
    users: ["alice"],
    config: { clientCa: join(dir.path, "certs", "ca.crt"), requireClientCert: require },
  });
  return {
    s,
    async [Symbol.asyncDispose]() {
      await s.stop();
      await dir[Symbol.asyncDispose]();
    },
  };
}

/** Client certificates that must never count: CN=alice each time. */
async function badCertificates(): Promise<Record<string, CertifiedKey>> {
  const p = await testPki();
  const selfSigned = await createCa("alice");
  return {
    expired: await createClientCert(p.ca, "alice", {
      notBefore: new Date(Date.now() - 10 * 86_400_000),
      days: 1,
    }),
    "not yet valid": await createClientCert(p.ca, "alice", {
      notBefore: new Date(Date.now() + 10 * 86_400_000),
      days: 30,
    }),
    "from a foreign CA": p.foreignAlice,
    "self-signed": { cert: selfSigned.cert, key: selfSigned.key },
    "for a server (extended key usage serverAuth only)": await createServerCert(p.ca, {
      localhost: false,
      hosts: ["alice"],
    }),
  };
}

Deno.test("mutual TLS required: a valid client certificate logs its user in; none, expired, not yet valid, foreign, self-signed and server-only ones are refused", async () => {
  await using m = await mutualTlsServer(true);
  const p = await testPki();
  deepEqual(await certificateAttempt(m.s.port, p.alice), [
    { type: "hello", version: 1, server: "banter/0.1.0", versions: [1, 2] },
    { type: "welcome", user: "alice", role: "user" },
  ]);
  equal(await certificateAttempt(m.s.port), "refused", "no certificate");
  for (const [what, cert] of Object.entries(await badCertificates())) {
    equal(await certificateAttempt(m.s.port, cert), "refused", what);
  }
  equal(m.s.server.sessions.size, 0);
});

Deno.test("mutual TLS optional: a certificate that does not verify never names a user, the password is asked for", async () => {
  await using m = await mutualTlsServer(false);
  for (const [what, cert] of Object.entries(await badCertificates())) {
    const frames = await certificateAttempt(m.s.port, cert);
    ok(frames !== "refused", what);
    deepEqual(frames[1], { type: "auth", attempts_left: 3 }, what);
  }
  const c = await TestClient.connect(m.s.port, { cert: (await testPki()).foreignAlice });
  await using _ = c;
  equal((await c.login("alice", passwordOf("alice"))).type, "welcome", "the password still works");
});
