/**
 * Run `deno task server` (the launcher, scripts/serve.ts) in a copy of the
 * checkout, as an operator would, on ephemeral ports with the console off.
 *
 * @module
 */
import { within } from "./_helpers.ts";
import { Output, PROCESS_MS } from "./_process.ts";

/** Options for {@linkcode startTaskServer}. */
export interface TaskServerOptions {
  /**
   * The operations (HTTP) port.
   *
   * @default {0}
   */
  httpPort?: number;
}

/** A running `deno task server` with its collected output. */
export interface TaskServer {
  /** The `deno task` process. */
  child: Deno.ChildProcess;
  /** What it printed on stdout. */
  stdout: Output;
  /** What it printed on stderr. */
  stderr: Output;
  /** Resolves when `deno task` has exited. */
  status: Promise<Deno.CommandStatus>;
  /** Whether `deno task` has exited. */
  readonly exited: boolean;
  /** The chat port, once the server says it is listening. */
  port(): Promise<number>;
  /** Send `signal` unless it has exited, then wait for the exit and the output. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/**
 * Start `deno task server` in `checkout` with `args` after the test's own
 * flags (`--port=0 --web-port=0 --console=off --scrypt-log-n=10`).
 *
 * @param checkout A copy of the checkout (tests/_checkout.ts).
 * @param args More server flags.
 * @param options The operations port.
 * @returns The running task.
 */
export function startTaskServer(
  checkout: string,
  args: string[],
  options: TaskServerOptions = {},
): TaskServer {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "task",
      "server",
      "--port=0",
      `--http-port=${options.httpPort ?? 0}`,
      "--web-port=0",
      "--console=off",
      "--scrypt-log-n=10",
      ...args,
    ],
    cwd: checkout,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const stdout = new Output(child.stdout);
  const stderr = new Output(child.stderr);
  let exited = false;
  const status = child.status.finally(() => exited = true);
  return {
    child,
    stdout,
    stderr,
    status,
    get exited() {
      return exited;
    },
    port: async () => Number((await stderr.waitFor(/Listening on .*:(\d+)/, PROCESS_MS))[1]),
    async stop(signal = "SIGTERM") {
      if (!exited) child.kill(signal);
      const result = await within(status, PROCESS_MS, "deno task server to exit");
      await Promise.all([stdout.done, stderr.done]);
      return result;
    },
  };
}
