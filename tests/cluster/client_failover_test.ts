/**
 * The real terminal client across cluster instances, as a user sees it:
 * given every instance with `--host`, it rides out an instance killed with
 * -9 by reconnecting to another one and resuming, so every line of the chat
 * is on its screen once, in order.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { join } from "node:path";
import { startNats } from "../_nats.ts";
import { passwordOf, writeServerFiles } from "../_server.ts";
import { startServerProcess } from "../_process.ts";
import { startClient } from "../_client_process.ts";
import { tempDir } from "../_helpers.ts";
import { loginV2 } from "../e2e/_v2_client.ts";

/** Numbered lines bob sends: before the kill, while ann is away, after she is back. */
const BEFORE = 10;
const DURING = 10;
const AFTER = 10;

/** Bob's `n`th line, easy to find and to count in ann's output. */
function numbered(n: number): string {
  return `line-${String(n).padStart(3, "0")}`;
}

/** The numbered lines in `output`, in the order printed (each `<bob> line-NNN`). */
function numberedLines(output: string): string[] {
  return [...output.matchAll(/<bob> (line-\d{3})$/gm)].map((m) => m[1]!);
}

Deno.test("the real client on an instance killed with -9 reconnects to the other --host by itself: every line of the chat once, in order, then it chats there", async () => {
  await using nats = await startNats();
  await using shared = await tempDir();
  await writeServerFiles(shared.path, { users: ["ann", "bob", "cat", "dan"] });
  const clusterArgs = [
    `--cluster=${nats.url}`,
    `--credentials=${join(shared.path, "credentials.json")}`,
    "--cluster-presence-ttl=3",
    "--rate-burst=100",
    "--rate-per-second=100",
    // Fewer than bob sends while ann is away: the replay on B leaves lines
    // out, which the client fetches page by page.
    "--history-limit=4",
  ];
  await using dirA = await tempDir();
  await using dirB = await tempDir();
  await using instanceA = await startServerProcess(dirA.path, { args: clusterArgs });
  await using instanceB = await startServerProcess(dirB.path, { args: clusterArgs });
  const [a, b] = [`127.0.0.1:${instanceA.port}`, `127.0.0.1:${instanceB.port}`];

  await using ann = startClient(
    ["--host", a, "--host", b, "--ca", join(dirA.path, "certs", "ca.crt"), "--user", "ann"],
    { env: { BANTER_PASSWORD: passwordOf("ann") } },
  );
  await ann.waitFor(`Logged in as ann on ${a}`);
  // Cat stays on A and goes down with it; dan, on B, watches presence.
  await using dan = await loginV2(instanceB.port, "dan");
  await using cat = await loginV2(instanceA.port, "cat");
  await dan.client.until((f) => f.type === "presence" && f.user === "cat" && f.online);
  await using bob = await loginV2(instanceB.port, "bob");

  let sent = 0;
  /** Bob sends his next `count` numbered lines, each stored before the next. */
  const send = async (count: number) => {
    for (let i = 0; i < count; i++) {
      const text = numbered(++sent);
      await bob.client.send({ type: "say", room: "lobby", text, id: text });
      await bob.client.until((f) => f.type === "ack" && f.id === text);
    }
  };

  await send(BEFORE);
  await ann.waitFor(`<bob> ${numbered(BEFORE)}`);
  // Mid-chat: A dies while bob goes on sending.
  const sending = send(DURING);
  instanceA.kill("SIGKILL");
  await instanceA.status;
  await sending;
  await ann.waitFor(`; reconnecting to ${b} in `);
  await ann.waitFor(new RegExp(`-- Reconnected to ${RegExp.escape(b)} after \\d+s`));
  await send(AFTER);
  const total = BEFORE + DURING + AFTER;
  await ann.waitFor(`<bob> ${numbered(total)}`);
  deepEqual(
    numberedLines(ann.output()),
    Array.from({ length: total }, (_, i) => numbered(i + 1)),
    ann.output(),
  );

  // Ann chats on B now: bob hears her.
  await ann.write("back on b\n");
  const heard = await bob.client.until((f) => f.type === "message" && f.from === "ann");
  equal(heard.type === "message" && heard.text, "back on b");
  // Cat's presence, written by the killed instance, ages out.
  const gone = await dan.client.until((f) => f.type === "presence" && f.user === "cat");
  equal(gone.type === "presence" && gone.online, false);
  void cat;

  await ann.closeStdin();
  equal(await ann.status(), 0);
  ok(!/Protocol error|Cannot/.test(ann.output()), ann.output());
});
