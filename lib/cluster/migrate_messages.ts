/**
 * The message pass of a migration: every room message and DM of a
 * single-node history into the cluster's stream, oldest first, one at a
 * time, so the stream's order is the old id order. Each carries the header
 * {@linkcode MIGRATION_HEADER} (`<fingerprint>.<old id>`) and a
 * de-duplication id of the same, so a run that stopped between storing a
 * message and recording its progress finds it again and goes on after it:
 * nothing doubled, nothing lost.
 *
 * @module
 */
import { JetStreamApiError, type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { HistoryReader, SourceMessage } from "./_history_reader.ts";
import {
  directSubject,
  MESSAGE_STREAM,
  type MessageStream,
  roomSubject,
} from "./message_stream.ts";
import {
  type MessageProgress,
  type MigrationProgress,
  PROGRESS_EVERY,
} from "./migration_progress.ts";

/** The header a migrated message carries: `<fingerprint>.<old id>`. */
export const MIGRATION_HEADER = "Banter-Migrated-From";

/**
 * Bytes a stored message is reckoned beyond its text when checking the
 * stream's room (subject, JSON wrapper, names, headers, the store's own).
 * Measured: 308 bytes stored for a room message of 46 bytes of text; a DM
 * has a longer subject and its account ids besides, so more is reckoned:
 * over-estimating refuses early, under-estimating would let the stream
 * drop its oldest messages to make room.
 */
export const MESSAGE_ESTIMATE_OVERHEAD = 400;

/** A stream limit would drop migrated messages. */
export class StreamLimitError extends Error {
  /** @param message Which limit, the sizes. */
  constructor(message: string) {
    super(message);
    this.name = "StreamLimitError";
  }
}

/** What the message pass did, by kind. */
export interface MessagesMoved {
  readonly messages: { migrated: number; already: number };
  readonly dms: { migrated: number; already: number; refused: number };
}

/** Options for {@linkcode migrateMessages}. */
export interface MigrateMessagesOptions {
  /** The cluster connection (the stream is scanned and its limits read with it). */
  nc: NatsConnection;
  /** The stream the messages go to. */
  stream: MessageStream;
  /** The install's progress. */
  progress: MigrationProgress;
  /** Old ids whose new sequence a read marker needs. */
  marked: ReadonlySet<number>;
  /** Told after each stored message (a seam for tests that stop a run midway). */
  onStored?: (oldId: number, seq: number) => void | Promise<void>;
}

/**
 * Store every message of `reader` the progress does not have yet.
 *
 * @param reader The single-node history.
 * @param options Stream, progress, marked ids.
 * @returns Counts by kind.
 * @throws {StreamLimitError} When the stream has no room for them, or dropped some.
 */
export async function migrateMessages(
  reader: HistoryReader,
  options: MigrateMessagesOptions,
): Promise<MessagesMoved> {
  const { progress, stream, marked } = options;
  const jsm = await jetstreamManager(options.nc);
  const fingerprint = progress.fingerprint;
  let at = await recoverTail(jsm, progress.messages, fingerprint, async (oldId, seq) => {
    if (marked.has(oldId)) await progress.mapId(oldId, seq);
  });
  if (at !== progress.messages) await progress.save(at);
  const before = reader.count(0);
  const left = reader.count(at.lastOldId);
  await checkRoom(jsm, left);
  const moved: MessagesMoved = {
    messages: { migrated: 0, already: before.rooms - left.rooms },
    dms: { migrated: 0, already: before.dms - left.dms, refused: 0 },
  };
  let firstSeq: number | undefined;
  let unsaved = 0;
  for (const source of reader.messages(at.lastOldId, () => moved.dms.refused++)) {
    const seq = await store(stream, source, fingerprint);
    firstSeq ??= seq;
    if (source.accounts === undefined) moved.messages.migrated++;
    else moved.dms.migrated++;
    if (marked.has(source.message.id)) await progress.mapId(source.message.id, seq);
    at = { lastOldId: source.message.id, lastSeq: seq };
    if (++unsaved >= PROGRESS_EVERY) {
      await progress.save(at);
      unsaved = 0;
    }
    await options.onStored?.(source.message.id, seq);
  }
  if (unsaved > 0) await progress.save(at);
  if (firstSeq !== undefined) {
    const { state } = await jsm.streams.info(MESSAGE_STREAM);
    if (state.first_seq > firstSeq) {
      throw new StreamLimitError(
        `Cannot keep the migrated messages: the stream ${MESSAGE_STREAM} dropped them from sequence ${firstSeq} (its max_bytes, max_msgs or max_age); raise the limit and run again`,
      );
    }
  }
  return moved;
}

async function store(
  stream: MessageStream,
  source: SourceMessage,
  fingerprint: string,
): Promise<number> {
  const from = `${fingerprint}.${source.message.id}`;
  const options = { msgID: `banter-migrate.${from}`, headers: { [MIGRATION_HEADER]: from } };
  try {
    const stored = source.accounts === undefined
      ? await stream.publishRoom(withoutId(source.message), options)
      : await stream.publishDirect(withoutId(source.message), source.accounts, options);
    return stored.id;
  } catch (error) {
    throw new Error(
      `Cannot store message ${source.message.id} in the stream: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/**
 * The stream sequence of old message `oldId` of a conversation, found by
 * its migration header: for a read marker that moved, on the single node,
 * to a message migrated by an earlier run that no marker pointed at then.
 * Walks the conversation's subject, so it is for the rare case only.
 *
 * @param nc The cluster connection.
 * @param where The conversation: a room, or the DMs between two accounts.
 * @param migratedFrom The header's value: `<fingerprint>.<old id>`.
 * @returns The sequence, or `undefined` when the stream has no such message.
 */
export async function findMigrated(
  nc: NatsConnection,
  where: { room: string } | { a: string; b: string },
  migratedFrom: string,
): Promise<number | undefined> {
  const jsm = await jetstreamManager(nc);
  const subject = "room" in where ? roomSubject(where.room) : directSubject(where.a, where.b);
  for (let seq = 1;;) {
    let stored;
    try {
      stored = await jsm.direct.getMessage(MESSAGE_STREAM, { seq, next_by_subj: subject });
    } catch (error) {
      if (error instanceof JetStreamApiError && error.status === 404) return undefined;
      throw error;
    }
    if (stored === null) return undefined;
    if (stored.header?.get(MIGRATION_HEADER) === migratedFrom) return stored.seq;
    seq = stored.seq + 1;
  }
}

/** A message as it is published: the stream gives the id. */
function withoutId<T extends { readonly id: number }>(message: T): Omit<T, "id"> {
  const { id: _id, ...rest } = message;
  return rest;
}

/**
 * The messages stored after the last progress write, found by their
 * header: where the pass really stands.
 */
async function recoverTail(
  jsm: JetStreamManager,
  from: MessageProgress,
  fingerprint: string,
  found: (oldId: number, seq: number) => Promise<void>,
): Promise<MessageProgress> {
  const { state } = await jsm.streams.info(MESSAGE_STREAM);
  let at = from;
  const prefix = `${fingerprint}.`;
  for (let seq = Math.max(from.lastSeq + 1, state.first_seq); seq <= state.last_seq; seq++) {
    let stored;
    try {
      stored = await jsm.streams.getMessage(MESSAGE_STREAM, { seq });
    } catch (error) {
      if (error instanceof Error && /no message found|not found/i.test(error.message)) continue;
      throw error;
    }
    const header = stored?.header?.get(MIGRATION_HEADER) ?? "";
    if (!header.startsWith(prefix)) continue;
    const oldId = Number(header.slice(prefix.length));
    if (!Number.isSafeInteger(oldId) || oldId <= at.lastOldId) continue;
    await found(oldId, seq);
    at = { lastOldId: oldId, lastSeq: seq };
  }
  return at;
}

/** Refuse up front when the stream's byte or message limit has no room for `left`. */
async function checkRoom(
  jsm: JetStreamManager,
  left: { rooms: number; dms: number; bytes: number },
): Promise<void> {
  const { config, state } = await jsm.streams.info(MESSAGE_STREAM);
  const count = left.rooms + left.dms;
  if (count === 0) return;
  const need = left.bytes + count * MESSAGE_ESTIMATE_OVERHEAD;
  if (config.max_bytes > 0 && state.bytes + need > config.max_bytes) {
    throw new StreamLimitError(
      `Cannot migrate the messages: they need about ${need} bytes and the stream ${MESSAGE_STREAM} has ${
        Math.max(0, config.max_bytes - state.bytes)
      } of its max_bytes ${config.max_bytes} free (raise --history-total-bytes)`,
    );
  }
  if (config.max_msgs > 0 && state.messages + count > config.max_msgs) {
    throw new StreamLimitError(
      `Cannot migrate the messages: ${count} messages and the stream ${MESSAGE_STREAM} has room for ${
        Math.max(0, config.max_msgs - state.messages)
      } (max_msgs ${config.max_msgs})`,
    );
  }
}
