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
  equal(audit.message, "Failed login for alice from 192.0.2.7", "values read plainly");
  deepEqual(audit.properties, { user: "alice", address: "192.0.2.7" });
  equal(server.logger, "banter.server");
  ok(!Number.isNaN(Date.parse(audit["@timestamp"])), "each line has a timestamp");
});

Deno.test("setupLogging() with format text writes readable lines without colour codes", async () => {
  const text = await logSample({ format: "text" });
  const lines = text.trimEnd().split("\n");
  equal(lines.length, 2);
  match(lines[0]!, /\[WRN\] banter·audit: Failed login for alice from 192\.0\.2\.7$/);
  match(lines[1]!, /\[INF\] banter·server: Listening on 9001$/);
  ok(!text.includes("\x1b["), "no ANSI escapes when not writing to a terminal");
});

Deno.test("setupLogging() honours the level", async () => {
  const warnings = await logSample({ format: "json", level: "warning" });
  deepEqual(warnings.trimEnd().split("\n").map((l) => JSON.parse(l).logger), ["banter.audit"]);
  const debug = await logSample({ format: "json", level: "debug" });
  equal(debug.trimEnd().split("\n").length, 3);
});

Deno.test("setupLogging() writes a value plainly but escapes what could forge or reorder a line", async () => {
  for (const format of ["text", "json"] as const) {
    const out = capture();
    const reset = await setupLogging({ format, writable: out.writable });
    try {
      getLogger(["banter", "audit"]).warn("Locked {user} after {count} failures", {
        user: "mallory\n2026-01-01 [INF] banter·audit: Login of admin\u202e\x1b[2J",
        count: 3,
      });
    } finally {
      await reset();
    }
    const lines = out.text().trimEnd().split("\n");
    equal(lines.length, 1, `${format}: one line whatever the name holds`);
    ok(!out.text().includes("\x1b"), `${format}: no raw escape character`);
    // JSON properties are the caller's values as given (callers escape
    // untrusted ones, see untrusted_text.ts); the message is escaped here.
    const message: string = format === "json" ? JSON.parse(lines[0]!).message : lines[0]!;
    ok(!message.includes("\u202e"), `${format}: no raw bidi override`);
    ok(
      message.endsWith(
        "Locked mallory\\u{a}2026-01-01 [INF] banter·audit: Login of admin\\u{202e}\\u{1b}[2J after 3 failures",
      ),
      message,
    );
    if (format === "json") {
      equal(JSON.parse(lines[0]!).properties.count, 3, "JSON keeps the number as a number");
    }
  }
});
