/**
 * The server certificate's expiry: refused at start once past, warned about
 * at start and once a day within 30 days, and its days left in /metrics.
 * Certificates are made relative to a fake clock; the server is real.
 *
 * @module
 */
import { equal, match, ok, rejects } from "node:assert/strict";
import { join } from "node:path";
import { createServerCert } from "../../lib/net/certs.ts";
import { EXPIRY_CHECK_MS, watchCertificateExpiry } from "../../lib/server/cert_expiry.ts";
import { plainMessage } from "../../lib/util/log.ts";
import { Registry } from "../../lib/server/prometheus.ts";
import { FakeClock } from "../_fake_clock.ts";
import { tempDir, testPki } from "../_helpers.ts";
import { closedPort } from "../_joke_api.ts";
import { startTestServer } from "../_server.ts";
import { captureLogs } from "../security/_log_capture.ts";
import { parseExposition } from "./_exposition.ts";

const DAY_MS = 86_400_000;

/** A server certificate from the test CA valid until `notAfter`, written into `dir`. */
async function certificateUntil(dir: string, clock: FakeClock, notAfter: number) {
  const pki = await testPki();
  const notBefore = new Date(clock.now() - 30 * DAY_MS);
  const pair = await createServerCert(pki.ca, {
    notBefore,
    days: (notAfter - notBefore.getTime()) / DAY_MS,
  });
  const cert = join(dir, "server.pem");
  const key = join(dir, "server-key.pem");
  await Deno.writeTextFile(cert, pair.cert);
  await Deno.writeTextFile(key, pair.key, { mode: 0o600 });
  return { cert, key };
}

/** The messages of the certificate log lines so far. */
function certificateLines(logs: Awaited<ReturnType<typeof captureLogs>>): string[] {
  return logs.records.map(plainMessage).filter((line) => line.startsWith("Server certificate"));
}

Deno.test("a start on an expired --cert is refused with the file to replace, before the data directory is made", async () => {
  await using dir = await tempDir();
  const clock = new FakeClock();
  const files = await certificateUntil(dir.path, clock, clock.now() - DAY_MS / 2);
  const data = join(dir.path, "data");
  await rejects(
    startTestServer({ dir: dir.path, config: { ...files, data }, deps: { clock } }),
    (error: Error) => {
      equal(error.name, "CertificateExpiredError");
      equal(
        error.message,
        `Cannot use server certificate ${files.cert}: it expired on 2023-11-14 and clients refuse it; replace ${files.cert} and ${files.key} with a renewed certificate and key`,
      );
      return true;
    },
  );
  await rejects(Deno.stat(data), Deno.errors.NotFound, "nothing was opened");
});

Deno.test("a certificate within 30 days of expiry is warned about at start and daily, and /metrics counts its days", async () => {
  await using logs = await captureLogs();
  await using dir = await tempDir();
  const clock = new FakeClock();
  const files = await certificateUntil(dir.path, clock, clock.now() + 10.5 * DAY_MS);
  await using s = await startTestServer({
    dir: dir.path,
    config: { ...files, httpPort: closedPort(), accountsRefreshMs: DAY_MS },
    deps: { clock },
  });
  const daysLeft = async () => {
    const response = await fetch(`http://127.0.0.1:${s.server.httpAddr!.port}/metrics`);
    return parseExposition(await response.text()).get("banter_certificate_days_left");
  };
  equal(await daysLeft(), 10);
  const [atStart, ...more] = certificateLines(logs);
  equal(more.length, 0, "one warning at start");
  equal(
    atStart,
    `Server certificate ${files.cert} expires in 10 days (2023-11-25); replace ${files.cert} and ${files.key} with a renewed certificate and key`,
  );
  clock.advance(EXPIRY_CHECK_MS);
  equal(await daysLeft(), 9);
  equal(certificateLines(logs).length, 2, "and one a day");
  match(certificateLines(logs)[1]!, /expires in 9 days \(2023-11-25\)/);
  ok(
    logs.records.filter((r) => plainMessage(r).startsWith("Server certificate")).every((r) =>
      r.level === "warning"
    ),
  );
});

Deno.test("a certificate far from expiry is not warned about; /metrics still counts its days", async () => {
  await using logs = await captureLogs();
  const clock = new FakeClock();
  const registry = new Registry();
  const gauge = registry.gauge({ name: "days", help: "days" });
  using _watch = watchCertificateExpiry({
    path: "cert.pem",
    notAfter: new Date(clock.now() + 400 * DAY_MS),
    renew: "renew it",
  }, { clock, gauge });
  clock.advance(EXPIRY_CHECK_MS);
  match(registry.render(), /^days 399$/m);
  equal(certificateLines(logs).length, 0);
});

Deno.test("a certificate that expires under a running server is logged as an error with what renews it", async () => {
  await using logs = await captureLogs();
  const clock = new FakeClock();
  const registry = new Registry();
  const gauge = registry.gauge({ name: "days", help: "days" });
  using _watch = watchCertificateExpiry({
    path: "certs/server_cert.pem",
    notAfter: new Date(clock.now() + DAY_MS / 2),
    renew: "renew the development certificates with: deno task certs --dir certs --force",
  }, { clock, gauge });
  equal(certificateLines(logs).length, 1, "warned at start");
  clock.advance(EXPIRY_CHECK_MS);
  match(registry.render(), /^days -1$/m);
  const last = logs.records.at(-1)!;
  equal(last.level, "error");
  equal(
    plainMessage(last),
    "Server certificate certs/server_cert.pem expired on 2023-11-15: clients refuse new connections; renew the development certificates with: deno task certs --dir certs --force",
  );
});
