/**
 * Telling a plain JSON-like object from arrays, `null` and primitives, for
 * validating parsed untrusted input.
 *
 * @module
 */

/**
 * Whether `value` is an object whose keys can be read as fields: not
 * `null`, not an array.
 *
 * @param value Anything, typically from `JSON.parse`.
 * @returns `true` for objects other than arrays.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { isRecord } from "./is_record.ts";
 * equal(isRecord({ a: 1 }), true);
 * equal(isRecord([1]), false);
 * equal(isRecord(null), false);
 * ```
 */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
