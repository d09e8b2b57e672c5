/**
 * The exit statuses of the server (`server.ts`) and the admin tools
 * (`scripts/certs.ts`, `scripts/user.ts`); the client has its own, finer
 * set (`EXIT` in lib/client/run.ts). docs/RUNNING.md lists both, and a test
 * keeps that page and these constants in step.
 *
 * @module
 */

/** Exit statuses of the server and the admin tools. */
export const TOOL_EXIT = {
  /** Done: the server stopped cleanly (signal or `/shutdown`), or the tool did its job, or `--help`. */
  ok: 0,
  /** It could not do its job: the server could not start, the tool's action failed. */
  failure: 1,
  /** Bad usage: an unknown flag, a bad setting value, a missing command. */
  usage: 2,
} as const;
