/**
 * Manage Banter accounts from the shell, safely alongside a running server
 * (same lock file and atomic writes as the server).
 *
 * ```sh
 * deno task user add alice --role admin
 * deno task user list
 * ```
 *
 * Passwords are asked twice without echo on a terminal, or read from the
 * first line of standard input otherwise.
 *
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { UnknownUserError } from "../lib/auth/errors.ts";
import { Lockout } from "../lib/auth/lockout.ts";
import { CredentialStore, USER_ROLES, type UserRole } from "../lib/auth/store.ts";
import { DEFAULT_CREDENTIALS, refuseLegacyCredentials } from "../lib/server/legacy_credentials.ts";

interface Context {
  readonly names: string[];
  readonly role: string | undefined;
  readonly credentials: string;
  readonly data: string;
}

interface Command {
  readonly usage: string;
  readonly help: string;
  readonly arity: number;
  readonly run: (context: Context) => Promise<void>;
}

const COMMANDS: Record<string, Command> = {
  add: {
    usage: "add NAME [--role admin|user]",
    help: "add a user (role user by default)",
    arity: 1,
    run: addUser,
  },
  passwd: {
    usage: "passwd NAME",
    help: "set a user's password",
    arity: 1,
    run: changePassword,
  },
  remove: {
    usage: "remove NAME",
    help: "remove a user",
    arity: 1,
    run: removeUser,
  },
  list: {
    usage: "list",
    help: "list users and roles",
    arity: 0,
    run: listUsers,
  },
  unlock: {
    usage: "unlock NAME",
    help: "lift a login lockout",
    arity: 1,
    run: unlockUser,
  },
};

const USAGE = [
  "Usage: scripts/user.ts COMMAND [--credentials FILE] [--data DIR]",
  ...Object.values(COMMANDS).map((c) => `  ${c.usage.padEnd(30)} ${c.help}`),
  `  --credentials FILE             accounts file (default ${DEFAULT_CREDENTIALS})`,
  "  --data DIR                     data directory with lockout.json (default data)",
].join("\n");

/**
 * Run the admin CLI.
 *
 * @param args Command-line arguments.
 * @returns The exit code: 0 on success, 1 on failure, 2 on bad usage.
 */
export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        role: { type: "string" },
        credentials: { type: "string", default: DEFAULT_CREDENTIALS },
        data: { type: "string", default: "data" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    return usageError((error as Error).message);
  }
  const { values, positionals: [name = "", ...names] } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const command = COMMANDS[name];
  if (!Object.hasOwn(COMMANDS, name) || !command) {
    return usageError(name ? `unknown command "${name}"` : "missing command");
  }
  if (names.length !== command.arity) {
    return usageError(`usage: ${command.usage}`);
  }
  if (values.role !== undefined && name !== "add") {
    return usageError("--role only applies to add");
  }
  try {
    await refuseLegacyCredentials(values.credentials);
    await command.run({
      names,
      role: values.role,
      credentials: values.credentials,
      data: values.data,
    });
    return 0;
  } catch (error) {
    // The edge: every failure becomes one line and a non-zero exit.
    console.error(`user: ${(error as Error).message ?? error}`);
    return 1;
  }
}

function usageError(message: string): number {
  console.error(`user: ${message}\n${USAGE}`);
  return 2;
}

async function addUser(
  { names: [name = ""], role = "user", credentials }: Context,
) {
  if (!USER_ROLES.includes(role as UserRole)) {
    throw new TypeError(`Cannot add user "${name}": unknown role "${role}"`);
  }
  const store = await CredentialStore.open(credentials);
  const created = store.createdAdminPassword;
  if (created !== undefined) {
    console.error(
      `Created ${credentials} with user "admin"; its password (shown once): ${created}`,
    );
  }
  store.checkNewUser(name);
  const password = await askNewPassword(name);
  await store.add(name, password, role as UserRole);
  console.log(`Added user "${name}" (${role})`);
}

async function changePassword({ names: [name = ""], credentials }: Context) {
  const store = await openExisting(credentials);
  if (!store.get(name)) throw new UnknownUserError(name, "set password for");
  const password = await askNewPassword(name);
  await store.setPassword(name, password);
  console.log(`Changed password of "${name}"`);
}

async function removeUser({ names: [name = ""], credentials }: Context) {
  const store = await openExisting(credentials);
  await store.remove(name);
  console.log(`Removed user "${name}"`);
}

async function listUsers({ credentials }: Context) {
  const store = await openExisting(credentials);
  for (const { name, role } of store.list()) console.log(`${name}\t${role}`);
}

async function unlockUser({ names: [name = ""], credentials, data }: Context) {
  const store = await openExisting(credentials);
  if (!store.get(name)) throw new UnknownUserError(name, "unlock");
  const lockout = await Lockout.open(join(data, "lockout.json"));
  const cleared = await lockout.unlock(name);
  console.log(
    cleared ? `Unlocked "${name}"` : `"${name}" had no failed logins`,
  );
}

async function openExisting(path: string): Promise<CredentialStore> {
  return await CredentialStore.open(path, { createIfMissing: false });
}

/** Ask for a new password: twice without echo on a terminal, else the
 * first line of standard input. */
async function askNewPassword(name: string): Promise<string> {
  if (!Deno.stdin.isTerminal()) return await readFirstLine(Deno.stdin.readable);
  const password = await readHidden(`New password for ${name}: `);
  const again = await readHidden("Repeat the password: ");
  if (password !== again) {
    throw new Error("Cannot set password: the two entries do not match");
  }
  return password;
}

async function readFirstLine(input: ReadableStream<Uint8Array>) {
  const reader = input.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (value !== undefined) text += value;
      const end = text.indexOf("\n");
      if (end >= 0) return text.slice(0, end).replace(/\r$/, "");
      if (done) return text;
    }
  } finally {
    await reader.cancel();
  }
}

/** Read one line from the terminal in raw mode, echoing nothing. */
async function readHidden(prompt: string): Promise<string> {
  const encoder = new TextEncoder();
  await Deno.stderr.write(encoder.encode(prompt));
  Deno.stdin.setRaw(true);
  const bytes: number[] = [];
  const buffer = new Uint8Array(64);
  try {
    for (;;) {
      const n = await Deno.stdin.read(buffer);
      if (n === null) break;
      for (const byte of buffer.subarray(0, n)) {
        if (byte === 0x03 || (byte === 0x04 && bytes.length === 0)) {
          throw new Error("Cannot set password: cancelled");
        }
        if (byte === 0x0d || byte === 0x0a) {
          return new TextDecoder().decode(new Uint8Array(bytes));
        }
        if (byte === 0x7f || byte === 0x08) dropLastCharacter(bytes);
        else bytes.push(byte);
      }
    }
    return new TextDecoder().decode(new Uint8Array(bytes));
  } finally {
    Deno.stdin.setRaw(false);
    await Deno.stderr.write(encoder.encode("\n"));
  }
}

/** Remove the last UTF-8 character: continuation bytes, then its lead. */
function dropLastCharacter(bytes: number[]): void {
  let byte = bytes.pop();
  while (byte !== undefined && (byte & 0xc0) === 0x80) byte = bytes.pop();
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
