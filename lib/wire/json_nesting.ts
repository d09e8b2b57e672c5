/**
 * A cheap look at JSON text before it is parsed: how deep its arrays and
 * objects nest, counted on the raw characters (brackets inside strings do
 * not count) and given up on as soon as the bound is passed, so a frame
 * nested thousands of levels deep costs a few dozen character reads instead
 * of a full `JSON.parse`.
 *
 * @module
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACKET = 0x5d;
const CLOSE_BRACE = 0x7d;

/**
 * Whether `text` opens more than `maxDepth` arrays or objects inside one
 * another. Meant for text about to be parsed: it reads brackets and string
 * quotes only, so it says nothing about whether the text is valid JSON.
 *
 * @param text JSON text (possibly invalid).
 * @param maxDepth Deepest nesting allowed; the outermost object is level 1.
 * @returns True as soon as a bracket opens level `maxDepth + 1`.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { nestsDeeperThan } from "./json_nesting.ts";
 *
 * equal(nestsDeeperThan('{"a":[1,{"b":2}]}', 3), false);
 * equal(nestsDeeperThan('{"a":[1,{"b":2}]}', 2), true);
 * equal(nestsDeeperThan('{"a":"[[[[[["}', 1), false);
 * ```
 */
export function nestsDeeperThan(text: string, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      if (++depth > maxDepth) return true;
    } else if ((c === CLOSE_BRACKET || c === CLOSE_BRACE) && depth > 0) {
      depth--; // stray closers cannot buy depth for later openers
    }
  }
  return false;
}
