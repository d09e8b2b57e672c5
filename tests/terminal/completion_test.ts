import { deepEqual, equal } from "node:assert/strict";
import { Completer } from "../../lib/terminal/completion.ts";

const CANDIDATES = {
  nicks: ["alice", "alan", "bob"],
  commands: ["join", "joke", "who"],
  rooms: ["lobby", "dev"],
};

Deno.test("Completer completes a nick at the line start with ': ', elsewhere with a space", () => {
  const c = new Completer();
  deepEqual(c.complete({ text: "bo", cursor: 2 }, CANDIDATES), { text: "bob: ", cursor: 5 });
  deepEqual(new Completer().complete({ text: "hi bo", cursor: 5 }, CANDIDATES), {
    text: "hi bob ",
    cursor: 7,
  });
});

Deno.test("Completer cycles through matches on repeated Tab and wraps around", () => {
  const c = new Completer();
  const first = c.complete({ text: "al", cursor: 2 }, CANDIDATES);
  equal(first?.text, "alan: ");
  const second = first && c.complete(first, CANDIDATES);
  equal(second?.text, "alice: ");
  const third = second && c.complete(second, CANDIDATES);
  equal(third?.text, "alan: ");
});

Deno.test("Completer completes /commands only as the first word, and #rooms anywhere", () => {
  const c = new Completer();
  equal(c.complete({ text: "/jo", cursor: 3 }, CANDIDATES)?.text, "/join ");
  equal(new Completer().complete({ text: "see /jo", cursor: 7 }, CANDIDATES), undefined);
  equal(new Completer().complete({ text: "/join #d", cursor: 8 }, CANDIDATES)?.text, "/join #dev ");
});

Deno.test("Completer keeps the text after the cursor and ignores case", () => {
  const c = new Completer();
  deepEqual(c.complete({ text: "AL rest", cursor: 2 }, CANDIDATES), {
    text: "alan: rest",
    cursor: 6,
  });
});

Deno.test("Completer starts afresh when the line changed since the last completion", () => {
  const c = new Completer();
  c.complete({ text: "al", cursor: 2 }, CANDIDATES);
  equal(c.complete({ text: "b", cursor: 1 }, CANDIDATES)?.text, "bob: ");
  equal(c.complete({ text: "", cursor: 0 }, CANDIDATES), undefined);
  equal(c.complete({ text: "zz", cursor: 2 }, CANDIDATES), undefined);
});
