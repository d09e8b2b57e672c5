/**
 * Rough terminal column widths, enough to place the cursor on the input line:
 * East Asian wide and fullwidth characters and emoji take two columns,
 * combining marks none, everything else one.
 *
 * @module
 */

/** East Asian Wide / Fullwidth blocks (a close approximation of UAX #11). */
const WIDE: readonly (readonly [number, number])[] = [
  [0x1100, 0x115f], // Hangul Jamo initials
  [0x2e80, 0x303e], // CJK radicals, Kangxi, ideographic description, CJK symbols
  [0x3041, 0x33ff], // Hiragana, Katakana, Bopomofo, CJK compatibility
  [0x3400, 0x4dbf], // CJK extension A
  [0x4e00, 0x9fff], // CJK unified ideographs
  [0xa000, 0xa4cf], // Yi
  [0xa960, 0xa97f], // Hangul Jamo extended A
  [0xac00, 0xd7a3], // Hangul syllables
  [0xf900, 0xfaff], // CJK compatibility ideographs
  [0xfe10, 0xfe19], // vertical forms
  [0xfe30, 0xfe6f], // CJK compatibility forms, small form variants
  [0xff00, 0xff60], // fullwidth forms
  [0xffe0, 0xffe6], // fullwidth signs
  [0x1f300, 0x1f64f], // pictographs, emoticons
  [0x1f900, 0x1f9ff], // supplemental symbols and pictographs
  [0x20000, 0x3fffd], // CJK extensions B and later
];

const ZERO_WIDTH = /^\p{M}+$/u;
const EMOJI = /\p{Emoji_Presentation}|\uFE0F/u;

const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/**
 * The columns one grapheme cluster takes on a terminal.
 *
 * @param grapheme One user-perceived character.
 * @returns 0, 1 or 2.
 */
export function graphemeWidth(grapheme: string): number {
  if (grapheme === "" || ZERO_WIDTH.test(grapheme)) return 0;
  const first = grapheme.codePointAt(0) ?? 0;
  if (WIDE.some(([low, high]) => first >= low && first <= high)) return 2;
  return EMOJI.test(grapheme) ? 2 : 1;
}

/**
 * The columns a string takes on a terminal.
 *
 * @param text Text without control characters.
 * @returns The sum of its graphemes' widths.
 */
export function displayWidth(text: string): number {
  let width = 0;
  for (const { segment } of segmenter.segment(text)) {
    width += graphemeWidth(segment);
  }
  return width;
}

/**
 * Splits text into grapheme clusters.
 *
 * @param text Any text.
 * @returns Its user-perceived characters, in order.
 */
export function graphemes(text: string): string[] {
  return Array.from(segmenter.segment(text), (s) => s.segment);
}
