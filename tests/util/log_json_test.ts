/**
 * JSON log lines with a hostile value passed as given (not pre-escaped by
 * the caller): LogTape's JSON Lines formatter writes it with
 * `JSON.stringify` (U+0000 to U+001F escaped) and escapes U+007F to U+009F
 * itself, and lib/util/log.ts escapes the line separators and bidi
 * characters, so the record stays one line a pipeline can split on `\n`
 * and parse, safe to view raw, and the value comes back exactly. The plain `message` beside it
 * is escaped by lib/util/log.ts as the text format is.
 *
 * @module
 */
import { equal, ok } from "node:assert/strict";
import { getLogger } from "@logtape/logtape";
import { setupLogging } from "../../lib/util/log.ts";

/** Every C0 control, DEL, every C1 control (NEL, CSI among them), the line
 * and paragraph separators and the bidi overrides and isolates. */
const HOSTILE = "mallory" +
  Array.from({ length: 0x20 }, (_, i) => String.fromCharCode(i)).join("") +
  "\x7f" + Array.from({ length: 0x20 }, (_, i) => String.fromCharCode(0x80 + i)).join("") +
  "\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069" +
  '{"level":"INFO","message":"forged"}';

Deno.test("a JSON log line with a user name full of controls stays one parseable line and keeps the name exactly", async () => {
  const chunks: Uint8Array[] = [];
  const writable = new WritableStream<Uint8Array>({ write: (c) => void chunks.push(c) });
  const reset = await setupLogging({ format: "json", writable });
  try {
    getLogger(["banter", "audit"]).warn("Failed login for {user} from {address}", {
      user: HOSTILE,
      address: "192.0.2.7",
    });
  } finally {
    await reset();
  }
  const bytes = new Uint8Array(chunks.flatMap((c) => [...c]));
  const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  ok(text.endsWith("\n"));
  const line = text.slice(0, -1);
  // No raw C0 or C1 control anywhere in the line: no \n, \r, NEL, ESC, CSI.
  for (const char of line) {
    const code = char.codePointAt(0)!;
    ok(!(code < 0x20 || (code >= 0x7f && code <= 0x9f)), `raw U+${code.toString(16)}`);
    // Nor a line separator or bidi character, which a terminal or an
    // editor showing the raw line would obey.
    ok(!/[\u2028\u2029\u202a-\u202e\u2066-\u2069]/.test(char), `raw U+${code.toString(16)}`);
  }
  equal(bytes.filter((b) => b === 0x0a).length, 1, "one record, one line");
  const record = JSON.parse(line);
  equal(record.properties.user, HOSTILE, "the value, exactly as given");
  equal(record.properties.address, "192.0.2.7");
  equal(record.level, "WARN");
  // The plain message escapes the rest too: separators and bidi characters.
  for (const char of ["\u2028", "\u2029", "\u202e", "\u2066", "\x85", "\n"]) {
    ok(!record.message.includes(char), `message holds raw U+${char.codePointAt(0)!.toString(16)}`);
  }
  ok(record.message.startsWith("Failed login for mallory\\u{0}\\u{1}"), record.message);
});
