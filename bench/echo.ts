/**
 * The `echo` scenario: keystroke-to-echo latency of the real terminal
 * client while 1,000 messages a second arrive. The client runs in a real
 * pseudo-terminal (`script`), logged in to Banter over TLS; a flooder
 * connection says 10 messages every 10 ms in the same room; one key is typed
 * at a time and the time until the client writes the input line with that
 * key is measured. Also counts the bytes the client writes per incoming
 * message (the redraw cost).
 *
 * @module
 */
import { join } from "node:path";
import { connect } from "../lib/net/tls_client.ts";
import { LineReader } from "../lib/wire/framing.ts";
import { encodeFrame } from "../lib/wire/protocol.ts";
import { BENCH_PASSWORD } from "./fixture.ts";
import { LatencyHistogram } from "./histogram.ts";
import type { BenchRecord } from "./report.ts";
import { type Launcher, LOAD_LOG_N } from "./scenarios.ts";
import { REPO_ROOT } from "./targets.ts";

/** Messages per second the flooder sends. */
export const ECHO_FLOOD_RATE = 1000;
/** Keys typed, one after the other's echo. */
export const ECHO_KEYS = 200;
/** Bound on one echo; a slower one is counted at this value and noted. */
const ECHO_TIMEOUT_MS = 2000;

function quote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** Collects a child's output and resolves waits on it. */
class Watched {
  text = "";
  bytes = 0;
  #waiters = new Set<() => void>();

  async read(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      this.bytes += chunk.length;
      this.text += decoder.decode(chunk, { stream: true });
      // Keep memory bounded: the tail is enough to find an echo.
      if (this.text.length > 1 << 20) this.text = this.text.slice(-(1 << 16));
      for (const wake of this.#waiters) wake();
    }
  }

  /** Resolves with `performance.now()` when `needle` shows up after `from`. */
  until(needle: string, from: number, ms: number): Promise<number | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(undefined), ms);
      const check = () => {
        const at = this.text.indexOf(needle, Math.max(0, from - this.offset));
        if (at !== -1) done(performance.now());
      };
      const done = (value: number | undefined) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve(value);
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Characters dropped from the front (see read). */
  get offset(): number {
    return this.bytes - this.text.length; // close enough for ASCII-heavy output
  }
}

/**
 * Run the echo scenario on Banter.
 *
 * @param launcher Banter's launcher.
 * @returns The record: echo latency percentiles and bytes per message.
 */
export async function echoScenario(launcher: Launcher): Promise<BenchRecord> {
  const target = await launcher.start(["typist", "flooder"], LOAD_LOG_N);
  await using _ = target;
  // The flooder: a protocol client on the same TLS port.
  const conn = await connect({
    hostname: "localhost",
    port: target.port,
    caCerts: [launcher.ca],
  });
  const lines = new LineReader(conn.source, { maxFrameBytes: 1 << 22 });
  const send = (frame: Parameters<typeof encodeFrame>[0]) =>
    Promise.resolve(conn.sink.write(encodeFrame(frame)));
  for (;;) {
    const line = await lines.next();
    if (line === undefined) throw new Error("Cannot flood: the server closed");
    const frame = JSON.parse(line);
    if (frame.type === "hello") {
      await send({ type: "hello", version: 1, client: "bench-flooder" });
    } else if (frame.type === "auth") {
      await send({ type: "login", username: "flooder", password: BENCH_PASSWORD });
    } else if (frame.type === "welcome") break;
  }
  // From now on its own messages come back: read and drop them.
  const draining = (async () => {
    let line: string | undefined;
    do line = await lines.next().catch(() => undefined); while (line !== undefined);
  })();
  // The typist: the real client in a pty.
  const caFile = await Deno.makeTempFile({ suffix: ".crt" });
  await Deno.writeTextFile(caFile, launcher.ca);
  const argv = [
    Deno.execPath(),
    "run",
    // e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the client
    ...(Deno.env.get("BANTER_BENCH_CLIENT_DENO_FLAGS") ?? "").split(/\s+/).filter(Boolean),
    "--allow-net",
    "--allow-read",
    "--allow-env=BANTER_*,NO_COLOR,TERM",
    join(REPO_ROOT, "client.ts"),
    "--port",
    String(target.port),
    "--ca",
    caFile,
    "--user",
    "typist",
  ];
  const child = new Deno.Command("script", {
    args: [
      "-q",
      "-f",
      "-e",
      "-c",
      `stty cols 100 rows 30; exec ${argv.map(quote).join(" ")}`,
      "/dev/null",
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
    env: { NO_COLOR: "1", TERM: "xterm-256color", BANTER_PASSWORD: BENCH_PASSWORD },
  }).spawn();
  const out = new Watched();
  const reading = out.read(child.stdout);
  const keys = child.stdin.getWriter();
  const histogram = new LatencyHistogram();
  let slow = 0;
  let flooded = 0;
  let flood: ReturnType<typeof setInterval> | undefined;
  try {
    if (await out.until("typist> ", 0, 20_000) === undefined) {
      throw new Error("Cannot measure echo: the client did not log in");
    }
    // 10 messages every 10 ms: 1,000 a second.
    const payload = "x".repeat(60);
    flood = setInterval(() => {
      for (let i = 0; i < 10; i++) {
        void send({ type: "say", text: `${payload} ${flooded++}` }).catch(() => undefined);
      }
    }, 10);
    // Let the flood reach the client before measuring.
    await out.until(`${payload} 1000`, 0, 10_000);
    const bytesBefore = out.bytes;
    const floodedBefore = flooded;
    let typed = "";
    for (let i = 0; i < ECHO_KEYS; i++) {
      const key = String.fromCharCode(97 + (i % 26));
      typed += key;
      if (typed.length > 40) {
        // Keep the line short: Ctrl-U, wait for the empty prompt.
        const from = out.bytes;
        await keys.write(new TextEncoder().encode("\x15"));
        await out.until("typist> \x1b[", from, ECHO_TIMEOUT_MS);
        typed = key;
      }
      const from = out.bytes;
      const sent = performance.now();
      await keys.write(new TextEncoder().encode(key));
      const seen = await out.until(`typist> ${typed}\x1b[`, from, ECHO_TIMEOUT_MS);
      if (seen === undefined) slow++;
      histogram.record((seen ?? sent + ECHO_TIMEOUT_MS) - sent);
    }
    const bytesPerMessage = (out.bytes - bytesBefore) / Math.max(1, flooded - floodedBefore);
    return {
      scenario: "echo",
      target: "banter",
      workload: { floodPerSec: ECHO_FLOOD_RATE, keys: ECHO_KEYS, columns: 100, rows: 30 },
      latency: histogram.summary(),
      sent: flooded,
      echoBytesPerMessage: Math.round(bytesPerMessage),
      notes: [
        "latency: a key written to the pty until the client wrote the input line with it",
        ...(slow > 0 ? [`${slow} echoes took over ${ECHO_TIMEOUT_MS} ms`] : []),
      ],
    };
  } finally {
    if (flood !== undefined) clearInterval(flood);
    await keys.write(new TextEncoder().encode("\x15end\r")).catch(() => undefined);
    await keys.close().catch(() => undefined);
    const status = await Promise.race([
      child.status,
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 5000)),
    ]);
    if (status === undefined) child.kill("SIGKILL");
    await child.status;
    await reading.catch(() => undefined);
    conn.close();
    await draining;
    await Deno.remove(caFile);
  }
}
