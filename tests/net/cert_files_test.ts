import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { deepEqual, equal, notEqual, ok, rejects } from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  CERT_FILES,
  ensureDevCertificates,
  issueClientCertificates,
  KeyExistsError,
  writeCertificates,
} from "../../lib/net/cert_files.ts";
import { commonName } from "../../lib/net/certs.ts";
import { exists } from "../../lib/util/exists.ts";
import { tempDir } from "../_helpers.ts";

const KEYS = [CERT_FILES.caKey, CERT_FILES.serverKey, CERT_FILES.clientKey];
const CERTS = [CERT_FILES.caCert, CERT_FILES.serverCert, CERT_FILES.clientCert];

async function modeOf(path: string): Promise<number> {
  return (await Deno.stat(path)).mode! & 0o777;
}

async function read(dir: string, name: string): Promise<string> {
  return await Deno.readTextFile(join(dir, name));
}

/** Whether the certificate file `name` in `dir` is signed by `dir/ca.crt`. */
async function signedByDirCa(dir: string, name: string): Promise<boolean> {
  const ca = new x509.X509Certificate(await read(dir, CERT_FILES.caCert));
  const leaf = new x509.X509Certificate(await read(dir, name));
  return leaf.issuer === ca.subject &&
    await leaf.verify({ publicKey: ca.publicKey, date: new Date() });
}

Deno.test("writeCertificates() writes the six files, keys 0600 and certificates 0644", async () => {
  await using tmp = await tempDir();
  const dir = join(tmp.path, "certs");
  const written = await writeCertificates(dir, { clients: ["alice"] });
  deepEqual(
    written.toSorted(),
    [...KEYS, ...CERTS].map((name) => join(dir, name)).toSorted(),
  );
  deepEqual(
    (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).toSorted(),
    [
      ...KEYS,
      ...CERTS,
    ].toSorted(),
  );
  equal(await modeOf(dir), 0o700, "a new directory is private");
  for (const name of KEYS) equal(await modeOf(join(dir, name)), 0o600, name);
  for (const name of CERTS) equal(await modeOf(join(dir, name)), 0o644, name);
  for (const name of KEYS) {
    ok((await read(dir, name)).startsWith("-----BEGIN PRIVATE KEY-----\n"), name);
  }
  ok(await signedByDirCa(dir, CERT_FILES.serverCert));
  ok(await signedByDirCa(dir, CERT_FILES.clientCert));
  equal(commonName(await read(dir, CERT_FILES.clientCert)), "alice");
});

Deno.test("writeCertificates() refuses to overwrite keys without force and leaves them as they were", async () => {
  await using tmp = await tempDir();
  await writeCertificates(tmp.path, { clients: ["alice"] });
  const before = await Promise.all([...KEYS, ...CERTS].map((name) => read(tmp.path, name)));
  await rejects(writeCertificates(tmp.path, { clients: ["alice"] }), (error: unknown) => {
    ok(error instanceof KeyExistsError);
    equal(error.name, "KeyExistsError");
    equal(error.path, join(tmp.path, CERT_FILES.serverKey));
    equal(
      error.message,
      `Cannot write ${error.path}: it exists (use --force to replace it)`,
    );
    return true;
  });
  deepEqual(
    await Promise.all([...KEYS, ...CERTS].map((name) => read(tmp.path, name))),
    before,
  );
});

Deno.test("writeCertificates() with force replaces the CA and every key", async () => {
  await using tmp = await tempDir();
  await writeCertificates(tmp.path, { clients: ["alice"] });
  const before = await Promise.all([...KEYS, ...CERTS].map((name) => read(tmp.path, name)));
  const written = await writeCertificates(tmp.path, { clients: ["alice"], force: true });
  equal(written.length, 6);
  const after = await Promise.all([...KEYS, ...CERTS].map((name) => read(tmp.path, name)));
  for (const [i, name] of [...KEYS, ...CERTS].entries()) {
    notEqual(after[i], before[i], `${name} replaced`);
  }
  ok(await signedByDirCa(tmp.path, CERT_FILES.serverCert), "new leaves chain to the new CA");
  ok(await signedByDirCa(tmp.path, CERT_FILES.clientCert));
  for (const name of KEYS) equal(await modeOf(join(tmp.path, name)), 0o600, name);
});

Deno.test("writeCertificates() puts the first client in client_cert.pem and the others in client_<name>_cert.pem", async () => {
  await using tmp = await tempDir();
  const written = await writeCertificates(tmp.path, { clients: ["alice", "bob", "carol"] });
  equal(written.length, 10);
  for (
    const [cert, key, user] of [
      ["client_cert.pem", "client_key.pem", "alice"],
      ["client_bob_cert.pem", "client_bob_key.pem", "bob"],
      ["client_carol_cert.pem", "client_carol_key.pem", "carol"],
    ]
  ) {
    equal(commonName(await read(tmp.path, cert!)), user);
    ok(await signedByDirCa(tmp.path, cert!), cert);
    equal(await modeOf(join(tmp.path, key!)), 0o600, key);
    equal(await modeOf(join(tmp.path, cert!)), 0o644, cert);
  }
});

Deno.test("writeCertificates() adds the extra hosts to the server certificate", async () => {
  await using tmp = await tempDir();
  await writeCertificates(tmp.path, { hosts: ["chat.example.org", "192.0.2.10"] });
  const cert = new x509.X509Certificate(await read(tmp.path, CERT_FILES.serverCert));
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  deepEqual(san?.names.toJSON().map((n) => n.value), [
    "localhost",
    "127.0.0.1",
    "::1",
    "chat.example.org",
    "192.0.2.10",
  ]);
  equal(await exists(join(tmp.path, CERT_FILES.clientCert)), false, "no client asked for");
});

Deno.test("issueClientCertificates() signs with the CA already in the directory", async () => {
  await using tmp = await tempDir();
  await writeCertificates(tmp.path);
  const ca = await read(tmp.path, CERT_FILES.caCert);
  const caKey = await read(tmp.path, CERT_FILES.caKey);
  const written = await issueClientCertificates(tmp.path, ["dave", "erin"]);
  deepEqual(written, [
    join(tmp.path, "client_key.pem"),
    join(tmp.path, "client_cert.pem"),
    join(tmp.path, "client_erin_key.pem"),
    join(tmp.path, "client_erin_cert.pem"),
  ]);
  equal(commonName(await read(tmp.path, CERT_FILES.clientCert)), "dave");
  equal(commonName(await read(tmp.path, "client_erin_cert.pem")), "erin");
  ok(await signedByDirCa(tmp.path, CERT_FILES.clientCert), "verifies against ca.crt");
  ok(await signedByDirCa(tmp.path, "client_erin_cert.pem"));
  equal(await read(tmp.path, CERT_FILES.caCert), ca, "CA untouched");
  equal(await read(tmp.path, CERT_FILES.caKey), caKey);
  equal(await modeOf(join(tmp.path, CERT_FILES.clientKey)), 0o600);
  equal(await modeOf(join(tmp.path, CERT_FILES.clientCert)), 0o644);
});

Deno.test("issueClientCertificates() never overwrites a client key without force", async () => {
  await using tmp = await tempDir();
  await writeCertificates(tmp.path, { clients: ["alice"] });
  const key = await read(tmp.path, CERT_FILES.clientKey);
  await rejects(issueClientCertificates(tmp.path, ["alice"]), KeyExistsError);
  equal(await read(tmp.path, CERT_FILES.clientKey), key);
  await issueClientCertificates(tmp.path, ["alice"], true);
  notEqual(await read(tmp.path, CERT_FILES.clientKey), key);
  ok(await signedByDirCa(tmp.path, CERT_FILES.clientCert));
});

Deno.test("issueClientCertificates() without a CA fails with NotFound", async () => {
  await using tmp = await tempDir();
  await rejects(issueClientCertificates(tmp.path, ["alice"]), Deno.errors.NotFound);
});

Deno.test("ensureDevCertificates() creates a CA and server certificate once, then returns false", async () => {
  await using tmp = await tempDir();
  const dir = join(tmp.path, "certs");
  equal(await ensureDevCertificates(dir), true);
  deepEqual(
    (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).toSorted(),
    [
      CERT_FILES.caCert,
      CERT_FILES.caKey,
      CERT_FILES.serverCert,
      CERT_FILES.serverKey,
    ].toSorted(),
  );
  ok(await signedByDirCa(dir, CERT_FILES.serverCert));
  const cert = await read(dir, CERT_FILES.serverCert);
  equal(await ensureDevCertificates(dir), false);
  equal(await read(dir, CERT_FILES.serverCert), cert, "nothing rewritten");
});

Deno.test("ensureDevCertificates() re-issues a missing server certificate from the existing CA", async () => {
  await using tmp = await tempDir();
  await writeCertificates(tmp.path);
  const ca = await read(tmp.path, CERT_FILES.caCert);
  await Deno.remove(join(tmp.path, CERT_FILES.serverCert));
  await Deno.remove(join(tmp.path, CERT_FILES.serverKey));
  equal(await ensureDevCertificates(tmp.path), true);
  equal(await read(tmp.path, CERT_FILES.caCert), ca, "clients keep trusting the same CA");
  ok(await signedByDirCa(tmp.path, CERT_FILES.serverCert));
});

// ---------------------------------------------------------------- scripts/certs.ts

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

async function certsScript(dir: string, ...args: string[]) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      `--allow-read=${dir}`,
      `--allow-write=${dir}`,
      "scripts/certs.ts",
      "--dir",
      dir,
      ...args,
    ],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

Deno.test("scripts/certs.ts writes a CA, a server certificate and two client certificates", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const run = await certsScript(
    dir,
    "--client",
    "alice",
    "--client",
    "bob",
    "--host",
    "chat.example.org",
  );
  equal(run.code, 0, run.stderr);
  equal(run.stderr, "");
  deepEqual(
    run.stdout.trimEnd().split("\n").toSorted(),
    [
      ...KEYS,
      ...CERTS,
      "client_bob_key.pem",
      "client_bob_cert.pem",
    ].map((name) => `wrote ${join(dir, name)}`).toSorted(),
  );
  equal(commonName(await read(dir, CERT_FILES.clientCert)), "alice");
  equal(commonName(await read(dir, "client_bob_cert.pem")), "bob");
  const server = new x509.X509Certificate(await read(dir, CERT_FILES.serverCert));
  ok(
    server.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON().some((n) =>
      n.type === "dns" && n.value === "chat.example.org"
    ),
    "extra host in the SAN",
  );
  for (const name of [...KEYS, "client_bob_key.pem"]) {
    equal(await modeOf(join(dir, name)), 0o600, name);
  }

  const again = await certsScript(dir, "--client", "alice");
  equal(again.code, 1);
  equal(again.stdout, "");
  equal(
    again.stderr.trim(),
    `certs: Cannot write ${join(dir, CERT_FILES.serverKey)}: it exists (use --force to replace it)`,
  );
});

// With ca.key gone but server_key.pem present, a new CA must not be written before refusing:
// the CA that clients trust would no longer match the server certificate.
Deno.test("writeCertificates() that refuses a key changes no file", async () => {
  await using tmp = await tempDir();
  await writeCertificates(tmp.path);
  await Deno.remove(join(tmp.path, CERT_FILES.caKey));
  const ca = await read(tmp.path, CERT_FILES.caCert);
  await rejects(writeCertificates(tmp.path), KeyExistsError);
  equal(await read(tmp.path, CERT_FILES.caCert), ca);
  equal(await exists(join(tmp.path, CERT_FILES.caKey)), false);
  ok(await signedByDirCa(tmp.path, CERT_FILES.serverCert));
});

Deno.test("issueClientCertificates() gives later users their own files and keeps the first one's", async () => {
  await using tmp = await tempDir();
  await writeCertificates(tmp.path, { clients: ["alice"] });
  const aliceKey = await read(tmp.path, CERT_FILES.clientKey);
  await issueClientCertificates(tmp.path, ["carol"]);
  equal(await read(tmp.path, CERT_FILES.clientKey), aliceKey);
  equal(await modeOf(join(tmp.path, "client_carol_key.pem")), 0o600);
  ok(await signedByDirCa(tmp.path, "client_carol_cert.pem"));
  await rejects(issueClientCertificates(tmp.path, ["bad name"]), TypeError);
});
