/**
 * {@linkcode nearest}: the known word closest to a mistyped one, for "did
 * you mean" hints (an unknown flag, an unknown config key).
 *
 * @module
 */

/** Largest edit distance a suggestion may be from what was typed. */
export const MAX_SUGGESTION_DISTANCE = 2;

/**
 * Levenshtein distance between `a` and `b` (insertions, deletions and
 * substitutions each cost 1), counted in UTF-16 code units.
 *
 * @param a One word.
 * @param b The other.
 * @returns The number of edits from `a` to `b`.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(editDistance("hots", "host"), 2);
 * ```
 */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitute = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      row.push(Math.min((previous[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, substitute));
    }
    previous = row;
  }
  return previous[b.length] ?? 0;
}

/**
 * The candidate nearest to `word` within `maxDistance` edits; the first in
 * `candidates` order wins a tie.
 *
 * @param word What was typed.
 * @param candidates The words it may have meant.
 * @param maxDistance Farthest suggestion. @default {MAX_SUGGESTION_DISTANCE}
 * @returns The suggestion, or undefined when none is that close.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * equal(nearest("hots", ["port", "host"]), "host");
 * equal(nearest("colour", ["port", "host"]), undefined);
 * ```
 */
export function nearest(
  word: string,
  candidates: Iterable<string>,
  maxDistance: number = MAX_SUGGESTION_DISTANCE,
): string | undefined {
  let best: string | undefined;
  let bestDistance = maxDistance + 1;
  for (const candidate of candidates) {
    const distance = editDistance(word, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}
