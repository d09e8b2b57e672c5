/**
 * Move a single-node install into a cluster (`deno task migrate
 * --cluster URL`): accounts, lockouts and web session tokens into the
 * `banter_auth` entries,
 * rooms and topics, bans, memberships and read markers into
 * {@linkcode ClusterChatState}, room messages and DMs into the
 * {@linkcode MessageStream}, oldest first, so the stream order is the old id
 * order. Every step merges with what the cluster holds and says what it did,
 * so a second run adds nothing, and the message pass keeps its progress
 * (`migration_progress.ts`), so an interrupted run resumes where it stopped.
 *
 * Read markers get new ids: the stream sequence of the newest message of
 * their conversation at or below the old marker.
 *
 * Memberships and markers of accounts the cluster does not hold (a refused
 * account, or one removed from `credentials.json`) are refused; the DMs of
 * such an account are moved all the same, as the other side's history.
 *
 * @module
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { AuthEntries } from "./_auth_entries.ts";
import { AUTH_KEYS } from "./kv_json_document.ts";
import { mergeAccounts, mergeLockouts, mergeTokens, type RefusedAccount } from "./auth_merge.ts";
import { ClusterChatState } from "./kv_chat_state.ts";
import { MessageStream } from "./message_stream.ts";
import { findMigrated, migrateMessages } from "./migrate_messages.ts";
import type { MigrationSource } from "./migration_source.ts";
import { MigrationProgress, sourceFingerprint } from "./migration_progress.ts";

/** What happened to one kind of thing. */
export interface Tally {
  migrated: number;
  already: number;
  refused: number;
}

/** What a migration did, per kind, and why anything was refused. */
export interface MigrationSummary {
  readonly accounts: Tally;
  readonly lockouts: Tally;
  /** Web session tokens. */
  readonly tokens: Tally;
  readonly bans: Tally;
  readonly rooms: Tally;
  readonly memberships: Tally;
  readonly markers: Tally;
  readonly messages: Tally;
  readonly dms: Tally;
  /** One line per refusal (names, never a hash). */
  readonly refusals: string[];
}

/** The stream's limits when the migration creates it (the server's defaults). */
export interface NewStreamLimits {
  /** Days a message is kept (`--retention-days`). @default {30} */
  retentionDays?: number;
  /** Bytes the stream holds (`--history-total-bytes`). @default 1 GiB */
  maxBytes?: number;
}

/** Options for {@linkcode migrate}. */
export interface MigrateOptions extends NewStreamLimits {
  /** Copies of each bucket and of the stream when created. @default {1} */
  replicas?: number;
  /** Told after each stored message (a seam for tests). */
  onStored?: (oldId: number, seq: number) => void | Promise<void>;
}

/** The server's defaults for a stream made here. */
const DEFAULT_RETENTION_DAYS = 30;
const DEFAULT_MAX_BYTES = 1024 * 1024 * 1024;

/**
 * Migrate `source` into the cluster on `nc`.
 *
 * @param source The single-node install.
 * @param nc The cluster connection.
 * @param options Replicas, the stream's limits when it is new.
 * @returns What was migrated, there already, refused.
 * @throws {Error} When the cluster refuses a write, a limit is hit, or an
 * entry there is not valid (one line, naming it).
 */
export async function migrate(
  source: MigrationSource,
  nc: NatsConnection,
  options: MigrateOptions = {},
): Promise<MigrationSummary> {
  const replicas = options.replicas ?? 1;
  const summary = emptySummary();
  await using auth = await AuthEntries.open(nc, replicas);
  const kept = await migrateAccounts(source, auth, summary);
  await migrateLockouts(source, auth, summary);
  await migrateTokens(source, auth, kept, summary);
  const stream = await MessageStream.existing(nc) ?? await MessageStream.open(nc, {
    replicas,
    retentionDays: options.retentionDays ?? DEFAULT_RETENTION_DAYS,
    maxBytes: options.maxBytes ?? DEFAULT_MAX_BYTES,
  });
  await using state = await ClusterChatState.open(nc, { replicas });
  await migrateRooms(source, state, summary);
  for (const ban of source.history.bans()) {
    const details = ban.by === undefined && ban.reason === undefined
      ? undefined
      : { by: ban.by ?? "", reason: ban.reason ?? "" };
    count(summary.bans, await state.ban(ban.name, ban.ts, details));
  }
  for (const { account, room } of source.history.memberships()) {
    if (!kept.has(account)) {
      summary.memberships.refused++;
      continue;
    }
    count(summary.memberships, await state.addMember(account, room));
  }
  const markers = source.history.markers().map((marker) => ({
    ...marker,
    target: source.history.markedMessage(marker),
  }));
  const marked = new Set(markers.flatMap((marker) => marker.target ?? []));
  const fingerprint = await sourceFingerprint(source.history.oldest());
  const progress = await MigrationProgress.open(nc, fingerprint, replicas);
  const moved = await migrateMessages(source.history, {
    nc,
    stream,
    progress,
    marked,
    ...(options.onStored ? { onStored: options.onStored } : {}),
  });
  Object.assign(summary.messages, moved.messages);
  Object.assign(summary.dms, moved.dms);
  if (moved.dms.refused > 0) {
    summary.refusals.push(
      `${moved.dms.refused} DMs stored without account ids (older files; the server never shows them)`,
    );
  }
  for (const marker of markers) {
    if (!kept.has(marker.account)) {
      summary.markers.refused++;
      continue;
    }
    if (marker.target === undefined) {
      summary.markers.already++; // nothing read yet: the cluster's 0 says the same
      continue;
    }
    const seq = await progress.idOf(marker.target) ??
      await findMigrated(
        nc,
        marker.conversation.startsWith("#")
          ? { room: marker.conversation.slice(1) }
          : { a: marker.account, b: marker.conversation.slice(1) },
        `${fingerprint}.${marker.target}`,
      );
    if (seq === undefined) {
      throw new Error(
        `Cannot move the read marker of ${marker.account} in ${marker.conversation}: message ${marker.target} is not in the stream`,
      );
    }
    count(summary.markers, await state.markRead(marker.account, marker.conversation, seq));
  }
  const refusedMembers = summary.memberships.refused + summary.markers.refused;
  if (refusedMembers > 0) {
    summary.refusals.push(
      `${summary.memberships.refused} memberships and ${summary.markers.refused} read markers of accounts the cluster does not hold`,
    );
  }
  return summary;
}

/** Merge the accounts; the account ids the cluster holds for this install's accounts. */
async function migrateAccounts(
  source: MigrationSource,
  auth: AuthEntries,
  summary: MigrationSummary,
): Promise<Set<string>> {
  const done = await auth.merge(
    AUTH_KEYS.credentials,
    (current) => mergeAccounts(current, source.accounts),
  );
  summary.accounts.migrated = done.migrated.length;
  summary.accounts.already = done.already.length;
  summary.accounts.refused = done.refused.length;
  summary.refusals.push(...done.refused.map(describeRefusal));
  const keptNames = new Set([...done.migrated, ...done.already]);
  return new Set(
    source.accounts.filter((account) => keptNames.has(account.name)).map((a) => a.id),
  );
}

function describeRefusal(refused: RefusedAccount): string {
  return `account ${JSON.stringify(refused.name)}: ${refused.reason} (kept the cluster's)`;
}

async function migrateLockouts(
  source: MigrationSource,
  auth: AuthEntries,
  summary: MigrationSummary,
): Promise<void> {
  const lockouts = source.lockouts;
  if (lockouts === undefined) return;
  const merge = await auth.merge(AUTH_KEYS.lockouts, (current) => mergeLockouts(current, lockouts));
  summary.lockouts.migrated = merge.migrated;
  summary.lockouts.already = merge.already;
}

/** Web sessions of the accounts the cluster holds (others could never be valid there). */
async function migrateTokens(
  source: MigrationSource,
  auth: AuthEntries,
  kept: ReadonlySet<string>,
  summary: MigrationSummary,
): Promise<void> {
  const tokens = new Map([...source.tokens].filter(([, token]) => kept.has(token.account)));
  summary.tokens.refused = source.tokens.size - tokens.size;
  if (tokens.size === 0) return;
  const merge = await auth.merge(AUTH_KEYS.tokens, (current) => mergeTokens(current, tokens));
  summary.tokens.migrated = merge.migrated;
  summary.tokens.already = merge.already;
}

/** Rooms and topics: a room the cluster has keeps its topic unless it has none. */
async function migrateRooms(
  source: MigrationSource,
  state: ClusterChatState,
  summary: MigrationSummary,
): Promise<void> {
  for (const room of source.history.rooms()) {
    const made = await state.ensureRoom(room.name, room.created);
    const topic = state.room(room.name)?.topic ?? "";
    let changed = made;
    if (room.topic !== "" && topic === "") {
      await state.setTopic(room.name, room.topic, room.created);
      changed = true;
    }
    count(summary.rooms, changed);
  }
}

function count(tally: Tally, added: boolean): void {
  if (added) tally.migrated++;
  else tally.already++;
}

function emptySummary(): MigrationSummary {
  const tally = () => ({ migrated: 0, already: 0, refused: 0 });
  return {
    accounts: tally(),
    lockouts: tally(),
    tokens: tally(),
    bans: tally(),
    rooms: tally(),
    memberships: tally(),
    markers: tally(),
    messages: tally(),
    dms: tally(),
    refusals: [],
  };
}

/**
 * The summary as lines for a person: one per kind, then the refusals, then
 * "nothing added" when a run found everything there.
 *
 * @param summary What {@linkcode migrate} returned.
 * @returns The lines.
 */
export function summaryLines(summary: MigrationSummary): string[] {
  const kinds = [
    ["accounts", summary.accounts],
    ["lockouts", summary.lockouts],
    ["web sessions", summary.tokens],
    ["bans", summary.bans],
    ["rooms", summary.rooms],
    ["memberships", summary.memberships],
    ["read markers", summary.markers],
    ["messages", summary.messages],
    ["DMs", summary.dms],
  ] as const;
  const lines = kinds.map(([name, t]) =>
    `${name.padEnd(12)} ${t.migrated} migrated, ${t.already} already there, ${t.refused} refused`
  );
  lines.push(...summary.refusals.map((line) => `refused: ${line}`));
  if (kinds.every(([, t]) => t.migrated === 0)) {
    lines.push("nothing added: the cluster already holds everything of this install");
  }
  return lines;
}
