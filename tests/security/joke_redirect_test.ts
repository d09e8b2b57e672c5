import assert from "node:assert/strict";
import { getJoke, redirectProblem } from "../../lib/server/joke_api.ts";
import { jokeOutcome } from "../../lib/server/joke_source.ts";
import { startFakeJokeApi } from "../_joke_api.ts";

// The joke service (or whoever answers in its name) redirects the server's
// joke fetch to another local port: an internal service the server can reach
// and the attacker cannot. The fetch must not follow it.

Deno.test("a joke service redirecting to another local port is not followed: the offline joke says why", async () => {
  await using api = startFakeJokeApi();
  await using internal = startFakeJokeApi();
  const to = encodeURIComponent(internal.url("/official"));
  const joke = await getJoke({ url: api.url(`/redirect?to=${to}`) });
  assert.equal(api.hits("/redirect"), 1);
  assert.equal(internal.hits("/official"), 0, "the redirect target was asked");
  assert.equal(joke.source, "offline");
  assert.equal(joke.source === "offline" && joke.problem, redirectProblem(302));
  assert.equal(jokeOutcome(joke), "http_error");
});

Deno.test("a same-host redirect is not followed either", async () => {
  await using api = startFakeJokeApi();
  const joke = await getJoke({ url: api.url("/redirect?to=/official") });
  assert.equal(api.hits("/official"), 0);
  assert.equal(joke.source === "offline" && joke.problem, redirectProblem(302));
});
