/**
 * Makes text from the network safe to write to a terminal: nothing in it can
 * move the cursor, change colours, set the title, write the clipboard, open
 * a hyperlink, reorder the line or hide characters.
 *
 * What happens to each kind of character:
 *
 * | input                                         | output                    |
 * | --------------------------------------------- | ------------------------- |
 * | complete escape sequence (CSI, OSC, DCS, ...) | removed whole             |
 * | the same sequences with a C1 introducer       | removed whole             |
 * | line break (LF, CRLF, U+2028, U+2029)         | `⏎`                       |
 * | tab                                           | a space                   |
 * | other C0 control, DEL                         | caret notation: `^[`, `^G`, `^M`, `^?` |
 * | other C1 control (U+0080–U+009F)              | `<U+0085>`                |
 * | bidi controls, zero-width and other invisible format characters | removed |
 * | ZWJ between emoji (👨‍👩‍👧), ZWNJ / ZWJ between letters (`می‌خواهم`) | kept |
 * | lone surrogate                                | U+FFFD                    |
 *
 * Controls are shown rather than dropped because they are a sign that
 * something odd was sent; invisible format characters are dropped because
 * they also turn up in ordinary text (joined emoji, right-to-left marks) and
 * showing them would be noise.
 *
 * @module
 */

/** Shown in place of a line break inside one message. */
export const NEWLINE_SYMBOL = "⏎";

/** Longest name {@linkcode sanitiseName} shows, in code points. */
export const MAX_NAME_DISPLAY_CHARS = 32;

const ESC = 0x1b;
const BEL = 0x07;
/** C1 String Terminator, the 8-bit form of `ESC \`. */
const ST = 0x9c;
/**
 * What follows ESC to start a control string, ended by ST or BEL: DCS `P`,
 * SOS `X`, OSC `]`, PM `^`, APC `_`.
 */
const STRING_SEQUENCES: ReadonlySet<number> = new Set([
  0x50,
  0x58,
  0x5d,
  0x5e,
  0x5f,
]);

/**
 * Invisible characters that are removed: bidi embeddings, overrides,
 * isolates and marks, zero-width characters, invisible operators, the BOM,
 * fillers that render blank, and tag characters (used to smuggle hidden
 * ASCII).
 */
const INVISIBLE: readonly (readonly [number, number])[] = [
  [0x00ad, 0x00ad], // soft hyphen
  [0x034f, 0x034f], // combining grapheme joiner
  [0x061c, 0x061c], // Arabic letter mark
  [0x115f, 0x1160], // Hangul fillers
  [0x17b4, 0x17b5], // Khmer inherent vowels (invisible)
  [0x180b, 0x180f], // Mongolian variation selectors and vowel separator
  [0x200b, 0x200f], // zero-width space, non-joiner, joiner; LRM, RLM
  [0x202a, 0x202e], // bidi embeddings and overrides
  [0x2060, 0x206f], // word joiner, invisible operators, bidi isolates
  [0x3164, 0x3164], // Hangul filler
  [0xfeff, 0xfeff], // byte order mark / zero-width no-break space
  [0xffa0, 0xffa0], // halfwidth Hangul filler
  [0xfff9, 0xfffb], // interlinear annotation controls
  [0x1bca0, 0x1bca3], // shorthand format controls
  [0x1d173, 0x1d17a], // musical symbol format controls
  [0xe0000, 0xe007f], // tag characters
];

function isInvisible(cp: number): boolean {
  return INVISIBLE.some(([low, high]) => cp >= low && cp <= high);
}

const ZWNJ = 0x200c;
const ZWJ = 0x200d;
const EMOJI_BEFORE_JOINER = /(?:\p{Extended_Pictographic}|\p{Emoji_Modifier}|\uFE0F)$/u;
const EMOJI_AFTER_JOINER = /^\p{Extended_Pictographic}/u;
const LETTER_BEFORE_JOINER = /(?:\p{L}|\p{M})$/u;
const LETTER_AFTER_JOINER = /^\p{L}/u;
/** Scripts that never need a joiner, where one only makes a look-alike (`ad\u200cmin`). */
const NO_JOINER_SCRIPT = /\p{Script=Latin}|\p{Script=Greek}|\p{Script=Cyrillic}|\p{Script=Common}/u;

/**
 * Whether a joiner (ZWJ or ZWNJ) does a joiner's job here: ZWJ inside an
 * emoji sequence, ZWJ or ZWNJ between two letters (Persian, Indic scripts).
 * Anywhere else it only hides something, and is removed.
 */
function isJoining(cp: number, before: string, after: string): boolean {
  if (cp === ZWJ && EMOJI_BEFORE_JOINER.test(before) && EMOJI_AFTER_JOINER.test(after)) {
    return true;
  }
  if (!LETTER_BEFORE_JOINER.test(before) || !LETTER_AFTER_JOINER.test(after)) return false;
  const last = Array.from(before).at(-1) ?? "";
  const next = Array.from(after)[0] ?? "";
  return !NO_JOINER_SCRIPT.test(last) && !NO_JOINER_SCRIPT.test(next);
}

function isLineBreak(cp: number): boolean {
  return cp === 0x0a || cp === 0x2028 || cp === 0x2029;
}

/** Control characters (C0, DEL, C1) as text a reader can see. */
function visibleControl(cp: number): string {
  if (cp < 0x20) return "^" + String.fromCharCode(cp + 0x40);
  if (cp === 0x7f) return "^?";
  return `<U+${cp.toString(16).toUpperCase().padStart(4, "0")}>`;
}

/**
 * The length in UTF-16 units of the escape sequence whose introducer
 * (`ESC`, or a C1 control standing for `ESC` + one character) is at `start`,
 * or 0 when no complete sequence starts there.
 */
function escapeLength(text: string, start: number): number {
  const first = text.charCodeAt(start);
  // A C1 introducer is the 8-bit form of ESC followed by (first - 0x40).
  let kind = first === ESC ? text.charCodeAt(start + 1) : first - 0x40;
  let i = first === ESC ? start + 2 : start + 1;
  if (Number.isNaN(kind)) return 0;
  if (kind === 0x5b) { // CSI: parameters, intermediates, one final byte
    while (i < text.length) {
      const c = text.charCodeAt(i++);
      if (c >= 0x40 && c <= 0x7e) return i - start;
      if (c < 0x20 || c > 0x3f) return 0;
    }
    return 0;
  }
  if (STRING_SEQUENCES.has(kind)) {
    while (i < text.length) {
      const c = text.charCodeAt(i++);
      if (c === BEL || c === ST) return i - start;
      if (c === ESC) return text.charCodeAt(i) === 0x5c ? i + 1 - start : 0;
    }
    return 0;
  }
  if (first !== ESC) return 0;
  // Other escapes: intermediates (0x20–0x2F) then a final byte (0x30–0x7E),
  // e.g. `ESC c` (reset) or `ESC ( 0` (line-drawing character set).
  while (kind >= 0x20 && kind <= 0x2f) kind = text.charCodeAt(i++);
  return kind >= 0x30 && kind <= 0x7e ? i - start : 0;
}

/**
 * Makes untrusted text safe and visible on a terminal; see the module
 * documentation for what becomes of each kind of character. The result
 * contains no C0 or C1 control, no DEL, no bidi control, no invisible format
 * character (but joiners inside emoji sequences and words) and no lone
 * surrogate.
 *
 * @param text Text from the network.
 * @returns The text as it may be written to a terminal.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { sanitise } from "./sanitise.ts";
 *
 * assert.equal(sanitise("\x1b[2Jhi\x07\nthere\u202e"), "hi^G⏎there");
 * ```
 */
export function sanitise(text: string): string {
  const input = text.toWellFormed();
  let out = "";
  let i = 0;
  while (i < input.length) {
    const cp = input.codePointAt(i) ?? 0;
    if (cp === ESC || (cp >= 0x80 && cp <= 0x9f)) {
      const length = escapeLength(input, i);
      if (length > 0) {
        i += length;
        continue;
      }
    }
    i += cp > 0xffff ? 2 : 1;
    if (cp === 0x0d && input.charCodeAt(i) === 0x0a) continue; // CRLF: one break
    if (isLineBreak(cp)) out += NEWLINE_SYMBOL;
    else if (cp === 0x09) out += " ";
    else if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) out += visibleControl(cp);
    else if ((cp === ZWJ || cp === ZWNJ) && isJoining(cp, out.slice(-2), input.slice(i, i + 2))) {
      out += String.fromCodePoint(cp);
    } else if (!isInvisible(cp)) out += String.fromCodePoint(cp);
  }
  return out;
}

/**
 * Makes a user or room name safe to show: {@linkcode sanitise}, then every
 * run of white space becomes `_` (so a name reads as one word and cannot
 * imitate the text around it), names longer than
 * {@linkcode MAX_NAME_DISPLAY_CHARS} are cut (joiners are dropped too) with `…`, and an empty name
 * shows as `?`.
 *
 * @param name A name from the network.
 * @returns The name as it may be written to a terminal.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { sanitiseName } from "./sanitise.ts";
 *
 * assert.equal(sanitiseName("al\u200bice bob\n"), "alice_bob_");
 * ```
 */
export function sanitiseName(name: string): string {
  const clean = sanitise(name).replace(/[\u200c\u200d]/gu, "").replace(/[\s⏎]+/gu, "_");
  const chars = Array.from(clean);
  if (chars.length === 0) return "?";
  if (chars.length <= MAX_NAME_DISPLAY_CHARS) return clean;
  return chars.slice(0, MAX_NAME_DISPLAY_CHARS - 1).join("") + "…";
}
