import { equal, throws } from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { createCa, createClientCert, createServerCert, createSubCa } from "../../lib/net/certs.ts";
import {
  clientCertificateProblem,
  normaliseFingerprint,
  parseCertificates,
  parseClientCertPins,
} from "../../lib/net/client_certificate.ts";
import { readCertificateExtensions } from "../../lib/net/_x509_extensions.ts";
import { testPki } from "../_helpers.ts";

const der = (pem: string) => new X509Certificate(pem).raw;

async function policy() {
  const p = await testPki();
  return { p, anchors: parseCertificates(p.ca.cert) };
}

Deno.test("clientCertificateProblem() passes a client certificate from the client CA", async () => {
  const { p, anchors } = await policy();
  equal(clientCertificateProblem([der(p.alice.cert)], "alice", { anchors }), undefined);
});

Deno.test("clientCertificateProblem() refuses a CA, a sub-CA and the client CA itself as the leaf", async () => {
  const { p, anchors } = await policy();
  const caLeaf = await createClientCert(p.ca, "alice", { ca: true });
  const subCa = await createSubCa(p.ca, "alice");
  for (const cert of [caLeaf.cert, subCa.cert, p.ca.cert]) {
    equal(clientCertificateProblem([der(cert)], "alice", { anchors }), "it is a CA certificate");
  }
});

Deno.test("clientCertificateProblem() refuses a chain past the client CA's pathlen 0, sent or not", async () => {
  const { p, anchors } = await policy();
  const subCa = await createSubCa(p.ca, "Sub CA");
  const leaf = await createClientCert(subCa, "alice");
  const problem = "the chain has more CAs than a path length allows";
  equal(clientCertificateProblem([der(leaf.cert), der(subCa.cert)], "alice", { anchors }), problem);
  equal(
    clientCertificateProblem([der(leaf.cert)], "alice", { anchors }),
    "the chain does not lead to the client CA",
  );
});

Deno.test("clientCertificateProblem() refuses a wrong keyUsage or extendedKeyUsage", async () => {
  const { p, anchors } = await policy();
  const keyEncipherment = await createClientCert(p.ca, "alice", { keyUsages: ["keyEncipherment"] });
  equal(
    clientCertificateProblem([der(keyEncipherment.cert)], "alice", { anchors }),
    "its keyUsage lacks digitalSignature",
  );
  const server = await createServerCert(p.ca, { localhost: false, hosts: ["alice"] });
  equal(
    clientCertificateProblem([der(server.cert)], "alice", { anchors }),
    "its extendedKeyUsage lacks clientAuth",
  );
});

Deno.test("clientCertificateProblem() refuses a certificate from another CA and garbage", async () => {
  const { p, anchors } = await policy();
  const foreign = await createClientCert(await createCa("Foreign"), "alice");
  equal(
    clientCertificateProblem([der(foreign.cert)], "alice", { anchors }),
    "the chain does not lead to the client CA",
  );
  equal(
    clientCertificateProblem([new Uint8Array([0x30, 0x03, 1, 2, 3])], "alice", { anchors }),
    "a certificate of the chain does not parse",
  );
  equal(clientCertificateProblem([], "alice", { anchors }), "no certificate");
  equal(clientCertificateProblem([der(p.alice.cert)], "alice", { anchors }), undefined);
});

Deno.test("clientCertificateProblem() with pins passes only a fingerprint pinned for the CN", async () => {
  const { p, anchors } = await policy();
  const print = new X509Certificate(p.alice.cert).fingerprint256;
  const pins = parseClientCertPins({ alice: [print], bob: [] });
  equal(clientCertificateProblem([der(p.alice.cert)], "alice", { anchors, pins }), undefined);
  const notPinned = "its fingerprint is not pinned for its user";
  equal(clientCertificateProblem([der(p.alice.cert)], "bob", { anchors, pins }), notPinned);
  const other = await createClientCert(p.ca, "alice");
  equal(clientCertificateProblem([der(other.cert)], "alice", { anchors, pins }), notPinned);
});

Deno.test("parseClientCertPins() refuses a wrong shape or a fingerprint that is not SHA-256", () => {
  throws(() => parseClientCertPins([]), TypeError);
  throws(() => parseClientCertPins({ alice: "AB" }), TypeError);
  throws(() => parseClientCertPins({ alice: [42] }), TypeError);
  throws(() => parseClientCertPins({ alice: ["AB:CD"] }), SyntaxError);
  equal(normaliseFingerprint("0a".repeat(32)), "0A".repeat(32));
});

Deno.test("readCertificateExtensions() reads the dev CA's pathlen and refuses truncated DER", async () => {
  const { p } = await policy();
  const ca = readCertificateExtensions(der(p.ca.cert));
  equal(ca.basicConstraints?.ca, true);
  equal(ca.basicConstraints?.pathLength, 0);
  equal(ca.keyUsage?.has("keyCertSign"), true);
  const full = der(p.alice.cert);
  throws(() => readCertificateExtensions(full.subarray(0, full.length - 40)), SyntaxError);
});
