/**
 * Whether a message mentions a user: `@name` or the bare name as a word,
 * compared as user names are (ASCII letters ignoring case).
 *
 * @module
 */

/**
 * A test for mentions of `name`.
 *
 * @param name A user name (`A-Z a-z 0-9 _ . -`).
 * @returns A function telling whether a text mentions that name.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { mentionsOf } from "./mentions.ts";
 *
 * const mentionsAnn = mentionsOf("ann");
 * equal(mentionsAnn("hi @Ann!"), true);
 * equal(mentionsAnn("ANN, lunch?"), true);
 * equal(mentionsAnn("annual report"), false);
 * ```
 */
export function mentionsOf(name: string): (text: string) => boolean {
  const escaped = name.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&")
    .replace(/[A-Za-z]/g, (c) => `[${c.toLowerCase()}${c.toUpperCase()}]`);
  const word = new RegExp(`(?<![A-Za-z0-9_])${escaped}(?![A-Za-z0-9_])`);
  return (text) => word.test(text);
}
