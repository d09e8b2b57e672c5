import { deepEqual, equal, ok } from "node:assert/strict";
import { httpProblem, JOKE_PROBLEMS, OFFLINE_JOKES } from "../../lib/server/joke_api.ts";
import type { ServerFrame } from "../../lib/wire/protocol.ts";
import type { ServerDeps } from "../../lib/server/app.ts";
import type { ServerConfig } from "../../lib/server/settings.ts";
import { FakeClock } from "../_fake_clock.ts";
import { within } from "../_helpers.ts";
import { FAKE_JOKES, startFakeJokeApi } from "../_joke_api.ts";
import { startTestServer } from "../_server.ts";
import {
  isMessage,
  isNotice,
  type MessageFrame,
  messages,
  messageWith,
  roomFrame,
  sayAndSettle,
} from "./_frames.ts";

const OFFLINE_PREFIX = "(offline joke) ";

function isBotMessage(f: ServerFrame): f is MessageFrame {
  return f.type === "message" && f.from === "JokeBot";
}

/**
 * A server whose JokeBot asks the fake API at `path`, with alice and bob in
 * the lobby. Its clock is fake unless `deps` brings one, so a busy machine
 * can never time a joke out: only a test that moves the clock does.
 */
async function jokeRoom(path: string, config: Partial<ServerConfig> = {}, deps: ServerDeps = {}) {
  const api = startFakeJokeApi();
  const s = await startTestServer({
    users: ["alice", "bob", "carol"],
    config: { jokeUrl: api.url(path), ...config },
    deps: { clock: new FakeClock(), ...deps },
  });
  const alice = await s.login("alice");
  const bob = await s.login("bob");
  return {
    api,
    s,
    alice,
    bob,
    async [Symbol.asyncDispose]() {
      await alice[Symbol.asyncDispose]();
      await bob[Symbol.asyncDispose]();
      await s[Symbol.asyncDispose]();
      await api.close();
    },
  };
}

/** Whether `lines` is one of the built-in jokes, first line marked offline. */
function isOfflineJoke(lines: string[]): boolean {
  return OFFLINE_JOKES.some((joke) => {
    const expected = [OFFLINE_PREFIX + joke[0], ...joke.slice(1)];
    return JSON.stringify(expected) === JSON.stringify(lines);
  });
}

Deno.test("get_joke posts JokeBot's joke to everyone in the room and nobody elsewhere", async () => {
  await using room = await jokeRoom("/official");
  const { alice, bob, s } = room;
  await using carol = await s.login("carol");
  await carol.send({ type: "say", text: "/join elsewhere" });
  await carol.until(roomFrame("elsewhere"));

  await alice.send({ type: "say", text: "get_joke" });
  for (const c of [alice, bob]) {
    const told = await messages(c, 2);
    deepEqual(told.map((m) => m.text), [...FAKE_JOKES.official]);
    ok(told.every((m) => m.from === "JokeBot" && m.bot === true && m.room === "lobby"));
  }
  await carol.send({ type: "say", text: "marker" });
  await carol.until(messageWith("marker"));
  ok(!carol.received.some(isBotMessage), "carol's room heard no joke");
  ok(!alice.received.some(isNotice), "no notice when the API answered");
  equal(room.api.hits("/official"), 1);
});

Deno.test("/joke asks JokeBot too", async () => {
  await using room = await jokeRoom("/v2-single");
  await room.bob.send({ type: "say", text: "/joke" });
  const told = await room.alice.until(isBotMessage);
  equal(told.text, FAKE_JOKES.v2Single[0]);
});

Deno.test("a joke API answering 500 gives an offline joke to the room and a notice to the requester", async () => {
  await using room = await jokeRoom("/500");
  const { alice, bob } = room;
  await alice.send({ type: "say", text: "get_joke" });
  const notice = await alice.until(isNotice);
  deepEqual([notice.level, notice.text], [
    "info",
    `Joke service unavailable (${httpProblem(500)})`,
  ]);
  const first = await bob.until(isBotMessage);
  ok(first.text.startsWith(OFFLINE_PREFIX), first.text);
  await bob.send({ type: "say", text: "after the joke" });
  await bob.until(messageWith("after the joke"));
  const jokeLines = bob.received.filter(isBotMessage).map((m) => m.text);
  ok(isOfflineJoke(jokeLines), JSON.stringify(jokeLines));
  ok(!bob.received.some(isNotice), "only the requester is told why");
});

Deno.test("a joke API whose body never ends gives an offline joke at the joke timeout, and chat flows meanwhile", async () => {
  // The timeout runs on the server's clock: only fake time ends the request.
  // Below the heartbeat interval, so no ping is due meanwhile.
  const jokeTimeoutMs = 15_000;
  const clock = new FakeClock();
  await using room = await jokeRoom("/never-ends", { jokeTimeoutMs }, { clock });
  const { alice, bob } = room;
  await sayAndSettle(alice, "get_joke", 1);
  await within(room.api.requested("/never-ends"), 10_000, "the joke request");
  await bob.send({ type: "say", text: "while we wait" });
  const first = await alice.until(isMessage);
  equal(first.text, "while we wait", "chat is not held up by the joke");

  await clock.tick(jokeTimeoutMs - 1);
  await bob.send({ type: "say", text: "just before the deadline" });
  await alice.until(messageWith("just before the deadline"));
  ok(!alice.received.some(isBotMessage), "no joke before the timeout");

  await clock.tick(1);
  const joke = await alice.until(isBotMessage);
  ok(joke.text.startsWith(OFFLINE_PREFIX), joke.text);
  const notice = alice.received.find(isNotice);
  equal(notice?.text, `Joke service unavailable (${JOKE_PROBLEMS.timeout})`);
  equal(room.api.hits("/never-ends"), 1);
});

Deno.test("asking again right away gets a cooldown notice and no second joke", async () => {
  await using room = await jokeRoom("/official", { jokeCooldownMs: 60_000 });
  const { alice, bob } = room;
  await alice.send({ type: "say", text: "get_joke" });
  await alice.send({ type: "say", text: "/joke" });
  const notice = await alice.until(isNotice);
  equal(notice.level, "warn");
  ok(/^Wait \d+ s before asking for another joke$/.test(notice.text), notice.text);
  await messages(bob, 2);
  await bob.send({ type: "say", text: "marker" });
  await bob.until(messageWith("marker"));
  equal(bob.received.filter(isBotMessage).length, 2, "one joke of two lines");
  equal(room.api.hits("/official"), 1);
});
