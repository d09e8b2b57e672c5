import { equal } from "node:assert/strict";
import { nestsDeeperThan } from "../../lib/wire/json_nesting.ts";

Deno.test("nestsDeeperThan() counts arrays and objects inside one another, the outermost as level 1", () => {
  equal(nestsDeeperThan('{"type":"ping","id":1}', 1), false);
  equal(nestsDeeperThan('{"type":"ping","id":1}', 0), true);
  equal(nestsDeeperThan("[[[]]]", 3), false);
  equal(nestsDeeperThan("[[[]]]", 2), true);
  equal(nestsDeeperThan("[[],[],{},[]]", 2), false, "siblings do not add up");
});

Deno.test("nestsDeeperThan() ignores brackets inside strings, escaped quotes included", () => {
  equal(nestsDeeperThan('{"a":"[[[[{{{{"}', 1), false);
  equal(nestsDeeperThan('{"a":"\\"[[[["}', 1), false);
  equal(
    nestsDeeperThan('{"a":"\\\\",  "b":[[[]]]}', 3),
    true,
    "an escaped backslash ends no string",
  );
  equal(nestsDeeperThan('{"a":"unterminated [[[[', 1), false);
});

Deno.test("nestsDeeperThan() is not fooled by stray closing brackets", () => {
  equal(nestsDeeperThan("]]]]][[[[[", 4), true);
  equal(nestsDeeperThan("}}}{{{", 2), true);
});

Deno.test("nestsDeeperThan() stops at the first bracket past the bound, however deep the text goes", () => {
  const deep = "[".repeat(1_000_000) + "]".repeat(1_000_000);
  equal(nestsDeeperThan(deep, 16), true);
  equal(nestsDeeperThan(deep, 1_000_000), false);
});
