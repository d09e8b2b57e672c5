/**
 * What a message's text may hold: a length in code points, at most
 * {@linkcode MAX_MESSAGE_LINES} lines where newlines are allowed, and no
 * other control character.
 *
 * @module
 */

/** Most lines in one message. */
export const MAX_MESSAGE_LINES = 50;

/**
 * C0 (but tab), DEL and C1 controls, and lone surrogates: nothing a person
 * types, and what terminal, log and storage attacks are made of.
 */
export const CONTROL_CHARACTERS =
  // deno-lint-ignore no-control-regex -- matching controls is the point
  /[\x00-\x08\x0a-\x1f\x7f-\x9f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** The same, newline allowed (multi-line messages). */
const CONTROLS_BUT_NEWLINE =
  // deno-lint-ignore no-control-regex -- matching controls is the point
  /[\x00-\x08\x0b-\x1f\x7f-\x9f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Options for {@linkcode checkMessageText}. */
export interface MessageTextOptions {
  /** Longest text, in code points. */
  readonly maxChars: number;
  /** Whether `\n` (and `\r\n`, stored as `\n`) is allowed. */
  readonly multiLine: boolean;
}

/**
 * Check a message's text.
 *
 * @param raw The text as sent.
 * @param options The length limit and whether newlines are allowed.
 * @returns The text to store: `\r\n` as `\n` when multi-line.
 * @throws {RangeError} When the text is too long, has too many lines or a
 *   control character; the message is fit for the user.
 *
 * @example
 * ```ts
 * import { equal, throws } from "node:assert/strict";
 * import { checkMessageText } from "./message_text.ts";
 *
 * equal(checkMessageText("a\r\nb", { maxChars: 10, multiLine: true }), "a\nb");
 * throws(() => checkMessageText("a\nb", { maxChars: 10, multiLine: false }), RangeError);
 * ```
 */
export function checkMessageText(raw: string, options: MessageTextOptions): string {
  const { maxChars, multiLine } = options;
  const text = multiLine ? raw.replaceAll("\r\n", "\n") : raw;
  const length = codePointLength(text, maxChars);
  if (length > maxChars) {
    throw new RangeError(
      `Cannot send: message is ${length} characters, the limit is ${maxChars}`,
    );
  }
  if (multiLine ? CONTROLS_BUT_NEWLINE.test(text) : CONTROL_CHARACTERS.test(text)) {
    throw new RangeError(
      multiLine
        ? "Cannot send: message contains control characters (only tab and newline are allowed)"
        : "Cannot send: message contains control characters (only tab is allowed)",
    );
  }
  if (multiLine) {
    let lines = 1;
    for (let at = text.indexOf("\n"); at !== -1; at = text.indexOf("\n", at + 1)) lines++;
    if (lines > MAX_MESSAGE_LINES) {
      throw new RangeError(
        `Cannot send: message has ${lines} lines, the limit is ${MAX_MESSAGE_LINES}`,
      );
    }
  }
  return text;
}

/** Count code points; only walks the string when it could be over `max`. */
function codePointLength(text: string, max: number): number {
  // UTF-16 length is never below the code point count.
  if (text.length <= max) return text.length;
  let n = 0;
  for (const _ of text) n++;
  return n;
}
