/**
 * Signal numbers, for the `128 + n` exit status a shell reports when a
 * process was ended by signal n (`scripts/serve.ts` passes its server's
 * status on that way). Linux numbers, with the ones macOS numbers
 * differently.
 *
 * @module
 */

/** Signal numbers on Linux. */
const LINUX: Readonly<Partial<Record<Deno.Signal, number>>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGSTKFLT: 16,
  SIGCHLD: 17,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGTSTP: 20,
  SIGTTIN: 21,
  SIGTTOU: 22,
  SIGURG: 23,
  SIGXCPU: 24,
  SIGXFSZ: 25,
  SIGVTALRM: 26,
  SIGPROF: 27,
  SIGWINCH: 28,
  SIGIO: 29,
  SIGPOLL: 29,
  SIGPWR: 30,
  SIGSYS: 31,
  SIGUNUSED: 31,
};

/** Where macOS (and the BSDs it follows) differ from Linux. */
const DARWIN: Readonly<Partial<Record<Deno.Signal, number>>> = {
  ...LINUX,
  SIGEMT: 7,
  SIGBUS: 10,
  SIGSYS: 12,
  SIGURG: 16,
  SIGSTOP: 17,
  SIGTSTP: 18,
  SIGCONT: 19,
  SIGCHLD: 20,
  SIGIO: 23,
  SIGINFO: 29,
  SIGUSR1: 30,
  SIGUSR2: 31,
};

/**
 * The number of a signal on an operating system.
 *
 * @param signal A signal name as Deno reports it (`Deno.CommandStatus.signal`).
 * @param os The operating system. @default Deno.build.os
 * @returns Its number.
 * @throws {RangeError} When the signal has no number on that system.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { signalNumber } from "./signal_number.ts";
 *
 * assert.equal(signalNumber("SIGHUP", "linux"), 1);
 * assert.equal(signalNumber("SIGQUIT", "linux"), 3);
 * assert.equal(signalNumber("SIGUSR1", "darwin"), 30);
 * ```
 */
export function signalNumber(
  signal: Deno.Signal,
  os: typeof Deno.build.os = Deno.build.os,
): number {
  const number = (os === "darwin" || os === "freebsd" ? DARWIN : LINUX)[signal];
  if (number === undefined) {
    throw new RangeError(`Cannot number signal ${signal}: it has no number on ${os}`);
  }
  return number;
}
