import { equal, match } from "node:assert/strict";
import {
  checkNewPassword,
  foldCommon,
  loadCommonPasswords,
  PASSWORD_RULES,
  passwordProblem,
} from "../../lib/auth/password_policy.ts";
import { GOOD_PASSWORD } from "./_helpers.ts";

const common = await loadCommonPasswords();

function problem(password: string, userName = "alice"): string | undefined {
  return passwordProblem(password, { userName, common });
}

Deno.test("passwordProblem() accepts passphrases and random passwords", () => {
  for (
    const password of [
      GOOD_PASSWORD,
      "hidden river 77",
      "Xk9#mQ2$vL7p",
      "correct staple 1 battery",
      "ünïcödé pässwörd",
      "abc lantern 987",
      "1234567 quiet", // a sequence, then a word: not only runs
    ]
  ) {
    equal(problem(password), undefined, password);
  }
});

Deno.test("passwordProblem() keeps the length and user-name rules", () => {
  equal(problem("short"), "password must be at least 10 characters");
  equal(problem("x".repeat(1025)), "password must be at most 1024 characters");
  equal(problem("my ALICE pass 9"), "password must not contain the user name");
});

Deno.test("passwordProblem() refuses one character repeated, in any case", () => {
  for (
    const password of [
      "aaaaaaaaaa",
      "AaAaAaAaAaAa",
      "1111111111",
      "éééééééééé",
      "..........",
      "😀".repeat(10),
    ]
  ) {
    equal(problem(password), "password must not be one character repeated", password);
  }
});

Deno.test("passwordProblem() refuses passwords of only whitespace, tabs and odd spaces included", () => {
  for (
    const password of [
      " ".repeat(10),
      " \t".repeat(6),
      "\u3000".repeat(10),
      "\u00a0 \u2003 ".repeat(3),
    ]
  ) {
    equal(problem(password), "password must not be only whitespace", JSON.stringify(password));
  }
});

Deno.test("passwordProblem() refuses a short pattern repeated", () => {
  for (const password of ["abababababab", "abcabcabcabc", "xyz1xyz1xyz1", "HaHaHaHaHaHa"]) {
    match(problem(password) ?? "", /pattern of up to 4 characters repeated/, password);
  }
  equal(problem("quietquiet lantern"), undefined, "a repeated word in a phrase is not a pattern");
});

Deno.test("passwordProblem() refuses runs along the alphabet, the digits and keyboard rows, either way", () => {
  for (
    const password of [
      "abcdefghij",
      "ABCDEFGHIJKL",
      "zyxwvutsrq",
      "1234567890",
      "0987654321",
      "qwertyuiop",
      "POIUYTREWQ",
      "asdfghjkl;",
      "zxcvbnm,./",
      "qwertzuiop",
      "azertyuiop",
      "1qaz2wsx3edc",
      "q1w2e3r4t5y6",
      "qwerty 123456",
      "abc123def456",
      "123456789abc",
      "qwertyasdfghzxcvbn",
    ]
  ) {
    equal(
      problem(password),
      "password must not be a sequence along the keyboard, the alphabet or the digits",
      password,
    );
  }
});

Deno.test("passwordProblem() refuses common passwords, ignoring case, l33t spelling and a few added digits or symbols", () => {
  const expected =
    "password must not be a common password, or one with a few digits or symbols added";
  for (
    const password of [
      "basketball", // on the list as it is
      "BasketBall",
      "Password123",
      "P@ssw0rd2024!",
      "password!!",
      "2024 iloveyou",
      "Tr1n1ty 1234",
      "football 123",
      "$uperman1234",
      "d4rkn3ss99",
    ]
  ) {
    equal(problem(password), expected, password);
  }
  // More than six added characters are no longer "a few".
  equal(problem("iloveyou 8531902"), undefined);
});

Deno.test("passwordProblem() without a blocklist applies the other rules only", () => {
  equal(passwordProblem("basketball", { userName: "alice" }), undefined);
  match(passwordProblem("1234567890", { userName: "alice" }) ?? "", /sequence/);
});

Deno.test("the blocklist is the whole shipped common list, folded", async () => {
  equal(common.size > 40_000, true, `${common.size} entries`);
  equal(common.has(foldCommon("qwerty")), true);
  equal(foldCommon("P@55 W0rd!"), "passwordi");
  equal(await checkNewPassword("trustno1 99", "alice"), problem("trustno1 99"));
});

Deno.test("no rule message quotes the password, and every rule is listed for the prompt", () => {
  for (
    const password of ["aaaaaaaaaa", " ".repeat(12), "abcabcabcabc", "1234567890", "Password123"]
  ) {
    const message = problem(password) ?? "";
    equal(message.includes(password), false, message);
    equal(message.includes(password.toLowerCase()), false, message);
  }
  equal(PASSWORD_RULES.length, 5);
  for (const rule of PASSWORD_RULES) equal(rule.includes("\n"), false);
});
