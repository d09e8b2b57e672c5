/**
 * The data of the `/who` and `/rooms` listings: {@linkcode whoEntries} and
 * {@linkcode roomsListing}.
 *
 * @module
 */
import type { StoredRoom } from "./history.ts";
import { MAX_LISTED_ROOMS } from "./hub_options.ts";
import type { Role, RoomsEntry, WhoEntry } from "./message.ts";

/** An online account as `/who` lists it. */
export interface Listed {
  readonly name: string;
  readonly role: Role;
  /** Set while the account is away. */
  readonly away: string | undefined;
}

/**
 * The `/who` answer: the names present in a room that belong to an online
 * account, with role and away text.
 *
 * @param names The names present in the room, in order.
 * @param online The online account of a name, if any.
 * @returns One entry per online account found.
 */
export function whoEntries(
  names: readonly string[],
  online: (name: string) => Listed | undefined,
): WhoEntry[] {
  return names.flatMap((name) => {
    const account = online(name);
    if (account === undefined) return [];
    const entry: WhoEntry = { name: account.name, role: account.role };
    return [account.away === undefined ? entry : { ...entry, away: account.away }];
  });
}

/**
 * The `/rooms` answer: the `MAX_LISTED_ROOMS` rooms with the most members,
 * then by name, sorted by name; the rest counted.
 *
 * @param all Every room, sorted by name.
 * @returns The listed rooms and how many were left out.
 */
export function roomsListing(all: readonly StoredRoom[]): { rooms: RoomsEntry[]; more: number } {
  const listed = all.length <= MAX_LISTED_ROOMS
    ? all
    : all.toSorted((a, b) => b.members - a.members || (a.name < b.name ? -1 : 1))
      .slice(0, MAX_LISTED_ROOMS)
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  return {
    rooms: listed.map((r) => ({ name: r.name, topic: r.topic, members: r.members })),
    more: all.length - listed.length,
  };
}
