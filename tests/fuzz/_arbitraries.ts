/**
 * fast-check generators shared by the fuzz tests: hostile bytes, chunkings,
 * frame-like JSON, and lines a peer might send.
 *
 * @module
 */
import fc from "fast-check";
import { concatBytes } from "../../lib/util/bytes.ts";
import type { ClientFrame } from "../../lib/wire/protocol.ts";

const encoder = new TextEncoder();

/** Any UTF-16 string, lone surrogates included. */
export const anyString = (maxLength = 24): fc.Arbitrary<string> =>
  fc.string({
    unit: fc.integer({ min: 0, max: 0xffff }).map((u) => String.fromCharCode(u)),
    maxLength,
  });

/** Text an attacker likes: controls, escapes, bidi overrides, newlines, emoji. */
export const hostileText: fc.Arbitrary<string> = fc.array(
  fc.oneof(
    fc.constantFrom(
      "\n",
      "\r\n",
      "\u2028",
      "\x1b[2J",
      "\x1b]0;owned\x07",
      "\x1b]52;c;cGF5bG9hZA==\x07",
      "\u009b31m",
      "\u202e",
      "\u2066",
      "\u200b",
      "\ufeff",
      "\udc00",
      "\x00",
      "\x7f",
      "../",
      "/join ../etc",
      "end",
      "/quit",
      '{"type":"say"}',
      "𝄞",
    ),
    anyString(6),
  ),
  { maxLength: 12 },
).map((parts) => parts.join(""));

/** Bytes that are mostly frames, newlines and UTF-8 edge cases. */
export const hostileBytes: fc.Arbitrary<Uint8Array> = fc.array(
  fc.oneof(
    { arbitrary: fc.constantFrom("\n", "\r\n", "\r", "\n\n"), weight: 4 },
    { arbitrary: fc.string({ unit: "binary", maxLength: 12 }), weight: 3 },
    { arbitrary: fc.integer({ min: 0, max: 120 }).map((n) => "x".repeat(n)), weight: 1 },
    {
      // Overlong, surrogate, truncated and out-of-range UTF-8; a BOM.
      arbitrary: fc.constantFrom(
        [0xc0, 0x80],
        [0xed, 0xa0, 0x80],
        [0xe2, 0x82],
        [0xf4, 0x90, 0x80, 0x80],
        [0xf8, 0x88, 0x80, 0x80, 0x80],
        [0xff],
        [0xef, 0xbb, 0xbf],
        [0xc3, 0xa9],
      ),
      weight: 2,
    },
    { arbitrary: fc.uint8Array({ maxLength: 8 }), weight: 1 },
  ).map((piece) => typeof piece === "string" ? encoder.encode(piece) : Uint8Array.from(piece)),
  { maxLength: 40 },
).map((pieces) => concatBytes(pieces));

/**
 * Cut `bytes` into writes at arbitrary points (empty writes included).
 *
 * @param bytes The whole stream.
 * @param cuts Offsets; taken modulo the length, in any order.
 * @param options `afterNewlines` also cuts after every `\n`, so no write
 *   holds the end of one frame and the start of the next.
 * @returns The writes, in order; together exactly `bytes`.
 */
export function chunk(
  bytes: Uint8Array,
  cuts: readonly number[],
  options: { afterNewlines?: boolean } = {},
): Uint8Array[] {
  const at = new Set(cuts.map((c) => bytes.length === 0 ? 0 : c % (bytes.length + 1)));
  if (options.afterNewlines) {
    bytes.forEach((b, i) => {
      if (b === 0x0a) at.add(i + 1);
    });
  }
  const points = [0, ...[...at].sort((a, b) => a - b), bytes.length];
  const chunks: Uint8Array[] = [];
  for (let i = 1; i < points.length; i++) {
    chunks.push(bytes.slice(points[i - 1], points[i]));
  }
  return chunks;
}

/** Cut offsets for {@linkcode chunk}. */
export const cuts: fc.Arbitrary<number[]> = fc.array(fc.nat(4096), { maxLength: 12 });

/** Values a field might hold: right and wrong types, limits, odd numbers. */
export const fieldValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.integer({ min: -2, max: 8 }),
  fc.constantFrom(
    0,
    -0,
    1,
    1.5,
    2 ** 53 - 1,
    2 ** 53,
    2 ** 64,
    1e308,
    -1,
    Number.MIN_VALUE,
    null,
    true,
    "1",
    [],
    {},
  ),
  hostileText,
  // Strings at the length limits (16 384 for fields, 256 user, 2048 password),
  // counted in UTF-16 units: "𝄞" is two.
  fc.constantFrom(255, 256, 257, 1023, 1024, 1025, 2047, 2048, 2049, 16_383, 16_384, 16_385)
    .chain((n) => fc.constantFrom("x".repeat(n), "𝄞".repeat(Math.ceil(n / 2)))),
);

/** Frame types a client might send, real and not. */
export const typeName: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.constantFrom("hello", "login", "say", "ping", "pong"), weight: 8 },
  {
    arbitrary: fc.constantFrom(
      "HELLO",
      "welcome",
      "bye",
      "message",
      "__proto__",
      "constructor",
      "toString",
      "",
      "say ",
    ),
    weight: 2,
  },
  { arbitrary: fieldValue, weight: 1 },
);

/** An object shaped like a client frame, with any subset of fields. */
export const frameLikeObject: fc.Arbitrary<Record<string, unknown>> = fc.record({
  type: typeName,
  version: fc.oneof({ arbitrary: fc.constant(1), weight: 3 }, { arbitrary: fieldValue, weight: 1 }),
  client: fieldValue,
  username: fc.oneof({ arbitrary: anyString(), weight: 3 }, { arbitrary: fieldValue, weight: 1 }),
  password: fc.oneof({ arbitrary: anyString(), weight: 3 }, { arbitrary: fieldValue, weight: 1 }),
  text: fc.oneof({ arbitrary: hostileText, weight: 3 }, { arbitrary: fieldValue, weight: 1 }),
  id: fc.oneof({ arbitrary: fc.nat(), weight: 3 }, { arbitrary: fieldValue, weight: 1 }),
  extra: fieldValue,
}, { requiredKeys: [] });

/** Number spellings JSON.stringify never writes. */
const NUMBER_LEXEMES = [
  "1e400",
  "-1e400",
  "1e-400",
  "-0",
  "1.0",
  "1E0",
  "0.1e1",
  "9007199254740993",
  "123456789012345678901234567890",
  "-1",
  "01",
  "1.",
  "+1",
  "0x10",
  "NaN",
  "Infinity",
] as const;

/** A line a client might send: JSON frames, mangled JSON, deep nesting, junk. */
export const clientLine: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: frameLikeObject.map((o) => JSON.stringify(o)), weight: 6 },
  {
    // One edit of a frame's text: drop, duplicate or replace a character.
    arbitrary: fc.tuple(
      frameLikeObject,
      fc.nat(),
      fc.constantFrom("", '"', "}", "{", ",", "\\", ":"),
    )
      .map(([o, at, piece]) => {
        const s = JSON.stringify(o);
        const i = at % (s.length + 1);
        return s.slice(0, i) + piece + s.slice(i + 1);
      }),
    weight: 2,
  },
  {
    arbitrary: fc.tuple(
      fc.constantFrom("ping", "pong", "hello"),
      fc.constantFrom(...NUMBER_LEXEMES),
    )
      .map(([type, n]) => `{"type":"${type}","${type === "hello" ? "version" : "id"}":${n}}`),
    weight: 1,
  },
  {
    arbitrary: fc.tuple(fc.integer({ min: 1, max: 3000 }), fc.constantFrom("[", '{"a":'))
      .map(([depth, open]) =>
        `{"type":"say","text":"deep","pad":${open.repeat(depth)}${open === "[" ? "" : "1"}${
          (open === "[" ? "]" : "}").repeat(depth)
        }}`
      ),
    weight: 1,
  },
  {
    // Duplicate keys: the last one wins.
    arbitrary: fc.tuple(fc.constantFrom("say", "ping", "login"), fc.constantFrom("hello", "ping"))
      .map(([a, b]) => `{"type":"${a}","text":"x","id":1,"type":"${b}","version":1}`),
    weight: 1,
  },
  { arbitrary: anyString(40), weight: 2 },
  { arbitrary: fc.json({ maxDepth: 3 }), weight: 1 },
);

/** A valid client frame. */
export const clientFrame: fc.Arbitrary<ClientFrame> = fc.oneof(
  fc.record({ type: fc.constant("hello" as const), version: fc.nat() }),
  fc.record({ type: fc.constant("hello" as const), version: fc.nat(), client: anyString() }),
  fc.record({
    type: fc.constant("login" as const),
    username: anyString(32),
    password: anyString(64),
  }),
  fc.record({ type: fc.constant("say" as const), text: fc.oneof(hostileText, anyString(200)) }),
  fc.record({ type: fc.constantFrom("ping" as const, "pong" as const), id: fc.maxSafeNat() }),
);

/** Join byte arrays (the library's own helper, re-exported for the fuzz tests). */
export { concatBytes };
