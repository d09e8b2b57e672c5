/**
 * Byte helpers.
 *
 * @module
 */

/**
 * Join byte arrays into one new array.
 *
 * @param parts The pieces, in order.
 * @param size Their total length, when the caller already knows it.
 * @returns A fresh array holding every piece.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { concatBytes } from "./bytes.ts";
 * deepEqual(concatBytes([new Uint8Array([1]), new Uint8Array([2, 3])]), new Uint8Array([1, 2, 3]));
 * ```
 */
export function concatBytes(parts: readonly Uint8Array[], size?: number): Uint8Array {
  let total = size ?? 0;
  if (size === undefined) { for (const p of parts) total += p.length; }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
