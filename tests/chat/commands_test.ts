import assert from "node:assert/strict";
import {
  type CommandContext,
  CommandRegistry,
  defaultCommands,
  parseCommandLine,
} from "../../lib/chat/commands.ts";
import { listingText } from "../../lib/chat/commands.ts";
import type { NoticeEvent, Role } from "../../lib/chat/message.ts";

/** A context whose actions fail loudly unless a test overrides them. */
function context(role: Role, replies: [string, NoticeEvent["level"]][]) {
  const fail = () => {
    throw new Error("unexpected call");
  };
  const ctx: CommandContext = {
    caller: { name: "ann", role },
    room: "lobby",
    reply: (text, level = "info") => replies.push([text, level]),
    who: () => [{ name: "ann", role: "user" }],
    rooms: () => ({ rooms: [{ name: "lobby", topic: "", members: 1 }], more: 0 }),
    show: (listing) => {
      for (const line of listingText(listing)) replies.push([line, "info"]);
    },
    join: fail,
    part: fail,
    topic: fail,
    away: fail,
    say: fail,
    direct: fail,
    quit: fail,
    joke: fail,
    kick: fail,
    ban: fail,
    bans: fail,
    unban: fail,
    broadcast: fail,
    shutdown: fail,
  };
  return ctx;
}

Deno.test("parseCommandLine() splits the name from the arguments", () => {
  assert.deepEqual(parseCommandLine("/MSG bob  hi there "), {
    name: "msg",
    args: "bob  hi there",
  });
  assert.deepEqual(parseCommandLine("/who"), { name: "who", args: "" });
  assert.deepEqual(parseCommandLine("/"), { name: "", args: "" });
});

Deno.test("a command is added in one place and shows up in /help", () => {
  const registry = new CommandRegistry().add({
    name: "ping",
    args: "[TEXT]",
    help: "Answer pong",
    minRole: "user",
    handler: (ctx, args) => ctx.reply(`pong ${args}`),
  });
  const replies: [string, NoticeEvent["level"]][] = [];
  registry.run(context("user", replies), "/ping hello");
  assert.deepEqual(replies, [["pong hello", "info"]]);
  assert.deepEqual(registry.helpLines("user"), ["/ping [TEXT] — Answer pong"]);
});

Deno.test("a handler's error becomes an error notice", () => {
  const registry = new CommandRegistry().add({
    name: "boom",
    args: "",
    help: "Fail",
    minRole: "user",
    handler: () => {
      throw new RangeError("Cannot boom: out of range");
    },
  });
  const replies: [string, NoticeEvent["level"]][] = [];
  registry.run(context("user", replies), "/boom");
  assert.deepEqual(replies, [["Cannot boom: out of range", "error"]]);
});

Deno.test("commands above the caller's role are refused and hidden", () => {
  const registry = defaultCommands();
  const replies: [string, NoticeEvent["level"]][] = [];
  registry.run(context("user", replies), "/kick bob");
  assert.deepEqual(replies, [["Cannot run /kick: not allowed", "error"]]);
  const names = registry.list("user").map((c) => c.name);
  assert.ok(!names.includes("kick"));
  assert.ok(registry.list("admin").some((c) => c.name === "kick"));
});

Deno.test("adding a command twice or with a bad name throws", () => {
  const ping = {
    name: "ping",
    args: "",
    help: "x",
    minRole: "user" as const,
    handler: () => {},
  };
  const registry = new CommandRegistry().add(ping);
  assert.throws(() => registry.add(ping), TypeError);
  assert.throws(() => registry.add({ ...ping, name: "Ping" }), TypeError);
});
