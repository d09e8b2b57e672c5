/**
 * Fail-over as users see it: three Banter instances on a 3-node NATS
 * cluster with the stream and buckets replicated (R3), real v2 clients on
 * different instances chatting, one NATS node killed mid-chat.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { startNatsCluster } from "../_nats.ts";
import { startTestServer, type TestServer } from "../_server.ts";
import { loginV2, type V2Login } from "../e2e/_v2_client.ts";
import { addClusterUsers } from "./_cluster_users.ts";
import { MESSAGE_STREAM } from "../../lib/cluster/message_stream.ts";
import type { ServerFrame } from "../../lib/wire/protocol.ts";

type Message = Extract<ServerFrame, { type: "message" }>;

/**
 * Bound on one send's answer, and on every receiver having every message,
 * across the node's loss: reconnect, leader elections (6 s seen for the
 * metadata leader on a loaded machine), followers made again.
 */
const FAILOVER_MS = 30_000;

/** Messages each of the three users sends; the node dies after the first ones. */
const PER_SENDER = 12;
const KILL_AFTER = 4;

/** What one send came to: stored with an id, or refused with a reason. */
type Outcome = { text: string; messageId: number } | { text: string; refused: string };

/** Say `text` in the lobby and wait for its `ack` (with the message id) or its `error`. */
async function say(login: V2Login, text: string): Promise<Outcome> {
  await login.client.send({ type: "say", room: "lobby", text, id: text });
  const answer = await login.client.until(
    (f) => (f.type === "ack" || f.type === "error") && f.id === text,
    FAILOVER_MS,
  );
  if (answer.type === "error") return { text, refused: answer.message };
  const messageId = answer.type === "ack" ? answer.message_id : undefined;
  if (messageId === undefined) throw new Error(`No message id in ${JSON.stringify(answer)}`);
  return { text, messageId };
}

/** When `login` was told the cluster link was lost, wait until it is told it is back. */
async function untilLinkBack(login: V2Login): Promise<void> {
  const notices = () => login.client.received.flatMap((f) => f.type === "notice" ? [f.text] : []);
  const lost = () => notices().filter((text) => /link lost/.test(text)).length;
  const back = () => notices().filter((text) => /link back/.test(text)).length;
  while (back() < lost()) {
    await login.client.until((f) => f.type === "notice" && /link back/.test(f.text), FAILOVER_MS);
  }
}

/** The lobby messages `login` received, reading on until it has every id in `ids` (bounded). */
async function lobbyMessages(login: V2Login, ids: readonly number[]): Promise<Message[]> {
  const have = () =>
    login.client.received.filter((f): f is Message => f.type === "message" && f.room === "lobby");
  const missing = () => {
    const seen = new Set(have().map((m) => m.id));
    return ids.some((id) => !seen.has(id));
  };
  while (missing()) {
    await login.client.until((f) => f.type === "message" && f.room === "lobby", FAILOVER_MS);
  }
  return have();
}

Deno.test("three instances on a 3-node NATS cluster: a NATS node killed mid-chat (a follower's, the stream leader's when it can be), every acknowledged message reaches every receiver once, in one order, and chat goes on", async () => {
  await using nats = await startNatsCluster();
  const config = {
    cluster: nats.urls,
    clusterReplicas: 3,
    rateBurst: 100,
    ratePerSecond: 100,
  };
  await addClusterUsers(nats.urls.split(",")[0]!, ["ann", "bob", "cat"], [], 3);
  const all: TestServer[] = [];
  try {
    for (let i = 0; i < 3; i++) all.push(await startTestServer({ config }));
    const logins = await Promise.all(
      ["ann", "bob", "cat"].map((user, i) => loginV2(all[i]!.port, user)),
    );
    try {
      // The node to kill: one holding an instance's follower (an R1
      // consumer, which the client alone never got back), the stream's
      // leader too when it can be, so a new one is elected mid-chat.
      const probe = await connect({ servers: nats.urls.split(",") });
      const victimName = await (async () => {
        try {
          const jsm = await jetstreamManager(probe);
          const info = await jsm.streams.info(MESSAGE_STREAM);
          equal(info.config.num_replicas, 3);
          const score = new Map<string, number>();
          const add = (name: string | undefined, by: number) => {
            if (name !== undefined) score.set(name, (score.get(name) ?? 0) + by);
          };
          add(info.cluster?.leader, 1);
          for await (const consumer of jsm.consumers.list(MESSAGE_STREAM)) {
            add(consumer.cluster?.leader, 2);
          }
          return [...score].sort((x, y) => y[1] - x[1])[0]![0];
        } finally {
          await probe.close();
        }
      })();
      const victim = nats.node(victimName);
      let killed: Promise<void> | undefined;
      const outcomes = await Promise.all(logins.map(async (login, s) => {
        const mine: Outcome[] = [];
        for (let i = 0; i < PER_SENDER; i++) {
          if (s === 0 && i === KILL_AFTER) killed = victim.kill("SIGKILL");
          mine.push(await say(login, `m${s}-${i}`));
        }
        return mine;
      }));
      await killed;
      const sent = outcomes.flat();
      const stored = sent.flatMap((o) => "messageId" in o ? [o] : []);
      const refused = sent.flatMap((o) => "refused" in o ? [o] : []);
      // A refusal (the link to the killed node lost, or no leader in time)
      // says why; most sends ride out the election (publishes are retried).
      for (const r of refused) {
        ok(/^Cannot (send|confirm the send): the cluster /.test(r.refused), r.refused);
      }
      // "Cannot confirm": no answer in time, so it may still be stored (once).
      const maybe = new Set(
        refused.filter((r) => r.refused.startsWith("Cannot confirm")).map((r) => r.text),
      );

      // Chat goes on afterwards: one more from each, acknowledged (once a
      // user told the link was lost is told it is back).
      for (const [s, login] of logins.entries()) {
        await untilLinkBack(login);
        const after = await say(login, `after-${s}`);
        ok("messageId" in after, JSON.stringify(after));
        stored.push(after);
      }

      const ackedIds = stored.map((o) => o.messageId).sort((a, b) => a - b);
      const all = await Promise.all(logins.map((login) => lobbyMessages(login, ackedIds)));
      const seen = all.map((messages) => messages.filter((m) => !maybe.has(m.text)));
      for (const messages of seen) {
        // Exactly the acknowledged messages, each once, in stream order.
        deepEqual(messages.map((m) => m.id), ackedIds);
        const byId = new Map(stored.map((o) => [o.messageId, o.text]));
        deepEqual(messages.map((m) => m.text), messages.map((m) => byId.get(m.id!)));
      }
      deepEqual(seen[1]!.map((m) => `${m.id}:${m.text}`), seen[0]!.map((m) => `${m.id}:${m.text}`));
      deepEqual(seen[2]!.map((m) => `${m.id}:${m.text}`), seen[0]!.map((m) => `${m.id}:${m.text}`));
      // A refused send was not stored: nobody received it.
      const texts = new Set(seen[0]!.map((m) => m.text));
      for (const r of refused) {
        if (!maybe.has(r.text)) equal(texts.has(r.text), false, r.text);
      }
      // One that did appear after all appeared once, alike everywhere.
      for (const messages of all) {
        const late = messages.filter((m) => maybe.has(m.text));
        equal(new Set(late.map((m) => m.text)).size, late.length);
      }
      // Each sender's stored messages came back in the order it sent them.
      for (let s = 0; s < logins.length; s++) {
        const own = seen[s]!.filter((m) => m.text.startsWith(`m${s}-`)).map((m) => m.text);
        deepEqual(own, stored.filter((o) => o.text.startsWith(`m${s}-`)).map((o) => o.text));
      }
    } finally {
      for (const login of logins) await login[Symbol.asyncDispose]();
    }
  } finally {
    for (const server of [...all].reverse()) await server[Symbol.asyncDispose]();
  }
});
