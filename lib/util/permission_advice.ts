/**
 * What a process was not allowed to do, read from Deno's `NotCapable`
 * error ("Requires write access to "/srv/banter", run again with the
 * --allow-write flag"), so an entry point can say in one line which flag
 * to widen and to what, instead of a stack trace.
 *
 * @module
 */

/** A permission a process lacked. */
export interface MissingPermission {
  /** The permission's name: `read`, `write`, `net`, `env`, `run`, `sys`... */
  kind: string;
  /** What it was asked for: a path, `host:port`, a variable. */
  target: string;
  /** The flag that grants it, e.g. `--allow-net=192.0.2.1` (a host without its port). */
  flag: string;
}

const REQUIRES = /^Requires (\w+) access to "?(.*?)"?, run again with the --allow-\w+ flag/;

/**
 * The permission behind `error` or any error in its `cause` chain.
 *
 * @param error Whatever a start-up step threw.
 * @returns The missing permission, or undefined when the error is another.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { missingPermission } from "./permission_advice.ts";
 * const denied = new Deno.errors.NotCapable(
 *   'Requires net access to "192.0.2.1:24101", run again with the --allow-net flag',
 * );
 * deepEqual(missingPermission(new Error("Cannot listen", { cause: denied })), {
 *   kind: "net",
 *   target: "192.0.2.1:24101",
 *   flag: "--allow-net=192.0.2.1",
 * });
 * ```
 */
export function missingPermission(error: unknown): MissingPermission | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (!(e instanceof Deno.errors.NotCapable)) continue;
    const found = REQUIRES.exec(e.message);
    if (!found) return undefined;
    const [, kind = "", target = ""] = found;
    const value = kind === "net" ? target.replace(/:\d+$/, "") : target;
    return { kind, target, flag: `--allow-${kind}=${value}` };
  }
  return undefined;
}

/**
 * Quote `args` for a POSIX shell, leaving plain words as they are.
 *
 * @param args Command-line words.
 * @returns One line to paste.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { shellLine } from "./permission_advice.ts";
 * equal(shellLine(["--dir", "/srv/my certs", "it's"]), `--dir '/srv/my certs' 'it'\\''s'`);
 * ```
 */
export function shellLine(args: readonly string[]): string {
  return args.map((arg) => /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`)
    .join(" ");
}
