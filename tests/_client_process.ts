/**
 * Run the real client (`client.ts`) as a process, as a user would, with
 * the task's permission flags.
 *
 * @module
 */
import { join } from "node:path";
import { within } from "./_helpers.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** The client task's permissions, as in deno.json. */
export const CLIENT_PERMISSIONS = [
  "--allow-net",
  "--allow-read",
  "--allow-env=BANTER_*,NO_COLOR,TERM",
];

/** A running client process with collected output. */
export interface ClientProcess extends AsyncDisposable {
  /** Write to its stdin. */
  write(text: string): Promise<void>;
  /** Close its stdin (end of input). */
  closeStdin(): Promise<void>;
  /** Resolves when stdout+stderr so far match. */
  waitFor(pattern: RegExp | string, ms?: number): Promise<string>;
  /** Everything printed so far (stdout and stderr interleaved). */
  output(): string;
  /** Exit status. */
  status(ms?: number): Promise<number>;
}

/** Options for {@linkcode startClient}. */
export interface StartClientOptions {
  /** Environment (BANTER_PASSWORD etc.). */
  env?: Record<string, string>;
  /** Run inside a pseudo-terminal with `script`. */
  tty?: boolean;
}

/**
 * Start `client.ts` with `args`.
 *
 * @param args Client flags.
 * @param options Environment and terminal.
 */
export function startClient(args: string[], options: StartClientOptions = {}): ClientProcess {
  const deno = Deno.execPath();
  const argv = ["run", ...CLIENT_PERMISSIONS, join(ROOT, "client.ts"), ...args];
  const quoted = [deno, ...argv].map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(" ");
  const command = options.tty
    ? new Deno.Command("script", {
      args: ["-q", "-f", "-e", "-c", `stty cols 100 rows 30; exec ${quoted}`, "/dev/null"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      cwd: ROOT,
      env: { NO_COLOR: "1", TERM: "xterm-256color", ...options.env },
    })
    : new Deno.Command(deno, {
      args: argv,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      cwd: ROOT,
      env: { NO_COLOR: "1", ...options.env },
    });
  const child = command.spawn();
  const writer = child.stdin.getWriter();
  let text = "";
  const waiters = new Set<() => void>();
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      text += decoder.decode(chunk, { stream: true });
      for (const wake of waiters) wake();
    }
  };
  const collected = Promise.all([collect(child.stdout), collect(child.stderr)]);
  let stdinClosed = false;
  const matches = (pattern: RegExp | string) =>
    typeof pattern === "string" ? text.includes(pattern) : pattern.test(text);
  return {
    async write(data) {
      await writer.write(new TextEncoder().encode(data));
    },
    async closeStdin() {
      if (stdinClosed) return;
      stdinClosed = true;
      await writer.close().catch(() => undefined);
    },
    waitFor(pattern, ms = 10_000) {
      return within(
        new Promise<string>((resolve) => {
          const check = () => {
            if (matches(pattern)) {
              waiters.delete(check);
              resolve(text);
            }
          };
          waiters.add(check);
          check();
        }),
        ms,
        `client output matching ${pattern}; got:\n${text}`,
      ).catch((error) => {
        throw new Error(`${error.message}\n--- output so far:\n${text}`);
      });
    },
    output: () => text,
    async status(ms = 15_000) {
      const { code } = await within(child.status, ms, "the client to exit");
      await collected;
      return code;
    },
    async [Symbol.asyncDispose]() {
      if (!stdinClosed) await writer.close().catch(() => undefined);
      try {
        child.kill("SIGKILL");
      } catch (error) {
        if (!(error instanceof TypeError)) throw error; // already exited
      }
      await child.status;
      await collected;
    },
  };
}
