/**
 * The rate limit belongs to the account, not the connection: logging in
 * again does not refill it.
 *
 * @module
 */
import { deepEqual, equal } from "node:assert/strict";
import type { ServerFrame } from "../../lib/wire/protocol.ts";
import { FakeClock } from "../_fake_clock.ts";
import type { TestClient } from "../_helpers.ts";
import { startTestServer } from "../_server.ts";

const BURST = 10;

/** Say `text` and return what answers it: the echo or a notice. */
async function say(client: TestClient, text: string): Promise<ServerFrame> {
  await client.send({ type: "say", text });
  return await client.until((f) =>
    (f.type === "message" && f.text === text) || f.type === "notice"
  );
}

Deno.test("a user who spent the burst stays limited after logging in again, on a fresh connection or in a second session alongside the old one", async () => {
  const clock = new FakeClock();
  await using s = await startTestServer({
    users: ["alice"],
    config: { rateBurst: BURST, ratePerSecond: 2 },
    deps: { clock },
  });
  const first = await s.login("alice");
  for (let i = 0; i < BURST; i++) equal((await say(first, `line ${i}`)).type, "message");
  const refused = await say(first, "one too many");
  deepEqual([refused.type, refused.type === "notice" && refused.level], ["notice", "warn"]);

  // A second session of the account shares its bucket (the first stays).
  await using second = await s.login("alice");
  const again = await say(second, "after re-login");
  deepEqual(
    [again.type, again.type === "notice" && again.text.startsWith("Slow down")],
    ["notice", true],
  );

  await first[Symbol.asyncDispose]();
  // Quitting and coming back on a fresh connection: still limited.
  await second.send({ type: "say", text: "end" });
  await second.untilClosed();
  await using third = await s.login("alice");
  const still = await say(third, "after quitting");
  deepEqual(
    [still.type, still.type === "notice" && still.text.startsWith("Slow down")],
    ["notice", true],
  );

  // Half a second of fake time earns one line, as for a connection that stayed.
  clock.advance(500);
  equal((await say(third, "earned")).type, "message");
});
