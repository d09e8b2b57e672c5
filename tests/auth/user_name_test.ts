import { equal, match, notEqual } from "node:assert/strict";
import {
  isReservedUserName,
  MAX_PASSWORD_LENGTH,
  MAX_USER_NAME_LENGTH,
  MIN_PASSWORD_LENGTH,
  userNameSkeleton,
  validatePassword,
  validateUserName,
} from "../../lib/auth/user_name.ts";

Deno.test("validateUserName() accepts 1 to 32 letters, digits, _ . - starting with a letter or digit", () => {
  for (
    const name of ["a", "Z", "7", "alice", "bob.smith", "x_y-z", "a".repeat(32)]
  ) {
    equal(validateUserName(name), undefined, name);
  }
  equal(MAX_USER_NAME_LENGTH, 32);
});

Deno.test("validateUserName() says what is wrong with a bad name", () => {
  match(validateUserName("") ?? "", /empty/);
  match(validateUserName("a".repeat(33)) ?? "", /at most 32/);
  for (
    const name of [
      ".alice",
      "_bob",
      "-carol",
      "al ice",
      "é",
      "a/b",
      "a\nb",
      "__proto__",
    ]
  ) {
    match(validateUserName(name) ?? "", /letters, digits/, name);
  }
});

Deno.test("validatePassword() requires 10 to 1024 characters", () => {
  equal(MIN_PASSWORD_LENGTH, 10);
  match(validatePassword("123456789", "alice") ?? "", /at least 10/);
  equal(validatePassword("1234567890", "alice"), undefined);
  equal(validatePassword("x".repeat(MAX_PASSWORD_LENGTH), "alice"), undefined);
  match(
    validatePassword("x".repeat(MAX_PASSWORD_LENGTH + 1), "alice") ?? "",
    /at most 1024/,
  );
  // Counted in characters, not UTF-16 units.
  match(validatePassword("🔑".repeat(9), "alice") ?? "", /at least 10/);
  equal(validatePassword("🔑".repeat(10), "alice"), undefined);
});

Deno.test("validatePassword() refuses a password equal to or containing the user name, ignoring case", () => {
  for (
    const password of [
      "alice12345",
      "ALICEalice",
      "my-Alice-password",
      "Alice.Smith",
    ]
  ) {
    match(validatePassword(password, "alice") ?? "", /user name/, password);
  }
  equal(validatePassword("alic3 is not it", "alice"), undefined);
  match(validatePassword("bob.smith!!", "bob.smith") ?? "", /user name/);
});

Deno.test("userNameSkeleton() folds case, look-alike digits and letters, letter pairs, Unicode confusables and trailing dots together", () => {
  const pairs: [string, string][] = [
    ["aIice", "alice"], // capital I for l
    ["ALICE", "alice"],
    ["a1ice", "alice"],
    ["rnallory", "mallory"],
    ["b0b", "bob"],
    ["bob.", "bob"],
    ["bob_-", "bob"],
    ["vvendy", "wendy"],
    ["\u0430lice", "alice"], // Cyrillic a
    ["b\u03bfb", "bob"], // Greek omicron
    ["\uff41lice", "alice"], // fullwidth a, by NFKC
  ];
  for (const [lookalike, name] of pairs) {
    equal(userNameSkeleton(lookalike), userNameSkeleton(name), `${lookalike} vs ${name}`);
  }
  for (const [a, b] of [["alice", "alicia"], ["bob", "rob"], ["ann", "anne"], ["a.b", "ab"]]) {
    notEqual(userNameSkeleton(a!), userNameSkeleton(b!), `${a} vs ${b}`);
  }
});

Deno.test("isReservedUserName() covers the server's own speakers and their look-alikes, not admin", () => {
  for (
    const name of [
      "operator",
      "OPERATOR",
      "0perator",
      "JokeBot",
      "jokebot",
      "J0keB0t",
      "server",
      "server.",
    ]
  ) {
    equal(isReservedUserName(name), true, name);
  }
  for (const name of ["admin", "alice", "operators", "serverless"]) {
    equal(isReservedUserName(name), false, name);
  }
});
