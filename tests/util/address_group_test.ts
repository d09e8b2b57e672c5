import { equal, throws } from "node:assert/strict";
import { addressGroup } from "../../lib/util/address_group.ts";

Deno.test("addressGroup() counts IPv6 per /64 and IPv4-mapped IPv6 as IPv4", () => {
  equal(addressGroup("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  equal(addressGroup("[2001:0db8:0001:0002:ffff:ffff:ffff:ffff]"), "2001:db8:1:2::/64");
  equal(addressGroup("fe80::1%eth0"), "fe80:0:0:0::/64");
  equal(addressGroup("::ffff:192.0.2.7"), "192.0.2.7");
  equal(addressGroup("192.0.2.7"), "192.0.2.7");
  equal(addressGroup("not:an:address::x::"), "not:an:address::x::");
});

Deno.test("addressGroup() with an IPv4 prefix names the network; IPv6 stays per /64", () => {
  const subnet = { ipv4Prefix: 24 };
  equal(addressGroup("192.0.2.7", subnet), "192.0.2.0/24");
  equal(addressGroup("192.0.2.255", subnet), "192.0.2.0/24");
  equal(addressGroup("::ffff:192.0.2.7", subnet), "192.0.2.0/24");
  equal(addressGroup("127.1.0.1", subnet), "127.1.0.0/24");
  equal(addressGroup("10.200.3.4", { ipv4Prefix: 8 }), "10.0.0.0/8");
  equal(addressGroup("255.255.255.255", { ipv4Prefix: 0 }), "0.0.0.0/0");
  equal(addressGroup("2001:db8:1:2::9", subnet), "2001:db8:1:2::/64");
  equal(addressGroup("unknown", subnet), "unknown");
  equal(addressGroup("999.1.1.1", subnet), "999.1.1.1", "not an address: left as it is");
});

Deno.test("addressGroup() refuses a prefix outside 0..32", () => {
  throws(() => addressGroup("192.0.2.7", { ipv4Prefix: 33 }), RangeError);
  throws(() => addressGroup("192.0.2.7", { ipv4Prefix: 1.5 }), RangeError);
});
