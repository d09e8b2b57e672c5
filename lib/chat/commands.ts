/**
 * Slash commands: a registry of `{name, args, help, minRole, handler}`. Adding
 * a command is one `add` call; `/help` is generated from the registry. A
 * handler's thrown error becomes an error notice to the caller.
 *
 * Handlers only parse and reply; the hub does the work behind
 * {@linkcode CommandContext}.
 *
 * @module
 */
import { type BanRecord, describeBan } from "./bans.ts";
import type {
  HelpEntry,
  ListingEvent,
  Member,
  NoticeEvent,
  Role,
  RoomsEntry,
  WhoEntry,
} from "./message.ts";

/**
 * What a command handler may do, on behalf of the member who typed it.
 * Methods throw an `Error` whose message is fit for the user when they
 * cannot do what was asked.
 */
export interface CommandContext {
  /** Who typed the command. */
  readonly caller: Pick<Member, "name" | "role">;
  /** The caller's room. */
  readonly room: string;
  /** Send a notice to the caller only. */
  reply(text: string, level?: NoticeEvent["level"]): void;
  /** Who is present in the caller's room, each account once, sorted by name. */
  who(): readonly WhoEntry[];
  /**
   * The rooms with the most members (at most a fixed number), sorted by
   * name, and how many more there are.
   */
  rooms(): { readonly rooms: readonly RoomsEntry[]; readonly more: number };
  /** Answer with a listing: data for clients that take it, else notices ({@linkcode listingText}). */
  show(listing: ListingEvent): void;
  /** Join `room` (validated here) and make it the caller's current room. */
  join(room: string): void;
  /** Leave `room`, or the current room when `""`. */
  part(room: string): void;
  /** Set the current room's topic; `undefined` shows it. */
  topic(text: string | undefined): void;
  /** Mark the caller away with `text`, or back when `""`. */
  away(text: string): void;
  /** Say `text` in the caller's room. */
  say(text: string, options?: { action?: boolean }): void;
  /** Send a DM to an online user. */
  direct(to: string, text: string): void;
  /** End the caller's session (code `end`). */
  quit(): void;
  /** Ask for a joke, posted later to the caller's room. */
  joke(): void;
  /** Close an online user's session (code `kicked`). */
  kick(user: string, reason: string): void;
  /** Ban a user (online or not) and close their session (code `banned`);
   * a name that is no account only with `pre`. */
  ban(user: string, reason: string, options?: { pre?: boolean }): void;
  /** The newest bans, newest first. */
  bans(): readonly BanRecord[];
  /** Lift a ban. @returns `false` when the user was not banned. */
  unban(user: string): boolean;
  /** A notice to every member in every room. */
  broadcast(text: string): void;
  /** Ask the server to shut down. */
  shutdown(): void;
}

/** One slash command. */
export interface Command {
  /** Lowercase, without the slash. */
  readonly name: string;
  /** Usage of the arguments for `/help`, e.g. `USER TEXT`; `""` for none. */
  readonly args: string;
  /** One line for `/help`. */
  readonly help: string;
  /** The lowest role allowed to run it. */
  readonly minRole: Role;
  /**
   * Do the command.
   *
   * @param ctx What the caller may do.
   * @param args The rest of the line after the name, trimmed.
   * @throws {Error} Any error; its message is shown to the caller.
   */
  readonly handler: (ctx: CommandContext, args: string) => void;
}

const RANK: Readonly<Record<Role, number>> = { user: 0, admin: 1, operator: 2 };

/**
 * Whether `role` is `min` or above (`user` < `admin` < `operator`).
 *
 * @param role The role to check.
 * @param min The lowest role allowed.
 * @returns `true` when allowed.
 */
export function roleAtLeast(role: Role, min: Role): boolean {
  return RANK[role] >= RANK[min];
}

/** Longest command name echoed back in the unknown-command hint. */
const MAX_ECHOED_NAME = 32;

/**
 * The set of commands a hub understands.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { CommandRegistry } from "./commands.ts";
 *
 * const registry = new CommandRegistry().add({
 *   name: "ping", args: "", help: "Answer pong", minRole: "user",
 *   handler: (ctx) => ctx.reply("pong"),
 * });
 * deepEqual(registry.helpLines("user"), ["/ping — Answer pong"]);
 * ```
 */
export class CommandRegistry {
  #commands = new Map<string, Command>();

  /**
   * Register a command.
   *
   * @param command The command.
   * @returns This registry, for chaining.
   * @throws {TypeError} When the name is not lowercase letters or is taken.
   */
  add(command: Command): this {
    if (!/^[a-z][a-z0-9_-]*$/.test(command.name)) {
      throw new TypeError(`Cannot add command: bad name "${command.name}"`);
    }
    if (this.#commands.has(command.name)) {
      throw new TypeError(`Cannot add command: /${command.name} exists`);
    }
    this.#commands.set(command.name, command);
    return this;
  }

  /** The command called `name`, if any. */
  get(name: string): Command | undefined {
    return this.#commands.get(name);
  }

  /** Commands `role` may run, in the order they were added. */
  list(role: Role): Command[] {
    return [...this.#commands.values()].filter((c) => roleAtLeast(role, c.minRole));
  }

  /** Usage and summary of every command `role` may run. */
  helpEntries(role: Role): HelpEntry[] {
    return this.list(role).map((c) => ({
      name: c.name,
      usage: `/${c.name}${c.args ? ` ${c.args}` : ""}`,
      summary: c.help,
    }));
  }

  /** One `/help` line per command `role` may run. */
  helpLines(role: Role): string[] {
    return this.list(role).map((c) => `/${c.name}${c.args ? ` ${c.args}` : ""} — ${c.help}`);
  }

  /**
   * Run a line that starts with `/`. Unknown commands get a hint; commands
   * above the caller's role get "not allowed"; a handler's error becomes an
   * error notice. Never throws.
   *
   * @param ctx What the caller may do.
   * @param line The whole line, starting with `/`.
   */
  run(ctx: CommandContext, line: string): void {
    const { name, args } = parseCommandLine(line);
    const command = this.#commands.get(name);
    if (command === undefined) {
      const shown = name.slice(0, MAX_ECHOED_NAME);
      ctx.reply(`Unknown command /${shown} — type /help`, "warn");
      return;
    }
    if (!roleAtLeast(ctx.caller.role, command.minRole)) {
      ctx.reply(`Cannot run /${name}: not allowed`, "error");
      return;
    }
    try {
      command.handler(ctx, args);
    } catch (error) {
      ctx.reply(
        error instanceof Error ? error.message : String(error),
        "error",
      );
    }
  }
}

/**
 * Split `/name rest` into a lowercase name and trimmed arguments.
 *
 * @param line A line starting with `/`.
 * @returns The name (without slash) and the arguments.
 */
export function parseCommandLine(line: string): { name: string; args: string } {
  const body = line.trim().slice(1);
  const space = body.search(/\s/);
  if (space === -1) return { name: body.toLowerCase(), args: "" };
  return {
    name: body.slice(0, space).toLowerCase(),
    args: body.slice(space).trim(),
  };
}

/**
 * A listing as notice lines, for members shown one room at a time.
 *
 * @param listing What `/who`, `/rooms` or `/help` answered.
 * @returns The lines, in order.
 */
export function listingText(listing: ListingEvent): string[] {
  switch (listing.kind) {
    case "who": {
      const names = listing.users.map((u) => u.away === undefined ? u.name : `${u.name} (away)`);
      return [`In #${listing.room} (${names.length}): ${names.join(", ")}`];
    }
    case "rooms":
      return [
        `Rooms: ${listing.rooms.map((r) => `#${r.name} (${r.members})`).join(", ")}${
          listing.more === undefined ? "" : ` and ${listing.more} more`
        }`,
      ];
    case "help":
      return [
        "Commands (type end to leave, get_joke for a joke):",
        ...listing.commands.map((c) => `${c.usage} — ${c.summary}`),
      ];
  }
}

/** Split off the first word: `"bob hi there"` → `["bob", "hi there"]`. */
function firstWord(args: string): [string, string] {
  const space = args.search(/\s/);
  if (space === -1) return [args, ""];
  return [args.slice(0, space), args.slice(space).trim()];
}

function usage(name: string, args: string): SyntaxError {
  return new SyntaxError(`Usage: /${name} ${args}`);
}

/**
 * The standard command set. Each call builds a fresh registry, so a server
 * can add its own commands without touching anyone else's.
 *
 * @returns A registry with `/help`, `/who`, `/rooms`, `/join`, `/part`,
 *   `/topic`, `/away`, `/msg`, `/me`,
 *   `/joke`, `/quit`, and for admins `/kick`, `/ban`, `/bans`, `/unban`,
 *   `/broadcast`, `/shutdown`.
 */
export function defaultCommands(): CommandRegistry {
  const registry = new CommandRegistry();
  registry
    .add({
      name: "help",
      args: "",
      help: "List commands",
      minRole: "user",
      handler(ctx) {
        ctx.show({ kind: "help", commands: registry.helpEntries(ctx.caller.role) });
      },
    })
    .add({
      name: "who",
      args: "",
      help: "Who is in this room",
      minRole: "user",
      handler(ctx) {
        ctx.show({ kind: "who", room: ctx.room, users: ctx.who() });
      },
    })
    .add({
      name: "rooms",
      args: "",
      help: "List rooms and how many members each has",
      minRole: "user",
      handler(ctx) {
        const { rooms, more } = ctx.rooms();
        ctx.show({ kind: "rooms", rooms, ...(more > 0 ? { more } : {}) });
      },
    })
    .add({
      name: "join",
      args: "ROOM",
      help: "Join a room (created if new) and make it your current room",
      minRole: "user",
      handler(ctx, args) {
        if (args === "") throw usage("join", "ROOM");
        ctx.join(args);
      },
    })
    .add({
      name: "part",
      args: "[ROOM]",
      help: "Leave a room (this one if none is named)",
      minRole: "user",
      handler: (ctx, args) => ctx.part(args),
    })
    .add({
      name: "topic",
      args: "[TEXT]",
      help: "Show or set this room's topic",
      minRole: "user",
      handler: (ctx, args) => ctx.topic(args === "" ? undefined : args),
    })
    .add({
      name: "away",
      args: "[TEXT]",
      help: "Mark yourself away (no text: back)",
      minRole: "user",
      handler: (ctx, args) => ctx.away(args),
    })
    .add({
      name: "msg",
      args: "USER TEXT",
      help: "Send a private message",
      minRole: "user",
      handler(ctx, args) {
        const [user, text] = firstWord(args);
        if (user === "" || text === "") throw usage("msg", "USER TEXT");
        ctx.direct(user, text);
      },
    })
    .add({
      name: "me",
      args: "ACTION",
      help: "Describe what you do, e.g. /me waves",
      minRole: "user",
      handler(ctx, args) {
        if (args === "") throw usage("me", "ACTION");
        ctx.say(args, { action: true });
      },
    })
    .add({
      name: "joke",
      args: "",
      help: "Ask JokeBot for a joke (same as get_joke)",
      minRole: "user",
      handler: (ctx) => ctx.joke(),
    })
    .add({
      name: "quit",
      args: "",
      help: "Leave the chat (same as end)",
      minRole: "user",
      handler: (ctx) => ctx.quit(),
    })
    .add({
      name: "kick",
      args: "USER [reason]",
      help: "Disconnect a user",
      minRole: "admin",
      handler(ctx, args) {
        const [user, reason] = firstWord(args);
        if (user === "") throw usage("kick", "USER [reason]");
        ctx.kick(user, reason);
        ctx.reply(`Kicked ${user}`);
      },
    })
    .add({
      name: "ban",
      args: "USER [reason] | --pre NAME [reason]",
      help: "Disconnect a user and keep them out (--pre: ban a name that is no account yet)",
      minRole: "admin",
      handler(ctx, args) {
        let [user, reason] = firstWord(args);
        const pre = user === "--pre";
        if (pre) [user, reason] = firstWord(reason);
        if (user === "") throw usage("ban", "USER [reason] | --pre NAME [reason]");
        ctx.ban(user, reason, { pre });
        ctx.reply(pre ? `Banned ${user} (the name; no account needed)` : `Banned ${user}`);
      },
    })
    .add({
      name: "bans",
      args: "",
      help: "List bans: name, by whom, when, why",
      minRole: "admin",
      handler(ctx) {
        const bans = ctx.bans();
        if (bans.length === 0) {
          ctx.reply("No bans");
          return;
        }
        ctx.reply(`Bans (${bans.length}, newest first):`);
        for (const ban of bans) ctx.reply(`${ban.name} — banned ${describeBan(ban)}`);
      },
    })
    .add({
      name: "unban",
      args: "USER",
      help: "Lift a ban",
      minRole: "admin",
      handler(ctx, args) {
        const [user] = firstWord(args);
        if (user === "") throw usage("unban", "USER");
        ctx.reply(
          ctx.unban(user) ? `Unbanned ${user}` : `${user} was not banned`,
        );
      },
    })
    .add({
      name: "broadcast",
      args: "TEXT",
      help: "Send a notice to everyone in every room",
      minRole: "admin",
      handler(ctx, args) {
        if (args === "") throw usage("broadcast", "TEXT");
        ctx.broadcast(args);
      },
    })
    .add({
      name: "shutdown",
      args: "",
      help: "Shut the server down",
      minRole: "admin",
      handler: (ctx) => ctx.shutdown(),
    });
  return registry;
}
