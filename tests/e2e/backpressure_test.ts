import { deepEqual, equal, ok } from "node:assert/strict";
import { DEFAULT_STALL_MS } from "../../lib/server/outbox.ts";
import { FakeClock } from "../_fake_clock.ts";
import { within } from "../_helpers.ts";
import { startTestServer } from "../_server.ts";
import { type PresenceFrame, presenceOf } from "./_frames.ts";

/** The smallest outbox the server accepts. */
const OUTBOX_BYTES = 64 * 1024;
/** Characters per message. */
const MESSAGE_CHARS = 8_000;
/**
 * Messages said per round; the sender waits for the readers between rounds,
 * as people in a chat do, so a healthy reader's queue stays far below the
 * outbox bound while the stalled one's grows.
 */
const ROUND = 2;
/** Give up flooding after this much (TLS and socket buffers absorb a few MB). */
const MAX_FLOOD_BYTES = 64 * 1024 * 1024;
/**
 * Failure bounds, not speed goals: a round (two messages on loopback) that
 * has not arrived after this long is stuck behind the stalled reader.
 * "Promptly" is an ordering here: each round reaches the healthy readers
 * before the next is said and before fake time moves. Throughput is what
 * `deno task bench` measures.
 */
const ROUND_FAILURE_MS = 10_000;
/** The whole flood, until the stalled reader is dropped: a failure bound too. */
const FLOOD_FAILURE_MS = 60_000;
/**
 * Fake time per round: a queue over the soft bound for four rounds has been
 * stalled for `stallMs` and is dropped, before it can reach the hard bound.
 */
const ROUND_FAKE_MS = DEFAULT_STALL_MS / 4;

Deno.test("a client that never reads is dropped while the others receive every message promptly", async () => {
  const clock = new FakeClock();
  await using s = await startTestServer({
    users: ["alice", "bob", "stalled"],
    config: {
      outboxBytes: OUTBOX_BYTES,
      maxMessageLength: MESSAGE_CHARS,
      rateBurst: 100_000,
      ratePerSecond: 100_000,
      // Heartbeats stay out of the way of the fake time the flood spends.
      pingIntervalMs: 3_600_000,
      deadAfterMs: 7_200_000,
    },
    deps: { clock },
  });
  await using alice = await s.login("alice");
  await using bob = await s.login("bob");
  // Logs in, then is never read from again.
  await using stalled = await s.login("stalled");

  const readers = [alice, bob];
  const received = readers.map(() => [] as string[]);
  const leaves = readers.map(() => undefined as PresenceFrame | undefined);
  /** Read until each reader has every message sent so far. */
  const catchUp = (count: number) =>
    Promise.all(readers.map(async (c, i) => {
      while (received[i]!.length < count) {
        const f = await c.next(ROUND_FAILURE_MS);
        if (f === undefined) throw new Error("A healthy reader was closed");
        if (f.type === "message") received[i]!.push(f.text);
        if (presenceOf("leave", "stalled")(f)) leaves[i] = f;
      }
    }));

  const body = "x".repeat(MESSAGE_CHARS - 16);
  const sent: string[] = [];
  let bytes = 0;
  const flood = async () => {
    while (leaves[1] === undefined && bytes < MAX_FLOOD_BYTES) {
      for (let i = 0; i < ROUND; i++) {
        const text = `${sent.length} ${body}`;
        sent.push(text);
        bytes += text.length;
        await alice.send({ type: "say", text });
      }
      await within(catchUp(sent.length), ROUND_FAILURE_MS, `round ${sent.length / ROUND}`);
      // The healthy readers' queues are empty now; only the stalled one's stall timer runs.
      clock.advance(ROUND_FAKE_MS);
    }
  };
  await within(flood(), FLOOD_FAILURE_MS, "the stalled reader to be dropped");

  ok(leaves[1] !== undefined, `stalled was not dropped after ${bytes} bytes`);
  equal(leaves[1].reason, "too slow to receive");
  deepEqual(received[1], sent, "bob got every message, in order");
  deepEqual(received[0], sent, "alice got every message, in order");
  leaves[0] ??= await alice.until(presenceOf("leave", "stalled"), ROUND_FAILURE_MS);
  equal(leaves[0].reason, "too slow to receive", "alice saw the leave too");
  ok(!s.server.hub.members().some((m) => m.name === "stalled"), "stalled is gone from the hub");

  // What the stalled client had buffered is all it gets: no goodbye is
  // queued behind a full outbox.
  const tail = await stalled.untilClosed(10_000);
  ok(!tail.some((f) => f.type === "bye"), "no goodbye for a dropped reader");
});
