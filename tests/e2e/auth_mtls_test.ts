/**
 * Mutual TLS logins over real TLS: a client certificate from our CA names
 * the user, optionally on top of a password. Certificates that must not
 * count (foreign, expired, self-signed, ...) and servers that require one are
 * in tests/security/tls_test.ts.
 *
 * @module
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { join } from "node:path";
import type { CertifiedKey } from "../../lib/net/certs.ts";
import type { ServerFrame } from "../../lib/wire/protocol.ts";
import { tempDir, TestClient, testPki } from "../_helpers.ts";
import { passwordOf, startTestServer, type TestServer } from "../_server.ts";
import type { ServerConfig } from "../../lib/server/settings.ts";

const AUTH_PROMPT = { type: "auth", attempts_left: 3 };
const ALICE = { type: "welcome", user: "alice", role: "user" };

/** A server for alice and bob that trusts client certificates from the test CA. */
async function mtlsServer(
  dir: string,
  config: Partial<ServerConfig> = {},
): Promise<TestServer> {
  const clientCa = join(dir, "client_ca.pem");
  await Deno.writeTextFile(clientCa, (await testPki()).ca.cert);
  return await startTestServer({ users: ["alice", "bob"], dir, config: { clientCa, ...config } });
}

/** Connect with `cert`, say hello, and return the first frame after the server's hello. */
async function helloWith(port: number, cert: CertifiedKey): Promise<{
  client: TestClient;
  first: ServerFrame | undefined;
}> {
  const client = await TestClient.connect(port, { cert });
  equal((await client.next())?.type, "hello");
  await client.send({ type: "hello", version: 1 });
  return { client, first: await client.next() };
}

/** Connect with alice's certificate, check that a password is still asked for, and send `login`. */
async function aliceCertThenLogin(
  port: number,
  login: { username: string; password: string },
): Promise<TestClient> {
  const { client, first } = await helloWith(port, (await testPki()).alice);
  try {
    deepEqual(first, AUTH_PROMPT);
    await client.send({ type: "login", ...login });
    return client;
  } catch (error) {
    await client[Symbol.asyncDispose]();
    throw error;
  }
}

Deno.test("mutual TLS: alice's certificate logs her in without a password", async () => {
  const p = await testPki();
  await using dir = await tempDir();
  await using s = await mtlsServer(dir.path);
  const { client, first } = await helloWith(s.port, p.alice);
  await using _ = client;
  deepEqual(first, ALICE);
  await client.send({ type: "ping", id: 1 });
  await client.until((f) => f.type === "pong" && f.id === 1);
  ok(!client.received.some((f) => f.type === "auth"), "no password prompt");
});

Deno.test("mutual TLS: without a certificate the server asks for a password", async () => {
  await using dir = await tempDir();
  await using s = await mtlsServer(dir.path);
  await using client = await s.login("bob");
  ok(client.received.some((f) => f.type === "auth"));
});

Deno.test("mutual TLS with requirePassword: alice's certificate still needs alice's password", async () => {
  await using dir = await tempDir();
  await using s = await mtlsServer(dir.path, { requirePassword: true });
  {
    await using client = await aliceCertThenLogin(s.port, {
      username: "alice",
      password: passwordOf("alice"),
    });
    deepEqual(await client.next(), ALICE);
  }
  {
    await using client = await aliceCertThenLogin(s.port, {
      username: "alice",
      password: "not alice's password",
    });
    equal((await client.next())?.type, "auth_failed", "a wrong password fails");
  }
});

Deno.test("mutual TLS with requirePassword: alice's certificate cannot log in as bob", async () => {
  await using dir = await tempDir();
  await using s = await mtlsServer(dir.path, { requirePassword: true });
  await using client = await aliceCertThenLogin(s.port, {
    username: "bob",
    password: passwordOf("bob"),
  });
  deepEqual(await client.next(), {
    type: "auth_failed",
    reason: "invalid",
    attempts_left: 2,
    message: "Wrong username or password, 2 attempts left",
  });
  await client.until((f) => f.type === "auth");
  await client.send({ type: "login", username: "alice", password: passwordOf("alice") });
  deepEqual(await client.next(), ALICE, "the certificate's own user still can");
});
