import { deepEqual, equal } from "node:assert/strict";
import { type HandshakeEnd, HandshakePool } from "../../lib/net/_handshake_pool.ts";
import { FakeClock } from "../_fake_clock.ts";

/** A pool on a fake clock that records how each handshake ended, by name. */
function pool(max: number, maxPerAddress = 64, timeoutMs = 10_000) {
  const clock = new FakeClock();
  const handshakes = new HandshakePool({ max, maxPerAddress, timeoutMs, clock });
  const ended: string[] = [];
  const begin = (name: string, ip: string) =>
    handshakes.begin(ip, (why: HandshakeEnd) => ended.push(`${name} ${why}`));
  return { clock, handshakes, ended, begin };
}

Deno.test("HandshakePool: a newcomer from a lighter network evicts the oldest handshake of the heaviest one", () => {
  const { handshakes, ended, begin } = pool(6);
  begin("a1", "198.51.100.1");
  begin("b1", "203.0.113.1");
  begin("a2", "198.51.100.2"); // same /24 as a1: network A holds 3
  begin("b2", "203.0.113.2");
  begin("a3", "198.51.100.3");
  begin("c1", "192.0.2.1");
  equal(handshakes.size, 6);
  equal(begin("d1", "192.0.2.200").admitted, true, "C holds 1 of A's 3");
  deepEqual(ended, ["a1 evicted"], "A's oldest made room");
  equal(handshakes.size, 6);
  // A, B and C (c1, d1) now hold 2 each: the oldest of them, b1, goes.
  equal(begin("e1", "10.0.0.1").admitted, true);
  deepEqual(ended, ["a1 evicted", "b1 evicted"]);
});

Deno.test("HandshakePool: when the newcomer's network is among the heaviest, the newcomer is refused and nobody is evicted", () => {
  const { ended, begin } = pool(4);
  begin("a1", "198.51.100.1");
  begin("a2", "198.51.100.2");
  begin("b1", "203.0.113.1");
  begin("b2", "203.0.113.2");
  deepEqual(begin("a3", "198.51.100.3"), { admitted: false, reason: "full" });
  deepEqual(begin("b3", "203.0.113.3"), { admitted: false, reason: "full" });
  deepEqual(ended, []);
});

Deno.test("HandshakePool: among equally heavy networks the oldest handshake goes first", () => {
  const { ended, begin } = pool(4);
  begin("b1", "203.0.113.1");
  begin("a1", "198.51.100.1");
  begin("a2", "198.51.100.2");
  begin("b2", "203.0.113.2");
  begin("c1", "192.0.2.1");
  deepEqual(ended, ["b1 evicted"]);
});

Deno.test("HandshakePool: under a flood from many networks a fresh network always gets a slot and its share stays fair", () => {
  const max = 1024;
  const { handshakes, ended, begin } = pool(max);
  // 16 networks refill as fast as they are dropped, 3 rounds of 1,024 each.
  let refused = 0;
  for (let i = 0; i < 3 * max; i++) {
    const network = i % 16;
    if (!begin(`n${network}`, `10.${network}.0.${i % 64}`).admitted) refused++;
  }
  equal(handshakes.size, max);
  for (let network = 0; network < 16; network++) {
    let held = 0;
    for (let host = 0; host < 64; host++) held += handshakes.pendingFrom(`10.${network}.0.${host}`);
    equal(held, max / 16, `network ${network} holds its share`);
  }
  equal(begin("user", "192.0.2.7").admitted, true, "the user's own network holds nothing");
  equal(handshakes.pendingFrom("192.0.2.7"), 1);
  equal(
    ended.length + refused,
    2 * max + 1,
    "each arrival past a full pool evicted or was refused",
  );
});

Deno.test("HandshakePool: an address at its own cap is refused even with room in the pool; IPv6 counts per /64", () => {
  const { handshakes, begin } = pool(100, 2);
  begin("x", "2001:db8:1:2::1");
  begin("y", "2001:db8:1:2:ffff::9");
  deepEqual(begin("z", "2001:db8:1:2::abcd"), { admitted: false, reason: "address" });
  equal(begin("other /64", "2001:db8:1:3::1").admitted, true);
  equal(handshakes.pendingFrom("2001:db8:1:2::5"), 2);
  // IPv4 counts per address: a neighbour in the same /24 has its own cap.
  begin("p", "192.0.2.1");
  begin("q", "192.0.2.1");
  deepEqual(begin("r", "192.0.2.1"), { admitted: false, reason: "address" });
  equal(begin("neighbour", "192.0.2.2").admitted, true);
});

Deno.test("HandshakePool: a handshake that takes too long ends with timeout on the clock and frees its slot; a released one never does", () => {
  const { clock, handshakes, ended, begin } = pool(2, 64, 10_000);
  const slow = begin("slow", "192.0.2.1");
  clock.advance(5_000);
  const quick = begin("quick", "192.0.2.2");
  if (!quick.admitted || !slow.admitted) throw new Error("Expected slots");
  quick.release();
  quick.release();
  equal(handshakes.size, 1, "a second release frees nothing more");
  clock.advance(4_999);
  deepEqual(ended, []);
  clock.advance(1);
  deepEqual(ended, ["slow timeout"]);
  equal(handshakes.size, 0);
  slow.release(); // the engine's own release after the drop does nothing
  equal(handshakes.size, 0);
  equal(clock.pendingTimers, 0, "no timer is left behind");
});

Deno.test("HandshakePool: an evicted handshake's timer is cleared and its late release frees nothing", () => {
  const { clock, handshakes, ended, begin } = pool(1);
  const first = begin("first", "198.51.100.1");
  begin("second", "203.0.113.1");
  deepEqual(ended, ["first evicted"]);
  if (first.admitted) first.release();
  equal(handshakes.size, 1);
  equal(clock.pendingTimers, 1, "only the second's timer");
  clock.advance(10_000);
  deepEqual(ended, ["first evicted", "second timeout"]);
});
