/**
 * Property-based tests of whole sessions (lib/server/session.ts) on in-memory
 * streams: any input ends in a goodbye, every frame the server writes parses,
 * and every bad frame is answered with an `error` frame and `bye
 * protocol_error`, exactly as the model of docs/PROTOCOL.md says.
 *
 * @module
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import fc from "fast-check";
import { parseCommandLine } from "../../lib/chat/commands.ts";
import { chunk, clientLine, concatBytes, cuts, hostileBytes, hostileText } from "./_arbitraries.ts";
import { realHub, RIGHT_PASSWORD, runSession, signature, stubAccepts } from "./_memory_session.ts";
import { modelSession, type SayModel } from "./_model.ts";
import { fuzzParameters } from "./_runs.ts";

const encoder = new TextEncoder();
const line = (frame: unknown) => encoder.encode(JSON.stringify(frame) + "\n");

/** Ends any input: a newline (closing a partial line), then a line that is not JSON. */
const TERMINATOR = encoder.encode("\n}\n");

/** What a client sends, one write's worth at a time; mostly well-formed. */
const sessionItem = (say: fc.Arbitrary<string>) =>
  fc.oneof(
    {
      arbitrary: fc.record({ type: fc.constant("hello"), version: fc.constantFrom(1, 1, 1, 0, 2) })
        .map(line),
      weight: 2,
    },
    {
      arbitrary: fc.record({
        type: fc.constant("login"),
        username: fc.constantFrom("alice", "admin1", "bob\n[INF] forged", "\u202eecila"),
        password: fc.constantFrom(RIGHT_PASSWORD, RIGHT_PASSWORD, "wrong", ""),
      }).map(line),
      weight: 3,
    },
    { arbitrary: fc.record({ type: fc.constant("say"), text: say }).map(line), weight: 6 },
    {
      arbitrary: fc.record({ type: fc.constantFrom("ping", "pong"), id: fc.nat() }).map(line),
      weight: 2,
    },
    { arbitrary: clientLine.map((l) => encoder.encode(l + "\n")), weight: 2 },
    { arbitrary: hostileBytes, weight: 1 },
  );

/** A whole input: sometimes a good greeting and login first, then items, then the terminator. */
const sessionInput = (say: fc.Arbitrary<string>) =>
  fc.tuple(fc.boolean(), fc.array(sessionItem(say), { maxLength: 10 })).map(([greet, items]) =>
    concatBytes([
      ...(greet
        ? [
          line({ type: "hello", version: 1 }),
          line({ type: "login", username: "alice", password: RIGHT_PASSWORD }),
        ]
        : []),
      ...items,
      TERMINATOR,
    ])
  );

const maxFrame = fc.constantFrom(64, 256, 1024);

/**
 * Compare what a session sent with the model. After the hub ends a session
 * (`end`), the session may still answer pings that were already queued
 * until its close settles; those pongs before the final `bye:end` are
 * allowed, nothing else is.
 */
function assertLikeModel(actual: string[], expected: string[] | undefined): void {
  ok(expected, "the model ends every input (the terminator is fatal)");
  if (expected.at(-1) !== "bye:end") return deepEqual(actual, expected);
  const head = expected.length - 1;
  deepEqual(actual.slice(0, head), expected.slice(0, head));
  deepEqual(actual.slice(head).filter((s) => !s.startsWith("pong:")), ["bye:end"]);
}

Deno.test("fuzz: a session answers any input exactly as the protocol model says (frames arrive split, one per write)", async () => {
  await fc.assert(
    fc.asyncProperty(
      sessionInput(fc.oneof(hostileText, fc.constant("end"))),
      cuts,
      maxFrame,
      async (input, at, max) => {
        const run = await runSession(chunk(input, at, { afterNewlines: true }), {
          maxFrameBytes: max,
        });
        deepEqual(run.unparsable, []);
        assertLikeModel(run.frames.map(signature), modelSession(input, max, stubAccepts));
      },
    ),
    fuzzParameters(),
  );
});

Deno.test({
  name:
    "fuzz: a session answers any input exactly as the protocol model says (several frames per write)",
  fn: async () => {
    await fc.assert(
      fc.asyncProperty(
        sessionInput(fc.oneof(hostileText, fc.constant("end"))),
        cuts,
        maxFrame,
        async (input, at, max) => {
          const run = await runSession(chunk(input, at), { maxFrameBytes: max });
          assertLikeModel(run.frames.map(signature), modelSession(input, max, stubAccepts));
        },
      ),
      fuzzParameters(),
    );
  },
});

/** Lines a chat user might type, commands and attacks included. */
const typedLine = fc.oneof(
  hostileText,
  fc.constantFrom(
    "end",
    " end ",
    "/quit",
    "/QUIT now",
    "/help",
    "/who",
    "/rooms",
    "/join ../etc",
    "/join ../../../../etc/passwd",
    "/join dev",
    "/join #Dev",
    "/join #a\u202eb",
    "/join a\nb",
    "/msg alice hi",
    "/msg admin1 \x1b[2J",
    "/msg nobody\x1b]0;x\x07 hi",
    "/me waves",
    "/kick alice",
    "/ban alice spam",
    "/unban alice",
    "/broadcast \u202ehi",
    "/shutdown",
    "get_joke",
    "/joke",
    "/",
    "/" + "x".repeat(300),
  ),
  fc.tuple(fc.constantFrom("/join ", "/msg ", "/kick ", "/ban ", "/me ", "/"), hostileText).map((
    [a, b],
  ) => a + b),
);

/** The real hub ends a session on `end` or `/quit` (PROTOCOL.md section 6); other answers vary. */
const hubSay: SayModel = (text) => {
  const trimmed = text.trim();
  const quits = trimmed === "end" ||
    (trimmed.startsWith("/") && parseCommandLine(trimmed).name === "quit");
  return quits ? "end" : [];
};

/** Frames whose order the model predicts; chat events and notices vary. */
const PROTOCOL_FRAMES =
  /^(hello|auth|auth_failed|welcome|error(?!:refused|:rate_limited)|bye|pong)\b/;

Deno.test("fuzz: a session with the real hub survives any typed line and ends as the protocol model says", async () => {
  await fc.assert(
    fc.asyncProperty(sessionInput(typedLine), cuts, maxFrame, async (input, at, max) => {
      const run = await runSession(chunk(input, at, { afterNewlines: true }), {
        hub: realHub(),
        maxFrameBytes: max,
      });
      deepEqual(run.unparsable, []);
      const seen = run.frames.map(signature).filter((s) => PROTOCOL_FRAMES.test(s));
      assertLikeModel(seen, modelSession(input, max, stubAccepts, hubSay));
      const last = run.frames.at(-1);
      ok(last?.type === "bye", "the last frame is a goodbye");
    }),
    fuzzParameters(),
  );
});

Deno.test("a session answers a 60,000-deep JSON frame within the cap like any other frame", async () => {
  const deep = `{"type":"say","text":"deep","pad":${"[".repeat(60_000)}${"]".repeat(60_000)}}`;
  const input = concatBytes([
    line({ type: "hello", version: 1 }),
    line({ type: "login", username: "alice", password: RIGHT_PASSWORD }),
    encoder.encode(deep + "\n"),
    line({ type: "ping", id: 1 }),
    TERMINATOR,
  ]);
  const run = await runSession(chunk(input, [], { afterNewlines: true }), {
    maxFrameBytes: 256 * 1024,
  });
  deepEqual(run.frames.map(signature), [
    "hello",
    "auth:3",
    "welcome",
    "message:deep",
    "pong:1",
    "error:invalid_json",
    "bye:protocol_error",
  ]);
  equal(run.unparsable.length, 0);
});
