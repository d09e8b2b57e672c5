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
import { type BanRecord, boundReason, describeBan, MAX_LISTED_BANS } from "./bans.ts";
import { type CommandContext, defaultCommands, listingText, parseCommandLine } from "./commands.ts";
import type { HistoryStore } from "./history.ts";
import { MemoryHistory } from "./memory_history.ts";
import { BOT_NAME, type Joke, JokeDesk } from "./jokes.ts";
import type {
  ChatEvent,
  CloseReason,
  DirectMessage,
  HistoryEvent,
  ListingEvent,
  Member,
  NoticeEvent,
  OnlineEvent,
  PresenceEvent,
  Role,
  RoomMessage,
} from "./message.ts";
import { accountKeyOf } from "./message.ts";
import { mentionsOf } from "./mentions.ts";
import { checkMessageText, CONTROL_CHARACTERS, MAX_MESSAGE_LINES } from "./message_text.ts";
import type { ChatRequest, Outcome } from "./request.ts";
import type { MessageRelay, RelayedMessage } from "./message_relay.ts";
import { LOBBY, parseRoomName, Room } from "./room.ts";
import { TokenBucket, type TokenBucketOptions } from "./rate_limit.ts";
import { RoomQuota, ROOMS_CREATED_PER_HOUR } from "./room_quota.ts";
import { BannedError, NameTakenError } from "./hub_errors.ts";
import { RateStates } from "./_rate_states.ts";
import { oneLine } from "./_one_line.ts";
import { conversationEntries, type Reader, roomEntered } from "./_replay.ts";
import { roomsListing, whoEntries } from "./_listings.ts";
import type { Account, Seat } from "./_seat.ts";
import { jokeLines, jokeProblem } from "./_joke_lines.ts";
import {
  checkOfflineBan,
  checkOnlineTarget,
  checkTargetName,
  sanctionClose,
} from "./_moderation.ts";
import {
  type AccountUpdate,
  type ChatLimits,
  DEFAULT_MAX_RATE_ENTRIES,
  DEFAULT_MAX_ROOMS,
  DEFAULT_MAX_SESSIONS_PER_USER,
  type HubOptions,
  MAX_AWAY_LENGTH,
  MAX_ROOMS_PER_ACCOUNT,
  MAX_TOPIC_LENGTH,
  type MemberInfo,
  type ModerationEvent,
  type Presence,
} from "./hub_options.ts";

export { BannedError, NameTakenError } from "./hub_errors.ts";
export {
  DEFAULT_MAX_RATE_ENTRIES,
  DEFAULT_MAX_ROOMS,
  DEFAULT_MAX_SESSIONS_PER_USER,
  MAX_AWAY_LENGTH,
  MAX_CONVERSATIONS,
  MAX_LISTED_ROOMS,
  MAX_ROOMS_PER_ACCOUNT,
  MAX_TOPIC_LENGTH,
  UNREAD_CAP,
} from "./hub_options.ts";
export type {
  AccountUpdate,
  ChatLimits,
  HubOptions,
  MemberInfo,
  ModerationEvent,
  Presence,
} from "./hub_options.ts";

const DAY_MS = 86_400_000;

/**
 * The chat hub: online accounts, each with up to `maxSessionsPerUser`
 * sessions, the rooms they are members of, and what a request does.
 *
 * An account is a member of any number of rooms (stored, restored at every
 * login); it is online while any session is. A session either sees all its
 * account's rooms (`Member.view` `"all"`) or only its current room (the
 * default, what the protocol's version 1 can show). Past the session limit
 * the oldest session is closed (`too_many_sessions`). The operator's name
 * cannot be taken by a non-operator ({@linkcode NameTakenError}).
 *
 * Posting a message is: store (gets the id), then deliver to every session
 * that sees the room; the two steps stay apart so the store can move.
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
  #maxSessions: number;
  #maxRooms: number;
  #roomQuota: RoomQuota;
  /** Rate state per account, kept across sessions. */
  #rateStates: RateStates;
  #retentionDays: number;
  #onShutdown: ((by: string) => void) | undefined;
  #roleOf: (name: string) => Role | undefined;
  /** Whether {@linkcode HubOptions.roleOf} was given: unknown names are no accounts. */
  #knowsAccounts: boolean;
  #accountOf: NonNullable<HubOptions["accountOf"]>;
  #onModeration: (event: ModerationEvent) => void;
  #commands = defaultCommands();
  #jokes: JokeDesk;
  /** Rooms with receivers. */
  #rooms = new Map<string, Room>();
  /** Online accounts by key, and by folded name. */
  #accounts = new Map<string, Account>();
  #byName = new Map<string, Account>();
  #nextId: number;
  #closed = false;
  /** Cluster mode: where messages are stored and numbered; see `message_relay.ts`. */
  #relay: MessageRelay | undefined;
  #onOnlineChange: () => void;
  /** Why nothing can be posted now (the cluster link is lost), as refused senders are told. */
  #unavailable: string | undefined;

  /**
   * @param options TimeSource, storage, limits and hooks.
   * @throws {RangeError} When a limit is out of range.
   */
  constructor(options: HubOptions) {
    this.#clock = options.clock;
    this.#history = options.history ?? new MemoryHistory();
    this.#relay = options.relay;
    this.#onOnlineChange = options.onOnlineChange ?? (() => {});
    this.#historyLimit = count("historyLimit", options.historyLimit ?? 50, 0);
    this.#maxMessageLength = count("maxMessageLength", options.maxMessageLength ?? 4096, 1);
    this.#retentionDays = count("retentionDays", options.retentionDays ?? 30, 0);
    this.#maxSessions = count(
      "maxSessionsPerUser",
      options.maxSessionsPerUser ?? DEFAULT_MAX_SESSIONS_PER_USER,
      1,
    );
    this.#maxRooms = count("maxRooms", options.maxRooms ?? DEFAULT_MAX_ROOMS, 1);
    this.#roomQuota = new RoomQuota(this.#clock, {
      perHour: count(
        "roomsCreatedPerHour",
        options.roomsCreatedPerHour ?? ROOMS_CREATED_PER_HOUR,
        1,
      ),
    });
    this.#rate = options.rate ?? {};
    this.#rateStates = new RateStates(this.#clock, {
      rate: this.#rate,
      maxEntries: count(
        "maxRateEntries",
        options.maxRateEntries ?? DEFAULT_MAX_RATE_ENTRIES,
        1,
      ),
    });
    new TokenBucket(this.#clock, this.#rate); // validates the rate now
    this.#onShutdown = options.onShutdown;
    this.#roleOf = options.roleOf ?? (() => undefined);
    this.#knowsAccounts = options.roleOf !== undefined;
    this.#accountOf = options.accountOf ?? (() => undefined);
    this.#onModeration = options.onModeration ?? (() => {});
    this.#jokes = new JokeDesk(options.joke, {
      clock: this.#clock,
      cooldownMs: options.jokeCooldownMs ?? 10_000,
    });
    this.#nextId = this.#history.nextId();
    this.#history.ensureRoom(LOBBY, this.#clock.now());
    this.#deleteEmptyRooms();
  }

  /** What clients need to know of the hub's limits. */
  get limits(): ChatLimits {
    const bucket = new TokenBucket(this.#clock, this.#rate);
    return {
      messageChars: this.#maxMessageLength,
      messageLines: MAX_MESSAGE_LINES,
      rate: { burst: bucket.burst, perSecond: bucket.perSecond },
      historyLimit: this.#historyLimit,
      maxSessions: this.#maxSessions,
      retentionDays: this.#retentionDays,
    };
  }

  /**
   * Let a member in. Its account's rooms are restored (a new account joins
   * the lobby); a one-room member gets a `room` event for its current room
   * and its recent DMs, an all-rooms member a `room` event per room (history
   * newer than `Member.resume`, unread counts), then `conversations` and
   * `ready`. Others see `join` where the name was not present, and
   * `presence` when the account was offline.
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
    const nameKey = foldName(member.name);
    if (nameKey === foldName(BOT_NAME)) throw new NameTakenError(member.name);
    // The server's own speakers: no account may pass for one, online or not.
    if (member.role !== "operator" && isReservedUserName(member.name)) {
      throw new NameTakenError(member.name);
    }
    if (member.role !== "operator" && this.#history.isBanned(member.name)) {
      throw new BannedError(member.name);
    }
    const key = accountKeyOf(member);
    const holder = this.#byName.get(nameKey);
    if (holder?.role === "operator" && member.role !== "operator") {
      throw new NameTakenError(member.name);
    }
    if (holder !== undefined && holder.key !== key) {
      // Another account under the same name (one removed, one made since).
      for (const old of [...holder.seats]) {
        this.#close(
          old,
          { code: "replaced", message: "Signed in from another account" },
          "replaced",
        );
      }
    }
    const account = this.#accounts.get(key) ?? this.#openAccount(member, key, nameKey);
    while (account.seats.length >= this.#maxSessions) {
      this.#close(account.seats[0]!, {
        code: "too_many_sessions",
        message:
          `Signed in on more than ${this.#maxSessions} devices: this, the oldest session, was closed`,
      }, "too many sessions");
    }
    const wasOnline = account.seats.length > 0 && this.#accounts.has(key);
    this.#accounts.set(key, account);
    this.#byName.set(nameKey, account);
    const rooms = [...account.rooms].sort();
    const seat: Seat = {
      member,
      account,
      wide: member.view === "all",
      room: rooms.includes(LOBBY) ? LOBBY : rooms[0] ?? LOBBY,
      active: true,
      throttled: false,
      ref: undefined,
      failure: undefined,
    };
    account.seats.push(seat);
    if (seat.wide) {
      for (const room of rooms) this.#attach(seat, room);
      for (const room of rooms) this.#deliverRoom(seat, room);
    } else {
      this.#attach(seat, seat.room);
      this.#deliverRoom(seat, seat.room);
    }
    if (!wasOnline) {
      if (!this.#onlineElsewhere(key)) this.#announce(account, seat);
      this.#onOnlineChange();
    }
    if (seat.wide) {
      const conversations = conversationEntries(this.#history, readerOf(account));
      seat.member.deliver({ kind: "conversations", conversations });
      seat.member.deliver({ kind: "ready" });
    } else {
      // Private messages are kept for their two users: show the recent ones.
      for (const dm of this.#history.recentDirect(key, this.#historyLimit)) {
        seat.member.deliver(dm.text.includes("\n") ? oneLine(dm) : dm);
      }
    }
    return {
      name: member.name,
      get room() {
        return seat.active ? seat.room : undefined;
      },
      get active() {
        return seat.active;
      },
      input: (text) => this.#input(seat, text),
      request: (request) => this.#request(seat, request),
      leave: (reason = "disconnected") => {
        if (seat.active) this.#remove(seat, reason);
      },
    };
  }

  /** The accounts online here (not the operator), for the cluster's presence. */
  online(): { account: string; name: string }[] {
    return [...this.#accounts.values()].filter((a) => a.role !== "operator")
      .map((a) => ({ account: a.key, name: a.name }));
  }

  /** Everyone online, each account once, sorted by name. */
  members(): MemberInfo[] {
    return [...this.#accounts.values()]
      .map((a) => ({ name: a.name, role: a.role, room: a.seats[0]?.room ?? LOBBY }))
      .sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  }

  /**
   * Make live sessions follow a change to their account at once: a removed
   * account or a changed password ends them (code `denied`), a new role
   * applies to the next line they type. A removed account's memberships
   * and read markers are forgotten, online or not. The operator is never
   * affected.
   *
   * @param update Which account and what changed.
   * @returns How many sessions were ended or changed.
   */
  updateAccount(update: AccountUpdate): number {
    const account = this.#accounts.get(update.account);
    if (account?.role === "operator") return 0;
    if (account === undefined) {
      // Offline: nothing to end, but a removed account's rooms and read
      // markers are forgotten all the same.
      if (update.change === "removed") this.#history.forgetAccount(update.account);
      return 0;
    }
    const seats = [...account.seats];
    if (update.change === "role") {
      if (account.role === update.role) return 0;
      account.role = update.role;
      for (const seat of seats) this.#notice(seat, `Your role is now ${update.role}`, "warn");
      return seats.length;
    }
    const removed = update.change === "removed";
    for (const seat of seats) {
      this.#close(seat, {
        code: "denied",
        message: removed ? "Your account was removed" : "Your password was changed: log in again",
      }, removed ? "account removed" : "password changed");
    }
    // After the sessions left (their rooms saw them go): no membership or
    // read marker of the account is kept; a new account of the name
    // starts afresh.
    if (removed) this.#history.forgetAccount(update.account);
    return seats.length;
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
    const seats = [...this.#accounts.values()].flatMap((a) => a.seats);
    this.#accounts.clear();
    this.#byName.clear();
    this.#rooms.clear();
    for (const seat of seats) seat.active = false;
    const reason: CloseReason = { code: "shutdown", message };
    for (const seat of seats) seat.member.close(reason);
  }

  /** Resolves when every joke request started so far has settled. */
  settled(): Promise<void> {
    return this.#jokes.settled();
  }

  /**
   * Cluster mode: a message the relay's log holds, in the log's order. It is
   * kept in this hub's history (a local copy) and delivered to the members
   * online here, the sender's own sessions included.
   *
   * @param relayed The numbered message; a DM with its two accounts.
   */
  receive(relayed: RelayedMessage): void {
    const { message, accounts } = relayed;
    if (message.id < this.#nextId) return; // already here (a replayed tail)
    this.#nextId = message.id + 1;
    if (message.kind === "message") {
      this.#history.append(message);
      const narrow = message.text.includes("\n") ? oneLine(message) : message;
      this.#rooms.get(message.room)?.broadcast(message, narrow);
    } else if (accounts !== undefined) {
      this.#history.append(message, accounts);
      this.#deliverDirect(message, accounts);
    }
  }

  /**
   * Cluster mode: posting is not possible now or again (`undefined`). Every
   * session here is told of the change; while unavailable, requests that
   * change anything are refused with `state.refusal`.
   *
   * @param state What to tell users and refused senders, or `undefined` when it is back.
   * @param back What to tell when it is back.
   */
  setUnavailable(
    state: { readonly notice: string; readonly refusal: string } | undefined,
    back = "Cluster link back: you can send again",
  ): void {
    const was = this.#unavailable;
    this.#unavailable = state?.refusal;
    if ((was === undefined) === (state === undefined)) return; // no change to tell
    const text = state?.notice ?? back;
    for (const account of this.#accounts.values()) {
      for (const seat of account.seats) {
        this.#notice(seat, text, state === undefined ? "info" : "warn");
      }
    }
  }

  /**
   * Close every session of `user` here (case-insensitive), as another
   * instance's kick or ban asks; others here see them leave.
   *
   * @returns How many sessions were closed.
   */
  closeUser(user: string, close: CloseReason, leaveReason: string): number {
    const account = this.#byName.get(foldName(user));
    if (account === undefined || account.role === "operator") return 0;
    const seats = [...account.seats];
    for (const seat of seats) this.#close(seat, close, leaveReason);
    return seats.length;
  }

  /**
   * Cluster mode: another instance changed `account`'s rooms. Its sessions
   * here follow: rooms joined are shown, rooms left are left.
   *
   * @param account The account id.
   * @param rooms Its rooms now.
   */
  followMemberships(account: string, rooms: readonly string[]): void {
    const online = this.#accounts.get(account);
    if (online === undefined || this.#closed) return;
    const now = new Set(rooms);
    for (const room of [...online.rooms]) {
      if (now.has(room)) continue;
      online.rooms.delete(room);
      for (const seat of online.seats) {
        if (!seat.wide) continue;
        this.#detachFrom(seat, room, "parted");
        seat.member.deliver({ kind: "part", room, user: online.name, ts: this.#clock.now() });
        if (seat.room === room) seat.room = [...online.rooms].sort()[0] ?? LOBBY;
      }
    }
    for (const room of now) {
      if (online.rooms.has(room)) continue;
      online.rooms.add(room);
      for (const seat of online.seats) {
        if (!seat.wide) continue;
        this.#attach(seat, room);
        this.#deliverRoom(seat, room);
      }
    }
  }

  /**
   * Cluster mode: another instance moved `account`'s read marker. Its wide
   * sessions here are told, as for a read on another device.
   */
  followRead(account: string, conversation: string, lastRead: number): void {
    const online = this.#accounts.get(account);
    if (online === undefined) return;
    let event: ChatEvent;
    if (conversation.startsWith("#")) {
      event = { kind: "read", room: conversation.slice(1), lastRead };
    } else {
      const other = this.#accounts.get(conversation.slice(1))?.name;
      if (other === undefined) return;
      event = { kind: "read", with: other, lastRead };
    }
    for (const seat of online.seats) if (seat.wide) seat.member.deliver(event);
  }

  /**
   * Cluster mode: `account` came online or went offline on other instances.
   * Wide receivers here sharing a room with it are told, unless it is
   * online here (then this hub's own news stands).
   */
  followPresence(account: string, name: string, online: boolean): void {
    if (this.#accounts.has(account) || this.#closed) return;
    const event: OnlineEvent = { kind: "presence", user: name, online, ts: this.#clock.now() };
    const told = new Set<Member>();
    for (const room of this.#remoteRooms(account)) {
      for (const receiver of this.#rooms.get(room)?.wideReceivers() ?? []) {
        if (told.has(receiver)) continue;
        told.add(receiver);
        receiver.deliver(event);
      }
    }
  }

  /** Cluster mode: another instance set `room`'s topic; its receivers here see it. */
  followTopic(room: string, topic: string): void {
    const shown = this.#rooms.get(room);
    const ts = this.#clock.now();
    shown?.broadcast({ kind: "topic", room, text: topic, by: "", ts }, {
      kind: "notice",
      level: "info",
      text: topic === "" ? `The topic of #${room} was cleared` : `Topic of #${room}: ${topic}`,
      ts,
    });
  }

  /** The rooms of an account online elsewhere; a new account's membership may not have arrived yet: it starts in the lobby. */
  #remoteRooms(account: string): string[] {
    const rooms = this.#history.roomsOf(account);
    return rooms.length === 0 ? [LOBBY] : rooms;
  }

  #onlineElsewhere(account: string): boolean {
    return this.#relay?.remoteUsers().some((user) => user.account === account) ?? false;
  }

  /** The names present in `room`: here, and (cluster mode) members online elsewhere. */
  #roomNames(room: string): string[] {
    const here = this.#rooms.get(room)?.names() ?? [];
    if (this.#relay === undefined) return here;
    const seen = new Set(here.map(foldName));
    const names = [...here];
    for (const user of this.#relay.remoteUsers()) {
      const key = foldName(user.name);
      if (seen.has(key) || !this.#remoteRooms(user.account).includes(room)) continue;
      seen.add(key);
      names.push(user.name);
    }
    return names.length === here.length ? here : names.sort((a, b) => a < b ? -1 : a > b ? 1 : 0);
  }

  /** `/who`'s view of a name: online here, or (cluster mode) elsewhere. */
  #listed(name: string): { name: string; role: Role; away: string | undefined } | undefined {
    const here = this.#byName.get(foldName(name));
    if (here !== undefined || this.#relay === undefined) return here;
    const key = foldName(name);
    const remote = this.#relay.remoteUsers().find((user) => foldName(user.name) === key);
    if (remote === undefined) return undefined;
    return { name: remote.name, role: this.#roleOf(remote.name) ?? "user", away: remote.away };
  }

  /** A command's post or DM through the relay: a refusal is told to `seat`. */
  #told(seat: Seat, posted: number | Promise<number>): void {
    if (posted instanceof Promise) {
      void posted.catch((error) => this.#notice(seat, refusalText(error), "error"));
    }
  }

  #openAccount(member: Member, key: string, nameKey: string): Account {
    const rooms = new Set(this.#history.roomsOf(key));
    if (rooms.size === 0) {
      this.#history.addMember(key, LOBBY);
      rooms.add(LOBBY);
    }
    return {
      key,
      nameKey,
      name: member.name,
      role: member.role,
      seats: [],
      rooms,
      away: undefined,
      bucket: this.#rateStates.bucketOf(key, (account) => this.#accounts.has(account)),
      mentions: mentionsOf(member.name),
    };
  }

  /** A one-line typed text, as `say` without a room. */
  #input(seat: Seat, text: string): void {
    const outcome = this.#request(seat, { kind: "say", text });
    if (outcome.ok && outcome.pending !== undefined) {
      void outcome.pending.then((settled) => {
        if (!settled.ok) this.#notice(seat, settled.message, "error");
      });
      return;
    }
    if (outcome.ok) return;
    if (outcome.code === "rate_limited") {
      if (outcome.first) this.#notice(seat, outcome.message, "warn");
      return;
    }
    this.#notice(seat, outcome.message, "error");
  }

  #request(seat: Seat, request: ChatRequest): Outcome {
    if (!seat.active) return { ok: true };
    if (request.kind === "say") {
      const line = request.text.trim();
      if (line === "") return { ok: true };
      if (line === "end" || (line.startsWith("/") && parseCommandLine(line).name === "quit")) {
        this.#quit(seat);
        return { ok: true };
      }
    }
    if (seat.account.role !== "operator" && !seat.account.bucket.take()) {
      const first = !seat.throttled;
      seat.throttled = true;
      const waitMs = Math.ceil(seat.account.bucket.waitMs());
      return {
        ok: false,
        code: "rate_limited",
        message: `Slow down: wait ${Math.ceil(waitMs / 1000)} s — messages are dropped until then`,
        retryAfterMs: waitMs,
        first,
      };
    }
    seat.throttled = false;
    if (this.#unavailable !== undefined && changes(request)) {
      return { ok: false, code: "refused", message: this.#unavailable };
    }
    seat.ref = request.ref;
    seat.failure = undefined;
    try {
      const messageId = this.#handle(seat, request);
      if (seat.failure !== undefined) {
        return { ok: false, code: "refused", message: seat.failure };
      }
      if (messageId instanceof Promise) {
        const pending = messageId.then(
          (id): Outcome => ({ ok: true, messageId: id }),
          (error): Outcome => ({ ok: false, code: "refused", message: refusalText(error) }),
        );
        return { ok: true, pending };
      }
      return messageId === undefined ? { ok: true } : { ok: true, messageId };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return { ok: false, code: "refused", message };
    } finally {
      seat.ref = undefined;
      seat.failure = undefined;
    }
  }

  /** Do a request; throws a user-fit error when it cannot. @returns a posted message's id */
  #handle(seat: Seat, request: ChatRequest): number | Promise<number> | undefined {
    switch (request.kind) {
      case "say": {
        const room = request.room === undefined ? seat.room : this.#memberRoom(seat, request.room);
        const text = this.#checkText(seat, request.text);
        const line = text.trim();
        // `//text` is not a command: it posts `/text`.
        const escaped = line.startsWith("//");
        if (line.startsWith("/") && !escaped) {
          if (text.includes("\n")) {
            throw new RangeError("Cannot run a command: it must be one line");
          }
          seat.room = room;
          this.#commands.run(this.#context(seat), line);
          return undefined;
        }
        if (!seat.account.rooms.has(room)) {
          throw new Error("Cannot send: you are in no room (/join ROOM)");
        }
        seat.room = room;
        if (line === "get_joke") {
          this.#joke(seat);
          return undefined;
        }
        return this.#post(room, seat.account.name, escaped ? text.replace("/", "") : text, {});
      }
      case "dm":
        return this.#direct(seat, request.to, this.#checkText(seat, request.text));
      case "join":
        this.#join(seat, request.room);
        return undefined;
      case "part":
        this.#part(seat, request.room);
        return undefined;
      case "topic":
        this.#setTopic(seat, this.#memberRoom(seat, request.room), request.text);
        return undefined;
      case "away":
        this.#away(seat, request.text ?? "");
        return undefined;
      case "history":
        this.#page(seat, request);
        return undefined;
      case "read":
        this.#read(seat, request);
        return undefined;
    }
  }

  /** A message's text checked: a one-room member may not send newlines (its protocol has none). */
  #checkText(seat: Seat, raw: string): string {
    return checkMessageText(raw, { maxChars: this.#maxMessageLength, multiLine: seat.wide });
  }

  /** `input` as a room the seat's account is a member of. */
  #memberRoom(seat: Seat, input: string): string {
    const room = parseRoomName(input);
    if (!seat.account.rooms.has(room)) {
      throw new Error(`Cannot use #${room}: you are not in it (/join ${room})`);
    }
    return room;
  }

  #context(seat: Seat): CommandContext {
    const room = seat.room;
    return {
      caller: { name: seat.account.name, role: seat.account.role },
      room,
      reply: (text, level = "info") => this.#reply(seat, text, level),
      who: () => whoEntries(this.#roomNames(room), (name) => this.#listed(name)),
      rooms: () => roomsListing(this.#history.rooms()),
      show: (listing) => this.#show(seat, listing),
      join: (name) => this.#join(seat, name),
      part: (name) => this.#part(seat, name === "" ? room : name),
      topic: (text) => {
        if (text === undefined) {
          const topic = this.#history.room(room)?.topic ?? "";
          this.#reply(seat, topic === "" ? `#${room} has no topic` : `Topic of #${room}: ${topic}`);
        } else this.#setTopic(seat, this.#memberRoom(seat, room), text);
      },
      away: (text) => this.#away(seat, text),
      say: (text, options) => {
        this.#told(
          seat,
          this.#post(room, seat.account.name, text, options?.action ? { action: true } : {}),
        );
      },
      direct: (to, text) => {
        this.#told(seat, this.#direct(seat, to, text));
      },
      quit: () => this.#quit(seat),
      joke: () => this.#joke(seat),
      kick: (user, reason) => this.#kick(seat, user, reason),
      ban: (user, reason, options) => this.#ban(seat, user, reason, options?.pre ?? false),
      bans: () => this.#history.bans(MAX_LISTED_BANS),
      unban: (user) => {
        this.#checkTarget(seat, "unban", user);
        const lifted = this.#history.unban(user);
        if (lifted) this.#onModeration({ action: "unban", by: seat.account.name, target: user });
        return lifted;
      },
      broadcast: (text) => this.#broadcast(seat, text),
      shutdown: () => {
        if (this.#onShutdown === undefined) {
          throw new Error("Cannot shut down: not enabled on this server");
        }
        this.#notice(seat, "Shutting down");
        this.#onShutdown(seat.account.name);
      },
    };
  }

  /**
   * A command's reply. While a request with a ref is handled, a warning or
   * error is its refusal (returned, not told); anything else is a notice.
   */
  #reply(seat: Seat, text: string, level: NoticeEvent["level"] = "info"): void {
    if (seat.ref !== undefined && level !== "info") {
      seat.failure ??= text;
      return;
    }
    this.#notice(seat, text, level);
  }

  /** Rooms left with no members (by earlier versions, or removed accounts) go at start. */
  #deleteEmptyRooms(): void {
    for (const room of this.#history.rooms()) {
      if (room.members === 0 && room.name !== LOBBY) this.#history.deleteRoom(room.name);
    }
  }

  #show(seat: Seat, listing: ListingEvent): void {
    if (seat.wide) {
      seat.member.deliver(seat.ref === undefined ? listing : { ...listing, ref: seat.ref });
      return;
    }
    for (const line of listingText(listing)) this.#notice(seat, line);
  }

  /**
   * Store one room message, then deliver it to the room's receivers; with a
   * relay, hand it to the relay, which brings it back through `receive`.
   * @returns its id, or with a relay the promise of it
   */
  #post(
    room: string,
    from: string,
    text: string,
    flags: { action?: boolean; bot?: boolean },
  ): number | Promise<number> {
    const ts = this.#clock.now();
    if (this.#relay !== undefined) {
      return this.#relay.postRoom({ kind: "message", room, from, text, ts, ...flags })
        .then((stored) => stored.id);
    }
    const message: RoomMessage = {
      kind: "message",
      id: this.#nextId,
      room,
      from,
      text,
      ts,
      ...flags,
    };
    this.#history.append(message);
    this.#nextId++;
    const narrow = text.includes("\n") ? oneLine(message) : message;
    this.#rooms.get(room)?.broadcast(message, narrow);
    return message.id;
  }

  /** The account called `name`, online or (through `accountOf`) not. */
  #accountNamed(name: string): { name: string; account: string } | undefined {
    const online = this.#byName.get(foldName(name));
    if (online !== undefined) return { name: online.name, account: online.key };
    return this.#accountOf(name);
  }

  #direct(seat: Seat, to: string, text: string): number | Promise<number> {
    const problem = validateUserName(to);
    if (problem !== undefined) throw new Error(`Cannot send: not a user name (${problem})`);
    const target = this.#accountNamed(to);
    if (target === undefined) throw new Error(`Cannot send: ${to} is not online`);
    if (this.#relay !== undefined) {
      const ts = this.#clock.now();
      return this.#relay.postDirect(
        { kind: "dm", from: seat.account.name, to: target.name, text, ts },
        { from: seat.account.key, to: target.account },
      ).then((stored) => stored.id);
    }
    const dm: DirectMessage = {
      kind: "dm",
      id: this.#nextId,
      from: seat.account.name,
      to: target.name,
      text,
      ts: this.#clock.now(),
    };
    this.#history.append(dm, { from: seat.account.key, to: target.account });
    this.#nextId++;
    this.#deliverDirect(dm, { from: seat.account.key, to: target.account });
    return dm.id;
  }

  #deliverDirect(dm: DirectMessage, accounts: { from: string; to: string }): void {
    const narrow = dm.text.includes("\n") ? oneLine(dm) : dm;
    const receivers = new Set([
      ...(this.#accounts.get(accounts.to)?.seats ?? []),
      ...(this.#accounts.get(accounts.from)?.seats ?? []),
    ]);
    for (const receiver of receivers) receiver.member.deliver(receiver.wide ? dm : narrow);
  }

  #join(seat: Seat, input: string): void {
    const name = parseRoomName(input);
    const account = seat.account;
    if (!account.rooms.has(name)) {
      if (account.rooms.size >= MAX_ROOMS_PER_ACCOUNT) {
        throw new RangeError(
          `Cannot join #${name}: you are in ${MAX_ROOMS_PER_ACCOUNT} rooms, /part one first`,
        );
      }
      if (this.#history.room(name) === undefined) {
        if (this.#history.roomCount() >= this.#maxRooms) {
          throw new RangeError(`Cannot create #${name}: the server has ${this.#maxRooms} rooms`);
        }
        if (account.role !== "operator" && !this.#roomQuota.take(account.key)) {
          throw new RangeError(
            `Cannot create #${name}: you have created ${this.#roomQuota.perHour} rooms in the last hour, join an existing one or wait`,
          );
        }
      }
      this.#history.ensureRoom(name, this.#clock.now());
      this.#history.addMember(account.key, name);
      account.rooms.add(name);
      const join: PresenceEvent = {
        kind: "join",
        room: name,
        user: account.name,
        ts: this.#clock.now(),
      };
      this.#rooms.get(name)?.broadcast(join, undefined);
      for (const other of account.seats) {
        if (!other.wide) continue;
        this.#attach(other, name);
        this.#deliverRoom(other, name);
      }
    } else if (seat.wide || seat.room === name) {
      seat.room = name;
      this.#notice(seat, `You are already in #${name}`);
      return;
    }
    if (!seat.wide) this.#focus(seat, name);
    seat.room = name;
  }

  /** Move a one-room seat's view to `room` (a membership of its account). */
  #focus(seat: Seat, room: string): void {
    this.#detachFrom(seat, seat.room, undefined);
    seat.room = room;
    this.#attach(seat, room);
    this.#deliverRoom(seat, room);
  }

  #part(seat: Seat, input: string): void {
    const name = parseRoomName(input);
    const account = seat.account;
    if (!account.rooms.has(name)) throw new Error(`Cannot part #${name}: you are not in it`);
    this.#history.removeMember(account.key, name);
    account.rooms.delete(name);
    // The last member gone, the room goes (its topic with it): rooms cannot pile up.
    if (name !== LOBBY && this.#history.room(name)?.members === 0) this.#history.deleteRoom(name);
    const room = this.#rooms.get(name);
    for (const other of account.seats) {
      if (other.wide) this.#detachFrom(other, name, "parted");
    }
    const part = { kind: "part", room: name, user: account.name, ts: this.#clock.now() } as const;
    room?.broadcast(part, undefined);
    for (const other of account.seats) {
      if (other.wide) {
        other.member.deliver(part);
        if (other.room === name) other.room = [...account.rooms].sort()[0] ?? LOBBY;
      } else if (other.room === name) {
        const next = account.rooms.has(LOBBY) ? LOBBY : [...account.rooms].sort()[0];
        if (next === undefined) {
          this.#history.addMember(account.key, LOBBY);
          account.rooms.add(LOBBY);
        }
        this.#focus(other, next ?? LOBBY);
      }
    }
    this.#reply(seat, `You left #${name}`);
  }

  #setTopic(seat: Seat, room: string, text: string): void {
    const topic = text.trim();
    if (topic.length > MAX_TOPIC_LENGTH) {
      throw new RangeError(`Cannot set the topic: it is over ${MAX_TOPIC_LENGTH} characters`);
    }
    if (CONTROL_CHARACTERS.test(topic)) {
      throw new RangeError("Cannot set the topic: it contains control characters");
    }
    this.#history.setTopic(room, topic);
    const by = seat.account.name;
    const ts = this.#clock.now();
    const shown = this.#rooms.get(room);
    shown?.broadcast({ kind: "topic", room, text: topic, by, ts }, undefined);
    // One-room members showing the room have no `topic` frame: a notice
    // (the session that set it gets the reply below instead).
    const told = topic === ""
      ? `${by} cleared the topic of #${room}`
      : `${by} set the topic of #${room}: ${topic}`;
    shown?.broadcast(undefined, { kind: "notice", level: "info", text: told, ts }, seat.member);
    this.#reply(
      seat,
      topic === "" ? `Cleared the topic of #${room}` : `Topic of #${room}: ${topic}`,
    );
  }

  #away(seat: Seat, text: string): void {
    const away = text.trim();
    if (away.length > MAX_AWAY_LENGTH || CONTROL_CHARACTERS.test(away)) {
      throw new RangeError(
        `Cannot set away: use at most ${MAX_AWAY_LENGTH} characters, no control characters`,
      );
    }
    const account = seat.account;
    account.away = away === "" ? undefined : away;
    this.#announce(account, undefined);
    this.#reply(seat, away === "" ? "You are back" : `You are away: ${away}`);
  }

  /** Tell wide receivers sharing a room with `account` (and its other seats) its presence. */
  #announce(account: Account, except: Seat | undefined): void {
    const online = account.seats.length > 0;
    const event: OnlineEvent = {
      kind: "presence",
      user: account.name,
      online,
      ...(online && account.away !== undefined ? { away: account.away } : {}),
      ts: this.#clock.now(),
    };
    const told = new Set<Member>();
    if (except !== undefined) told.add(except.member);
    for (const name of account.rooms) {
      for (const receiver of this.#rooms.get(name)?.wideReceivers() ?? []) {
        if (told.has(receiver)) continue;
        told.add(receiver);
        receiver.deliver(event);
      }
    }
  }

  #page(seat: Seat, request: Extract<ChatRequest, { kind: "history" }>): void {
    const limit = Math.min(request.limit ?? this.#historyLimit, this.#historyLimit);
    const query = { limit, ...(request.before === undefined ? {} : { before: request.before }) };
    let event: HistoryEvent;
    if (request.room !== undefined) {
      const room = this.#memberRoom(seat, request.room);
      const page = this.#history.roomPage(room, query);
      event = { kind: "history", room, ...page };
    } else if (request.with !== undefined) {
      const other = this.#accountNamed(request.with);
      if (other === undefined) throw new Error(`Cannot page: no user ${request.with}`);
      const page = this.#history.directPage(seat.account.key, other.account, query);
      event = { kind: "history", with: other.name, ...page };
    } else throw new TypeError("Cannot page: name a room or a user");
    this.#deliverAnswer(seat, event);
  }

  #read(seat: Seat, request: Extract<ChatRequest, { kind: "read" }>): void {
    if (request.lastRead >= this.#nextId) {
      throw new RangeError(`Cannot mark read: no message ${request.lastRead} yet`);
    }
    const account = seat.account;
    let event: ChatEvent;
    if (request.room !== undefined) {
      const room = this.#memberRoom(seat, request.room);
      if (!this.#history.markRead(account.key, `#${room}`, request.lastRead)) return;
      event = { kind: "read", room, lastRead: request.lastRead };
    } else if (request.with !== undefined) {
      const other = this.#accountNamed(request.with);
      if (other === undefined) throw new Error(`Cannot mark read: no user ${request.with}`);
      if (!this.#history.markRead(account.key, `@${other.account}`, request.lastRead)) return;
      event = { kind: "read", with: other.name, lastRead: request.lastRead };
    } else throw new TypeError("Cannot mark read: name a room or a user");
    for (const other of account.seats) {
      if (other !== seat && other.wide) other.member.deliver(event);
    }
  }

  /** A per-seat answer, with the request's ref. */
  #deliverAnswer(seat: Seat, event: HistoryEvent): void {
    seat.member.deliver(seat.ref === undefined ? event : { ...event, ref: seat.ref });
  }

  /** The `room` event of `room` for `seat`. */
  #deliverRoom(seat: Seat, room: string): void {
    const account = seat.account;
    seat.member.deliver(
      roomEntered(this.#history, room, readerOf(account), {
        members: this.#roomNames(room),
        historyLimit: this.#historyLimit,
        retentionDays: this.#retentionDays,
        wide: seat.wide,
        after: seat.member.resume?.[room],
        ref: seat.ref,
      }),
    );
  }

  #quit(seat: Seat): void {
    const name = seat.account.name;
    this.#close(seat, { code: "end", message: `Goodbye, ${name}` }, "quit");
  }

  /** Find an online account that `actor` may kick or ban. */
  #target(actor: Seat, user: string, action: string): Account | undefined {
    const target = this.#byName.get(foldName(user));
    if (target === undefined) return undefined;
    checkOnlineTarget(actor.account, target, target === actor.account, action);
    return target;
  }

  #checkTarget(actor: Seat, action: ModerationEvent["action"], user: string): void {
    checkTargetName(action, user, actor.account.name, this.#onModeration);
  }

  #kick(actor: Seat, user: string, reason: string): void {
    this.#checkTarget(actor, "kick", user);
    const target = this.#target(actor, user, "kick") ?? this.#remoteTarget(actor, user, "kick");
    if (target === undefined) throw new Error(`Cannot kick ${user}: not online`);
    const by = actor.account.name;
    const { close, leaveReason } = sanctionClose("kicked", by, reason);
    this.#onModeration({ action: "kick", by, target: target.name, message: close.message });
    for (const seat of [...target.seats]) this.#close(seat, close, leaveReason);
  }

  /** Cluster mode: a user online only on other instances, judged by its account's role. */
  #remoteTarget(
    actor: Seat,
    user: string,
    action: string,
  ): { name: string; seats: Seat[] } | undefined {
    const key = foldName(user);
    const remote = this.#relay?.remoteUsers().find((u) => foldName(u.name) === key);
    if (remote === undefined) return undefined;
    const role = this.#roleOf(remote.name) ?? "user";
    checkOnlineTarget(
      actor.account,
      { name: remote.name, role },
      remote.account === actor.account.key,
      action,
    );
    return { name: remote.name, seats: [] };
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
      checkOfflineBan(user, this.#roleOf(user), {
        actorRole: actor.account.role,
        knowsAccounts: this.#knowsAccounts,
        pre,
      });
    }
    const by = actor.account.name;
    const reason = boundReason(typed);
    this.#history.ban(user, this.#clock.now(), { by, reason });
    const { close, leaveReason } = sanctionClose("banned", by, reason);
    this.#onModeration({ action: "ban", by, target: target?.name ?? user, message: close.message });
    for (const seat of [...target?.seats ?? []]) this.#close(seat, close, leaveReason);
  }

  #broadcast(actor: Seat, text: string): void {
    const notice: NoticeEvent = {
      kind: "notice",
      level: "warn",
      text: `Broadcast from ${actor.account.name}: ${text}`,
      ts: this.#clock.now(),
    };
    for (const account of this.#accounts.values()) {
      for (const seat of account.seats) seat.member.deliver(notice);
    }
  }

  #joke(seat: Seat): void {
    const room = seat.room;
    const user = seat.account.name;
    const refusal = this.#jokes.request(
      user,
      (joke) => this.#tellJoke(room, user, joke),
      (error) => {
        const why = error instanceof Error ? error.message : String(error);
        this.#noticeTo(user, `Cannot tell a joke: ${why}`, "error");
      },
    );
    if (refusal !== undefined) this.#reply(seat, refusal, "warn");
  }

  /** Post a joke to the room it was asked in, one message per line. */
  #tellJoke(room: string, user: string, joke: Joke): void {
    if (this.#closed) return;
    const lines = jokeLines(joke, this.#maxMessageLength);
    if (lines.length === 0) {
      this.#noticeTo(user, "JokeBot has nothing to say right now", "warn");
      return;
    }
    const problem = jokeProblem(joke);
    if (problem !== undefined) {
      this.#noticeTo(user, `Joke service unavailable (${problem})`, "info");
    }
    for (const line of lines) {
      const posted = this.#post(room, BOT_NAME, line, { bot: true });
      if (posted instanceof Promise) {
        void posted.catch((error) =>
          this.#noticeTo(user, `Cannot tell a joke: ${refusalText(error)}`, "error")
        );
      }
    }
  }

  /** Make `seat` a receiver of `room`; others see `join` when its name was not present. */
  #attach(seat: Seat, name: string): void {
    let room = this.#rooms.get(name);
    if (room === undefined) {
      room = new Room(name);
      this.#rooms.set(name, room);
    }
    if (!room.add(seat.member, seat.wide, seat.account.name)) return;
    const join: PresenceEvent = {
      kind: "join",
      room: name,
      user: seat.account.name,
      ts: this.#clock.now(),
    };
    room.broadcast(undefined, join, seat.member);
  }

  /** Stop `seat` receiving `room`; one-room receivers see `leave` when its name is gone. */
  #detachFrom(seat: Seat, name: string, reason: string | undefined): void {
    const room = this.#rooms.get(name);
    if (room === undefined || !room.delete(seat.member)) {
      if (room?.size === 0) this.#rooms.delete(name);
      return;
    }
    if (room.size === 0) this.#rooms.delete(name);
    const leave: PresenceEvent = {
      kind: "leave",
      room: name,
      user: seat.account.name,
      ts: this.#clock.now(),
      ...(reason === undefined ? {} : { reason }),
    };
    room.broadcast(undefined, leave);
  }

  #remove(seat: Seat, reason: string): void {
    seat.active = false;
    const account = seat.account;
    const at = account.seats.indexOf(seat);
    if (at !== -1) account.seats.splice(at, 1);
    const rooms = seat.wide ? [...account.rooms] : [seat.room];
    for (const room of rooms) this.#detachFrom(seat, room, reason);
    if (account.seats.length > 0) return;
    if (this.#accounts.get(account.key) === account) this.#accounts.delete(account.key);
    if (this.#byName.get(account.nameKey) === account) this.#byName.delete(account.nameKey);
    this.#rateStates.release(account.key, account.bucket);
    if (!this.#closed) {
      // Still online on another instance (cluster mode): nobody is told it went.
      if (!this.#onlineElsewhere(account.key)) this.#announce(account, undefined);
      this.#onOnlineChange();
    }
  }

  /** Remove a seat, then ask its connection to close. */
  #close(seat: Seat, close: CloseReason, leaveReason: string): void {
    if (!seat.active) return;
    this.#remove(seat, leaveReason);
    seat.member.close(close);
  }

  #notice(seat: Seat, text: string, level: NoticeEvent["level"] = "info") {
    if (!seat.active) return;
    const notice: NoticeEvent = { kind: "notice", level, text, ts: this.#clock.now() };
    seat.member.deliver(seat.ref === undefined ? notice : { ...notice, ref: seat.ref });
  }

  #noticeTo(user: string, text: string, level: NoticeEvent["level"]): void {
    const account = this.#byName.get(foldName(user));
    for (const seat of account?.seats ?? []) this.#notice(seat, text, level);
  }
}

/** The requests refused while nothing can be stored (`Hub.setUnavailable`). */
const CHANGES: ReadonlySet<ChatRequest["kind"]> = new Set(["say", "dm", "join", "part", "topic"]);

/** Commands that only read what this instance holds: they work while unavailable. */
const READ_ONLY_COMMANDS: ReadonlySet<string> = new Set(["who", "help", "rooms", "bans", "quit"]);

/** Whether a request would change shared state (a `say` of a read-only command does not). */
function changes(request: ChatRequest): boolean {
  if (!CHANGES.has(request.kind)) return false;
  if (request.kind !== "say") return true;
  const line = request.text.trim();
  if (!line.startsWith("/") || line.startsWith("//")) return true;
  const { name, args } = parseCommandLine(line);
  return !(READ_ONLY_COMMANDS.has(name) || (name === "topic" && args.trim() === ""));
}

/** A relay's failure as the sender is told it. */
function refusalText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The account as a replay reads for it. */
function readerOf(account: Account): Reader {
  return { account: account.key, name: account.name, mentions: account.mentions };
}

function count(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`Cannot create hub: ${name} is ${value}`);
  }
  return value;
}
