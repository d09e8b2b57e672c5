import { deepEqual, equal, match, ok } from "node:assert/strict";
import { getLogger } from "@logtape/logtape";
import { setupLogging } from "../../lib/util/log.ts";

/** A writable that keeps what is written, as text. */
function capture(): { writable: WritableStream<Uint8Array>; text(): string } {
  const chunks: Uint8Array[] = [];
  const writable = new WritableStream<Uint8Array>({ write: (c) => void chunks.push(c) });
  const decoder = new TextDecoder();
  return { writable, text: () => chunks.map((c) => decoder.decode(c)).join("") };
}

/** Log one audit and one server line with `options`, then return the output. */
async function logSample(options: Parameters<typeof setupLogging>[0]): Promise<string> {
  const out = capture();
  const reset = await setupLogging({ ...options, writable: out.writable });
  try {
    getLogger(["banter", "audit"]).warn("Failed login for {user} from {address}", {
      user: "alice",
      address: "192.0.2.7",
    });
    getLogger(["banter", "server"]).info("Listening on {port}", { port: 9001 });
    getLogger(["banter", "server"]).debug("Hidden below info");
  } finally {
    await reset();
  }
  return out.text();
}

Deno.test("setupLogging() with format json writes one parseable JSON object per line", async () => {
  const text = await logSample({ format: "json" });
  const lines = text.trimEnd().split("\n");
  equal(lines.length, 2, "debug is below the default level");
  const records = lines.map((line) => JSON.parse(line));
  const [audit, server] = records;
  equal(audit.level, "WARN");
  equal(audit.logger, "banter.audit");
  equal(audit.message, 'Failed login for "alice" from "192.0.2.7"');
  deepEqual(audit.properties, { user: "alice", address: "192.0.2.7" });
  equal(server.logger, "banter.server");
  ok(!Number.isNaN(Date.parse(audit["@timestamp"])), "each line has a timestamp");
});

Deno.test("setupLogging() with format text writes readable lines without colour codes", async () => {
  const text = await logSample({ format: "text" });
  const lines = text.trimEnd().split("\n");
  equal(lines.length, 2);
  match(lines[0]!, /\[WRN\] banter·audit: Failed login for "alice" from "192\.0\.2\.7"$/);
  match(lines[1]!, /\[INF\] banter·server: Listening on 9001$/);
  ok(!text.includes("\x1b["), "no ANSI escapes when not writing to a terminal");
});

Deno.test("setupLogging() honours the level", async () => {
  const warnings = await logSample({ format: "json", level: "warning" });
  deepEqual(warnings.trimEnd().split("\n").map((l) => JSON.parse(l).logger), ["banter.audit"]);
  const debug = await logSample({ format: "json", level: "debug" });
  equal(debug.trimEnd().split("\n").length, 3);
});
