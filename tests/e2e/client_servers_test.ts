import { equal, match } from "node:assert/strict";
import { join } from "node:path";
import { startClient } from "../_client_process.ts";
import { passwordOf, startTestServer, type TestServer } from "../_server.ts";
import { closedPort } from "../client/_stand_in.ts";

/** The real client as alice, given `--host` once per address, trusting the test CA in `dir`. */
function clientFor(dir: string, hosts: string[]) {
  return startClient(
    [
      ...hosts.flatMap((host) => ["--host", host]),
      "--ca",
      join(dir, "certs", "ca.crt"),
      "--user",
      "alice",
    ],
    { env: { BANTER_PASSWORD: passwordOf("alice") } },
  );
}

/** Bob, logged in on `s`, hears alice say `text`. */
async function bobHears(s: TestServer, text: string, say: () => Promise<void>): Promise<void> {
  await using bob = await s.login("bob");
  await say();
  const heard = await bob.until((f) => f.type === "message" && f.from === "alice");
  equal(heard.type === "message" && heard.text, text);
}

Deno.test("the client given an unreachable first --host logs in on the second and says it tried the first", async () => {
  const closed = closedPort();
  await using s = await startTestServer({ users: ["alice", "bob"] });
  await using client = clientFor(s.dir, [`127.0.0.1:${closed}`, `127.0.0.1:${s.port}`]);
  await client.waitFor(`Logged in as alice on 127.0.0.1:${s.port}`);
  match(
    client.output(),
    new RegExp(RegExp.escape(
      `Cannot connect to 127.0.0.1:${closed}: connection refused (is the server running?); trying 127.0.0.1:${s.port}`,
    )),
  );
  await bobHears(s, "hello via the second", () => client.write("hello via the second\n"));
  await client.closeStdin();
  equal(await client.status(), 0);
});

Deno.test("when its server stops, the client reconnects to the other --host by itself and chats there", async () => {
  await using first = await startTestServer({ users: ["alice", "bob"] });
  await using second = await startTestServer({ users: ["alice", "bob"] });
  const [a, b] = [`127.0.0.1:${first.port}`, `127.0.0.1:${second.port}`];
  await using client = clientFor(first.dir, [a, b]);
  await client.waitFor(`Logged in as alice on ${a}`);
  await first.stop();
  await client.waitFor(`; reconnecting to ${b} in `);
  await client.waitFor(new RegExp(`Reconnected to ${RegExp.escape(b)} after \\d+s`));
  await bobHears(second, "hello on the second", () => client.write("hello on the second\n"));
  await using bob = await second.login("bob");
  await bob.send({ type: "say", text: "welcome over, alice" });
  await client.waitFor("<bob> welcome over, alice");
  await client.closeStdin();
  equal(await client.status(), 0);
});

Deno.test("when no --host answers, the client says each, names every server tried and exits 1", async () => {
  const [one, two] = [closedPort(), closedPort()];
  await using client = startClient(["--host", `127.0.0.1:${one}`, "--host", `127.0.0.1:${two}`]);
  equal(await client.status(), 1);
  const lines = client.output().trim().split("\n");
  const refused = (port: number) =>
    `Cannot connect to 127.0.0.1:${port}: connection refused (is the server running?)`;
  equal(
    lines.slice(-3).join("\n"),
    [
      `-- ${refused(one)}; trying 127.0.0.1:${two}`,
      `-- ${refused(two)}`,
      `-- Cannot connect: tried every server in turn: 127.0.0.1:${one}, 127.0.0.1:${two}`,
    ].join("\n"),
  );
});

Deno.test("a bad --host is a usage error naming it, exit status 2", async () => {
  const cases: [string, string][] = [
    ["", "an empty item in the list"],
    ["a:0", '"a:0": port 0 is outside 1..65535'],
    ["[::1", '"[::1": missing "]" after the IPv6 address'],
  ];
  for (const [host, why] of cases) {
    await using client = startClient(["--host", host]);
    equal(await client.status(), 2, host);
    equal(client.output().trim(), `banter-client: Invalid host (from --host): ${why}`);
  }
});
