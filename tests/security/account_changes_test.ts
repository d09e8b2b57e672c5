/**
 * Live sessions follow account changes made with the admin CLI (a separate
 * process writing credentials.json): a demoted admin can no longer moderate,
 * a removed account or a changed password ends the session at once.
 *
 * @module
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import type { ServerFrame } from "../../lib/wire/protocol.ts";
import { denoRun } from "../auth/_helpers.ts";
import type { TestClient } from "../_helpers.ts";
import { passwordOf, startTestServer } from "../_server.ts";

const SCRIPT = new URL("../../scripts/user.ts", import.meta.url);
type Notice = Extract<ServerFrame, { type: "notice" }>;

/** Run the real admin CLI against the server's files. */
async function userCli(dir: string, args: string[], input = ""): Promise<void> {
  const child = denoRun(SCRIPT, [...args, "--credentials", "credentials.json"], {
    cwd: dir,
    stdin: "piped",
  });
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(input));
  await writer.close();
  const { code, stderr } = await child.output();
  equal(code, 0, new TextDecoder().decode(stderr));
}

/** The `bye` that ends `client`'s session. */
async function byeOf(client: TestClient): Promise<ServerFrame | undefined> {
  return (await client.untilClosed()).find((f) => f.type === "bye");
}

Deno.test("an admin demoted, then re-passworded, then removed by the admin CLI loses /kick at once and is then closed", async () => {
  await using s = await startTestServer({
    admins: ["root"],
    users: ["bob"],
    config: { accountsRefreshMs: 20 },
  });
  await using bob = await s.login("bob");
  {
    await using root = await s.login("root");
    await root.until((f) => f.type === "room");
    await userCli(s.dir, ["role", "root", "user"]);
    const told = await root.until((f): f is Notice =>
      f.type === "notice" && f.text.includes("role")
    );
    deepEqual([told.level, told.text], ["warn", "Your role is now user"]);
    await root.send({ type: "say", text: "/kick bob" });
    const refused = await root.until((f): f is Notice =>
      f.type === "notice" && f.level === "error"
    );
    equal(refused.text, "Cannot run /kick: not allowed");

    const fresh = "a brand new passphrase 42";
    await userCli(s.dir, ["passwd", "root"], `${fresh}\n`);
    deepEqual(await byeOf(root), {
      type: "bye",
      code: "denied",
      message: "Your password was changed: log in again",
    });
    await using again = await s.login("root", fresh);
    await again.until((f) => f.type === "room");
    await userCli(s.dir, ["remove", "root"]);
    deepEqual(await byeOf(again), {
      type: "bye",
      code: "denied",
      message: "Your account was removed",
    });
    const old = await s.client();
    const answer = await old.login("root", passwordOf("root"));
    equal(answer.type, "auth_failed");
    await old[Symbol.asyncDispose]();
  }
  // bob was never touched.
  await bob.send({ type: "say", text: "still here" });
  ok(await bob.until((f) => f.type === "message" && f.text === "still here"));
});
