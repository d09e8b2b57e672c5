/**
 * A single-node install's chat history (`history.db`, the schema of
 * `lib/chat/sqlite_history.ts`) read with read-only SQL, for the migration:
 * `SqliteHistory` opens its file for writing and has no scan of every
 * message, DM conversation, membership or read marker, which a migration
 * needs. Nothing here writes the file.
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { DirectAccounts, StoredRoom } from "../chat/history.ts";
import type { DirectMessage, RoomMessage } from "../chat/message.ts";
import type { BanRecord } from "../chat/bans.ts";
import { banDetails } from "../chat/_ban_details.ts";
import { SCHEMA_VERSION } from "../chat/sqlite_history.ts";

/** One stored row as the migration moves it. */
export type SourceMessage =
  | { readonly message: RoomMessage; readonly accounts?: undefined }
  | { readonly message: DirectMessage; readonly accounts: DirectAccounts };

/** A read marker: `account` has read `conversation` (`#room` or `@account`) up to `id`. */
export interface SourceMarker {
  readonly account: string;
  readonly conversation: string;
  readonly id: number;
}

/** A membership of `account` in `room`. */
export interface SourceMembership {
  readonly account: string;
  readonly room: string;
}

const ACTION = 1;
const BOT = 2;

/** Rows read per page of {@linkcode HistoryReader.messages}. */
export const MESSAGE_PAGE = 500;

/** The history file, open read-only. */
export class HistoryReader implements Disposable {
  #db: DatabaseSync;
  #page: StatementSync;

  /**
   * Open `path` read-only.
   *
   * @param path The history file.
   * @throws {Error} When it is not a database, or not of the schema this build reads.
   */
  constructor(path: string) {
    this.#db = new DatabaseSync(path, { readOnly: true });
    try {
      const version = this.#db.prepare(
        "SELECT value FROM meta WHERE key = 'schema_version'",
      ).get()?.["value"];
      // Schema 3 only dropped two indexes: a file of 2 has the same rows.
      if (version !== SCHEMA_VERSION && version !== 2) {
        throw new Error(
          `Cannot read the history file ${path}: its schema is ${
            version ?? 1
          }, not ${SCHEMA_VERSION} (start and stop the server once to upgrade it)`,
        );
      }
      this.#page = this.#db.prepare(
        "SELECT id, room, from_user, to_user, text, ts, flags, from_account, to_account FROM messages WHERE id > ? ORDER BY id LIMIT ?",
      );
    } catch (error) {
      this.#db.close();
      throw error;
    }
  }

  /** The oldest message row (id, time, sender, text), if any: what identifies this history. */
  oldest(): string | undefined {
    const row = this.#db.prepare(
      "SELECT id, ts, from_user, text FROM messages ORDER BY id LIMIT 1",
    ).get();
    return row === undefined
      ? undefined
      : JSON.stringify([row["id"], row["ts"], row["from_user"], row["text"]]);
  }

  /** The highest message id stored; 0 when none. */
  lastId(): number {
    const id = this.#db.prepare("SELECT MAX(id) AS id FROM messages").get()?.["id"];
    return typeof id === "number" ? id : 0;
  }

  /**
   * Every message and DM with an id above `afterId`, oldest first, read a
   * page at a time. DMs stored without account ids (older files) are never
   * shown by the server and are skipped; `onSkipped` counts them.
   */
  *messages(afterId: number, onSkipped: () => void = () => {}): IterableIterator<SourceMessage> {
    let after = afterId;
    for (;;) {
      const rows = this.#page.all(after, MESSAGE_PAGE);
      for (const row of rows) {
        after = int(row, "id");
        const message = messageOf(row);
        if (message === undefined) onSkipped();
        else yield message;
      }
      if (rows.length < MESSAGE_PAGE) return;
    }
  }

  /** How many room messages and DMs (with account ids) have an id above `afterId`, and their text's bytes. */
  count(afterId: number): { rooms: number; dms: number; bytes: number } {
    const row = this.#db.prepare(
      "SELECT COALESCE(SUM(room IS NOT NULL), 0) AS rooms, COALESCE(SUM(room IS NULL), 0) AS dms, COALESCE(SUM(length(CAST(text AS BLOB))), 0) AS bytes FROM messages WHERE id > ? AND (room IS NOT NULL OR (to_user IS NOT NULL AND from_account IS NOT NULL AND to_account IS NOT NULL))",
    ).get(afterId) ?? {};
    return { rooms: int(row, "rooms"), dms: int(row, "dms"), bytes: int(row, "bytes") };
  }

  /** Every pair of accounts with DMs between them (each pair once, sorted within). */
  directPairs(): [string, string][] {
    return this.#db.prepare(
      "SELECT DISTINCT MIN(from_account, to_account) AS a, MAX(from_account, to_account) AS b FROM messages WHERE to_user IS NOT NULL AND from_account IS NOT NULL AND to_account IS NOT NULL ORDER BY a, b",
    ).all().map((row) => [str(row, "a"), str(row, "b")]);
  }

  /** Every room message of `room`, or DM between two accounts, oldest first. */
  conversation(
    where: { room: string } | { a: string; b: string },
  ): SourceMessage[] {
    const rows = "room" in where
      ? this.#db.prepare(
        "SELECT id, room, from_user, to_user, text, ts, flags, from_account, to_account FROM messages WHERE room = ? ORDER BY id",
      ).all(where.room)
      : this.#db.prepare(
        "SELECT id, room, from_user, to_user, text, ts, flags, from_account, to_account FROM messages WHERE to_user IS NOT NULL AND ((from_account = ? AND to_account = ?) OR (from_account = ? AND to_account = ?)) ORDER BY id",
      ).all(where.a, where.b, where.b, where.a);
    return rows.flatMap((row) => messageOf(row) ?? []);
  }

  /** Every room, by name (member counts as stored). */
  rooms(): StoredRoom[] {
    return this.#db.prepare(
      "SELECT name, topic, created, (SELECT COUNT(*) FROM memberships m WHERE m.room = rooms.name) AS members FROM rooms ORDER BY name",
    ).all().map((row) => ({
      name: str(row, "name"),
      topic: str(row, "topic"),
      created: int(row, "created"),
      members: int(row, "members"),
    }));
  }

  /** Every membership, by account then room. */
  memberships(): SourceMembership[] {
    return this.#db.prepare("SELECT account, room FROM memberships ORDER BY account, room")
      .all().map((row) => ({ account: str(row, "account"), room: str(row, "room") }));
  }

  /** Every read marker, by account then conversation. */
  markers(): SourceMarker[] {
    return this.#db.prepare(
      "SELECT account, conversation, last_read FROM read_markers ORDER BY account, conversation",
    ).all().map((row) => ({
      account: str(row, "account"),
      conversation: str(row, "conversation"),
      id: int(row, "last_read"),
    }));
  }

  /**
   * The newest message a marker covers: the highest id at or below
   * `marker.id` in its conversation (a room, or the DMs between the
   * marker's account and the other); undefined when there is none.
   */
  markedMessage(marker: SourceMarker): number | undefined {
    const kind = marker.conversation[0];
    const name = marker.conversation.slice(1);
    const row = kind === "#"
      ? this.#db.prepare("SELECT MAX(id) AS id FROM messages WHERE room = ? AND id <= ?")
        .get(name, marker.id)
      : kind === "@"
      ? this.#db.prepare(
        "SELECT MAX(id) AS id FROM messages WHERE to_user IS NOT NULL AND ((from_account = ? AND to_account = ?) OR (from_account = ? AND to_account = ?)) AND id <= ?",
      ).get(marker.account, name, name, marker.account, marker.id)
      : undefined;
    const id = row?.["id"];
    return typeof id === "number" ? id : undefined;
  }

  /** Every ban, oldest first. */
  bans(): BanRecord[] {
    return this.#db.prepare(
      "SELECT b.name AS name, b.ts AS ts, d.by_user AS by_user, d.reason AS reason FROM bans b LEFT JOIN ban_details d ON d.name = b.name ORDER BY b.ts, b.name",
    ).all().map((row) => ({
      name: str(row, "name"),
      ts: int(row, "ts"),
      ...banDetails({
        by: typeof row["by_user"] === "string" ? row["by_user"] : "",
        reason: typeof row["reason"] === "string" ? row["reason"] : "",
      }),
    }));
  }

  /** Close the file. */
  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  /** {@linkcode close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

type Row = Record<string, unknown>;

function messageOf(row: Row): SourceMessage | undefined {
  const base = { id: int(row, "id"), from: str(row, "from_user"), text: str(row, "text") };
  const ts = int(row, "ts");
  if (typeof row["room"] === "string") {
    const flags = int(row, "flags");
    return {
      message: {
        kind: "message",
        ...base,
        room: row["room"],
        ts,
        ...(flags & ACTION ? { action: true } : {}),
        ...(flags & BOT ? { bot: true } : {}),
      },
    };
  }
  const from = row["from_account"];
  const to = row["to_account"];
  if (typeof row["to_user"] !== "string" || typeof from !== "string" || typeof to !== "string") {
    return undefined;
  }
  return {
    message: { kind: "dm", ...base, to: row["to_user"], ts },
    accounts: { from, to },
  };
}

function int(row: Row, key: string): number {
  const value = row[key];
  if (typeof value !== "number") {
    throw new TypeError(`Cannot read history: column ${key} is ${typeof value}`);
  }
  return value;
}

function str(row: Row, key: string): string {
  const value = row[key];
  if (typeof value !== "string") {
    throw new TypeError(`Cannot read history: column ${key} is ${typeof value}`);
  }
  return value;
}
