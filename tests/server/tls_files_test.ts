import { equal, rejects, throws } from "node:assert/strict";
import { join } from "node:path";
import { CERT_FILES } from "../../lib/net/cert_files.ts";
import { createCa } from "../../lib/net/certs.ts";
import { checkKeyPair, loadTls, readPem } from "../../lib/server/tls_files.ts";
import { tempDir, testPki } from "../_helpers.ts";

Deno.test("loadTls() never creates certificates: missing default files are named with the command that makes them", async () => {
  await using dir = await tempDir();
  const certsDir = join(dir.path, "certs");
  const config = { cert: undefined, key: undefined, certsDir, clientCa: undefined };
  await rejects(loadTls(config), (error: Error) => {
    equal(
      error.message.replace(/: No such file.*?\. Create/, ": <missing>. Create"),
      `Cannot read server certificate ${
        join(certsDir, CERT_FILES.serverCert)
      }: <missing>. Create development certificates with: deno task certs --dir ${certsDir} (or give --cert and --key)`,
    );
    return true;
  });
  await rejects(Deno.stat(certsDir), Deno.errors.NotFound, "nothing was created");
});

Deno.test("loadTls() reads configured files and the client CA, and names a missing one", async () => {
  await using dir = await tempDir();
  const pki = await testPki();
  const cert = join(dir.path, "server.pem");
  const key = join(dir.path, "server-key.pem");
  const clientCa = join(dir.path, "clients.pem");
  await Deno.writeTextFile(cert, pki.server.cert);
  await Deno.writeTextFile(key, pki.server.key);
  await Deno.writeTextFile(clientCa, pki.ca.cert);
  const files = await loadTls({ cert, key, certsDir: dir.path, clientCa });
  equal(files.cert, pki.server.cert);
  equal(files.key, pki.server.key);
  equal(files.clientCa, pki.ca.cert);
  const missing = join(dir.path, "missing.pem");
  await rejects(
    loadTls({ cert, key, certsDir: dir.path, clientCa: missing }),
    (error: Error) => error.message.startsWith(`Cannot read client CA ${missing}: `),
  );
});

Deno.test("readPem() names what and where in its error, with the cause", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "nope.pem");
  await rejects(readPem(path, "server key"), (error: Error) => {
    equal(error.message.startsWith(`Cannot read server key ${path}: `), true, error.message);
    equal(error.cause instanceof Deno.errors.NotFound, true);
    return true;
  });
});

Deno.test("checkKeyPair() refuses a certificate or key that does not parse, and a key of another certificate", async () => {
  const pki = await testPki();
  const other = await createCa("some other key");
  checkKeyPair(pki.server.cert, "c.pem", pki.server.key, "k.pem");
  throws(() => checkKeyPair("garbage", "c.pem", pki.server.key, "k.pem"), {
    message: "Cannot use server certificate c.pem: not a PEM certificate",
  });
  throws(() => checkKeyPair(pki.server.cert, "c.pem", "garbage", "k.pem"), {
    message: "Cannot use server key k.pem: not a PEM private key",
  });
  throws(() => checkKeyPair(pki.server.cert, "c.pem", other.key, "k.pem"), {
    message: "Cannot use server key k.pem: it does not match c.pem",
  });
});

Deno.test("loadTls() reads a client certificate pin list, and names the file when it is not one", async () => {
  await using dir = await tempDir();
  const pki = await testPki();
  const cert = join(dir.path, "server.pem");
  const key = join(dir.path, "server-key.pem");
  const clientCa = join(dir.path, "clients.pem");
  const clientCertPins = join(dir.path, "pins.json");
  await Deno.writeTextFile(cert, pki.server.cert);
  await Deno.writeTextFile(key, pki.server.key);
  await Deno.writeTextFile(clientCa, pki.ca.cert);
  const print = "ab:".repeat(31) + "ab";
  await Deno.writeTextFile(clientCertPins, JSON.stringify({ alice: [print] }));
  const config = { cert, key, certsDir: dir.path, clientCa, clientCertPins };
  const files = await loadTls(config);
  equal(files.clientCertPins?.get("alice")?.has("AB".repeat(32)), true);
  for (
    const [text, reason] of [
      ["{", "not JSON"],
      ['["alice"]', "Cannot read client certificate pins: not a JSON object"],
      ['{"alice": ["AB:CD"]}', "Cannot read fingerprint: not 64 hex digits (SHA-256)"],
    ]
  ) {
    await Deno.writeTextFile(clientCertPins, text!);
    await rejects(
      loadTls(config),
      (error: Error) => {
        equal(error.message, `Cannot use client certificate pins ${clientCertPins}: ${reason}`);
        return true;
      },
    );
  }
});
