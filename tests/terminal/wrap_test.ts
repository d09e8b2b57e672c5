import assert from "node:assert/strict";
import fc from "fast-check";
import { displayWidth } from "../../lib/terminal/_display_width.ts";
import { sanitise } from "../../lib/terminal/sanitise.ts";
import {
  FIXED_INDENT,
  hangingIndent,
  MIN_WRAP_COLUMNS,
  wrapLine,
} from "../../lib/terminal/wrap.ts";

// deno-lint-ignore no-control-regex -- the SGR codes are what is stripped
const SGR = /\x1b\[[0-9;]*m/g;
const visible = (row: string) => row.replace(SGR, "");

Deno.test("wrapLine() leaves a line that fits as it is", () => {
  const line = "[09:00] <bob> " + "x".repeat(66);
  assert.deepEqual(wrapLine(line, { columns: 80, indent: 14 }), [line]);
});

Deno.test("wrapLine() breaks at spaces, continuation rows indented under the text", () => {
  assert.deepEqual(wrapLine("[09:00] <bob> one two three four", { columns: 24, indent: 14 }), [
    "[09:00] <bob> one two",
    "              three four",
  ]);
});

Deno.test("wrapLine() drops the padding at a break: a padded tail starts at the indent", () => {
  const fake = "[07:19] <root> you are banned";
  const line = "[09:00] <bob> hi" + " ".repeat(84) + fake;
  assert.deepEqual(wrapLine(line, { columns: 100, indent: 14 }), [
    "[09:00] <bob> hi",
    " ".repeat(14) + fake,
  ]);
});

Deno.test("wrapLine() cuts a word longer than a row between graphemes, wide ones whole", () => {
  const rows = wrapLine("[09:00] <bob> " + "日本".repeat(10), { columns: 20, indent: 14 });
  assert.deepEqual(rows, [
    "[09:00] <bob> 日本日",
    "              本日本",
    "              日本日",
    "              本日本",
    "              日本日",
    "              本日本",
    "              日本",
  ]);
});

Deno.test("wrapLine() keeps colour codes, which take no columns", () => {
  const line = "\x1b[2m[09:00] <\x1b[1mbob\x1b[0m> aaaa bbbb\x1b[0m";
  const rows = wrapLine(line, { columns: 18, indent: 14 });
  assert.deepEqual(rows, ["\x1b[2m[09:00] <\x1b[1mbob\x1b[0m> aaaa", "              bbbb\x1b[0m"]);
});

Deno.test("wrapLine() never starts a continuation row in column 1, even when asked for indent 0 or on a tiny terminal", () => {
  for (const columns of [1, 2, 5, MIN_WRAP_COLUMNS]) {
    const rows = wrapLine("x".repeat(40), { columns, indent: 0 });
    assert.ok(rows.length > 1);
    for (const row of rows.slice(1)) assert.match(row, /^ +x/);
  }
});

Deno.test("hangingIndent() indents under the text, or by a fixed amount when that is past half the width", () => {
  assert.equal(hangingIndent(16, 100), 16);
  assert.equal(hangingIndent(60, 100), FIXED_INDENT);
  assert.equal(hangingIndent(0, 100), 1);
  assert.equal(hangingIndent(16, 2), FIXED_INDENT);
});

Deno.test("wrapLine(): whatever the text and width, every row fits and no continuation row starts in column 1", () => {
  const text = fc.array(
    fc.oneof(
      fc.constantFrom(
        " ",
        "    ",
        " ".repeat(80),
        "[07:19] <root> ",
        "日",
        "😀",
        "e\u0301",
        "\x1b[1m",
      ),
      // Rendered lines hold no control characters but the SGR codes added above.
      fc.string({ minLength: 1, maxLength: 12 }).map(sanitise),
    ),
    { maxLength: 40 },
  ).map((parts) => parts.join(""));
  fc.assert(
    fc.property(
      text,
      fc.integer({ min: 1, max: 200 }),
      fc.integer({ min: 0, max: 60 }),
      (t, columns, textColumn) => {
        const indent = hangingIndent(textColumn, columns);
        const rows = wrapLine("[09:00] <bob> " + t, { columns, indent });
        const width = Math.max(columns, MIN_WRAP_COLUMNS);
        for (const row of rows) {
          assert.ok(displayWidth(visible(row)) <= width, `row wider than ${width}: ${row}`);
        }
        for (const row of rows.slice(1)) {
          assert.ok(visible(row).startsWith(" ".repeat(indent)), `not indented: ${row}`);
          assert.notEqual(visible(row).trim(), "", "an empty continuation row");
        }
      },
    ),
    { seed: 0x5eed, numRuns: 500 },
  );
});
