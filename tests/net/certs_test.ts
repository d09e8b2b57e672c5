import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { join } from "node:path";
import {
  type CertificateAuthority,
  commonName,
  createCa,
  createClientCert,
  createServerCert,
  loadCa,
} from "../../lib/net/certs.ts";
import type { Connection } from "../../lib/net/connection.ts";
import { ConnectError, type ConnectOptions } from "../../lib/net/tls_client.ts";
import type { ListenOptions } from "../../lib/net/tls_server.ts";
import { type EchoServer, echoServer } from "../_echo_server.ts";
import { tempDir, within } from "../_helpers.ts";

const DAY_MS = 86_400_000;
const START = new Date(Date.UTC(2026, 0, 1));
const P256 = { name: "ECDSA", namedCurve: "P-256" };

// ---------------------------------------------------------------- helpers

function parse(pem: string): x509.X509Certificate {
  return new x509.X509Certificate(pem);
}

/** The certificate's version as people count it (the DER field holds 2 for v3). */
function versionOf(cert: x509.X509Certificate): number {
  const der = new Uint8Array(cert.rawData);
  const contents = (at: number) => {
    const length = der[at + 1]!;
    return at + 2 + (length & 0x80 ? length & 0x7f : 0);
  };
  const field = contents(contents(0)); // first field of tbsCertificate
  if (der[field] !== 0xa0) return 1; // [0] version omitted: v1
  return der[contents(field) + 2]! + 1; // [0] { INTEGER n }
}

function extension<T extends x509.Extension>(
  cert: x509.X509Certificate,
  type: new (raw: BufferSource) => T,
): T {
  const found = cert.getExtension(type);
  ok(found, `certificate has ${type.name}`);
  return found;
}

function assertLeafBasics(cert: x509.X509Certificate): void {
  equal(versionOf(cert), 3);
  deepEqual(cert.publicKey.algorithm, P256);
  equal(cert.signatureAlgorithm.name, "ECDSA");
  equal(cert.signatureAlgorithm.hash.name, "SHA-256");
  const basic = extension(cert, x509.BasicConstraintsExtension);
  equal(basic.ca, false);
  equal(basic.critical, true);
}

async function verifiesAgainst(
  leaf: x509.X509Certificate,
  ca: CertificateAuthority,
): Promise<boolean> {
  return leaf.issuer === ca.certificate.subject &&
    await leaf.verify({ publicKey: ca.certificate.publicKey, date: new Date() });
}

// ---------------------------------------------------------------- lib/net/certs.ts

Deno.test("createCa() makes a v3 ECDSA P-256 certificate with critical CA:TRUE and keyCertSign", async () => {
  const ca = await createCa("Test CA", { notBefore: START });
  const cert = parse(ca.cert);
  equal(versionOf(cert), 3);
  equal(cert.subject, "CN=Test CA");
  deepEqual(cert.publicKey.algorithm, P256);
  equal(cert.signatureAlgorithm.hash.name, "SHA-256");
  ok(await cert.isSelfSigned());
  const basic = extension(cert, x509.BasicConstraintsExtension);
  equal(basic.ca, true);
  equal(basic.critical, true);
  equal(basic.pathLength, 0);
  const usage = extension(cert, x509.KeyUsagesExtension);
  equal(usage.critical, true);
  ok(usage.usages & x509.KeyUsageFlags.keyCertSign, "keyCertSign");
  ok(usage.usages & x509.KeyUsageFlags.cRLSign, "cRLSign");
  equal(usage.usages & x509.KeyUsageFlags.digitalSignature, 0);
  equal(cert.notAfter.getTime() - cert.notBefore.getTime(), 3650 * DAY_MS);
  ok(ca.key.startsWith("-----BEGIN PRIVATE KEY-----\n"), "PKCS#8 PEM key");
});

Deno.test("createServerCert() names localhost, 127.0.0.1, ::1 and extra hosts, for serverAuth", async () => {
  const ca = await createCa();
  const server = await createServerCert(ca, {
    hosts: ["chat.example.org", "192.0.2.10", "2001:db8::1", "localhost"],
    notBefore: START,
  });
  const cert = parse(server.cert);
  assertLeafBasics(cert);
  equal(cert.subject, "CN=localhost");
  const san = extension(cert, x509.SubjectAlternativeNameExtension).names.toJSON();
  deepEqual(san, [
    { type: "dns", value: "localhost" },
    { type: "ip", value: "127.0.0.1" },
    { type: "ip", value: "::1" },
    { type: "dns", value: "chat.example.org" },
    { type: "ip", value: "192.0.2.10" },
    { type: "ip", value: "2001:db8::1" },
  ]);
  deepEqual(extension(cert, x509.ExtendedKeyUsageExtension).usages, [
    x509.ExtendedKeyUsage.serverAuth,
  ]);
  const usage = extension(cert, x509.KeyUsagesExtension);
  equal(usage.usages, x509.KeyUsageFlags.digitalSignature);
  equal(usage.critical, true);
  equal(cert.notAfter.getTime() - cert.notBefore.getTime(), 825 * DAY_MS);
  ok(server.key.startsWith("-----BEGIN PRIVATE KEY-----\n"), "PKCS#8 PEM key");
});

Deno.test("createServerCert() with localhost: false names only the given hosts", async () => {
  const ca = await createCa();
  const cert = parse(
    (await createServerCert(ca, { localhost: false, hosts: ["chat.example.org"] })).cert,
  );
  equal(cert.subject, "CN=chat.example.org");
  deepEqual(extension(cert, x509.SubjectAlternativeNameExtension).names.toJSON(), [
    { type: "dns", value: "chat.example.org" },
  ]);
});

Deno.test("createClientCert() puts the user name in the CN, for clientAuth", async () => {
  const ca = await createCa();
  const client = await createClientCert(ca, "alice");
  const cert = parse(client.cert);
  assertLeafBasics(cert);
  equal(cert.subject, "CN=alice");
  equal(commonName(client.cert), "alice");
  equal(commonName(new Uint8Array(cert.rawData)), "alice", "DER, as TLS hands it over");
  deepEqual(extension(cert, x509.ExtendedKeyUsageExtension).usages, [
    x509.ExtendedKeyUsage.clientAuth,
  ]);
  equal(cert.getExtension(x509.SubjectAlternativeNameExtension), null);
});

Deno.test("createClientCert() keeps DN special characters in the CN intact", async () => {
  const ca = await createCa();
  for (const name of ["a,b", "x=y", "#hash", 'o"neil', "semi;colon", "<tag>", "p+q", "b\\s"]) {
    equal(commonName((await createClientCert(ca, name)).cert), name);
  }
});

Deno.test("issued certificates chain to their CA and not to another one", async () => {
  const ca = await createCa("Banter Test CA");
  const foreign = await createCa("Foreign CA");
  for (const leaf of [await createServerCert(ca), await createClientCert(ca, "alice")]) {
    const cert = parse(leaf.cert);
    ok(await verifiesAgainst(cert, ca), "verifies against its CA");
    const chain = await new x509.X509ChainBuilder({
      certificates: [foreign.certificate, ca.certificate],
    }).build(cert);
    deepEqual(chain.map((c) => c.subject), [cert.subject, "CN=Banter Test CA"]);
    equal(
      await cert.verify({ publicKey: foreign.certificate.publicKey, date: new Date() }),
      false,
    );
  }
});

Deno.test("loadCa() reads back a CA that issues certificates the original verifies", async () => {
  const ca = await createCa("Round Trip CA");
  const loaded = await loadCa(ca.cert, ca.key);
  equal(loaded.cert, ca.cert);
  equal(loaded.key, ca.key);
  equal(loaded.certificate.subject, "CN=Round Trip CA");
  const client = parse((await createClientCert(loaded, "bob")).cert);
  ok(await verifiesAgainst(client, ca));
});

Deno.test("loadCa() of garbage throws SyntaxError", async () => {
  const ca = await createCa();
  for (
    const [cert, key] of [
      ["garbage", "garbage"],
      [ca.cert, "not a key"],
      ["not a certificate", ca.key],
      [ca.cert, ca.cert],
    ]
  ) {
    await rejects(loadCa(cert!, key!), (error: unknown) => {
      ok(error instanceof SyntaxError);
      equal(error.message, "Cannot load CA: certificate or key is not valid PEM");
      ok(error.cause !== undefined, "keeps the cause");
      return true;
    });
  }
});

// ---------------------------------------------------------------- openssl interop

const DOC = new URL("../../docs/CERTIFICATES.md", import.meta.url);
const BLOCK =
  /<!-- openssl-commands:begin -->\s*```bash\n([\s\S]*?)\n```\s*<!-- openssl-commands:end -->/;

/** The bash block of docs/CERTIFICATES.md, exactly as a reader would paste it. */
async function opensslCommands(): Promise<string> {
  const match = BLOCK.exec(await Deno.readTextFile(DOC));
  ok(match?.[1], "docs/CERTIFICATES.md has the marked openssl block");
  return match[1];
}

async function run(command: string, args: string[], cwd: string): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(command, {
    args,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  equal(code, 0, `${command} ${args.join(" ")} failed:\n${text}`);
  return text;
}

/** The PEM files the documented openssl commands write. */
interface OpensslFiles {
  ca: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/** Run the documented block in a fresh temp dir and read what it wrote. */
async function opensslPki(): Promise<AsyncDisposable & { dir: string; files: OpensslFiles }> {
  const tmp = await tempDir();
  try {
    const output = await run("bash", ["-c", await opensslCommands()], tmp.path);
    ok(output.includes("server_cert.pem: OK"), output);
    ok(output.includes("client_cert.pem: OK"), output);
    const read = (name: string) => Deno.readTextFile(join(tmp.path, name));
    const files: OpensslFiles = {
      ca: await read("ca.crt"),
      caKey: await read("ca.key"),
      serverCert: await read("server_cert.pem"),
      serverKey: await read("server_key.pem"),
      clientCert: await read("client_cert.pem"),
      clientKey: await read("client_key.pem"),
    };
    return { dir: tmp.path, files, [Symbol.asyncDispose]: () => tmp[Symbol.asyncDispose]() };
  } catch (error) {
    await tmp[Symbol.asyncDispose]();
    throw error;
  }
}

/**
 * An echo server (node engine) on the openssl server certificate and key,
 * unless `options` say otherwise.
 */
function opensslServer(
  files: OpensslFiles,
  options: Partial<ListenOptions> = {},
): Promise<EchoServer> {
  return echoServer({ engine: "node", cert: files.serverCert, key: files.serverKey, ...options });
}

/** Send `bytes` and read until the same number of bytes came back. */
async function roundTrip(conn: Connection, bytes: Uint8Array): Promise<Uint8Array> {
  await conn.sink.write(bytes);
  const received: number[] = [];
  while (received.length < bytes.length) {
    const chunk = await within(conn.source.read(), 5000, "the echo");
    if (chunk === undefined) break;
    received.push(...chunk);
  }
  return new Uint8Array(received);
}

const PAYLOAD = new TextEncoder().encode('{"type":"hello","version":1}\n… ünïcode ✓\n');

/** Connect to `echo` with `options`, and check that PAYLOAD comes back unchanged. */
async function assertEchoes(echo: EchoServer, options: Partial<ConnectOptions>): Promise<void> {
  const conn = await echo.connect(options);
  try {
    deepEqual(await roundTrip(conn, PAYLOAD), PAYLOAD);
  } finally {
    conn.close();
  }
}

Deno.test("the openssl commands in docs/CERTIFICATES.md make certificates Banter's mutual TLS accepts", async () => {
  await using pki = await opensslPki();
  const { files } = pki;
  await using echo = await opensslServer(files, { clientCa: files.ca, requireClientCert: true });
  await assertEchoes(echo, {
    caCerts: [files.ca],
    cert: files.clientCert,
    key: files.clientKey,
  });
  equal(echo.peers.length, 1);
  equal(echo.peers[0]?.certificateName, "alice");
});

Deno.test("the documented openssl certificates carry the documented extensions", async () => {
  await using pki = await opensslPki();
  const { files } = pki;
  const ca = parse(files.ca);
  equal(versionOf(ca), 3);
  deepEqual(ca.publicKey.algorithm, P256);
  const basic = extension(ca, x509.BasicConstraintsExtension);
  ok(basic.ca && basic.critical, "CA:TRUE, critical");
  const usage = extension(ca, x509.KeyUsagesExtension);
  ok(usage.critical && usage.usages & x509.KeyUsageFlags.keyCertSign, "keyCertSign, critical");
  const server = parse(files.serverCert);
  assertLeafBasics(server);
  deepEqual(extension(server, x509.SubjectAlternativeNameExtension).names.toJSON(), [
    { type: "dns", value: "localhost" },
    { type: "ip", value: "127.0.0.1" },
    { type: "ip", value: "::1" },
  ]);
  deepEqual(extension(server, x509.ExtendedKeyUsageExtension).usages, [
    x509.ExtendedKeyUsage.serverAuth,
  ]);
  const client = parse(files.clientCert);
  assertLeafBasics(client);
  equal(commonName(files.clientCert), "alice");
  deepEqual(extension(client, x509.ExtendedKeyUsageExtension).usages, [
    x509.ExtendedKeyUsage.clientAuth,
  ]);
  for (const key of [files.caKey, files.serverKey, files.clientKey]) {
    ok(key.startsWith("-----BEGIN PRIVATE KEY-----\n"), "keys are PKCS#8");
  }
  for (const name of ["ca.key", "server_key.pem", "client_key.pem"]) {
    equal((await Deno.stat(join(pki.dir, name))).mode! & 0o777, 0o600, name);
  }
  for (const name of ["ca.crt", "server_cert.pem", "client_cert.pem"]) {
    equal((await Deno.stat(join(pki.dir, name))).mode! & 0o777, 0o644, name);
  }
});

Deno.test("the documented openssl commands refuse to overwrite existing keys", async () => {
  await using pki = await opensslPki();
  const { code, stderr } = await new Deno.Command("bash", {
    args: ["-c", await opensslCommands()],
    cwd: pki.dir,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  equal(code, 1);
  ok(new TextDecoder().decode(stderr).includes("ca.key exists"));
  equal(await Deno.readTextFile(join(pki.dir, "ca.key")), pki.files.caKey);
});

Deno.test("our client refuses the openssl server when it trusts a different CA", async () => {
  await using pki = await opensslPki();
  const { files } = pki;
  const other = await createCa("Some Other CA");
  await using echo = await opensslServer(files);
  await rejects(
    echo.connect({
      caCerts: [other.cert],
      cert: files.clientCert,
      key: files.clientKey,
    }),
    (error: unknown) => error instanceof ConnectError && error.code === "unknown_ca",
  );
  equal(echo.peers.length, 0);
});

Deno.test("a certificate from the client CA without clientAuth does not name the peer", async () => {
  await using pki = await opensslPki();
  const { files } = pki;
  await using echo = await opensslServer(files, { clientCa: files.ca });
  await assertEchoes(echo, {
    caCerts: [files.ca],
    cert: files.serverCert, // serverAuth only, CN=localhost
    key: files.serverKey,
  });
  equal(echo.peers[0]?.certificateName, undefined);
});

Deno.test("openssl SEC1 'EC PRIVATE KEY' files work for TLS but not for loadCa()", async () => {
  await using pki = await opensslPki();
  const { files } = pki;
  const sec1 = async (name: string) => {
    await run("openssl", ["ec", "-in", name, "-out", `${name}.sec1`], pki.dir);
    const key = await Deno.readTextFile(join(pki.dir, `${name}.sec1`));
    ok(key.startsWith("-----BEGIN EC PRIVATE KEY-----\n"), `${name} converted to SEC1`);
    return key;
  };
  const serverKey = await sec1("server_key.pem");
  const clientKey = await sec1("client_key.pem");
  {
    await using echo = await opensslServer(files, {
      key: serverKey,
      clientCa: files.ca,
      requireClientCert: true,
    });
    await assertEchoes(echo, {
      caCerts: [files.ca],
      cert: files.clientCert,
      key: clientKey,
    });
    equal(echo.peers[0]?.certificateName, "alice");
  }
  {
    await using echo = await opensslServer(files, { engine: "deno", key: serverKey });
    await assertEchoes(echo, { hostname: "127.0.0.1", caCerts: [files.ca] });
  }
  await rejects(loadCa(files.ca, await sec1("ca.key")), SyntaxError);
});

// openssl writes the CA's CN as a UTF8String; issued certificates must name the issuer with
// those exact bytes, since rustls compares them.
Deno.test({
  name: "loadCa() takes the documented openssl CA and issues client certificates its TLS accepts",
}, async () => {
  await using pki = await opensslPki();
  const { files } = pki;
  const ca = await loadCa(files.ca, files.caKey);
  const bob = await createClientCert(ca, "bob");
  await using echo = await opensslServer(files, { clientCa: files.ca, requireClientCert: true });
  await assertEchoes(echo, {
    caCerts: [files.ca],
    cert: bob.cert,
    key: bob.key,
  });
  equal(echo.peers[0]?.certificateName, "bob");
});
