/**
 * `deno task migrate --verify`: compare a single-node install with the
 * cluster and list every difference (the compare the tests make too):
 * accounts (id, role, hash), lockout records (the cluster's as late or
 * later), web session tokens, bans, rooms and topics, memberships, each room's messages and
 * each pair's DMs in order (text, sender, time; missing or doubled), and
 * read markers (on the same message). What the cluster holds besides the
 * install (its own accounts, live messages) is no difference.
 *
 * @module
 */
import type { NatsConnection } from "@nats-io/transport-node";
import type { DirectMessage, RoomMessage } from "../chat/message.ts";
import { AuthEntries } from "./_auth_entries.ts";
import { AUTH_KEYS } from "./kv_json_document.ts";
import type { SourceMessage } from "./_history_reader.ts";
import { type AccountRecord, parseAccounts, parseLockouts, parseTokens } from "./auth_merge.ts";
import { ClusterChatState } from "./kv_chat_state.ts";
import { MessageStream } from "./message_stream.ts";
import type { MigrationSource } from "./migration_source.ts";

/** Every message of a conversation. */
const ALL = { limit: Number.MAX_SAFE_INTEGER } as const;

/**
 * The differences between `source` and the cluster on `nc`.
 *
 * @param source The single-node install.
 * @param nc The cluster connection.
 * @param replicas Copies of the buckets, should verifying create them.
 * @returns One line per difference; none when the cluster holds it all.
 */
export async function verifyMigration(
  source: MigrationSource,
  nc: NatsConnection,
  replicas = 1,
): Promise<string[]> {
  const differences: string[] = [];
  await using auth = await AuthEntries.open(nc, replicas);
  const credentials = auth.get(AUTH_KEYS.credentials);
  const accounts = credentials === undefined
    ? new Map<string, AccountRecord>()
    : parseAccounts(credentials, "the cluster's credentials");
  const held = new Set<string>();
  for (const account of source.accounts) {
    const lower = account.name.toLowerCase();
    const there = accounts.get(account.name) ??
      [...accounts.values()].find((held) => held.name.toLowerCase() === lower);
    if (there === undefined) differences.push(`account ${q(account.name)} is not in the cluster`);
    else if (there.id !== account.id) {
      differences.push(`account ${q(account.name)} has another account id in the cluster`);
    } else {
      held.add(account.id);
      if (there.role !== account.role) {
        differences.push(`account ${q(account.name)} is ${there.role} in the cluster`);
      }
      if (there.hash !== account.hash) {
        differences.push(`account ${q(account.name)} has another password in the cluster`);
      }
    }
  }
  if (source.lockouts !== undefined) {
    const text = auth.get(AUTH_KEYS.lockouts);
    const cluster = text === undefined ? undefined : parseLockouts(text, "the cluster's lockouts");
    for (const table of ["pairs", "accounts", "ips"] as const) {
      for (const [key, counter] of source.lockouts[table]) {
        const there = cluster?.[table].get(key);
        if (
          there === undefined || there.lockedUntil < counter.lockedUntil ||
          there.lastFailure < counter.lastFailure
        ) differences.push(`lockout record ${table} ${q(key)} is not in the cluster`);
      }
    }
  }
  const tokensText = auth.get(AUTH_KEYS.tokens);
  const tokens = tokensText === undefined
    ? new Map()
    : parseTokens(tokensText, "the cluster's session tokens");
  const missingTokens =
    [...source.tokens].filter(([key, token]) => held.has(token.account) && !tokens.has(key)).length;
  if (missingTokens > 0) {
    differences.push(`${missingTokens} web session tokens are not in the cluster`);
  }
  await using state = await ClusterChatState.open(nc, { replicas });
  for (const ban of source.history.bans()) {
    const there = state.banOf(ban.name);
    if (there === undefined) differences.push(`ban of ${q(ban.name)} is not in the cluster`);
    else if (there.ts !== ban.ts || (ban.by !== undefined && there.by !== ban.by)) {
      differences.push(`ban of ${q(ban.name)} differs in the cluster`);
    }
  }
  for (const room of source.history.rooms()) {
    const there = state.room(room.name);
    if (there === undefined) differences.push(`room ${q(room.name)} is not in the cluster`);
    else if (room.topic !== "" && there.topic !== room.topic) {
      differences.push(`room ${q(room.name)} has another topic in the cluster`);
    }
  }
  for (const { account, room } of source.history.memberships()) {
    if (held.has(account) && !state.roomsOf(account).includes(room)) {
      differences.push(`membership of ${account} in ${q(room)} is not in the cluster`);
    }
  }
  const stream = await MessageStream.existing(nc);
  const newIds = new Map<number, number>();
  for (const room of source.history.rooms()) {
    const page = stream === undefined ? [] : (await stream.roomPage(room.name, ALL)).messages;
    compare(`room ${q(room.name)}`, source.history.conversation({ room: room.name }), page);
  }
  for (const [a, b] of source.history.directPairs()) {
    const page = stream === undefined ? [] : (await stream.directPage(a, b, ALL)).messages;
    compare(`DMs of ${a} and ${b}`, source.history.conversation({ a, b }), page);
  }
  for (const marker of source.history.markers()) {
    if (!held.has(marker.account)) continue;
    const target = source.history.markedMessage(marker);
    const expected = target === undefined ? 0 : newIds.get(target);
    const there = state.lastRead(marker.account, marker.conversation);
    if (expected === undefined || there < expected) {
      differences.push(
        `read marker of ${marker.account} in ${q(marker.conversation)} is behind in the cluster`,
      );
    }
  }
  return differences;

  /** Match the conversation's old messages, in order, among the cluster's. */
  function compare(
    what: string,
    old: SourceMessage[],
    cluster: (RoomMessage | DirectMessage)[],
  ): void {
    let next = 0;
    let missing = 0;
    for (const { message } of old) {
      let at = next;
      while (at < cluster.length && !same(cluster[at]!, message)) at++;
      if (at === cluster.length) {
        missing++;
        continue;
      }
      newIds.set(message.id, cluster[at]!.id);
      next = at + 1;
    }
    if (missing > 0) differences.push(`${what}: ${missing} of ${old.length} messages missing`);
    const counts = new Map<string, number>();
    for (const { message } of old) {
      counts.set(keyOf(message), (counts.get(keyOf(message)) ?? 0) + 1);
    }
    const doubled = cluster.filter((message) => {
      const left = counts.get(keyOf(message));
      if (left === undefined) return false;
      if (left === 0) return true;
      counts.set(keyOf(message), left - 1);
      return false;
    }).length;
    if (doubled > 0) differences.push(`${what}: ${doubled} messages doubled`);
  }
}

function same(a: RoomMessage | DirectMessage, b: RoomMessage | DirectMessage): boolean {
  return keyOf(a) === keyOf(b);
}

/** What a message is, without its id. */
function keyOf(message: RoomMessage | DirectMessage): string {
  return message.kind === "message"
    ? JSON.stringify([
      message.room,
      message.from,
      message.text,
      message.ts,
      message.action ?? false,
      message.bot ?? false,
    ])
    : JSON.stringify(["@", message.from, message.to, message.text, message.ts]);
}

function q(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}...` : text);
}
