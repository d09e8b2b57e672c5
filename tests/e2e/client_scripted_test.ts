import { doesNotMatch, equal, match } from "node:assert/strict";
import { join } from "node:path";
import { startClient } from "../_client_process.ts";
import { passwordOf, startTestServer } from "../_server.ts";
import { within } from "../_helpers.ts";

function clientArgs(dir: string, port: number, user?: string): string[] {
  return [
    "--port",
    String(port),
    "--ca",
    join(dir, "certs", "ca.crt"),
    ...(user ? ["--user", user] : []),
  ];
}

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
