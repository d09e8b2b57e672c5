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
 * The credentials file, the data directory and the scrypt cost are the
 * server's own settings (flag, `BANTER_*` variable, `--config` file, or
 * default, as `deno task server --help` lists them), so passwords set here
 * are hashed exactly as the server hashes them.
 *
 * With `--cluster nats://HOST:PORT[,...]` (and `--cluster-creds`,
 * `--cluster-ca`) every command works on the cluster's NATS KV entries
 * (bucket `banter_auth`) instead of the files, with the same compare-and-set
 * the instances use; `deno task user` runs this through
 * `scripts/user_task.ts`, which grants the network to those servers only.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { UnknownUserError } from "../lib/auth/errors.ts";
import { Hasher, scryptParamsFor } from "../lib/auth/hash.ts";
import { PASSWORD_RULES } from "../lib/auth/password_policy.ts";
import { CredentialStore, USER_ROLES, type UserRole } from "../lib/auth/store.ts";
import { credentialsPath, SERVER_SETTINGS } from "../lib/server/settings.ts";
import { type Clock, systemClock } from "../lib/util/clock.ts";
import { listAccounts } from "./_user_list.ts";
import { isAddress, listLocks, unlockAccount, unlockAddress } from "./_user_locks.ts";
import { permissionAdvice } from "./_user_permissions.ts";
import { ConfigError, loadConfig, settingsEnvironment } from "../lib/util/config.ts";
import { TOOL_EXIT } from "../lib/util/exit_status.ts";
import { parseClusterUrls } from "../lib/cluster/cluster_urls.ts";
import {
  type AccountPlace,
  clusterPlace,
  type ClusterPlaceOptions,
  filePlace,
} from "./_user_places.ts";

interface Context {
  readonly names: string[];
  readonly role: string | undefined;
  /** `unlock --address IP`. */
  readonly address: string | undefined;
  readonly clock: Clock;
  /** The files, or the cluster's entries with `--cluster`. */
  readonly place: AccountPlace;
  /** Hashes at the server's cost. */
  readonly hasher: Hasher;
}

interface Command {
  readonly usage: string;
  readonly help: string;
  /** How many names it takes; a range for `unlock` (NAME or --address). */
  readonly arity: number | readonly [number, number];
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
  role: {
    usage: "role NAME admin|user",
    help: "set a user's role (applies to live sessions at once)",
    arity: 2,
    run: setRole,
  },
  remove: {
    usage: "remove NAME",
    help: "remove a user",
    arity: 1,
    run: removeUser,
  },
  list: {
    usage: "list",
    help: "list users: role, lock, last login, sessions online",
    arity: 0,
    run: listUsers,
  },
  unlock: {
    usage: "unlock NAME | --address IP",
    help: "lift a user's lockouts, or an address's lock on every user",
    arity: [0, 1],
    run: unlockUser,
  },
  locks: {
    usage: "locks",
    help: "list the lockouts in force (account and address) with time left",
    arity: 0,
    run: showLocks,
  },
  upgrade: {
    usage: "upgrade",
    help: "wrap legacy SHA-256 and bcrypt hashes in scrypt",
    arity: 0,
    run: upgradeHashes,
  },
};

/** The server settings this CLI shares, as its flags. */
const SHARED_FLAGS = ["credentials", "data", "scrypt-log-n", "config"] as const;

const USAGE = [
  "Usage: deno task user COMMAND [--credentials FILE] [--data DIR] [--scrypt-log-n N]",
  "                              [--config FILE] [--cluster URL[,URL...]]",
  "                              [--cluster-creds FILE] [--cluster-ca FILE]",
  ...Object.values(COMMANDS).map((c) => `  ${c.usage.padEnd(30)} ${c.help}`),
  "  --credentials FILE             accounts file (BANTER_CREDENTIALS, default DATA/credentials.json)",
  "  --data DIR                     data directory: credentials.json, lockout.json, activity.json (BANTER_DATA, default data)",
  "  --scrypt-log-n N               scrypt cost, as the server's (BANTER_SCRYPT_LOG_N, default 17)",
  "  --config FILE                  the server's config file (BANTER_CONFIG)",
  "  --cluster URL[,URL...]         the cluster's NATS servers nats://HOST:PORT: its accounts, not the files",
  "  --cluster-creds FILE           NATS credentials file (.creds) for --cluster",
  "  --cluster-ca FILE              CA of the NATS servers' certificates (turns TLS on)",
  "  --cluster-replicas N           copies of the accounts bucket if this creates it (default 1, 3 for 3+ servers)",
  "",
  passwordRules(),
].join("\n");

/** The password rules, as shown before every password prompt. */
function passwordRules(): string {
  return ["A password must be:", ...PASSWORD_RULES.map((rule) => `  - ${rule}`)].join("\n");
}

/** Options for {@linkcode main}. */
export interface UserCliOptions {
  /** The time lockouts and last logins are shown against. @default {systemClock} */
  clock?: Clock;
}

/**
 * Run the admin CLI.
 *
 * @param args Command-line arguments.
 * @param options The clock.
 * @returns The exit status ({@linkcode TOOL_EXIT}): `ok` on success,
 * `failure` when the action failed, `usage` on bad usage.
 */
export async function main(args: string[], options: UserCliOptions = {}): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        role: { type: "string" },
        address: { type: "string" },
        credentials: { type: "string" },
        data: { type: "string" },
        "scrypt-log-n": { type: "string" },
        config: { type: "string" },
        cluster: { type: "string" },
        "cluster-creds": { type: "string" },
        "cluster-ca": { type: "string" },
        "cluster-replicas": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    return usageError((error as Error).message);
  }
  const { values, positionals: [name = "", ...names] } = parsed;
  if (values.help) {
    console.log(USAGE);
    return TOOL_EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!Object.hasOwn(COMMANDS, name) || !command) {
    return usageError(name ? `unknown command "${name}"` : "missing command");
  }
  const [least, most] = typeof command.arity === "number"
    ? [command.arity, command.arity]
    : command.arity;
  if (names.length < least || names.length > most) {
    return usageError(`usage: ${command.usage}`);
  }
  if (values.role !== undefined && name !== "add") {
    return usageError("--role only applies to add");
  }
  if (values.address !== undefined && name !== "unlock") {
    return usageError("--address only applies to unlock");
  }
  if (name === "unlock" && (names.length === 1) === (values.address !== undefined)) {
    return usageError(`usage: ${command.usage}`);
  }
  if (values.address !== undefined && !isAddress(values.address)) {
    return usageError(`--address: "${values.address.slice(0, 64)}" is not an IP address`);
  }
  const config = values.config ?? readGrantedEnv("BANTER_CONFIG");
  let settings;
  const denied: unknown[] = [];
  try {
    settings = serverSettings(
      SHARED_FLAGS.flatMap((flag) => {
        const value = values[flag];
        return value === undefined ? [] : [`--${flag}`, value];
      }),
      (error) => denied.push(error),
    );
  } catch (error) {
    // A config file this process may not read is no usage error.
    const advice = permissionAdvice(denied[0] ?? error, args, { ...(config ? { config } : {}) });
    if (advice !== undefined) return failure(advice);
    if (error instanceof ConfigError) return usageError(error.message);
    throw error;
  }
  const credentials = credentialsPath(settings);
  let cluster;
  try {
    cluster = clusterOptions(values, settings);
  } catch (error) {
    if (error instanceof SyntaxError || error instanceof RangeError) {
      return usageError(error.message);
    }
    throw error;
  }
  try {
    await using place = cluster === undefined
      ? await filePlace(credentials, settings.data)
      : await clusterPlace(cluster);
    await command.run({
      names,
      role: values.role,
      address: values.address,
      clock: options.clock ?? systemClock,
      place,
      hasher: new Hasher({ params: scryptParamsFor(settings.scryptLogN) }),
    });
    return TOOL_EXIT.ok;
  } catch (error) {
    // The edge: every failure becomes one line and a non-zero exit; a
    // permission the task does not grant says which command would.
    const files = { data: settings.data, credentials, ...(config ? { config } : {}) };
    return failure(permissionAdvice(error, args, files) ?? (error as Error).message ?? error);
  }
}

/**
 * The cluster the accounts are in, from `--cluster` and its companions;
 * `undefined` for the files. A cluster named only by the server's
 * environment or config file is refused rather than silently managing the
 * files instead: `deno task user` grants network access only to the
 * servers given on its command line.
 */
function clusterOptions(
  values: {
    cluster?: string | undefined;
    "cluster-creds"?: string | undefined;
    "cluster-ca"?: string | undefined;
    "cluster-replicas"?: string | undefined;
  },
  settings: { cluster?: string | undefined },
): ClusterPlaceOptions | undefined {
  if (values.cluster === undefined) {
    for (const flag of ["cluster-creds", "cluster-ca", "cluster-replicas"] as const) {
      if (values[flag] !== undefined) throw new SyntaxError(`--${flag} needs --cluster`);
    }
    if (settings.cluster !== undefined) {
      throw new SyntaxError(
        "the server's settings name a cluster (BANTER_CLUSTER or the config file): give --cluster URL to manage its accounts",
      );
    }
    return undefined;
  }
  const servers = parseClusterUrls(values.cluster);
  const replicasText = values["cluster-replicas"];
  const replicas = replicasText === undefined
    ? (servers.length >= 3 ? 3 : 1)
    : Number(replicasText);
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) {
    throw new RangeError(`--cluster-replicas: "${replicasText}" is not a whole number from 1 to 5`);
  }
  return {
    servers,
    credsFile: values["cluster-creds"],
    caFile: values["cluster-ca"],
    replicas,
  };
}

function failure(line: unknown): number {
  console.error(`user: ${line}`);
  return TOOL_EXIT.failure;
}

/** The server's credentials, data and scrypt settings, resolved as the
 * server resolves them (flag, variable, config file, default); a config
 * file that cannot be read is also told to `onReadError`, with its cause. */
function serverSettings(flags: string[], onReadError: (error: unknown) => void) {
  const { values } = loadConfig(SERVER_SETTINGS, {
    args: flags,
    env: settingsEnvironment(SERVER_SETTINGS, readGrantedEnv),
    readFile: (path) => {
      try {
        return Deno.readTextFileSync(path);
      } catch (error) {
        onReadError(error);
        throw error;
      }
    },
  });
  return values;
}

/** A variable's value, or `undefined` when it is unset or this process
 * may not read it (run without `--allow-env`: flags and defaults apply). */
function readGrantedEnv(name: string): string | undefined {
  const { state } = Deno.permissions.querySync({ name: "env", variable: name });
  return state === "granted" ? Deno.env.get(name) : undefined;
}

function usageError(message: string): number {
  console.error(`user: ${message}\n${USAGE}`);
  return TOOL_EXIT.usage;
}

async function addUser(
  { names: [name = ""], role = "user", place, hasher }: Context,
) {
  if (!USER_ROLES.includes(role as UserRole)) {
    throw new TypeError(`Cannot add user "${name}": unknown role "${role}"`);
  }
  const store = await place.openStore({ hasher });
  const created = store.createdAdminPassword;
  if (created !== undefined) {
    console.error(
      `Created ${place.where} with user "admin"; its password (shown once): ${created}`,
    );
  }
  store.checkNewUser(name);
  const password = await askNewPassword(name);
  await store.add(name, password, role as UserRole);
  console.log(`Added user "${name}" (${role})`);
}

async function changePassword({ names: [name = ""], place, hasher }: Context) {
  const store = await openExisting(place, hasher);
  if (!store.get(name)) throw new UnknownUserError(name, "set password for");
  const password = await askNewPassword(name);
  await store.setPassword(name, password);
  console.log(`Changed password of "${name}"`);
}

async function setRole({ names: [name = "", role = ""], place }: Context) {
  if (!USER_ROLES.includes(role as UserRole)) {
    throw new TypeError(`Cannot set role of "${name}": unknown role "${role}"`);
  }
  const store = await openExisting(place);
  const changed = await store.setRole(name, role as UserRole, { keepAnAdmin: true });
  console.log(changed ? `Set role of "${name}" to ${role}` : `"${name}" is already ${role}`);
}

async function removeUser({ names: [name = ""], place }: Context) {
  const store = await openExisting(place);
  await store.remove(name, { keepAnAdmin: true });
  console.log(`Removed user "${name}"`);
}

async function listUsers({ place, clock }: Context) {
  const store = await openExisting(place);
  const lockout = await place.openLockout(clock);
  const now = clock.now();
  const online = await place.online(now);
  const users = store.list().map(({ name, role }) => ({
    name,
    role,
    id: store.get(name)?.id ?? "",
  }));
  const lines = listAccounts({ users, lockout, online, now });
  for (const line of lines) console.log(line);
}

async function unlockUser({ names: [name], address, place, clock }: Context) {
  const lockout = await place.openLockout(clock);
  if (address !== undefined) {
    for (const line of await unlockAddress(lockout, address)) console.log(line);
    return;
  }
  const store = await openExisting(place);
  if (name === undefined || !store.get(name)) {
    const hint = name !== undefined && isAddress(name)
      ? ` (for an address: deno task user unlock --address ${name})`
      : "";
    throw new Error(`${new UnknownUserError(name ?? "", "unlock").message}${hint}`);
  }
  for (const line of await unlockAccount(lockout, name)) console.log(line);
}

async function showLocks({ place, clock }: Context) {
  const lockout = await place.openLockout(clock);
  for (const line of listLocks(lockout)) console.log(line);
}

async function upgradeHashes({ place, hasher }: Context) {
  const store = await openExisting(place, hasher);
  let wrapped = 0;
  for (const { name } of store.list()) {
    const hash = store.get(name)?.hash ?? "";
    const next = await hasher.wrap(hash);
    if (next !== undefined && await store.setHash(name, next, { ifHash: hash })) wrapped++;
  }
  const { logN, r, p } = hasher.params;
  console.log(`Wrapped ${wrapped} legacy hashes in scrypt ln=${logN},r=${r},p=${p}`);
  // What is left above one scrypt goes as those users log in and are re-hashed.
  console.log(`Every login attempt now costs: ${hasher.stepsPerAttempt.join(" + ")}`);
}

async function openExisting(place: AccountPlace, hasher?: Hasher): Promise<CredentialStore> {
  return await place.openStore({
    createIfMissing: false,
    ...(hasher ? { hasher } : {}),
  });
}

/** Ask for a new password: twice without echo on a terminal, else the
 * first line of standard input. */
async function askNewPassword(name: string): Promise<string> {
  if (!Deno.stdin.isTerminal()) return await readFirstLine(Deno.stdin.readable);
  console.error(passwordRules());
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
  // Raw (no echo) before the prompt: input typed or pasted as soon as the
  // prompt shows is never echoed.
  const bytes: number[] = [];
  const buffer = new Uint8Array(64);
  Deno.stdin.setRaw(true);
  try {
    await Deno.stderr.write(encoder.encode(prompt));
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
