/**
 * How hard the property-based tests push: `BANTER_FUZZ_RUNS` cases per
 * property (1,000 in the normal test run; `deno task fuzz` sets 100,000).
 * The normal run uses a fixed seed so CI is deterministic; a fuzz run picks
 * a fresh seed each time (fast-check prints it on failure), and
 * `BANTER_FUZZ_SEED` replays one.
 *
 * @module
 */
import type { Parameters } from "fast-check";

/** Cases per property in the normal test run. */
export const DEFAULT_FUZZ_RUNS = 1_000;

/** Seed of the normal test run. */
const DEFAULT_SEED = 0x5eed;

function positiveInteger(name: string): number | undefined {
  const raw = Deno.env.get(name);
  if (raw === undefined || raw === "") return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`Cannot fuzz: ${name} is "${raw}", not a positive integer`);
  }
  return value;
}

/** Cases per property for this run. */
export const FUZZ_RUNS = positiveInteger("BANTER_FUZZ_RUNS") ?? DEFAULT_FUZZ_RUNS;

/**
 * fast-check parameters for one property.
 *
 * @param share Fraction of {@linkcode FUZZ_RUNS} for an expensive property
 *   (at least one case).
 * @returns `numRuns` and `seed`.
 */
export function fuzzParameters<T>(share = 1): Parameters<T> {
  const seed = positiveInteger("BANTER_FUZZ_SEED") ??
    (Deno.env.get("BANTER_FUZZ_RUNS") === undefined ? DEFAULT_SEED : undefined);
  return {
    numRuns: Math.max(1, Math.round(FUZZ_RUNS * share)),
    ...(seed === undefined ? {} : { seed }),
  };
}
