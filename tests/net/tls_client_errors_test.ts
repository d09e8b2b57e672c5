import { deepEqual, equal } from "node:assert/strict";
import { classifyConnectError } from "../../lib/net/tls_client.ts";

/** An error as Deno's TLS client reports it. */
function tlsError(message: string): Error {
  return new Deno.errors.InvalidData(message);
}

Deno.test("classifyConnectError() keeps the names a mismatched certificate is valid for", () => {
  const e = classifyConnectError(tlsError(
    'invalid peer certificate: certificate not valid for name "127.0.0.2"; certificate is only valid for DnsName("localhost"), IpAddress(127.0.0.1), IpAddress(0::1), DnsName("chat.example.org") or DnsName("*.example.net")',
  ));
  equal(e.code, "name_mismatch");
  deepEqual(e.validNames, ["localhost", "127.0.0.1", "0::1", "chat.example.org", "*.example.net"]);
});

Deno.test("classifyConnectError() gives no names when the message lists none", () => {
  const e = classifyConnectError(tlsError('certificate not valid for name "x"'));
  equal(e.code, "name_mismatch");
  deepEqual(e.validNames, []);
});

Deno.test("classifyConnectError() tells a refused ALPN and a non-TLS answer from other TLS failures", () => {
  equal(
    classifyConnectError(tlsError("received fatal alert: NoApplicationProtocol")).code,
    "other_protocol",
  );
  equal(
    classifyConnectError(tlsError("received corrupt message of type InvalidContentType")).code,
    "not_tls",
  );
  equal(
    classifyConnectError(tlsError("received fatal alert: CertificateRequired")).code,
    "certificate_required",
  );
  equal(classifyConnectError(tlsError("something else entirely")).code, "tls");
});
