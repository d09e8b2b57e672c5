/**
 * Shared fixtures for the accounts tests: a fake clock, fixed randomness,
 * a cheap hasher and temporary directories.
 *
 * @module
 */
import type { Random } from "../../lib/util/clock.ts";
import { Hasher, type HasherOptions } from "../../lib/auth/hash.ts";

/** Cheap scrypt parameters for tests (1 MiB, about a millisecond). */
export const TEST_PARAMS = Object.freeze({ logN: 10, r: 8, p: 1 });

/** A password that passes every rule for the names used in tests. */
export const GOOD_PASSWORD = "quiet lantern 42";

/** Randomness whose bytes are `fill`, `fill + 1`, ... (mod 256). */
export function fixedRandom(fill = 7): Random {
  return {
    float: () => 0.5,
    bytes: (n) => Uint8Array.from({ length: n }, (_, i) => (fill + i) & 255),
  };
}

/** A hasher with {@linkcode TEST_PARAMS}. */
export function testHasher(options: HasherOptions = {}): Hasher {
  return new Hasher({ params: TEST_PARAMS, ...options });
}

export { tempDir } from "../_helpers.ts";

/** The project's deno.json, for child processes. */
export const CONFIG = new URL("../../deno.json", import.meta.url).pathname;

/** Run `deno run` on a script with read/write permission and the
 * `BANTER_*` variables (the admin CLI reads the server's settings). */
export function denoRun(
  script: string | URL,
  args: string[],
  options: { cwd?: string; stdin?: "piped" | "null"; env?: Record<string, string> } = {},
): Deno.ChildProcess {
  const path = script instanceof URL ? script.pathname : script;
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--config",
      CONFIG,
      "--allow-read",
      "--allow-write",
      "--allow-env=BANTER_*",
      path,
      ...args,
    ],
    stdin: options.stdin ?? "null",
    stdout: "piped",
    stderr: "piped",
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.env === undefined ? {} : { env: options.env }),
  }).spawn();
}
