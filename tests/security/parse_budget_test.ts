/**
 * The pre-login parsing budget (issue 13, item 4): a peer that has not
 * logged in may not make the server parse much. Frames before login are
 * capped far below the chat cap, deep nesting is refused before
 * `JSON.parse`, and reading is paused when a connection passes its byte
 * budget (on the server's clock, faked here) while logged-in users carry on.
 *
 * @module
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import type { ServerFrame } from "../../lib/wire/protocol.ts";
import { FakeClock } from "../_fake_clock.ts";
import type { TestClient } from "../_helpers.ts";
import { startTestServer } from "../_server.ts";

function codes(frames: readonly ServerFrame[]): string[] {
  return frames.map((f) => f.type === "error" || f.type === "bye" ? `${f.type}:${f.code}` : f.type);
}

/** A ping whose ignored `pad` field is `depth` arrays deep. */
function nestedPing(id: number, depth: number): string {
  return `{"type":"ping","id":${id},"pad":${"[".repeat(depth)}${"]".repeat(depth)}}\n`;
}

/** Send `frames` until the server stops taking them; never throws. */
async function flood(client: TestClient, frames: readonly string[]): Promise<void> {
  for (const frame of frames) {
    try {
      await client.sendRaw(frame);
    } catch {
      return; // closed by the server
    }
  }
}

Deno.test("before login, 64 KiB pings nested 32,000 deep are refused at the pre-login frame cap, none parsed, and alice keeps getting answers", async () => {
  await using s = await startTestServer({ users: ["alice"] });
  await using alice = await s.login("alice");
  await using flooder = await s.client();
  const frame = nestedPing(1, 32_000);
  ok(frame.length < s.config.maxFrameBytes, "within the chat frame cap");
  const sending = flood(flooder, Array.from({ length: 40 }, () => frame));
  await alice.send({ type: "ping", id: 1 });
  await alice.until((f) => f.type === "pong" && f.id === 1);
  const frames = await flooder.untilClosed(10_000);
  await sending;
  deepEqual(codes(frames), ["hello", "error:frame_too_long", "bye:protocol_error"]);
  const error = frames[1];
  equal(error?.type === "error" && error.message, "Frame is longer than 16384 bytes");
  await alice.send({ type: "ping", id: 2 });
  await alice.until((f) => f.type === "pong" && f.id === 2);
});

Deno.test("before login, a frame nested deeper than 16 levels is refused before it is parsed; 16 levels are fine", async () => {
  await using s = await startTestServer({ users: ["alice"] });
  await using alice = await s.login("alice");
  await using flooder = await s.client();
  await flooder.until((f) => f.type === "hello");
  await flooder.send({ type: "hello", version: 1 }); // pings count only after hello
  await flooder.until((f) => f.type === "auth");
  await flooder.sendRaw(nestedPing(1, 15)); // the object itself is level 1
  await flooder.until((f) => f.type === "pong" && f.id === 1);
  // 8,000 levels: under the pre-login frame cap, and costly to parse.
  const sending = flood(flooder, Array.from({ length: 40 }, (_, i) => nestedPing(i + 2, 8_000)));
  const frames = await flooder.untilClosed(10_000);
  await sending;
  deepEqual(codes(frames), ["error:too_deep", "bye:protocol_error"]);
  equal(frames[0]?.type === "error" && frames[0].message, "Frame is nested deeper than 16 levels");
  // After login the chat cap applies, nesting included (see input_test.ts).
  await alice.sendRaw(nestedPing(3, 8_000));
  await alice.until((f) => f.type === "pong" && f.id === 3);
});

Deno.test("before login, a peer past its byte budget is read no faster than the budget's rate on the server's clock, while alice keeps getting answers", async () => {
  const clock = new FakeClock();
  const burst = 8 * 1024;
  const perSecond = 1024;
  await using s = await startTestServer({
    users: ["alice"],
    config: {
      preLoginReadBurstBytes: burst,
      preLoginReadBytesPerSecond: perSecond,
      // Only the budget may end this test's waits: no login or idle timeout.
      loginTimeoutMs: 3_600_000,
      pingIntervalMs: 3_600_000,
      deadAfterMs: 7_200_000,
    },
    deps: { clock },
  });
  await using alice = await s.login("alice");
  await using flooder = await s.client();
  await flooder.until((f) => f.type === "hello");
  await flooder.send({ type: "hello", version: 1 }); // pongs are ignored only after hello
  await flooder.until((f) => f.type === "auth");
  // 160 KiB of allowed frames (pongs are read and ignored), then a ping.
  const pad = "x".repeat(1000);
  const frames = Array.from(
    { length: 160 },
    (_, i) => `{"type":"pong","id":${i},"pad":"${pad}"}\n`,
  );
  const total = frames.reduce((n, f) => n + f.length, 0);
  const sending = flood(flooder, [frames.join(""), JSON.stringify({ type: "ping", id: 1 }) + "\n"]);
  let answered = false;
  const answer = flooder.until((f) => f.type === "pong" && f.id === 1, 30_000).then(() =>
    answered = true
  );
  // One step of fake time per round-trip of alice's: she is answered at
  // every step, the flooder only once the budget has refilled enough.
  const stepMs = 1000;
  const started = clock.now();
  for (let step = 1; step <= 400 && !answered; step++) {
    await alice.send({ type: "ping", id: step });
    await alice.until((f) => f.type === "pong" && f.id === step);
    if (!answered) clock.advance(stepMs);
  }
  await answer;
  await sending;
  const elapsedMs = clock.now() - started;
  // One read may go past the budget, by what the engine read at once (at
  // most 64 KiB), and its lines are parsed before the next read waits.
  const leastMs = (total - burst - 64 * 1024) / perSecond * 1000;
  ok(elapsedMs >= leastMs, `${total} bytes were read in ${elapsedMs} ms of server time`);
});
