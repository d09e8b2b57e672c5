/**
 * Moderation targets are untrusted text typed by an admin: `/kick`, `/ban`,
 * `/unban` and `/msg` take only valid user names, and a refused target
 * reaches the audit log escaped.
 *
 * @module
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import type { ServerFrame } from "../../lib/wire/protocol.ts";
import { startTestServer } from "../_server.ts";
import { captureLogs } from "./_log_capture.ts";

type Notice = Extract<ServerFrame, { type: "notice" }>;
const isError = (f: ServerFrame): f is Notice => f.type === "notice" && f.level === "error";

Deno.test("a /ban whose target holds an RLO or a newline is refused, and the audit log line is escaped", async () => {
  await using logs = await captureLogs();
  await using s = await startTestServer({ admins: ["root"], users: ["admin2"] });
  await using root = await s.login("root");
  await root.until((f) => f.type === "room");

  await root.send({ type: "say", text: "/ban \u202enimda" });
  const rlo = await root.until(isError);
  ok(rlo.text.startsWith("Cannot ban: not a user name"), rlo.text);
  ok(!rlo.text.includes("\u202e"), "the target is not echoed");

  await root.send({ type: "say", text: "/ban evil\n2026-01-01 [INF] banter·audit: ban of root" });
  const newline = await root.until(isError);
  ok(newline.text.includes("control characters"), newline.text);

  for (const command of ["/kick", "/unban", "/msg"]) {
    await root.send({ type: "say", text: `${command} \u202enimda hi` });
    const refused = await root.until(isError);
    ok(refused.text.includes("not a user name"), `${command}: ${refused.text}`);
  }
  deepEqual([s.server.hub.isBanned("\u202enimda"), s.server.hub.isBanned("evil")], [false, false]);

  const audit = logs.text().filter((line) =>
    line.includes("banter·audit") && line.includes("Refused")
  );
  deepEqual(audit.length, 3, audit.join("")); // ban, kick, unban (a /msg is no moderation)
  ok(audit[0]!.includes("Refused ban of \\u{202e}nimda by root"), audit[0]);
  for (const line of [...logs.text(), ...logs.json()]) {
    ok(!line.includes("\u202e"), `no raw RLO: ${JSON.stringify(line)}`);
    equal(line.indexOf("\n"), line.length - 1, `one line: ${JSON.stringify(line)}`);
  }
});

Deno.test("an admin cannot /ban an offline admin by changing the case of the name", async () => {
  await using s = await startTestServer({ admins: ["root", "alice"], users: ["eve"] });
  await using root = await s.login("root");
  await root.until((f) => f.type === "room");
  for (const name of ["alice", "ALICE", "Alice"]) {
    await root.send({ type: "say", text: `/ban ${name}` });
    const answer = await root.until((f): f is Notice => f.type === "notice");
    equal(answer.text, `Cannot ban ${name}: not allowed`);
  }
  equal(s.server.hub.isBanned("alice"), false);
  // An offline user still can be banned, whatever the case typed.
  await root.send({ type: "say", text: "/ban EVE" });
  ok(await root.until((f) => f.type === "notice" && f.text === "Banned EVE"));
  equal(s.server.hub.isBanned("eve"), true);
});
