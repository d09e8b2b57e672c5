/**
 * Launchers for the peer servers the bench compares against, when they are
 * installed (`apt-get install ngircd ncat`); the bench never installs them.
 *
 * @module
 */
import type { Fixture } from "./fixture.ts";
import type { Launcher } from "./scenarios.ts";
import { findExecutable, startNcat, startNgircd } from "./targets.ts";

/** Names of the peers the bench knows. */
export const PEER_NAMES = ["ngircd", "ncat"] as const;

/** A known peer. */
export type PeerName = typeof PEER_NAMES[number];

/**
 * Launchers for the asked-for peers that are installed.
 *
 * @param fixture The run's certificates (peers serve our server certificate).
 * @param wanted Peer names.
 * @returns Launchers, and a note for each peer that is missing.
 */
export function peerLaunchers(
  fixture: Fixture,
  wanted: readonly PeerName[],
): { launchers: Launcher[]; missing: string[] } {
  const launchers: Launcher[] = [];
  const missing: string[] = [];
  for (const name of wanted) {
    const path = findExecutable(name, ["/usr/sbin", "/usr/local/sbin"]);
    if (path === undefined) {
      missing.push(`${name} is not installed (apt-get install ${name}); skipped`);
      continue;
    }
    launchers.push({
      name,
      ca: fixture.ca,
      profilable: false,
      ...(name === "ncat"
        ? {
          maxSessions: {
            count: 1000,
            why:
              "ncat --chat watches clients with select(); it aborts (SIGABRT) when a descriptor reaches FD_SETSIZE = 1024",
          },
        }
        : {}),
      start: () => name === "ngircd" ? startNgircd(fixture, path) : startNcat(fixture, path),
    });
  }
  return { launchers, missing };
}

/**
 * The first line of `program --version`.
 *
 * @param program Executable name.
 * @returns The version line, or `undefined` when it is not installed.
 */
export async function versionOf(program: string): Promise<string | undefined> {
  const path = findExecutable(program, ["/usr/sbin", "/usr/local/sbin"]);
  if (path === undefined) return undefined;
  const out = await new Deno.Command(path, {
    args: ["--version"],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return text.split("\n").find((line) => line.trim() !== "")?.trim();
}
