/**
 * The real server and admin CLI as child processes, for crash and file-mode
 * tests: start `server.ts` in a directory, wait for it to listen, kill it
 * with any signal, start it again on the same files.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { within } from "../_helpers.ts";
import { TEST_SCRYPT_LOG_N } from "../_server.ts";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
/** Bound on a fresh `deno run` reaching "Listening". */
const START_MS = 20_000;

/** Collects a child's output and waits for patterns in it. */
export class Output {
  #text = "";
  #ended = false;
  #waiters = new Set<() => void>();
  /** Settles when the stream ends. */
  readonly done: Promise<void>;

  /** @param stream The child's stdout or stderr. */
  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = (async () => {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        this.#text += chunk;
        for (const wake of this.#waiters) wake();
      }
      this.#ended = true;
      for (const wake of this.#waiters) wake();
    })();
  }

  /** Everything so far. */
  get text(): string {
    return this.#text;
  }

  /** Wait until the output matches `pattern`. */
  async waitFor(pattern: RegExp, ms = 5000): Promise<RegExpMatchArray> {
    const found = Promise.withResolvers<RegExpMatchArray>();
    const check = () => {
      const m = this.#text.match(pattern);
      if (m) found.resolve(m);
      else if (this.#ended) {
        found.reject(new Error(`Output ended without ${pattern}: ${this.#text}`));
      }
    };
    this.#waiters.add(check);
    try {
      check();
      return await within(found.promise, ms, `${pattern} in ${JSON.stringify(this.#text)}`);
    } finally {
      this.#waiters.delete(check);
    }
  }
}

/** Options for {@linkcode startServerProcess}. */
export interface ServerProcessOptions {
  /** Extra flags. */
  args?: string[];
  /** Run under `umask 000`, so only explicit modes protect files. */
  openUmask?: boolean;
}

/** A running `server.ts`. */
export interface ServerProcess extends AsyncDisposable {
  port: number;
  stdout: Output;
  stderr: Output;
  status: Promise<Deno.CommandStatus>;
  kill(signal: Deno.Signal): void;
}

/**
 * Command and arguments, optionally wrapped in `sh -c 'umask 000 && exec ...'`.
 *
 * @param args `deno` arguments.
 * @param openUmask Clear the umask first.
 * @returns What to spawn.
 */
function denoCommand(args: string[], openUmask: boolean): [string, string[]] {
  return openUmask
    ? ["/bin/sh", ["-c", 'umask 000 && exec "$0" "$@"', Deno.execPath(), ...args]]
    : [Deno.execPath(), args];
}

/**
 * Start the real server on port 0 with its files in `dir` (certs/,
 * credentials.json, data/), console and ops endpoint off.
 *
 * @param dir The server's directory.
 * @param options Flags and umask.
 * @returns The process, once it listens.
 */
export async function startServerProcess(
  dir: string,
  options: ServerProcessOptions = {},
): Promise<ServerProcess> {
  const [command, args] = denoCommand([
    "run",
    "--allow-net=127.0.0.1,localhost",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    join(REPO, "server.ts"),
    "--port=0",
    "--console=off",
    `--certs-dir=${join(dir, "certs")}`,
    `--credentials=${join(dir, "credentials.json")}`,
    `--data=${join(dir, "data")}`,
    `--scrypt-log-n=${TEST_SCRYPT_LOG_N}`,
    "--joke-url=http://127.0.0.1:9/jokes/random",
    "--http-port=0",
    ...(options.args ?? []),
  ], options.openUmask ?? false);
  const child = new Deno.Command(command, {
    args,
    cwd: dir,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new Output(child.stdout);
  const stderr = new Output(child.stderr);
  let exited = false;
  const status = child.status.finally(() => exited = true);
  const dispose = async () => {
    if (!exited) child.kill("SIGKILL");
    await status;
    await Promise.all([stdout.done, stderr.done]);
  };
  try {
    const [, port] = await stderr.waitFor(/Listening on .*:(\d+)/, START_MS);
    return {
      port: Number(port),
      stdout,
      stderr,
      status,
      kill: (signal) => {
        if (!exited) child.kill(signal);
      },
      [Symbol.asyncDispose]: dispose,
    };
  } catch (error) {
    await dispose();
    throw error;
  }
}

/** A run of `scripts/user.ts`. */
export interface CliRun {
  child: Deno.ChildProcess;
  /** Exit status, stdout and stderr. */
  result: Promise<{ code: number; signal: Deno.Signal | null; stdout: string; stderr: string }>;
}

/**
 * Start the admin CLI on the files in `dir`, with `input` on stdin.
 *
 * @param dir The server's directory.
 * @param args CLI arguments, e.g. `["add", "carol"]`.
 * @param input Standard input (the password line).
 * @param options Umask.
 * @returns The running CLI.
 */
export function startCli(
  dir: string,
  args: string[],
  input: string,
  options: { openUmask?: boolean } = {},
): CliRun {
  const [command, commandArgs] = denoCommand([
    "run",
    "--quiet",
    "--config",
    join(REPO, "deno.json"),
    "--allow-read",
    "--allow-write",
    join(REPO, "scripts", "user.ts"),
    ...args,
    `--credentials=${join(dir, "credentials.json")}`,
    `--data=${join(dir, "data")}`,
  ], options.openUmask ?? false);
  const child = new Deno.Command(command, {
    args: commandArgs,
    cwd: dir,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const result = (async () => {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(input)).catch(() => undefined);
    await writer.close().catch(() => undefined);
    const out = await child.output();
    const decoder = new TextDecoder();
    return {
      code: out.code,
      signal: out.signal,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
    };
  })();
  return { child, result };
}
