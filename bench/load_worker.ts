/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
/**
 * One load-generator thread: logs in its share of clients over real TLS,
 * sends stamped chat lines (burst or paced) and measures end-to-end latency
 * of every delivery without parsing JSON: it finds the payload marker and
 * reads the stamp from the bytes. Driven by load.ts.
 *
 * @module
 */
import { concatBytes } from "../lib/util/bytes.ts";
import type {
  ClientPlan,
  ConnectReport,
  SendReport,
  WorkerReply,
  WorkerRequest,
  WorkerSetup,
  WorkerStats,
} from "./_load_messages.ts";
import {
  type BenchUser,
  type Dialect,
  dialect,
  type DialectPeer,
  MARKER,
  MARKER_2,
  payload,
  readStamp,
} from "./dialects.ts";
import { LatencyHistogram } from "./histogram.ts";
import { type ByteConn, openWebSocket } from "./_ws_client.ts";

/** Longest line a client buffers (a Banter `room` frame lists every member). */
const MAX_LINE_BYTES = 8 * 1024 * 1024;
const FIRST_BUFFER_BYTES = 4096;
/** How often the paced sender wakes up. */
const TICK_MS = 5;

const now = () => performance.timeOrigin + performance.now();
const encoder = new TextEncoder();

let setup: WorkerSetup | undefined;
let wire: Dialect | undefined;
/** Set by a `stop` request: paced sending ends at the next tick. */
let stopSending = false;
const clients: LoadClient[] = [];
const histogram = new LatencyHistogram();
const stats = {
  received: 0,
  receivedOther: 0,
  controlLines: 0,
  bytesIn: 0,
  lastAt: 0,
  dropped: 0,
  errors: [] as string[],
};

function noteError(message: string): void {
  if (stats.errors.length < 10) stats.errors.push(message);
}

class LoadClient implements DialectPeer {
  readonly user: BenchUser;
  readonly measure: boolean;
  readonly port: number | undefined;
  loggedIn = false;
  closed = false;
  #conn: ByteConn | undefined;
  #queue: Uint8Array[] = [];
  #writing = false;
  #ready = Promise.withResolvers<void>();

  constructor(plan: ClientPlan) {
    this.user = { name: plan.name, password: plan.password };
    if (plan.room !== undefined) this.user.room = plan.room;
    this.measure = plan.measure;
    this.port = plan.port;
    this.#ready.promise.catch(() => undefined);
  }

  get busy(): boolean {
    return this.#writing;
  }

  /** Connect, handshake, log in; resolves with the login time in ms. */
  async open(s: WorkerSetup, timeoutMs: number): Promise<number> {
    const started = now();
    const timer = setTimeout(() => this.fail(`login timed out after ${timeoutMs} ms`), timeoutMs);
    try {
      const port = this.port ?? s.port;
      const tls = await Deno.connectTls({ hostname: s.hostname, port, caCerts: [s.ca] });
      this.#conn = tls;
      if (this.closed) throw new Error("closed during connect");
      await tls.handshake();
      // A browser's worth: the same frames, one per WebSocket message.
      const conn = s.transport === "websocket"
        ? await openWebSocket(tls, `${s.hostname}:${port}`)
        : tls;
      this.#conn = conn;
      this.#readLoop(conn).catch((error) => this.fail(`read: ${error}`));
      const opening = wire!.opening(this.user);
      if (opening !== "") this.send(opening);
      await this.#ready.promise;
      return now() - started;
    } catch (error) {
      this.fail(error instanceof Error ? error.message : String(error));
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  send(text: string): void {
    this.write(encoder.encode(text));
  }

  write(bytes: Uint8Array): void {
    if (this.closed) return;
    this.#queue.push(bytes);
    if (!this.#writing) this.#flush();
  }

  async #flush(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0 && !this.closed) {
        const batch = this.#queue.length === 1 ? this.#queue[0]! : concatBytes(this.#queue);
        this.#queue = [];
        let at = 0;
        while (at < batch.length) at += await this.#conn!.write(batch.subarray(at));
      }
    } catch (error) {
      this.fail(`write: ${error instanceof Error ? error.message : error}`);
    } finally {
      this.#writing = false;
    }
  }

  ready(): void {
    this.loggedIn = true;
    this.#ready.resolve();
  }

  fail(reason: string): void {
    if (this.closed) return;
    if (this.loggedIn) stats.dropped++;
    noteError(`${this.user.name}: ${reason}`);
    this.close();
    this.#ready.reject(new Error(reason));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.#queue = [];
    try {
      this.#conn?.close();
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) throw error;
    }
  }

  async #readLoop(conn: ByteConn): Promise<void> {
    let buf = new Uint8Array(FIRST_BUFFER_BYTES);
    let have = 0;
    for (;;) {
      if (have === buf.length) {
        if (buf.length >= MAX_LINE_BYTES) throw new Error("line too long");
        const bigger = new Uint8Array(buf.length * 2);
        bigger.set(buf);
        buf = bigger;
      }
      let n: number | null;
      try {
        n = await conn.read(buf.subarray(have));
      } catch (error) {
        if (this.closed) return;
        throw error;
      }
      if (n === null) {
        if (!this.closed) this.fail("connection closed by server");
        return;
      }
      have += n;
      stats.bytesIn += n;
      const at = now();
      const view = buf.subarray(0, have);
      let pos = 0;
      let marker = view.indexOf(MARKER);
      for (;;) {
        const nl = view.indexOf(0x0a, pos);
        if (nl === -1) break;
        if (marker !== -1 && marker < nl) {
          const chat = this.loggedIn && view[marker + 1] === MARKER_2;
          if (chat) this.#delivered(at - readStamp(view, marker), at);
          marker = view.indexOf(MARKER, nl + 1);
          if (chat) {
            pos = nl + 1;
            continue;
          }
        }
        stats.controlLines++;
        wire!.control(view, pos, nl, this);
        if (this.closed) return;
        pos = nl + 1;
      }
      if (pos > 0) {
        buf.copyWithin(0, pos, have);
        have -= pos;
      }
    }
  }

  #delivered(latencyMs: number, at: number): void {
    if (!this.measure) {
      stats.receivedOther++;
      return;
    }
    stats.received++;
    stats.lastAt = at;
    histogram.record(latencyMs);
  }
}

async function connect(
  plans: ClientPlan[],
  concurrency: number,
  timeoutMs: number,
  deadline: number,
): Promise<ConnectReport> {
  const report: ConnectReport = { ok: 0, failed: 0, skipped: 0, errors: [], loginMs: [] };
  let next = 0;
  const lane = async () => {
    while (next < plans.length) {
      if (now() > deadline) {
        report.skipped += plans.length - next;
        next = plans.length;
        break;
      }
      const client = new LoadClient(plans[next++]!);
      clients.push(client);
      try {
        report.loginMs.push(await client.open(setup!, timeoutMs));
        report.ok++;
      } catch (error) {
        report.failed++;
        if (report.errors.length < 5) {
          report.errors.push(
            `${client.user.name}: ${error instanceof Error ? error.message : error}`,
          );
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, lane));
  return report;
}

function live(): LoadClient[] {
  return clients.filter((c) => c.loggedIn && !c.closed && c.measure);
}

function burst(messages: number): SendReport {
  const s = setup!;
  let sent = 0;
  for (const client of live()) {
    let text = "";
    const stamp = now();
    for (let i = 0; i < messages; i++) text += wire!.say(payload(stamp, s.payloadBytes));
    client.send(text);
    sent += messages;
  }
  return { sent, skipped: 0 };
}

async function paced(rate: number, durationMs: number, startAt: number): Promise<SendReport> {
  const s = setup!;
  const senders = live();
  const interval = 1000 / rate;
  const perClient = Math.floor((durationMs * rate) / 1000);
  // Stagger clients evenly over one interval, across all workers.
  const offsets = senders.map((_, i) =>
    ((i * s.workers + s.index) / (senders.length * s.workers)) * interval
  );
  const sentBy = new Uint32Array(senders.length);
  let sent = 0;
  let skipped = 0;
  const hardStop = startAt + durationMs + 2000;
  stopSending = false;
  for (;;) {
    const t = now();
    if (t > hardStop || stopSending) break;
    let pending = false;
    for (let i = 0; i < senders.length; i++) {
      const client = senders[i]!;
      if (client.closed || sentBy[i]! >= perClient) continue;
      pending = true;
      const due = Math.min(perClient, Math.floor((t - startAt - offsets[i]!) / interval) + 1) -
        sentBy[i]!;
      if (due <= 0) continue;
      if (client.busy) {
        skipped++;
        continue;
      }
      let text = "";
      for (let k = 0; k < due; k++) text += wire!.say(payload(t, s.payloadBytes));
      client.send(text);
      sentBy[i]! += due;
      sent += due;
    }
    if (!pending) break;
    await new Promise((resolve) => setTimeout(resolve, TICK_MS));
  }
  return { sent, skipped };
}

function snapshot(reset: boolean, withHistogram: boolean): WorkerStats {
  const out: WorkerStats = {
    ...stats,
    errors: [...stats.errors],
    ...(withHistogram ? { histogram: histogram.data() } : {}),
  };
  if (reset) {
    stats.received = 0;
    stats.receivedOther = 0;
    stats.controlLines = 0;
    stats.bytesIn = 0;
    stats.lastAt = 0;
    histogram.reset();
  }
  return out;
}

async function handle(request: WorkerRequest): Promise<unknown> {
  switch (request.op) {
    case "init":
      setup = request.setup;
      wire = dialect(setup.dialect);
      return null;
    case "connect":
      return await connect(
        request.clients,
        request.concurrency,
        request.timeoutMs,
        request.deadline,
      );
    case "burst":
      return burst(request.messages);
    case "paced":
      return await paced(request.rate, request.durationMs, request.startAt);
    case "stop":
      stopSending = true;
      return null;
    case "nudge":
      if (wire!.nudge === undefined) return 0;
      for (const client of live()) client.send(wire!.nudge);
      return live().length;
    case "stats":
      return snapshot(request.reset, request.histogram);
    case "close":
      for (const client of clients) client.close();
      clients.length = 0;
      return null;
  }
}

self.onmessage = async (event: MessageEvent<WorkerRequest>) => {
  const request = event.data;
  let reply: WorkerReply;
  try {
    reply = { id: request.id, ok: true, value: await handle(request) };
  } catch (error) {
    reply = {
      id: request.id,
      ok: false,
      error: error instanceof Error ? error.message : String(error),
    };
  }
  self.postMessage(reply);
};
