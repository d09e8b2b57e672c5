/**
 * A program in a real pseudo-terminal, with its screen read back: `script`
 * (util-linux) gives the pty, `@xterm/headless` plays the terminal, and a
 * test asserts on the rows and the cursor as a user would see them. Waits
 * are on output (each chunk re-checks the screen), bounded by a timeout
 * that fails the test; nothing sleeps.
 *
 * @module
 */
import xterm from "@xterm/headless";
import { join } from "node:path";
import { within } from "./_helpers.ts";
import { CLIENT_PERMISSIONS } from "./_client_process.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** Bound on one wait for the screen. */
export const SCREEN_MS = 15_000;

/** Options for {@linkcode spawnPty}. */
export interface PtyOptions {
  /** Terminal width. @default {100} */
  cols?: number;
  /** Terminal height. @default {30} */
  rows?: number;
  /** Environment added to `NO_COLOR=1 TERM=xterm-256color`. */
  env?: Record<string, string>;
  /** Working directory. @default the repository */
  cwd?: string;
}

/** A program running in a pty, with its screen. */
export interface Pty extends AsyncDisposable {
  /** Type bytes (keys, escape sequences). */
  write(text: string): Promise<void>;
  /** The screen's rows, trailing spaces trimmed. */
  lines(): string[];
  /** The screen as one string, rows joined with `\n`. */
  text(): string;
  /** The cursor, 0-based column and row on the screen. */
  cursor(): { x: number; y: number };
  /** Every byte the program wrote so far. */
  output(): string;
  /** How many bytes the program wrote so far. */
  bytes(): number;
  /** Wait until the screen shows `pattern` (a string is matched literally). */
  waitFor(pattern: RegExp | string, ms?: number): Promise<string>;
  /** Wait until `check(lines)` holds. */
  waitUntil(check: (lines: string[]) => boolean, what: string, ms?: number): Promise<void>;
  /** Resize the pty (the program gets SIGWINCH from the kernel) and the emulator. */
  resize(cols: number, rows: number): Promise<void>;
  /** Exit status. */
  status(ms?: number): Promise<number>;
}

function quote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/**
 * The pseudo-terminal that the children of `pid` run on, e.g. `/dev/pts/3`
 * (through `ps`: Deno reads `/proc` only with every permission).
 */
async function ttyOfChildren(pid: number): Promise<string | undefined> {
  const { stdout } = await new Deno.Command("ps", {
    args: ["-o", "tty=", "--ppid", String(pid)],
    stdout: "piped",
    stderr: "null",
  }).output();
  const tty = new TextDecoder().decode(stdout).split(/\s+/).find((t) => t.startsWith("pts/"));
  return tty === undefined ? undefined : `/dev/${tty}`;
}

/**
 * Run `argv` in a pseudo-terminal of `cols` x `rows`.
 *
 * @param argv The program and its arguments.
 * @param options Size, environment, directory.
 * @returns The running program.
 */
export function spawnPty(argv: string[], options: PtyOptions = {}): Pty {
  const cols = options.cols ?? 100;
  const rows = options.rows ?? 30;
  const command = `stty cols ${cols} rows ${rows}; exec ${argv.map(quote).join(" ")}`;
  const child = new Deno.Command("script", {
    args: ["-q", "-f", "-e", "-c", command, "/dev/null"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    cwd: options.cwd ?? ROOT,
    env: { NO_COLOR: "1", TERM: "xterm-256color", ...options.env },
  }).spawn();
  const term = new xterm.Terminal({ cols, rows, allowProposedApi: true, scrollback: 1000 });
  const writer = child.stdin.getWriter();
  let raw = "";
  let byteCount = 0;
  let ended = false;
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const w of waiters) w();
  };
  const decoder = new TextDecoder();
  const reading = (async () => {
    for await (const chunk of child.stdout) {
      byteCount += chunk.length;
      const text = decoder.decode(chunk, { stream: true });
      raw += text;
      await new Promise<void>((resolve) => term.write(text, resolve));
      wake();
    }
  })().finally(() => {
    ended = true;
    wake();
  });
  const errors = (async () => {
    for await (const _ of child.stderr) { /* script writes nothing of its own with -q */ }
  })();
  const lines = () => {
    const buffer = term.buffer.active;
    const out: string[] = [];
    for (let y = 0; y < term.rows; y++) {
      out.push(buffer.getLine(buffer.viewportY + y)?.translateToString(true) ?? "");
    }
    return out;
  };
  const waitUntil = async (check: (l: string[]) => boolean, what: string, ms = SCREEN_MS) => {
    const done = Promise.withResolvers<void>();
    const test = () => {
      if (check(lines())) done.resolve();
      else if (ended) done.reject(new Error(`Output ended before ${what}:\n${lines().join("\n")}`));
    };
    waiters.add(test);
    try {
      test();
      await within(done.promise, ms, what).catch((error) => {
        throw new Error(`${error.message}; the screen:\n${lines().join("\n")}`);
      });
    } finally {
      waiters.delete(test);
    }
  };
  let exited = false;
  const status = child.status.finally(() => exited = true);
  return {
    async write(text) {
      await writer.write(new TextEncoder().encode(text));
    },
    lines,
    text: () => lines().join("\n"),
    cursor: () => ({ x: term.buffer.active.cursorX, y: term.buffer.active.cursorY }),
    output: () => raw,
    bytes: () => byteCount,
    async waitFor(pattern, ms) {
      const regExp = typeof pattern === "string" ? new RegExp(RegExp.escape(pattern)) : pattern;
      await waitUntil((l) => regExp.test(l.join("\n")), `${regExp} on the screen`, ms);
      return lines().join("\n");
    },
    waitUntil,
    async resize(newCols, newRows) {
      // The program is script's child (its shell exec'd it) on the pty.
      const tty = await ttyOfChildren(child.pid);
      if (tty === undefined) throw new Error("Cannot resize: the pty was not found");
      const { code } = await new Deno.Command("stty", {
        args: ["-F", tty, "cols", String(newCols), "rows", String(newRows)],
      }).output();
      if (code !== 0) throw new Error(`Cannot resize: stty exited ${code}`);
      term.resize(newCols, newRows);
    },
    async status(ms = SCREEN_MS) {
      const { code } = await within(status, ms, "the program to exit");
      await reading;
      return code;
    },
    async [Symbol.asyncDispose]() {
      await writer.close().catch(() => undefined);
      if (!exited) {
        try {
          child.kill("SIGKILL");
        } catch (error) {
          if (!(error instanceof TypeError)) throw error;
        }
      }
      await status;
      await reading;
      await errors;
      term.dispose();
    },
  };
}

/** Options for {@linkcode spawnClientPty}. */
export interface ClientPtyOptions extends PtyOptions {
  /** Log in as this user (with BANTER_PASSWORD from `password`). */
  user?: string;
  /** The password, passed in the environment. */
  password?: string;
}

/**
 * The real client in a pty, pointed at a test server in `dir` on `port`.
 *
 * @param dir The test server's directory (its certs/ca.crt is trusted).
 * @param port The server's port.
 * @param args More client flags.
 * @param options Size, user and password.
 * @returns The client in its terminal.
 */
export function spawnClientPty(
  dir: string,
  port: number,
  args: string[] = [],
  options: ClientPtyOptions = {},
): Pty {
  const argv = [
    Deno.execPath(),
    "run",
    ...CLIENT_PERMISSIONS,
    join(ROOT, "client.ts"),
    "--port",
    String(port),
    "--ca",
    join(dir, "certs", "ca.crt"),
    ...(options.user ? ["--user", options.user] : []),
    ...args,
  ];
  return spawnPty(argv, {
    ...options,
    env: { ...options.env, ...(options.password ? { BANTER_PASSWORD: options.password } : {}) },
  });
}
