/**
 * Terminal column widths, enough to place the cursor on the input line. The
 * widths come from `string-width` (East Asian Width, emoji sequences, marks
 * and Indic conjuncts per grapheme cluster); this file only adds the
 * grapheme split the line editor moves the cursor by.
 *
 * @module
 */
import stringWidth from "string-width";

const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/**
 * The columns one grapheme cluster takes on a terminal.
 *
 * @param grapheme One user-perceived character.
 * @returns 0 for marks and invisible characters, 2 for wide characters and
 * emoji, more for an Indic cluster of several visible letters, else 1.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { graphemeWidth } from "./_display_width.ts";
 *
 * assert.equal(graphemeWidth("日"), 2);
 * assert.equal(graphemeWidth("e\u0301"), 1);
 * ```
 */
export function graphemeWidth(grapheme: string): number {
  return stringWidth(grapheme);
}

/**
 * The columns a string takes on a terminal.
 *
 * @param text Text without control characters.
 * @returns The sum of its graphemes' widths.
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
  return stringWidth(text);
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
