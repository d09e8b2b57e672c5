/**
 * What the page checks before it sends a typed message: the server's limits
 * from `welcome.limits` (characters and lines), and that a `/command` is one
 * line. The refusal names the count, so the user knows how much to cut.
 *
 * @module
 */

/** The limits a message is held to (from `welcome.limits`). */
export interface InputLimits {
  /** Most characters (`message_chars`). */
  chars: number;
  /** Most lines (`message_lines`). */
  lines: number;
}

/**
 * Why `text` cannot be sent, or undefined when it can.
 *
 * @param text The input, newlines as `\n`.
 * @param limits The server's limits.
 * @returns A sentence for the user, with the counts.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(checkInput("hi", { chars: 4096, lines: 50 }), undefined);
 * equal(checkInput("a\nb\nc", { chars: 4096, lines: 2 }), "Cannot send: 3 lines, at most 2");
 * ```
 */
export function checkInput(text: string, limits: InputLimits): string | undefined {
  const chars = [...text].length;
  if (chars > limits.chars) {
    return `Cannot send: ${chars} characters, at most ${limits.chars}`;
  }
  const lines = text.split("\n").length;
  if (lines > limits.lines) return `Cannot send: ${lines} lines, at most ${limits.lines}`;
  if (lines > 1 && text.startsWith("/")) return "Cannot send: a /command is one line";
  return undefined;
}
