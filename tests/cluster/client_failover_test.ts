/**
 * The real terminal client across cluster instances, as a user sees it:
 * given every instance with `--host`, it rides out an instance killed with
 * -9 by reconnecting to another one and resuming, so every line of the chat
 * is on its screen once, in order.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { join } from "node:path";
import { startNats } from "../_nats.ts";
import { passwordOf } from "../_server.ts";
import { addClusterUsers } from "./_cluster_users.ts";
import { type ServerProcess, startServerProcess } from "../_process.ts";
import { type ClientProcess, startClient } from "../_client_process.ts";
import { tempDir, WAIT_MS, within } from "../_helpers.ts";
import { loginV2, type V2Login } from "../e2e/_v2_client.ts";

/** Numbered lines bob sends: before the kill, while ann is away, after she is back. */
const BEFORE = 10;
const DURING = 10;
const AFTER = 10;

/** Bob's `n`th line, easy to find and to count in ann's output. */
function numbered(n: number): string {
  return `line-${String(n).padStart(3, "0")}`;
}

/** The numbered lines in `output`, in the order printed (each `<bob> line-NNN`). */
function numberedLines(output: string): string[] {
  return [...output.matchAll(/<bob> (line-\d{3})$/gm)].map((m) => m[1]!);
}

/** Two instances as real processes on one nats-server; the cluster holds the accounts. */
interface TwoInstances extends AsyncDisposable {
  a: ServerProcess;
  b: ServerProcess;
  /** The test CA, which both instances' certificates are signed by. */
  ca: string;
}

async function twoInstances(): Promise<TwoInstances> {
  const stack = new AsyncDisposableStack();
  try {
    const nats = stack.use(await startNats());
    await addClusterUsers(nats.url, ["ann", "bob", "cat", "dan"]);
    const args = [
      `--cluster=${nats.url}`,
      "--cluster-presence-ttl=3",
      "--rate-burst=100",
      "--rate-per-second=100",
      // Fewer than bob sends while ann is away: the replay on B leaves lines
      // out, which the client fetches page by page.
      "--history-limit=4",
    ];
    const dirA = stack.use(await tempDir());
    const dirB = stack.use(await tempDir());
    const a = stack.use(await startServerProcess(dirA.path, { args }));
    const b = stack.use(await startServerProcess(dirB.path, { args }));
    const moved = stack.move();
    return {
      a,
      b,
      ca: join(dirA.path, "certs", "ca.crt"),
      [Symbol.asyncDispose]: () => moved.disposeAsync(),
    };
  } catch (error) {
    await stack.disposeAsync();
    throw error;
  }
}

/** The real client as ann, given `hosts` in turn. */
function annOn(ca: string, ...hosts: string[]): ClientProcess {
  return startClient(
    [...hosts.flatMap((host) => ["--host", host]), "--ca", ca, "--user", "ann"],
    { env: { BANTER_PASSWORD: passwordOf("ann") } },
  );
}

/** A direction of a {@linkcode Relay}: client to server, or back. */
type Direction = "up" | "down";

/** A TCP relay to a server that can stop passing bytes on, one direction at a time. */
interface Relay extends AsyncDisposable {
  /** `127.0.0.1:PORT` to connect to. */
  readonly address: string;
  /**
   * Pass nothing more on in `direction` (what comes is dropped).
   *
   * @returns Settles once bytes came in that direction and were dropped.
   */
  hold(direction: Direction): Promise<void>;
}

/**
 * A relay to `127.0.0.1:port`: each connection to it is passed on to the
 * server as it is (TLS end to end) until held; when either side closes, both
 * are closed.
 */
function relayTo(port: number): Relay {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held = new Map<Direction, () => void>();
  const piping = new Set<Promise<void>>();
  const pipe = async (from: Deno.Conn, to: Deno.Conn, direction: Direction) => {
    const writer = to.writable.getWriter();
    try {
      for await (const chunk of from.readable) {
        const dropped = held.get(direction);
        if (dropped !== undefined) dropped();
        else await writer.write(chunk);
      }
    } catch { /* the other side closed */ }
    for (const conn of [from, to]) {
      try {
        conn.close();
      } catch { /* closed already */ }
    }
  };
  const accepting = (async () => {
    for await (const conn of listener) {
      const server = await Deno.connect({ hostname: "127.0.0.1", port });
      for (const p of [pipe(conn, server, "up"), pipe(server, conn, "down")]) {
        piping.add(p);
        void p.finally(() => piping.delete(p));
      }
    }
  })().catch(() => undefined);
  return {
    address: `127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    hold(direction) {
      const dropped = Promise.withResolvers<void>();
      held.set(direction, dropped.resolve);
      return within(dropped.promise, WAIT_MS, `bytes ${direction} to drop`);
    },
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting;
      await Promise.all(piping);
    },
  };
}

/** What bob has heard ann say in the lobby, in order. */
function heardFromAnn(bob: V2Login): string[] {
  return bob.client.received.flatMap((f) =>
    f.type === "message" && f.from === "ann" ? [f.text] : []
  );
}

/** Ann through a relay to A (B as her second `--host`), bob on B, and a line of his she saw. */
interface RelayedAnn extends AsyncDisposable {
  cluster: TwoInstances;
  relay: Relay;
  ann: ClientProcess;
  bob: V2Login;
  /** `127.0.0.1:PORT` of B. */
  b: string;
}

async function relayedAnn(): Promise<RelayedAnn> {
  const stack = new AsyncDisposableStack();
  try {
    const cluster = stack.use(await twoInstances());
    const relay = stack.use(relayTo(cluster.a.port));
    const b = `127.0.0.1:${cluster.b.port}`;
    const ann = stack.use(annOn(cluster.ca, relay.address, b));
    await ann.waitFor(`Logged in as ann on ${relay.address}`);
    const bob = stack.use(await loginV2(cluster.b.port, "bob"));
    await bob.client.send({ type: "say", room: "lobby", text: "hi ann", id: "1" });
    await ann.waitFor("<bob> hi ann");
    const moved = stack.move();
    return { cluster, relay, ann, bob, b, [Symbol.asyncDispose]: () => moved.disposeAsync() };
  } catch (error) {
    await stack.disposeAsync();
    throw error;
  }
}

/** Ann says "after" on B; bob hears `first`, then it, and ann sees it. */
async function afterwards(ann: ClientProcess, bob: V2Login, first: string): Promise<void> {
  await ann.write("after\n");
  await bob.client.until((f) => f.type === "message" && f.text === "after");
  await ann.waitFor("<ann> after");
  deepEqual(heardFromAnn(bob), [first, "after"]);
}

Deno.test("the real client on an instance killed with -9 reconnects to the other --host by itself: every line of the chat once, in order, then it chats there", async () => {
  await using cluster = await twoInstances();
  const { a: instanceA, b: instanceB } = cluster;
  const [a, b] = [`127.0.0.1:${instanceA.port}`, `127.0.0.1:${instanceB.port}`];

  await using ann = annOn(cluster.ca, a, b);
  await ann.waitFor(`Logged in as ann on ${a}`);
  // Cat stays on A and goes down with it; dan, on B, watches presence.
  await using dan = await loginV2(instanceB.port, "dan");
  await using cat = await loginV2(instanceA.port, "cat");
  await dan.client.until((f) => f.type === "presence" && f.user === "cat" && f.online);
  await using bob = await loginV2(instanceB.port, "bob");

  let sent = 0;
  /** Bob sends his next `count` numbered lines, each stored before the next. */
  const send = async (count: number) => {
    for (let i = 0; i < count; i++) {
      const text = numbered(++sent);
      await bob.client.send({ type: "say", room: "lobby", text, id: text });
      await bob.client.until((f) => f.type === "ack" && f.id === text);
    }
  };

  /** Bob DMs ann; stored once acknowledged. */
  const dm = async (text: string) => {
    await bob.client.send({ type: "dm", to: "ann", text, id: text });
    await bob.client.until((f) => f.type === "ack" && f.id === text);
  };

  await send(BEFORE / 2);
  await dm("dm seen on a");
  await send(BEFORE / 2);
  await ann.waitFor(`<bob> ${numbered(BEFORE)}`);
  // Mid-chat: A dies while bob goes on sending.
  const sending = send(DURING);
  instanceA.kill("SIGKILL");
  await instanceA.status;
  await sending;
  await dm("dm sent while away");
  await ann.waitFor(`; reconnecting to ${b} in `);
  // Typed while no server is there (or just as it comes back): sent once, on B.
  await ann.write("typed while away\n");
  await ann.waitFor(new RegExp(`-- Reconnected to ${RegExp.escape(b)} after \\d+s`));
  await send(AFTER);
  const total = BEFORE + DURING + AFTER;
  await ann.waitFor(`<bob> ${numbered(total)}`);
  deepEqual(
    numberedLines(ann.output()),
    Array.from({ length: total }, (_, i) => numbered(i + 1)),
    ann.output(),
  );

  // The DM from before shows once; the one sent while she was away too.
  await ann.waitFor("[DM bob → ann] dm sent while away");
  equal(ann.output().split("[DM bob → ann] dm seen on a").length - 1, 1, ann.output());
  equal(ann.output().split("[DM bob → ann] dm sent while away").length - 1, 1, ann.output());

  // Ann chats on B now: bob hears what she typed while away, then this, once each.
  await ann.write("back on b\n");
  await bob.client.until((f) => f.type === "message" && f.text === "back on b");
  deepEqual(heardFromAnn(bob), ["typed while away", "back on b"]);
  // Cat's presence, written by the killed instance, ages out.
  const gone = await dan.client.until((f) => f.type === "presence" && f.user === "cat");
  equal(gone.type === "presence" && gone.online, false);
  void cat;
  // Ann's entry there went with it, but she is online on B: /who (answered
  // after any presence news of the same sweep) lists her and not cat.
  await dan.client.send({ type: "say", room: "lobby", text: "/who", id: "who" });
  const who = await dan.client.until((f) => f.type === "who");
  deepEqual(who.type === "who" && who.users.map((u) => u.name), ["ann", "bob", "dan"]);
  ok(
    !dan.client.received.some((f) => f.type === "presence" && f.user === "ann" && !f.online),
    JSON.stringify(dan.client.received.filter((f) => f.type === "presence")),
  );

  await ann.closeStdin();
  equal(await ann.status(), 0);
  ok(!/Protocol error|Cannot/.test(ann.output()), ann.output());
});

Deno.test("a line the killed instance never read is sent again on the other instance, once", async () => {
  await using chat = await relayedAnn();
  const { cluster, relay, ann, bob, b } = chat;
  // Ann's line leaves her client, and A dies before reading it.
  const dropped = relay.hold("up");
  await ann.write("lost on a\n");
  await dropped;
  cluster.a.kill("SIGKILL");
  await cluster.a.status;
  await ann.waitFor(new RegExp(`-- Reconnected to ${RegExp.escape(b)} after \\d+s`));
  await ann.waitFor("1 line sent again: the server had not stored it when the connection was lost");
  await afterwards(ann, bob, "lost on a");
  equal(ann.output().split("<ann> lost on a").length - 1, 1, ann.output());
});

Deno.test("a line the killed instance stored but never confirmed is not sent again", async () => {
  await using chat = await relayedAnn();
  const { cluster, relay, ann, bob, b } = chat;
  // A stores ann's line (bob hears it), but its ack and echo never reach her.
  const dropped = relay.hold("down");
  await ann.write("stored on a\n");
  await bob.client.until((f) => f.type === "message" && f.text === "stored on a");
  await dropped;
  cluster.a.kill("SIGKILL");
  await cluster.a.status;
  await ann.waitFor(new RegExp(`-- Reconnected to ${RegExp.escape(b)} after \\d+s`));
  // The replay on B shows it to her, once.
  await ann.waitFor("<ann> stored on a");
  await afterwards(ann, bob, "stored on a");
  equal(ann.output().split("<ann> stored on a").length - 1, 1, ann.output());
  ok(!/sent again|Not known/.test(ann.output()), ann.output());
});
