import { equal } from "node:assert/strict";
import { isRecord } from "../../lib/util/is_record.ts";

Deno.test("isRecord() accepts objects and refuses arrays, null and primitives", () => {
  equal(isRecord({}), true);
  equal(isRecord(JSON.parse('{"a":[1]}')), true);
  equal(isRecord(Object.create(null)), true);
  for (const value of [[], null, undefined, 0, "x", true]) {
    equal(isRecord(value), false, String(value));
  }
});
