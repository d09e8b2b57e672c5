import { deepEqual, equal } from "node:assert/strict";
import { Admission, type AdmissionRefusal } from "../../lib/server/admission.ts";

function refusal(result: ReturnType<Admission["admit"]>): Omit<AdmissionRefusal, "admitted"> {
  if (result.admitted) throw new Error("Expected a refusal");
  return { reason: result.reason, message: result.message };
}

Deno.test("Admission refuses an address over its cap while others still get in", () => {
  const admission = new Admission({ maxConnections: 10, maxConnectionsPerIp: 2 });
  equal(admission.admit("10.0.0.1").admitted, true);
  equal(admission.admit("10.0.0.1").admitted, true);
  deepEqual(refusal(admission.admit("10.0.0.1")), {
    reason: "address",
    message: "Too many connections from your address",
  });
  equal(admission.admit("10.0.0.2").admitted, true);
  equal(admission.open, 3);
  equal(admission.openFrom("10.0.0.1"), 2);
});

Deno.test("Admission refuses everyone once the server cap is reached, checked before the address cap", () => {
  const admission = new Admission({ maxConnections: 2, maxConnectionsPerIp: 1 });
  equal(admission.admit("10.0.0.1").admitted, true);
  equal(admission.admit("10.0.0.2").admitted, true);
  deepEqual(refusal(admission.admit("10.0.0.3")), {
    reason: "full",
    message: "Server is full, try again later",
  });
  deepEqual(refusal(admission.admit("10.0.0.1")).reason, "full");
});

Deno.test("a released ticket frees its place once, however often it is released", () => {
  const admission = new Admission({ maxConnections: 2, maxConnectionsPerIp: 2 });
  const first = admission.admit("10.0.0.1");
  const second = admission.admit("10.0.0.1");
  if (!first.admitted || !second.admitted) throw new Error("Expected both admitted");
  first.release();
  first.release();
  equal(admission.open, 1, "a second release does not free another place");
  equal(admission.openFrom("10.0.0.1"), 1);
  equal(admission.admit("10.0.0.1").admitted, true);
  equal(admission.admit("10.0.0.1").admitted, false);
  second.release();
  equal(admission.openFrom("10.0.0.1"), 1);
});

Deno.test("an address with nothing open is forgotten", () => {
  const admission = new Admission({ maxConnections: 5, maxConnectionsPerIp: 1 });
  const ticket = admission.admit("10.0.0.1");
  if (!ticket.admitted) throw new Error("Expected admitted");
  ticket.release();
  equal(admission.open, 0);
  equal(admission.openFrom("10.0.0.1"), 0);
  equal(admission.admit("10.0.0.1").admitted, true);
});

Deno.test("Admission counts an IPv6 /64 as one address, and IPv4 addresses each on their own", () => {
  const admission = new Admission({ maxConnections: 100, maxConnectionsPerIp: 2 });
  equal(admission.admit("2001:db8:1:2::1").admitted, true);
  equal(admission.admit("2001:db8:1:2:aaaa:bbbb:cccc:dddd").admitted, true);
  deepEqual(refusal(admission.admit("2001:db8:1:2::ffff")).reason, "address");
  equal(admission.admit("2001:db8:1:3::1").admitted, true, "the next /64 is someone else");
  equal(admission.openFrom("[2001:db8:1:2::7]"), 2);
  equal(admission.admit("192.0.2.1").admitted, true);
  equal(admission.admit("192.0.2.1").admitted, true);
  equal(admission.admit("192.0.2.2").admitted, true, "a neighbour in the /24 has its own cap");
  equal(admission.openFrom("::ffff:192.0.2.1"), 2, "IPv4-mapped IPv6 is the IPv4 address");
});
