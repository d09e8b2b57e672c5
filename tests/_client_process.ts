/**
 * Run the real client (`client.ts`) as a process, as a user would, with
 * the task's permission flags.
 *
 * @module
 */
import { join } from "node:path";
import { WAIT_MS, within } from "./_helpers.ts";
import { Output } from "./_process.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** The client task's permissions, as in deno.json. */
export const CLIENT_PERMISSIONS = [
  "--allow-net",
  "--allow-read",
  "--allow-env=BANTER_*,NO_COLOR,TERM",
];

/**
 * The flags that point the client at a test server: its port, the CA in
 * `dir`/certs and, when given, the user to log in as.
 *
 * @param dir The server's directory (`TestServer.dir`).
 * @param port The server's port.
 * @param user The account to log in as (`--user`); none when omitted.
 * @returns The client flags.
 */
export function clientArgs(dir: string, port: number, user?: string): string[] {
  return [
    "--port",
    String(port),
    "--ca",
    join(dir, "certs", "ca.crt"),
    ...(user ? ["--user", user] : []),
  ];
}

/** A running client process with collected output. */
export interface ClientProcess extends AsyncDisposable {
  /** Write to its stdin. */
  write(text: string): Promise<void>;
  /** Close its stdin (end of input). */
  closeStdin(): Promise<void>;
  /** Resolves with everything printed so far once it matches (a string literally). */
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
  const output = new Output(child.stdout, child.stderr);
  let stdinClosed = false;
  return {
    async write(data) {
      await writer.write(new TextEncoder().encode(data));
    },
    async closeStdin() {
      if (stdinClosed) return;
      stdinClosed = true;
      await writer.close().catch(() => undefined);
    },
    async waitFor(pattern, ms = WAIT_MS) {
      const regExp = typeof pattern === "string" ? new RegExp(RegExp.escape(pattern)) : pattern;
      await output.waitFor(regExp, ms);
      return output.text;
    },
    output: () => output.text,
    async status(ms = WAIT_MS) {
      const { code } = await within(child.status, ms, "the client to exit");
      await output.done;
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
      await output.done;
    },
  };
}
