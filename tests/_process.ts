/**
 * The real server and admin CLI as child processes: start `server.ts` on the
 * files in a directory (optionally with the operator console on stdin), wait
 * for it to listen, watch its output, kill it with any signal, start it
 * again on the same files; run `scripts/user.ts` on those files.
 *
 * @module
 */
import { WAIT_MS } from "./_helpers.ts";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CERT_FILES } from "../lib/net/cert_files.ts";
import { testPki, within } from "./_helpers.ts";
import { TEST_SCRYPT_LOG_N } from "./_server.ts";

const REPO = fileURLToPath(new URL("../", import.meta.url));

/** Bound on a fresh `deno run` reaching "Listening", and on a process ending. */
export const PROCESS_MS = 20_000;

/** Collects a child's output and waits for patterns in it. */
export class Output {
  #text = "";
  #ended = false;
  #waiters = new Set<() => void>();
  /** Settles when every stream has ended. */
  readonly done: Promise<void>;

  /**
   * @param streams The child's stdout, stderr or both; chunks are appended
   * in the order they arrive.
   */
  constructor(...streams: ReadableStream<Uint8Array>[]) {
    const wakeAll = () => {
      for (const wake of this.#waiters) wake();
    };
    this.done = Promise.all(streams.map(async (stream) => {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        this.#text += chunk;
        wakeAll();
      }
    })).then(() => {
      this.#ended = true;
      wakeAll();
    });
  }

  /** Everything so far. */
  get text(): string {
    return this.#text;
  }

  /**
   * Wait until the output matches `pattern`.
   *
   * @param pattern What to wait for.
   * @param ms Bound on the wait.
   * @returns The match.
   * @throws {Error} When the output ends or `ms` pass without a match.
   */
  async waitFor(pattern: RegExp, ms = WAIT_MS): Promise<RegExpMatchArray> {
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

/** The test PKI's PEM texts, ready for synchronous writes. */
const PKI = await testPki();

/**
 * Put the test PKI in `dir/certs` unless a server certificate is there: the
 * server never makes certificates itself (`deno task certs` does).
 */
function ensureTestCerts(dir: string): void {
  const certs = join(dir, "certs");
  try {
    Deno.statSync(join(certs, CERT_FILES.serverCert));
    return;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  Deno.mkdirSync(certs, { recursive: true, mode: 0o700 });
  const files: [string, string, number][] = [
    [CERT_FILES.caCert, PKI.ca.cert, 0o644],
    [CERT_FILES.caKey, PKI.ca.key, 0o600],
    [CERT_FILES.serverCert, PKI.server.cert, 0o644],
    [CERT_FILES.serverKey, PKI.server.key, 0o600],
  ];
  for (const [name, text, mode] of files) {
    Deno.writeTextFileSync(join(certs, name), text, { mode });
    Deno.chmodSync(join(certs, name), mode);
  }
}

/** Options for {@linkcode spawnServerProcess} and {@linkcode startServerProcess}. */
export interface ServerProcessOptions {
  /** Extra flags, after the test defaults. @default {[]} */
  args?: string[];
  /** Turn the operator console on, with stdin piped for `type()`. @default {false} */
  console?: boolean;
  /** Run under `umask 000`, so only explicit modes protect files. @default {false} */
  openUmask?: boolean;
}

/** A `server.ts` process, listening or not (yet). */
export interface SpawnedServerProcess extends AsyncDisposable {
  stdout: Output;
  stderr: Output;
  /** The exit status, once the process has ended. */
  status: Promise<Deno.CommandStatus>;
  /** The port from the "Listening on" log line, once it is there. */
  listening(): Promise<number>;
  /** Type a line on the operator console (`console: true` only). */
  type(line: string): Promise<void>;
  /** Send `signal`, unless the process has exited. */
  kill(signal: Deno.Signal): void;
  /** SIGTERM, then the exit status with all output read. */
  stop(): Promise<Deno.CommandStatus>;
}

/** A `server.ts` process that listens on `port`. */
export interface ServerProcess extends SpawnedServerProcess {
  port: number;
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
 * The server's flags for the test files in `dir` (certs/, credentials.json,
 * data/), with a fast scrypt, an unreachable joke API and the ops endpoint
 * on port 0.
 *
 * @param dir The server's directory.
 * @returns The flags.
 */
export function serverFileArgs(dir: string): string[] {
  return [
    `--certs-dir=${join(dir, "certs")}`,
    `--credentials=${join(dir, "credentials.json")}`,
    `--data=${join(dir, "data")}`,
    `--scrypt-log-n=${TEST_SCRYPT_LOG_N}`,
    "--joke-url=http://127.0.0.1:9/jokes/random",
    "--http-port=0",
  ];
}

/**
 * Start the real server on port 0 with its files in `dir` (certs/, the test
 * PKI unless there are certificates already; credentials.json; data/), ops
 * endpoint off, console off unless asked for; return at once, without
 * waiting for it to listen.
 *
 * @param dir The server's directory, also its working directory.
 * @param options Flags, console and umask.
 * @returns The process.
 */
export function spawnServerProcess(
  dir: string,
  options: ServerProcessOptions = {},
): SpawnedServerProcess {
  ensureTestCerts(dir);
  const [command, args] = denoCommand([
    "run",
    "--allow-net=127.0.0.1,localhost",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    join(REPO, "server.ts"),
    "--port=0",
    `--console=${options.console ? "on" : "off"}`,
    ...serverFileArgs(dir),
    "--web-port=0",
    ...(options.args ?? []),
  ], options.openUmask ?? false);
  const child = new Deno.Command(command, {
    args,
    cwd: dir,
    env: { NO_COLOR: "1" },
    stdin: options.console ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdin = options.console ? child.stdin.getWriter() : undefined;
  const stdout = new Output(child.stdout);
  const stderr = new Output(child.stderr);
  let exited = false;
  const status = child.status.finally(() => exited = true);
  const kill = (signal: Deno.Signal) => {
    if (!exited) child.kill(signal);
  };
  return {
    stdout,
    stderr,
    status,
    listening: async () => Number((await stderr.waitFor(/Listening on .*:(\d+)/, PROCESS_MS))[1]),
    type: (line) => {
      if (!stdin) throw new TypeError("Cannot type on the console: it is off");
      return stdin.write(new TextEncoder().encode(line + "\n"));
    },
    kill,
    async stop() {
      kill("SIGTERM");
      const result = await within(status, PROCESS_MS, "the server to exit");
      await Promise.all([stdout.done, stderr.done]);
      return result;
    },
    async [Symbol.asyncDispose]() {
      kill("SIGKILL");
      await status;
      await stdin?.close().catch(() => undefined);
      await Promise.all([stdout.done, stderr.done]);
    },
  };
}

/**
 * {@linkcode spawnServerProcess}, then wait until it listens.
 *
 * @param dir The server's directory, also its working directory.
 * @param options Flags, console and umask.
 * @returns The process, once it listens.
 * @throws {Error} When it exits or takes too long first; it is killed then.
 */
export async function startServerProcess(
  dir: string,
  options: ServerProcessOptions = {},
): Promise<ServerProcess> {
  const server = spawnServerProcess(dir, options);
  try {
    return Object.assign(server, { port: await server.listening() });
  } catch (error) {
    await server[Symbol.asyncDispose]();
    throw error;
  }
}

/** A run of `scripts/user.ts`. */
export interface CliRun {
  child: Deno.ChildProcess;
  /** Exit status, stdout and stderr. */
  result: Promise<{ code: number; signal: Deno.Signal | null; stdout: string; stderr: string }>;
}

/** Options for {@linkcode startCli}. */
export interface CliOptions {
  /** Run under `umask 000`. @default {false} */
  openUmask?: boolean;
}

/**
 * Start the admin CLI on the files in `dir`, with `input` on stdin.
 *
 * @param dir The server's directory, also the CLI's working directory.
 * @param args CLI arguments, e.g. `["add", "carol"]`.
 * @param input Standard input (the password line).
 * @param options Umask.
 * @returns The running CLI.
 */
export function startCli(
  dir: string,
  args: string[],
  input: string,
  options: CliOptions = {},
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
