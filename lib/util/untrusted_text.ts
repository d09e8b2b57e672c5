/**
 * Untrusted text (a login name someone typed) made safe for logs and mails:
 * controls, bidi and other invisible format characters, and line or
 * paragraph separators are written as `\u{...}`, so nothing can forge or
 * visually reorder a log line.
 *
 * @module
 */

const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cn}]/gu;

/**
 * Escape `text` for a log line or a mail, and cut it to `maxChars`.
 *
 * @param text Untrusted text.
 * @param maxChars Longest result before escaping, in code points.
 * @returns Text with every unsafe character as `\u{hex}`; applying it twice
 * changes nothing more.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { escapeUntrusted } from "./untrusted_text.ts";
 * equal(escapeUntrusted("\u202eadmin\n"), "\\u{202e}admin\\u{a}");
 * ```
 */
export function escapeUntrusted(text: string, maxChars = 64): string {
  const cut = [...text].slice(0, maxChars).join("");
  return cut.replace(UNSAFE, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}
