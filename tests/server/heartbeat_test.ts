import { deepEqual, equal } from "node:assert/strict";
import { type HeartbeatSession, startHeartbeat } from "../../lib/server/heartbeat.ts";
import { FakeClock } from "../_fake_clock.ts";

/** A session that records what the heartbeat did to it. */
class Peer implements HeartbeatSession {
  readonly events: string[] = [];
  lastSeen: number;
  constructor(readonly clock: FakeClock, readonly user: string | undefined) {
    this.lastSeen = clock.now();
  }
  idleFor(now: number): number {
    return now - this.lastSeen;
  }
  ping(): void {
    this.events.push(`ping@${this.clock.now() - START}`);
  }
  terminate(code: string, message: string): void {
    this.events.push(`${code}@${this.clock.now() - START}: ${message}`);
  }
}

const START = 1_700_000_000_000;

Deno.test("an idle logged-in peer is pinged after the ping interval and closed after deadAfterMs", () => {
  const clock = new FakeClock(START);
  const peer = new Peer(clock, "alice");
  using _heartbeat = startHeartbeat([peer], { clock, pingIntervalMs: 100, deadAfterMs: 250 });
  clock.advance(99);
  deepEqual(peer.events, [], "nothing before the first check at 50 ms and at 99 ms idle");
  clock.advance(1);
  deepEqual(peer.events, ["ping@100"]);
  clock.advance(149);
  deepEqual(peer.events, ["ping@100", "ping@150", "ping@200"]);
  clock.advance(1);
  deepEqual(peer.events, [
    "ping@100",
    "ping@150",
    "ping@200",
    "timeout@250: No answer to heartbeat",
  ]);
});

Deno.test("a peer that keeps talking is never pinged, and one still logging in is left alone", () => {
  const clock = new FakeClock(START);
  const talker = new Peer(clock, "bob");
  const anonymous = new Peer(clock, undefined);
  using _heartbeat = startHeartbeat(new Set([talker, anonymous]), {
    clock,
    pingIntervalMs: 100,
    deadAfterMs: 250,
  });
  for (let i = 0; i < 20; i++) {
    clock.advance(50);
    talker.lastSeen = clock.now();
  }
  deepEqual(talker.events, []);
  deepEqual(anonymous.events, []);
});

Deno.test("the heartbeat uses one timer for all sessions, checks every half interval, and stopping clears it", () => {
  const clock = new FakeClock(START);
  const sessions = new Set([new Peer(clock, "a"), new Peer(clock, "b")]);
  const heartbeat = startHeartbeat(sessions, { clock, pingIntervalMs: 1000, deadAfterMs: 3000 });
  equal(clock.pendingTimers, 1);
  const late = new Peer(clock, "c");
  sessions.add(late); // joins after the start: still checked
  clock.advance(1000);
  deepEqual(late.events, ["ping@1000"]);
  heartbeat[Symbol.dispose]();
  equal(clock.pendingTimers, 0);
  clock.advance(10_000);
  deepEqual(late.events, ["ping@1000"], "no checks once stopped");
});

Deno.test("a tiny ping interval is checked every 5 ms, not in a busy loop", () => {
  const clock = new FakeClock(START);
  const peer = new Peer(clock, "alice");
  using _heartbeat = startHeartbeat([peer], { clock, pingIntervalMs: 2, deadAfterMs: 1000 });
  clock.advance(4);
  deepEqual(peer.events, []);
  clock.advance(1);
  deepEqual(peer.events, ["ping@5"]);
});
