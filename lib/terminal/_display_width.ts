/**
 * Terminal column widths, enough to place the cursor on the input line. The
 * widths come from `string-width` (East Asian Width, emoji sequences, marks
 * and Indic conjuncts per grapheme cluster); this file adds the grapheme
 * split the line editor moves the cursor by, and one conservative rule:
 *
 * A grapheme with a zero-width joiner (`👨‍👩‍👧`) or an emoji skin-tone
 * modifier (`👍🏻`) counts as the sum of its parts, each part (the pieces
 * between joiners) at least as wide as its code points drawn one by one.
 * string-width counts such a cluster as one 2-column emoji, but xterm, VTE,
 * Konsole and tmux draw each pictograph and modifier in its own 2 columns:
 * counted as one, a line of `🍕‍🍕` pairs would wrap on the terminal, not
 * where the client wrapped it, and its tail could start in column 1 and
 * pass for a line of its own (finding F25). Counted as the sum, the client
 * never thinks a row narrower than any terminal draws it; on a terminal
 * that draws the sequence as one glyph the row just ends early, and the
 * input line's cursor (placed by the same widths) is off there by the
 * difference.
 *
 * @module
 */
import stringWidth from "string-width";

const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/** A ZWJ or a skin-tone modifier: a cluster some terminals draw in pieces. */
const DRAWN_IN_PIECES = /[\u200d\u{1f3fb}-\u{1f3ff}]/u;

/** The widest a cluster drawn in pieces can be: each part as drawn alone or code point by code point. */
function conservativeWidth(grapheme: string): number {
  let sum = 0;
  for (const part of grapheme.split("\u200d")) {
    let byCodePoint = 0;
    for (const cp of part) byCodePoint += stringWidth(cp);
    sum += Math.max(stringWidth(part), byCodePoint);
  }
  return sum;
}

/**
 * The columns one grapheme cluster takes on a terminal.
 *
 * @param grapheme One user-perceived character.
 * @returns 0 for marks and invisible characters, 2 for wide characters and
 * emoji, more for an Indic cluster of several visible letters and for a
 * cluster with a ZWJ or a skin-tone modifier (the sum of its parts), else 1.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { graphemeWidth } from "./_display_width.ts";
 *
 * assert.equal(graphemeWidth("日"), 2);
 * assert.equal(graphemeWidth("e\u0301"), 1);
 * assert.equal(graphemeWidth("🍕\u200d🍕"), 4);
 * ```
 */
export function graphemeWidth(grapheme: string): number {
  return DRAWN_IN_PIECES.test(grapheme) ? conservativeWidth(grapheme) : stringWidth(grapheme);
}

/**
 * The columns a string takes on a terminal.
 *
 * @param text Text without control characters.
 * @returns The sum of its graphemes' widths ({@linkcode graphemeWidth});
 * SGR colour codes take none.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { displayWidth } from "./_display_width.ts";
 *
 * assert.equal(displayWidth("日本😀a"), 7);
 * ```
 */
export function displayWidth(text: string): number {
  const width = stringWidth(text);
  if (!DRAWN_IN_PIECES.test(text)) return width;
  let extra = 0;
  for (const g of graphemes(text)) {
    if (DRAWN_IN_PIECES.test(g)) extra += conservativeWidth(g) - stringWidth(g);
  }
  return width + extra;
}

/**
 * Splits text into grapheme clusters.
 *
 * @param text Any text.
 * @returns Its user-perceived characters, in order.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { graphemes } from "./_display_width.ts";
 *
 * assert.deepEqual(graphemes("e\u0301x"), ["e\u0301", "x"]);
 * ```
 */
export function graphemes(text: string): string[] {
  return Array.from(segmenter.segment(text), (s) => s.segment);
}
