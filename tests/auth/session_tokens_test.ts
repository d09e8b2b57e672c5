import { equal, match, notEqual, ok, rejects } from "node:assert/strict";
import { join } from "node:path";
import { SessionTokens, TOKEN_BYTES, tokenBinding } from "../../lib/auth/session_tokens.ts";
import { FakeClock } from "../_fake_clock.ts";
import { tempDir } from "../_helpers.ts";

const DAY = 86_400_000;

/** Accounts as a store would know them: id -> password hash and role. */
function accounts(...ids: string[]) {
  const known = new Map(ids.map((id) => [id, { id, role: "user", hash: `$scrypt$${id}` }]));
  const bindingOf = (id: string) => {
    const account = known.get(id);
    return account && tokenBinding(account);
  };
  return { known, bindingOf };
}

Deno.test("SessionTokens issues 32-byte base64url tokens bound to the account, stored only hashed", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "tokens.json");
  const { bindingOf } = accounts("account-1");
  const tokens = await SessionTokens.open(path, { bindingOf });
  const token = await tokens.issue("account-1");
  match(token, /^[A-Za-z0-9_-]{43}$/);
  equal(Math.ceil(TOKEN_BYTES * 4 / 3), token.length);
  equal(await tokens.check(token), "account-1");
  equal(await tokens.check(token.slice(0, -1) + (token.endsWith("A") ? "B" : "A")), undefined);
  const file = await Deno.readTextFile(path);
  ok(!file.includes(token), "the token itself is never written");
  equal((await Deno.stat(path)).mode! & 0o777, 0o600);
  const reopened = await SessionTokens.open(path, { bindingOf });
  equal(await reopened.check(token), "account-1", "tokens survive a restart");
  notEqual(await tokens.issue("account-1"), token);
});

Deno.test("SessionTokens expire after 7 idle days and 30 days in all", async () => {
  await using dir = await tempDir();
  const clock = new FakeClock();
  const { bindingOf } = accounts("a", "b");
  const tokens = await SessionTokens.open(join(dir.path, "tokens.json"), { clock, bindingOf });
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
  const tokens = await SessionTokens.open(join(dir.path, "tokens.json"), accounts("a", "b"));
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
  await Deno.writeTextFile(path, '{"version":2,"tokens":{"x":1}}');
  await rejects(SessionTokens.open(path), (e: Error) => {
    equal(e.name, "SyntaxError");
    match(e.message, /^Cannot read session tokens: .*tokens\.json holds an entry/);
    return true;
  });
});

Deno.test("a token ends when its account's password or role changes, also while the server is stopped", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "tokens.json");
  const { known, bindingOf } = accounts("a", "b", "c");
  const tokens = await SessionTokens.open(path, { bindingOf });
  const [a, b, c] = [await tokens.issue("a"), await tokens.issue("b"), await tokens.issue("c")];
  // Stopped; an admin changes a's password, b's role, removes c.
  known.set("a", { id: "a", role: "user", hash: "$scrypt$new" });
  known.set("b", { id: "b", role: "admin", hash: "$scrypt$b" });
  known.delete("c");
  const restarted = await SessionTokens.open(path, { bindingOf });
  equal(await restarted.check(a), undefined, "password changed");
  equal(await restarted.check(b), undefined, "role changed");
  equal(await restarted.check(c), undefined, "account removed");
  equal(restarted.size, 0, "refused tokens are dropped");
  ok(!(await Deno.readTextFile(path)).includes("$scrypt$"), "no password hash is stored");
});

Deno.test("a token file of version 1 (bound to the id alone) keeps none of its tokens", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "tokens.json");
  await Deno.writeTextFile(
    path,
    JSON.stringify({
      version: 1,
      tokens: { ["0".repeat(64)]: { account: "a", issued: 0, used: 0 } },
    }),
  );
  const tokens = await SessionTokens.open(path, accounts("a"));
  equal(tokens.size, 0);
});

Deno.test("a revoke whose write fails keeps the token, as the file does, so a restart brings nothing back", async () => {
  await using dir = await tempDir();
  const sub = join(dir.path, "data");
  await Deno.mkdir(sub);
  const path = join(sub, "tokens.json");
  const { bindingOf } = accounts("a");
  const tokens = await SessionTokens.open(path, { bindingOf });
  const one = await tokens.issue("a");
  const two = await tokens.issue("a");
  await Deno.rename(sub, sub + ".away"); // the write fails (as on a full disk)
  await rejects(tokens.revoke(one));
  await rejects(tokens.revokeAccount("a"));
  await Deno.rename(sub + ".away", sub);
  const restarted = await SessionTokens.open(path, { bindingOf });
  for (const token of [one, two]) {
    equal(await tokens.check(token), await restarted.check(token), "memory and file agree");
  }
  await tokens.revoke(one);
  equal(await tokens.check(one), undefined);
  equal(await (await SessionTokens.open(path, { bindingOf })).check(one), undefined);
});
