/**
 * The hub: rooms, members, and what a typed line does. Knows nothing about
 * sockets or the wire; the session layer and the server console are both
 * {@linkcode Member}s that {@linkcode Hub.enter} and then feed lines to
 * {@linkcode Presence.input}.
 *
 * @module
 */
import { isReservedUserName, validateUserName } from "../auth/user_name.ts";
import type { TimeSource } from "../util/clock.ts";
import { foldName } from "./_names.ts";
import { type CommandContext, defaultCommands, parseCommandLine, roleAtLeast } from "./commands.ts";
import { type HistoryStore, MemoryHistory } from "./history.ts";
import { type BanRecord, boundReason, describeBan, MAX_LISTED_BANS } from "./bans.ts";
import { BOT_NAME, type Joke, JokeDesk, type JokeTeller } from "./jokes.ts";
import type {
  CloseReason,
  DirectMessage,
  Member,
  NoticeEvent,
  PresenceEvent,
  Role,
  RoomMessage,
} from "./message.ts";
import { accountKeyOf } from "./message.ts";
import { LOBBY, parseRoomName, Room } from "./room.ts";
import { TokenBucket, type TokenBucketOptions } from "./rate_limit.ts";

/** Most lines of one joke that get posted. */
const MAX_JOKE_LINES = 4;
/** Longest joke-service problem text shown to the requester. */
const MAX_PROBLEM_LENGTH = 200;
const DAY_MS = 86_400_000;
/**
 * Accounts whose rate state the hub keeps by default. An account's bucket
 * outlives its sessions (logging in again does not refill it) until it is
 * full again; at the limit, full buckets of accounts not online are dropped
 * first, then the oldest of accounts not online.
 */
export const DEFAULT_MAX_RATE_ENTRIES = 10_000;

/** Options for {@linkcode Hub}. */
export interface HubOptions {
  /** Timestamps, rate limits, cooldowns and retention all use it. */
  clock: TimeSource;
  /**
   * Where messages, DMs, bans and the message id are kept. The hub never
   * closes it. @default a fresh {@linkcode MemoryHistory}
   */
  history?: HistoryStore;
  /** Messages of history sent on entering a room. @default 50 */
  historyLimit?: number;
  /** Longest message, in characters (code points). @default 4096 */
  maxMessageLength?: number;
  /**
   * Per-account token bucket for typed lines, kept across sessions
   * (`end`/`/quit` always pass; the
   * operator is not limited). @default {burst: 10, perSecond: 2}
   */
  rate?: TokenBucketOptions;
  /** Accounts whose rate state is kept. @default {DEFAULT_MAX_RATE_ENTRIES} */
  maxRateEntries?: number;
  /** Where jokes come from. Without it, jokes are "not configured". */
  joke?: JokeTeller;
  /** Time between two jokes asked by the same user. @default 10000 */
  jokeCooldownMs?: number;
  /**
   * Days of history kept; told to members and used by {@linkcode Hub.prune}.
   * @default 30
   */
  retentionDays?: number;
  /** Called when an admin or the operator types `/shutdown`. */
  onShutdown?: (by: string) => void;
  /**
   * The role of an account that may be offline, so that `/ban` of an offline
   * admin follows the same rules as for an online one. Names are compared
   * ignoring case, as bans are: `roleOf("ALICE")` is alice's role (the
   * highest of several matches). When given, `/ban` of a name it does not
   * know (and that is not online) is refused unless it is `/ban --pre`.
   * @default none known (any name may be banned)
   */
  roleOf?: (name: string) => Role | undefined;
  /** Told of every kick, ban and unban (for the audit log). */
  onModeration?: (event: ModerationEvent) => void;
}

/** A change to an account, for {@linkcode Hub.updateAccount}. */
export type AccountUpdate =
  | { readonly account: string; readonly change: "removed" | "password" }
  | { readonly account: string; readonly change: "role"; readonly role: "user" | "admin" };

/** A moderation action, reported through {@linkcode HubOptions.onModeration}. */
export interface ModerationEvent {
  readonly action: "kick" | "ban" | "unban";
  /** Who acted. */
  readonly by: string;
  /** Whom it was done to, as typed: untrusted when `refused`. */
  readonly target: string;
  /** The target was not a valid user name, so nothing was done. */
  readonly refused?: true;
}

/** Thrown by {@linkcode Hub.enter} when the name is banned. */
export class BannedError extends Error {
  /** The banned name. */
  readonly user: string;

  /**
   * @param user The banned name.
   * @param options Standard error options.
   */
  constructor(user: string, options?: ErrorOptions) {
    super(`Cannot enter: ${user} is banned`, options);
    this.name = "BannedError";
    this.user = user;
  }
}

/**
 * Thrown by {@linkcode Hub.enter} when the name is reserved (`RESERVED_USER_NAMES`
 * in lib/auth/user_name.ts, look-alikes included) and the newcomer is not
 * the operator, when it belongs to the joke bot, or
 * to the operator and the newcomer is not the operator.
 */
export class NameTakenError extends Error {
  /** The name asked for. */
  readonly user: string;

  /**
   * @param user The name asked for.
   * @param options Standard error options.
   */
  constructor(user: string, options?: ErrorOptions) {
    super(`Cannot enter: the name ${user} is taken`, options);
    this.name = "NameTakenError";
    this.user = user;
  }
}

/**
 * A member's handle on the hub, from {@linkcode Hub.enter}. After the member
 * leaves or is closed by the hub, every method is a no-op.
 *
 * `Member.deliver` and `Member.close` must not call back into the hub
 * synchronously (e.g. `leave` on queue overflow): do it from a later task,
 * so every receiver sees events in the same order.
 */
export interface Presence {
  /** The member's name. */
  readonly name: string;
  /** The member's room; `undefined` once gone. */
  readonly room: string | undefined;
  /** `false` once the member left or was closed. */
  readonly active: boolean;
  /** Handle one line the user typed. Never throws. */
  input(text: string): void;
  /** The connection went away; others see `leave`. @default "disconnected" */
  leave(reason?: string): void;
}

/** A member as listed by {@linkcode Hub.members}. */
export interface MemberInfo {
  readonly name: string;
  readonly role: Role;
  readonly room: string;
}

interface Seat {
  readonly member: Member;
  readonly key: string;
  /** {@linkcode accountKeyOf} the member. */
  readonly account: string;
  /** What the member may do now: starts as `member.role`, follows
   * {@linkcode Hub.updateAccount}. */
  role: Role;
  readonly bucket: TokenBucket;
  room: Room | undefined;
  active: boolean;
  /** A "slow down" notice was sent and no line has passed since. */
  throttled: boolean;
}

/**
 * The chat hub.
 *
 * A second `enter` with a name already online (case-insensitive) replaces
 * the old session: the old member is closed with code `replaced` and leaves
 * its room, then the new one enters the lobby. The operator's name cannot
 * be taken over by a non-operator ({@linkcode NameTakenError}).
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { Hub } from "./hub.ts";
 * import type { ChatEvent } from "./message.ts";
 *
 * const seen: ChatEvent[] = [];
 * const hub = new Hub({ clock: { now: () => 0 } });
 * const ann = hub.enter({
 *   name: "ann", role: "user", deliver: (e) => seen.push(e), close: () => {},
 * });
 * ann.input("hello");
 * deepEqual(seen.map((e) => e.kind), ["room", "message"]);
 * ```
 */
export class Hub {
  #clock: TimeSource;
  #history: HistoryStore;
  #historyLimit: number;
  #maxMessageLength: number;
  #rate: TokenBucketOptions;
  #maxRateEntries: number;
  /** Rate state per account, kept across sessions. */
  #buckets = new Map<string, TokenBucket>();
  #retentionDays: number;
  #onShutdown: ((by: string) => void) | undefined;
  #roleOf: (name: string) => Role | undefined;
  /** Whether {@linkcode HubOptions.roleOf} was given: unknown names are no accounts. */
  #knowsAccounts: boolean;
  #onModeration: (event: ModerationEvent) => void;
  #commands = defaultCommands();
  #jokes: JokeDesk;
  #rooms = new Map<string, Room>();
  #seats = new Map<string, Seat>();
  #nextId: number;
  #closed = false;

  /**
   * @param options TimeSource, storage, limits and hooks.
   * @throws {RangeError} When a limit is out of range.
   */
  constructor(options: HubOptions) {
    this.#clock = options.clock;
    this.#history = options.history ?? new MemoryHistory();
    this.#historyLimit = count("historyLimit", options.historyLimit ?? 50, 0);
    this.#maxMessageLength = count(
      "maxMessageLength",
      options.maxMessageLength ?? 4096,
      1,
    );
    this.#retentionDays = count(
      "retentionDays",
      options.retentionDays ?? 30,
      0,
    );
    this.#rate = options.rate ?? {};
    this.#maxRateEntries = count(
      "maxRateEntries",
      options.maxRateEntries ?? DEFAULT_MAX_RATE_ENTRIES,
      1,
    );
    new TokenBucket(this.#clock, this.#rate); // validates the rate now
    this.#onShutdown = options.onShutdown;
    this.#roleOf = options.roleOf ?? (() => undefined);
    this.#knowsAccounts = options.roleOf !== undefined;
    this.#onModeration = options.onModeration ?? (() => {});
    this.#jokes = new JokeDesk(options.joke, {
      clock: this.#clock,
      cooldownMs: options.jokeCooldownMs ?? 10_000,
    });
    this.#nextId = this.#history.nextId();
    this.#rooms.set(LOBBY, new Room(LOBBY));
  }

  /**
   * Let a member in: it joins the lobby and gets a `room` event (members,
   * recent history, retention); the others there get `join`.
   *
   * @param member The member; its name must be non-empty, without spaces.
   * @returns The member's handle for input and leaving.
   * @throws {BannedError} When the name is banned (the operator never is).
   * @throws {NameTakenError} When the name is the bot's or the operator's.
   * @throws {TypeError} When the name is empty or has whitespace.
   * @throws {Error} When the hub has shut down.
   */
  enter(member: Member): Presence {
    if (this.#closed) throw new Error("Cannot enter: hub is shut down");
    if (member.name === "" || /\s/.test(member.name)) {
      throw new TypeError(`Cannot enter: bad name "${member.name}"`);
    }
    const key = foldName(member.name);
    if (key === foldName(BOT_NAME)) throw new NameTakenError(member.name);
    // The server's own speakers: no account may pass for one, online or not.
    if (member.role !== "operator" && isReservedUserName(member.name)) {
      throw new NameTakenError(member.name);
    }
    if (member.role !== "operator" && this.#history.isBanned(member.name)) {
      throw new BannedError(member.name);
    }
    const old = this.#seats.get(key);
    if (old !== undefined) {
      if (old.role === "operator" && member.role !== "operator") {
        throw new NameTakenError(member.name);
      }
      this.#close(old, {
        code: "replaced",
        message: "Signed in from another connection",
      }, "signed in again");
    }
    const account = accountKeyOf(member);
    const seat: Seat = {
      member,
      key,
      account,
      role: member.role,
      bucket: this.#bucketOf(account),
      room: undefined,
      active: true,
      throttled: false,
    };
    this.#seats.set(key, seat);
    this.#place(seat, this.#rooms.get(LOBBY)!);
    // Private messages are kept for their two users: show the recent ones.
    for (const dm of this.#history.recentDirect(account, this.#historyLimit)) {
      member.deliver(dm);
    }
    return {
      name: member.name,
      get room() {
        return seat.room?.name;
      },
      get active() {
        return seat.active;
      },
      input: (text) => this.#input(seat, text),
      leave: (reason = "disconnected") => {
        if (seat.active) this.#remove(seat, reason);
      },
    };
  }

  /** Everyone online, with role and room. */
  members(): MemberInfo[] {
    const list: MemberInfo[] = [];
    for (const seat of this.#seats.values()) {
      list.push({ name: seat.member.name, role: seat.role, room: seat.room?.name ?? LOBBY });
    }
    return list;
  }

  /**
   * Make live sessions follow a change to their account at once: a removed
   * account or a changed password ends them (code `denied`), a new role
   * applies to the next line they type. The operator is never affected.
   *
   * @param update Which account and what changed.
   * @returns How many sessions were ended or changed.
   */
  updateAccount(update: AccountUpdate): number {
    const seats = [...this.#seats.values()].filter((seat) =>
      seat.account === update.account && seat.role !== "operator"
    );
    let affected = 0;
    for (const seat of seats) {
      if (update.change === "role") {
        if (seat.role === update.role) continue;
        seat.role = update.role;
        this.#notice(seat, `Your role is now ${update.role}`, "warn");
      } else {
        const removed = update.change === "removed";
        this.#close(seat, {
          code: "denied",
          message: removed ? "Your account was removed" : "Your password was changed: log in again",
        }, removed ? "account removed" : "password changed");
      }
      affected++;
    }
    return affected;
  }

  /** Whether `name` is banned (case-insensitive). */
  isBanned(name: string): boolean {
    return this.#history.isBanned(name);
  }

  /** The ban of `name` (case-insensitive): who, when, why; `undefined` when
   * not banned. */
  banOf(name: string): BanRecord | undefined {
    return this.#history.banOf(name);
  }

  /**
   * Delete history older than `retentionDays`. The hub runs no timers: the
   * server calls this on an interval.
   *
   * @returns How many messages were deleted.
   */
  prune(): number {
    const cutoff = this.#clock.now() - this.#retentionDays * DAY_MS;
    return this.#history.prune(cutoff);
  }

  /**
   * Close every member with code `shutdown` and abort jokes in flight. No
   * `leave` events are sent. Later `enter` calls throw. Idempotent.
   *
   * @param message Told to every member.
   */
  shutdown(message: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#jokes.abortAll();
    const seats = [...this.#seats.values()];
    this.#seats.clear();
    this.#rooms.clear();
    for (const seat of seats) {
      seat.active = false;
      seat.room = undefined;
    }
    const reason: CloseReason = { code: "shutdown", message };
    for (const seat of seats) seat.member.close(reason);
  }

  /** Resolves when every joke request started so far has settled. */
  settled(): Promise<void> {
    return this.#jokes.settled();
  }

  #input(seat: Seat, text: string): void {
    if (!seat.active) return;
    const line = text.trim();
    if (line === "") return;
    const isCommand = line.startsWith("/");
    if (
      line === "end" || (isCommand && parseCommandLine(line).name === "quit")
    ) {
      this.#quit(seat);
      return;
    }
    if (seat.role !== "operator" && !this.#admit(seat)) return;
    try {
      const length = codePointLength(text, this.#maxMessageLength);
      if (length > this.#maxMessageLength) {
        throw new RangeError(
          `Cannot send: message is ${length} characters, the limit is ${this.#maxMessageLength}`,
        );
      }
      if (CONTROL_CHARACTERS.test(text)) {
        throw new RangeError(
          "Cannot send: message contains control characters (only tab is allowed)",
        );
      }
      if (line === "get_joke") this.#joke(seat);
      else if (isCommand) this.#commands.run(this.#context(seat), line);
      else this.#say(seat, text, false);
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      this.#notice(seat, text, "error");
    }
  }

  /** Spend a rate token, or warn once per throttled streak. */
  #admit(seat: Seat): boolean {
    if (seat.bucket.take()) {
      seat.throttled = false;
      return true;
    }
    if (!seat.throttled) {
      seat.throttled = true;
      const seconds = Math.ceil(seat.bucket.waitMs() / 1000);
      this.#notice(
        seat,
        `Slow down: wait ${seconds} s — messages are dropped until then`,
        "warn",
      );
    }
    return false;
  }

  #context(seat: Seat): CommandContext {
    const room = seat.room!;
    return {
      caller: { name: seat.member.name, role: seat.role },
      room: room.name,
      reply: (text, level = "info") => this.#notice(seat, text, level),
      who: () => room.names(),
      rooms: () =>
        [...this.#rooms.values()]
          .filter((r) => r.size > 0)
          .map((r) => ({ name: r.name, count: r.size }))
          .sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
      join: (name) => this.#join(seat, name),
      say: (text, options) => this.#say(seat, text, options?.action ?? false),
      direct: (to, text) => this.#direct(seat, to, text),
      quit: () => this.#quit(seat),
      joke: () => this.#joke(seat),
      kick: (user, reason) => this.#kick(seat, user, reason),
      ban: (user, reason, options) => this.#ban(seat, user, reason, options?.pre ?? false),
      bans: () => this.#history.bans(MAX_LISTED_BANS),
      unban: (user) => {
        this.#checkTarget(seat, "unban", user);
        const lifted = this.#history.unban(user);
        if (lifted) this.#onModeration({ action: "unban", by: seat.member.name, target: user });
        return lifted;
      },
      broadcast: (text) => this.#broadcast(seat, text),
      shutdown: () => {
        if (this.#onShutdown === undefined) {
          throw new Error("Cannot shut down: not enabled on this server");
        }
        this.#notice(seat, "Shutting down");
        this.#onShutdown(seat.member.name);
      },
    };
  }

  #say(seat: Seat, text: string, action: boolean): void {
    const room = seat.room!;
    this.#post(room.name, seat.member.name, text, action ? { action } : {});
  }

  /** Store one room message, then deliver it to the room if it exists. */
  #post(
    room: string,
    from: string,
    text: string,
    flags: { action?: boolean; bot?: boolean },
  ): void {
    const message: RoomMessage = {
      kind: "message",
      id: this.#nextId,
      room,
      from,
      text,
      ts: this.#clock.now(),
      ...flags,
    };
    this.#history.append(message);
    this.#nextId++;
    this.#rooms.get(room)?.broadcast(message);
  }

  #direct(seat: Seat, to: string, text: string): void {
    const problem = validateUserName(to);
    if (problem !== undefined) throw new Error(`Cannot send: not a user name (${problem})`);
    const target = this.#seats.get(foldName(to));
    if (target === undefined) {
      throw new Error(`Cannot send: ${to} is not online`);
    }
    const dm: DirectMessage = {
      kind: "dm",
      id: this.#nextId,
      from: seat.member.name,
      to: target.member.name,
      text,
      ts: this.#clock.now(),
    };
    this.#history.append(dm, { from: seat.account, to: target.account });
    this.#nextId++;
    target.member.deliver(dm);
    if (target !== seat) seat.member.deliver(dm);
  }

  #join(seat: Seat, input: string): void {
    const name = parseRoomName(input);
    if (seat.room?.name === name) {
      this.#notice(seat, `You are already in #${name}`);
      return;
    }
    this.#detach(seat, undefined);
    let room = this.#rooms.get(name);
    if (room === undefined) {
      room = new Room(name);
      this.#rooms.set(name, room);
    }
    this.#place(seat, room);
  }

  #quit(seat: Seat): void {
    const name = seat.member.name;
    this.#close(seat, { code: "end", message: `Goodbye, ${name}` }, "quit");
  }

  /** Find an online member that `actor` may kick or ban. */
  #target(actor: Seat, user: string, action: string): Seat | undefined {
    const target = this.#seats.get(foldName(user));
    if (target === undefined) return undefined;
    if (target === actor) throw new Error(`Cannot ${action} yourself`);
    const ok = actor.role === "operator" || !roleAtLeast(target.role, actor.role);
    if (!ok) {
      throw new Error(`Cannot ${action} ${target.member.name}: not allowed`);
    }
    return target;
  }

  /**
   * Refuse a moderation target that is not a valid user name; the refusal
   * is reported (the audit log escapes the target) and never echoed.
   */
  #checkTarget(actor: Seat, action: ModerationEvent["action"], user: string): void {
    const problem = validateUserName(user);
    if (problem === undefined) return;
    this.#onModeration({ action, by: actor.member.name, target: user, refused: true });
    throw new Error(`Cannot ${action}: not a user name (${problem})`);
  }

  #kick(actor: Seat, user: string, reason: string): void {
    this.#checkTarget(actor, "kick", user);
    const target = this.#target(actor, user, "kick");
    if (target === undefined) {
      throw new Error(`Cannot kick ${user}: not online`);
    }
    const by = actor.member.name;
    this.#onModeration({ action: "kick", by, target: target.member.name });
    this.#close(target, {
      code: "kicked",
      message: reason ? `Kicked by ${by}: ${reason}` : `Kicked by ${by}`,
    }, reason ? `kicked: ${reason}` : "kicked");
  }

  #ban(actor: Seat, user: string, typed: string, pre: boolean): void {
    this.#checkTarget(actor, "ban", user);
    const earlier = this.#history.banOf(user);
    if (earlier !== undefined) {
      throw new Error(`Cannot ban ${user}: already banned ${describeBan(earlier)}`);
    }
    const target = this.#target(actor, user, "ban");
    if (target === undefined) {
      // Offline: moderation rules still apply to the account's role.
      const role = this.#roleOf(user);
      if (role === undefined && this.#knowsAccounts && !pre) {
        throw new Error(
          `Cannot ban ${user}: no such user (to ban the name before it exists: /ban --pre ${user} [reason])`,
        );
      }
      if (
        role !== undefined && actor.role !== "operator" &&
        roleAtLeast(role, actor.role)
      ) {
        throw new Error(`Cannot ban ${user}: not allowed`);
      }
    }
    const by = actor.member.name;
    const reason = boundReason(typed);
    this.#history.ban(user, this.#clock.now(), { by, reason });
    this.#onModeration({ action: "ban", by, target: target?.member.name ?? user });
    if (target === undefined) return;
    this.#close(target, {
      code: "banned",
      message: reason ? `Banned by ${by}: ${reason}` : `Banned by ${by}`,
    }, reason ? `banned: ${reason}` : "banned");
  }

  #broadcast(actor: Seat, text: string): void {
    const notice: NoticeEvent = {
      kind: "notice",
      level: "warn",
      text: `Broadcast from ${actor.member.name}: ${text}`,
      ts: this.#clock.now(),
    };
    for (const seat of this.#seats.values()) seat.member.deliver(notice);
  }

  #joke(seat: Seat): void {
    const room = seat.room!.name;
    const user = seat.member.name;
    const refusal = this.#jokes.request(
      user,
      (joke) => this.#tellJoke(room, user, joke),
      (error) => {
        const why = error instanceof Error ? error.message : String(error);
        this.#noticeTo(user, `Cannot tell a joke: ${why}`, "error");
      },
    );
    if (refusal !== undefined) this.#notice(seat, refusal, "warn");
  }

  /** Post a joke to the room it was asked in, one message per line. */
  #tellJoke(room: string, user: string, joke: Joke): void {
    if (this.#closed) return;
    const lines = joke.lines
      .map((line) => line.trim().slice(0, this.#maxMessageLength))
      .filter((line) => line !== "")
      .slice(0, MAX_JOKE_LINES);
    if (lines.length === 0) {
      this.#noticeTo(user, "JokeBot has nothing to say right now", "warn");
      return;
    }
    if (joke.source === "offline") {
      lines[0] = `(offline joke) ${lines[0]}`;
      if (joke.problem !== undefined) {
        const problem = joke.problem.slice(0, MAX_PROBLEM_LENGTH);
        this.#noticeTo(user, `Joke service unavailable (${problem})`, "info");
      }
    }
    for (const line of lines) this.#post(room, BOT_NAME, line, { bot: true });
  }

  #place(seat: Seat, room: Room): void {
    room.add(seat.member);
    seat.room = room;
    seat.member.deliver({
      kind: "room",
      room: room.name,
      members: room.names(),
      history: this.#history.recent(room.name, this.#historyLimit),
      retentionDays: this.#retentionDays,
    });
    const join: PresenceEvent = {
      kind: "join",
      room: room.name,
      user: seat.member.name,
      ts: this.#clock.now(),
    };
    room.broadcast(join, seat.member);
  }

  /** Take a seat out of its room; the rest of the room sees `leave`. */
  #detach(seat: Seat, reason: string | undefined): void {
    const room = seat.room;
    if (room === undefined) return;
    room.delete(seat.member);
    seat.room = undefined;
    if (room.size === 0 && room.name !== LOBBY) this.#rooms.delete(room.name);
    const leave: PresenceEvent = {
      kind: "leave",
      room: room.name,
      user: seat.member.name,
      ts: this.#clock.now(),
      ...(reason === undefined ? {} : { reason }),
    };
    room.broadcast(leave);
  }

  #remove(seat: Seat, reason: string): void {
    seat.active = false;
    if (this.#seats.get(seat.key) === seat) this.#seats.delete(seat.key);
    if (seat.bucket.full) this.#buckets.delete(seat.account);
    this.#detach(seat, reason);
  }

  /** The account's bucket, kept from its earlier sessions if not full. */
  #bucketOf(account: string): TokenBucket {
    let bucket = this.#buckets.get(account);
    if (bucket !== undefined) return bucket;
    if (this.#buckets.size >= this.#maxRateEntries) this.#evictBuckets();
    bucket = new TokenBucket(this.#clock, this.#rate);
    this.#buckets.set(account, bucket);
    return bucket;
  }

  /** Make room: drop full buckets of accounts not online, else the oldest. */
  #evictBuckets(): void {
    const online = new Set([...this.#seats.values()].map((seat) => seat.account));
    let oldest: string | undefined;
    for (const [account, bucket] of this.#buckets) {
      if (online.has(account)) continue;
      if (bucket.full) this.#buckets.delete(account);
      else oldest ??= account;
    }
    if (this.#buckets.size >= this.#maxRateEntries && oldest !== undefined) {
      this.#buckets.delete(oldest);
    }
  }

  /** Remove a seat, then ask its connection to close. */
  #close(seat: Seat, close: CloseReason, leaveReason: string): void {
    this.#remove(seat, leaveReason);
    seat.member.close(close);
  }

  #notice(seat: Seat, text: string, level: NoticeEvent["level"] = "info") {
    if (!seat.active) return;
    seat.member.deliver({ kind: "notice", level, text, ts: this.#clock.now() });
  }

  #noticeTo(user: string, text: string, level: NoticeEvent["level"]): void {
    const seat = this.#seats.get(foldName(user));
    if (seat !== undefined) this.#notice(seat, text, level);
  }
}

/**
 * C0 (but tab), DEL and C1 controls, and lone surrogates: nothing a person
 * types, and what terminal, log and storage attacks are made of.
 */
const CONTROL_CHARACTERS =
  // deno-lint-ignore no-control-regex -- matching controls is the point
  /[\x00-\x08\x0a-\x1f\x7f-\x9f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Count code points; only walks the string when it could be over `max`. */
function codePointLength(text: string, max: number): number {
  // UTF-16 length is never below the code point count.
  if (text.length <= max) return text.length;
  let n = 0;
  for (const _ of text) n++;
  return n;
}

function count(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`Cannot create hub: ${name} is ${value}`);
  }
  return value;
}
