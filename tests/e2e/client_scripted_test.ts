import { doesNotMatch, equal, match } from "node:assert/strict";
import { clientArgs, startClient } from "../_client_process.ts";
import { passwordOf, startTestServer } from "../_server.ts";
import { within } from "../_helpers.ts";
import { messageWith } from "./_frames.ts";
import { loginV2 } from "./_v2_client.ts";

Deno.test("scripted: a get_joke before end shows its joke before the client leaves", async () => {
  // A joke API that answers only after the client's end has reached the
  // server. (Today's server also holds end behind a pending joke; the
  // client's own wait is tested against a stand-in in tests/client/pacing_test.ts.)
  const asked = Promise.withResolvers<void>();
  const release = Promise.withResolvers<void>();
  await using api = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async () => {
    asked.resolve();
    await release.promise;
    return Response.json({
      type: "general",
      setup: "Slow setup?",
      punchline: "Slow punchline.",
      id: 1,
    });
  });
  await using s = await startTestServer({
    users: ["alice"],
    config: { jokeUrl: `http://127.0.0.1:${api.addr.port}/joke` },
  });
  await using client = startClient(clientArgs(s.dir, s.port, "alice"), {
    env: { BANTER_PASSWORD: passwordOf("alice") },
  });
  await client.write("get_joke\nend\n");
  await within(asked.promise, 10_000, "the joke API to be asked");
  await client.write("after end\n"); // a round trip later: end would have closed the session
  await client.waitFor("Logged in");
  release.resolve();
  equal(await within(client.status(), 10_000, "the client to exit"), 0);
  match(client.output(), /Slow setup\?/);
});

Deno.test("scripted: missing credentials are a usage error, exit 2", async () => {
  await using s = await startTestServer({ users: ["alice"] });
  await using client = startClient(clientArgs(s.dir, s.port, "alice"));
  await client.closeStdin();
  equal(await client.status(), 2);
  match(client.output(), /Login needs a user name and password/);
});

Deno.test("scripted: a wrong password exits 3 without an attempts-left line", async () => {
  await using s = await startTestServer({ users: ["alice"] });
  await using client = startClient(clientArgs(s.dir, s.port, "alice"), {
    env: { BANTER_PASSWORD: "wrong password here" },
  });
  equal(await client.status(), 3);
  doesNotMatch(client.output(), /attempts left/);
});

Deno.test("scripted: with several rooms every room's lines are shown, each led by its room", async () => {
  await using s = await startTestServer({ users: ["alice", "bob"] });
  {
    const alice = await loginV2(s.port, "alice");
    await using _alice = alice.client;
    await alice.client.send({ type: "join", room: "dev" });
    await alice.client.until((f) => f.type === "room" && f.room === "dev");
  }
  const bob = await loginV2(s.port, "bob");
  await using _bob = bob.client;
  await bob.client.send({ type: "join", room: "dev" });
  await bob.client.until((f) => f.type === "room" && f.room === "dev");
  await using client = startClient(clientArgs(s.dir, s.port, "alice"), {
    env: { BANTER_PASSWORD: passwordOf("alice") },
  });
  await client.waitFor("Logged in");
  await bob.client.until((f) => f.type === "presence" && f.user === "alice" && f.online);
  await bob.client.send({ type: "say", room: "dev", text: "in dev" });
  await bob.client.until(messageWith("in dev"));
  await bob.client.send({ type: "say", room: "lobby", text: "in lobby" });
  await client.waitFor(/#lobby \[\d\d:\d\d\] <bob> in lobby/);
  match(client.output(), /#dev \[\d\d:\d\d\] <bob> in dev/);
  await client.write("end\n");
  equal(await client.status(), 0);
});

Deno.test("scripted: 40 lines at once are paced to the real server's welcome.limits.rate, none dropped", async () => {
  await using s = await startTestServer({
    users: ["alice", "bob"],
    config: { rateBurst: 5, ratePerSecond: 25 },
  });
  const bob = await loginV2(s.port, "bob");
  await using _bob = bob.client;
  await using client = startClient(clientArgs(s.dir, s.port, "alice"), {
    env: { BANTER_PASSWORD: passwordOf("alice") },
  });
  const lines = Array.from({ length: 40 }, (_, i) => `paced ${i}`);
  await client.write(lines.join("\n") + "\nend\n");
  for (const line of lines) await bob.client.until(messageWith(line));
  equal(await client.status(), 0);
  doesNotMatch(client.output(), /Slow down/);
});
