import { equal, match, notEqual, ok, rejects } from "node:assert/strict";
import { join } from "node:path";
import { SessionTokens, TOKEN_BYTES } from "../../lib/auth/session_tokens.ts";
import { FakeClock } from "../_fake_clock.ts";
import { tempDir } from "../_helpers.ts";

const DAY = 86_400_000;

Deno.test("SessionTokens issues 32-byte base64url tokens bound to the account, stored only hashed", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "tokens.json");
  const tokens = await SessionTokens.open(path);
  const token = await tokens.issue("account-1");
  match(token, /^[A-Za-z0-9_-]{43}$/);
  equal(Math.ceil(TOKEN_BYTES * 4 / 3), token.length);
  equal(await tokens.check(token), "account-1");
  equal(await tokens.check(token.slice(0, -1) + (token.endsWith("A") ? "B" : "A")), undefined);
  const file = await Deno.readTextFile(path);
  ok(!file.includes(token), "the token itself is never written");
  equal((await Deno.stat(path)).mode! & 0o777, 0o600);
  const reopened = await SessionTokens.open(path);
  equal(await reopened.check(token), "account-1", "tokens survive a restart");
  notEqual(await tokens.issue("account-1"), token);
});

Deno.test("SessionTokens expire after 7 idle days and 30 days in all", async () => {
  await using dir = await tempDir();
  const clock = new FakeClock();
  const tokens = await SessionTokens.open(join(dir.path, "tokens.json"), { clock });
  const idle = await tokens.issue("a");
  const used = await tokens.issue("b");
  clock.advance(6 * DAY);
  equal(await tokens.check(used), "b");
  clock.advance(DAY);
  equal(await tokens.check(idle), undefined, "7 days unused");
  for (let day = 7; day < 29; day += 6) {
    equal(await tokens.check(used), "b", `used on day ${day}`);
    clock.advance(6 * DAY);
  }
  clock.advance(DAY);
  equal(await tokens.check(used), undefined, "30 days after it was issued");
});

Deno.test("SessionTokens.revoke ends one token, revokeAccount every token of an account", async () => {
  await using dir = await tempDir();
  const tokens = await SessionTokens.open(join(dir.path, "tokens.json"));
  const one = await tokens.issue("a");
  const two = await tokens.issue("a");
  const other = await tokens.issue("b");
  await tokens.revoke(one);
  equal(await tokens.check(one), undefined);
  equal(await tokens.check(two), "a");
  await tokens.revokeAccount("a");
  equal(await tokens.check(two), undefined);
  equal(await tokens.check(other), "b");
});

Deno.test("SessionTokens refuses a file that is not a token file, naming it", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "tokens.json");
  await Deno.writeTextFile(path, '{"version":1,"tokens":{"x":1}}');
  await rejects(SessionTokens.open(path), (e: Error) => {
    equal(e.name, "SyntaxError");
    match(e.message, /^Cannot read session tokens: .*tokens\.json holds an entry/);
    return true;
  });
});
