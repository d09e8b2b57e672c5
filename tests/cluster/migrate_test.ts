/**
 * `deno task migrate --cluster URL` on a real nats-server: a single-node
 * install built with the real stores (accounts, a lockout, rooms, topics,
 * memberships, 300 room messages over 3 rooms, DMs between two pairs, read
 * markers, bans) is moved into the cluster and compared with it; a second
 * run adds nothing; a run killed midway, or failing after N messages, is
 * resumed with nothing lost or doubled; bad inputs are one line and exit 1.
 */
import { deepEqual, equal, match, ok } from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { CredentialStore } from "../../lib/auth/store.ts";
import { Hasher } from "../../lib/auth/hash.ts";
import { Lockout } from "../../lib/auth/lockout.ts";
import { SessionTokens, tokenBinding } from "../../lib/auth/session_tokens.ts";
import { SqliteHistory } from "../../lib/chat/sqlite_history.ts";
import type { DirectMessage, RoomMessage } from "../../lib/chat/message.ts";
import { systemClock } from "../../lib/util/clock.ts";
import { ClusterChatState } from "../../lib/cluster/kv_chat_state.ts";
import { MESSAGE_STREAM, MessageStream } from "../../lib/cluster/message_stream.ts";
import { migrate } from "../../lib/cluster/migrate.ts";
import { openMigrationSource } from "../../lib/cluster/migration_source.ts";
import { verifyMigration } from "../../lib/cluster/migration_verify.ts";
import { parseMigrateArgs } from "../../scripts/_migrate_args.ts";
import { migratePermissions } from "../../scripts/migrate.ts";
import { tempDir, within } from "../_helpers.ts";
import { Output, PROCESS_MS } from "../_process.ts";
import { startNats, startNatsCluster } from "../_nats.ts";

const REPO = fileURLToPath(new URL("../../", import.meta.url));

/** The lockout's time, fixed, so its lock is in force whenever it is read. */
const NOW = Date.UTC(2026, 0, 1);
const fixedClock = { ...systemClock, now: () => NOW };

const ROOMS = ["general", "random", "ops"] as const;

/** What the single-node install holds, as the test built it. */
interface Install {
  readonly dir: string;
  readonly data: string;
  readonly ids: Record<"admin" | "alice" | "bob", string>;
  readonly rooms: Record<string, RoomMessage[]>;
  /** DMs by pair `a b` (account ids sorted). */
  readonly dms: Map<string, DirectMessage[]>;
  /** Read markers set: account, conversation, old id. */
  readonly markers: { account: string; conversation: string; id: number }[];
  /** Room messages and DMs in all. */
  readonly total: number;
  /** A web session token of alice's. */
  readonly aliceToken: string;
}

/** Build a single-node install in `dir/data` with the real stores, `count` room messages. */
async function buildInstall(dir: string, count = 300): Promise<Install> {
  const data = join(dir, "data");
  await Deno.mkdir(data, { mode: 0o700 });
  const store = await CredentialStore.open(join(data, "credentials.json"), {
    hasher: new Hasher({ params: { logN: 10, r: 8, p: 1 } }),
  });
  await store.add("alice", "quiet lantern 42 harbour");
  await store.add("bob", "brisk orchard 77 window", "admin");
  const ids = {
    admin: store.get("admin")!.id,
    alice: store.get("alice")!.id,
    bob: store.get("bob")!.id,
  };
  const tokens = await SessionTokens.open(join(data, "tokens.json"), {
    bindingOf: (id) => {
      const account = store.list().map(({ name }) => store.get(name)!).find((a) => a.id === id);
      return account && tokenBinding(account);
    },
  });
  const aliceToken = await tokens.issue(ids.alice);
  await tokens.issue(ids.bob);
  const lockout = await Lockout.open(join(data, "lockout.json"), { clock: fixedClock });
  for (let i = 0; i < 3; i++) await lockout.recordFailure("carol", "192.0.2.7");
  equal(lockout.locks().length > 0, true);

  using history = new SqliteHistory(join(data, "history.db"));
  for (const room of ROOMS) history.ensureRoom(room, NOW - 1000);
  history.setTopic("general", "Welcome all");
  history.setTopic("ops", "On call: bob");
  history.addMember(ids.alice, "general");
  history.addMember(ids.alice, "random");
  history.addMember(ids.bob, "general");
  history.addMember(ids.bob, "ops");
  history.addMember(ids.admin, "ops");
  const rooms: Record<string, RoomMessage[]> = { general: [], random: [], ops: [] };
  const dms = new Map<string, DirectMessage[]>();
  const pairs: [keyof typeof ids, keyof typeof ids][] = [["alice", "bob"], ["admin", "alice"]];
  let ts = NOW - 500_000;
  for (let i = 0; i < count; i++) {
    const room = ROOMS[i % 3]!;
    const from = ["alice", "bob", "admin"][i % 7 % 3]!;
    const message: RoomMessage = {
      kind: "message",
      id: history.nextId(),
      room,
      from,
      text: `message ${i} in ${room} ✓`,
      ts: ts++,
      ...(i % 50 === 0 ? { action: true } : {}),
    };
    history.append(message);
    rooms[room]!.push(message);
    if (i % 20 === 5) {
      const [a, b] = pairs[i % 40 === 5 ? 0 : 1]!;
      const [sender, to] = i % 3 === 0 ? [a, b] : [b, a];
      const dm: DirectMessage = {
        kind: "dm",
        id: history.nextId(),
        from: sender,
        to,
        text: `dm ${i} from ${sender}`,
        ts: ts++,
      };
      history.append(dm, { from: ids[sender], to: ids[to] });
      const key = [ids[a], ids[b]].sort().join(" ");
      dms.set(key, [...(dms.get(key) ?? []), dm]);
    }
  }
  history.ban("mallory", NOW - 100, { by: "bob", reason: "spam" });
  history.ban("eve", NOW - 50);
  const markers = [
    // On a message of the room.
    { account: ids.alice, conversation: "#general", id: rooms.general![40]!.id },
    // Between messages: the newest room message at or below it counts.
    { account: ids.bob, conversation: "#ops", id: rooms.ops![10]!.id + 1 },
    // A DM conversation.
    {
      account: ids.alice,
      conversation: `@${ids.bob}`,
      id: dms.get([ids.alice, ids.bob].sort().join(" "))![2]!.id,
    },
  ];
  for (const m of markers) history.markRead(m.account, m.conversation, m.id);
  const total = count + [...dms.values()].flat().length;
  return { dir, data, ids, rooms, dms, markers, total, aliceToken };
}

/** Run `deno task migrate` (the real launcher) with `args`. */
async function runTask(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "migrate", ...args],
    cwd: REPO,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = await within(child.output(), 3 * PROCESS_MS, "deno task migrate to end");
  const decoder = new TextDecoder();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

/** Every stored message of the stream, counted. */
async function streamCount(nc: NatsConnection): Promise<number> {
  const jsm = await jetstreamManager(nc);
  return (await jsm.streams.info(MESSAGE_STREAM)).state.messages;
}

function line(stdout: string, kind: string): string {
  return stdout.split("\n").find((l) => l.startsWith(`${kind} `)) ?? "";
}

/** Compare the cluster with what the install held, as a user of it would see it. */
async function assertMigrated(nc: NatsConnection, install: Install, dir: string): Promise<void> {
  const kv = await new Kvm(nc).open("banter_auth");
  // The entries are valid files for the real stores.
  const credentialsFile = join(dir, "cluster-credentials.json");
  await Deno.writeTextFile(credentialsFile, (await kv.get("credentials"))!.string());
  const cluster = await CredentialStore.open(credentialsFile, { createIfMissing: false });
  const source = await CredentialStore.open(join(install.data, "credentials.json"));
  deepEqual(cluster.list(), source.list());
  for (const { name } of source.list()) deepEqual(cluster.get(name), source.get(name));
  const lockoutFile = join(dir, "cluster-lockout.json");
  await Deno.writeTextFile(lockoutFile, (await kv.get("lockouts"))!.string());
  const clusterLocks = await Lockout.open(lockoutFile, { clock: fixedClock });
  const sourceLocks = await Lockout.open(join(install.data, "lockout.json"), {
    clock: fixedClock,
  });
  deepEqual(clusterLocks.locks(), sourceLocks.locks());
  ok(clusterLocks.status("carol", "192.0.2.7").locked, "carol is locked from that address");
  const tokensFile = join(dir, "cluster-tokens.json");
  await Deno.writeTextFile(tokensFile, (await kv.get("tokens"))!.string());
  const clusterTokens = await SessionTokens.open(tokensFile, {
    bindingOf: (id) => {
      const account = cluster.list().map(({ name }) => cluster.get(name)!).find((a) => a.id === id);
      return account && tokenBinding(account);
    },
  });
  equal(clusterTokens.size, 2);
  equal(await clusterTokens.check(install.aliceToken), install.ids.alice, "alice's web session");

  await using state = await ClusterChatState.open(nc);
  deepEqual(state.banOf("Mallory"), { name: "mallory", ts: NOW - 100, by: "bob", reason: "spam" });
  deepEqual(state.banOf("eve"), { name: "eve", ts: NOW - 50 });
  deepEqual(
    state.rooms().map((r) => [r.name, r.topic]),
    [["general", "Welcome all"], ["ops", "On call: bob"], ["random", ""]],
  );
  deepEqual(state.roomsOf(install.ids.alice), ["general", "random"]);
  deepEqual(state.roomsOf(install.ids.bob), ["general", "ops"]);
  deepEqual(state.roomsOf(install.ids.admin), ["ops"]);

  const stream = (await MessageStream.existing(nc))!;
  const all = { limit: 10_000 };
  const newIds = new Map<number, number>();
  const strip = (m: RoomMessage | DirectMessage) => {
    const { id: _id, ...rest } = m;
    return rest;
  };
  for (const room of ROOMS) {
    const page = (await stream.roomPage(room, all)).messages;
    deepEqual(page.map(strip), install.rooms[room]!.map(strip), `room ${room} in order`);
    install.rooms[room]!.forEach((m, i) => newIds.set(m.id, page[i]!.id));
  }
  for (const [key, expected] of install.dms) {
    const [a, b] = key.split(" ") as [string, string];
    const page = (await stream.directPage(a, b, all)).messages;
    deepEqual(page.map(strip), expected.map(strip), `DMs of ${key}`);
    expected.forEach((m, i) => newIds.set(m.id, page[i]!.id));
  }
  // The stream's order is the old id order, across rooms and DMs.
  const byOld = [...newIds].sort(([a], [b]) => a - b).map(([, seq]) => seq);
  deepEqual(byOld, [...byOld].sort((a, b) => a - b), "new ids follow the old order");

  for (const marker of install.markers) {
    const room = marker.conversation.startsWith("#") ? marker.conversation.slice(1) : undefined;
    const conversation = room === undefined
      ? install.dms.get([marker.account, marker.conversation.slice(1)].sort().join(" "))!
      : install.rooms[room]!;
    const markedOld = conversation.filter((m) => m.id <= marker.id).at(-1)!;
    equal(
      state.lastRead(marker.account, marker.conversation),
      newIds.get(markedOld.id),
      `marker ${marker.conversation} on the same message`,
    );
  }
}

Deno.test("deno task migrate moves a single-node install into the cluster; a second run adds nothing", async () => {
  await using dir = await tempDir();
  await using nats = await startNats();
  const install = await buildInstall(dir.path);
  const args = ["--cluster", nats.url, "--data", install.data];
  const first = await runTask(args);
  equal(first.code, 0, first.stderr);
  match(line(first.stdout, "accounts"), /3 migrated, 0 already there, 0 refused/);
  match(line(first.stdout, "lockouts"), /[1-9]\d* migrated/);
  match(line(first.stdout, "web sessions"), /2 migrated/);
  match(line(first.stdout, "bans"), /2 migrated/);
  match(line(first.stdout, "rooms"), /3 migrated/);
  match(line(first.stdout, "memberships"), /5 migrated/);
  match(line(first.stdout, "read markers"), /3 migrated/);
  match(line(first.stdout, "messages"), /300 migrated, 0 already there/);
  const dmCount = install.total - 300;
  match(line(first.stdout, "DMs"), new RegExp(`${dmCount} migrated`));

  const nc = await connect({ servers: nats.url });
  try {
    await assertMigrated(nc, install, dir.path);
    const stored = await streamCount(nc);
    equal(stored, install.total);

    const verify = await runTask([...args, "--verify"]);
    equal(verify.code, 0, verify.stdout + verify.stderr);
    match(verify.stdout, /the cluster holds everything of this install/);

    const second = await runTask(args);
    equal(second.code, 0, second.stderr);
    match(second.stdout, /nothing added/);
    match(line(second.stdout, "messages"), /0 migrated, 300 already there/);
    match(line(second.stdout, "accounts"), /0 migrated, 3 already there/);
    equal(await streamCount(nc), stored, "the second run stored no message");
    await assertMigrated(nc, install, dir.path);
  } finally {
    await nc.close();
  }
});

Deno.test("a migration killed midway resumes on the next run: nothing lost or doubled", async () => {
  await using dir = await tempDir();
  await using nats = await startNats();
  // Many messages, so the kill lands well before the end.
  const install = await buildInstall(dir.path, 3000);
  const args = ["--cluster", nats.url, "--data", install.data];
  const nc = await connect({ servers: nats.url });
  try {
    // Count the messages as the stream takes them; kill the migration at the 120th.
    let seen = 0;
    const reached = Promise.withResolvers<void>();
    const sub = nc.subscribe("banter.msg.>", {
      callback: () => {
        if (++seen === 120) reached.resolve();
      },
    });
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...migratePermissions(parseMigrateArgs(args)),
        join(REPO, "scripts", "_migrate_run.ts"),
        ...args,
      ],
      cwd: REPO,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const output = new Output(child.stdout, child.stderr);
    await within(reached.promise, 3 * PROCESS_MS, "120 messages stored");
    child.kill("SIGKILL");
    const status = await child.status;
    await output.done;
    equal(status.signal, "SIGKILL", output.text);
    sub.unsubscribe();
    const partial = await streamCount(nc);
    ok(partial >= 120 && partial < install.total, `stopped midway at ${partial}`);

    const resumed = await runTask(args);
    equal(resumed.code, 0, resumed.stderr);
    equal(await streamCount(nc), install.total, "every message once");
    await assertMigrated(nc, install, dir.path);
  } finally {
    await nc.close();
  }
});

Deno.test("a migration that fails after N messages, between two progress writes, resumes exactly", async () => {
  await using dir = await tempDir();
  await using nats = await startNats();
  const install = await buildInstall(dir.path);
  const paths = parseMigrateArgs(["--cluster", nats.url, "--data", install.data]);
  const nc = await connect({ servers: nats.url });
  try {
    {
      using source = await openMigrationSource(paths);
      let stored = 0;
      const stop = new Error("stopped after 150 messages");
      const failed = await migrate(source, nc, {
        onStored: () => {
          if (++stored === 150) throw stop;
        },
      }).then(() => undefined, (error) => error);
      equal(failed, stop);
    }
    equal(await streamCount(nc), 150);
    using source = await openMigrationSource(paths);
    const summary = await migrate(source, nc);
    equal(summary.messages.migrated + summary.dms.migrated, install.total - 150);
    equal(summary.messages.already + summary.dms.already, 150);
    equal(await streamCount(nc), install.total);
    deepEqual(await verifyMigration(source, nc), []);
    await assertMigrated(nc, install, dir.path);
  } finally {
    await nc.close();
  }
});

Deno.test("migrate keeps the cluster's account when its name has another id there, and says so", async () => {
  await using dir = await tempDir();
  await using nats = await startNats();
  const install = await buildInstall(dir.path);
  const nc = await connect({ servers: nats.url });
  try {
    const kv = await new Kvm(nc).create("banter_auth", { history: 1 });
    const theirs = {
      version: 2,
      users: { Alice: { id: "ClusterAliceId0000000A", role: "user", hash: "$scrypt$theirs" } },
    };
    await kv.create("credentials", JSON.stringify(theirs, null, 2) + "\n");
    const result = await runTask(["--cluster", nats.url, "--data", install.data]);
    equal(result.code, 0, result.stderr);
    match(line(result.stdout, "accounts"), /2 migrated, 0 already there, 1 refused/);
    match(
      result.stdout,
      /refused: account "alice": the cluster has "Alice" with another account id/,
    );
    match(line(result.stdout, "memberships"), /3 migrated, 0 already there, 2 refused/);
    const stored = JSON.parse((await kv.get("credentials"))!.string());
    deepEqual(Object.keys(stored.users), ["Alice", "admin", "bob"]);
    equal(stored.users.Alice.id, "ClusterAliceId0000000A");
    ok(!result.stdout.includes("$scrypt"), "no hash in the output");
    const verify = await runTask(["--cluster", nats.url, "--data", install.data, "--verify"]);
    equal(verify.code, 1);
    match(verify.stdout, /account "alice" has another account id in the cluster/);
  } finally {
    await nc.close();
  }
});

Deno.test("migrate stops with one line when NATS is unreachable, the server runs, or the stream is too small", async () => {
  await using dir = await tempDir();
  const install = await buildInstall(dir.path);
  {
    await using nats = await startNats();
    const url = nats.url;
    await nats.kill();
    const result = await runTask(["--cluster", url, "--data", install.data]);
    equal(result.code, 1);
    match(result.stderr, /^migrate: Cannot connect to the cluster at nats:\/\/127\.0\.0\.1:\d+/);
    equal(result.stderr.trim().split("\n").length, 1, result.stderr);
  }
  await using nats = await startNats();
  const nc = await connect({ servers: nats.url });
  try {
    // A server on the data: its WAL holds what it wrote.
    {
      using live = new SqliteHistory(join(install.data, "history.db"));
      live.ban("trudy", NOW);
      live.commit();
      const result = await runTask(["--cluster", nats.url, "--data", install.data]);
      equal(result.code, 1);
      match(result.stderr, /history\.db-wal holds \d+ bytes, so a server is running on this data/);
    }
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({
      name: MESSAGE_STREAM,
      subjects: ["banter.msg.>"],
      max_bytes: 64 * 1024,
      allow_direct: true,
    });
    const result = await runTask(["--cluster", nats.url, "--data", install.data]);
    equal(result.code, 1);
    match(result.stderr, /^migrate: Cannot migrate the messages: they need about \d+ bytes/);
    match(result.stderr, /max_bytes 65536/);
    equal(await streamCount(nc), 0);

    await Deno.writeTextFile(join(install.data, "lockout.json"), "{not json");
    const broken = await runTask(["--cluster", nats.url, "--data", install.data]);
    equal(broken.code, 1);
    match(
      broken.stderr,
      /^migrate: Cannot load lockout state from .*lockout\.json: not valid JSON/,
    );

    const usage = await runTask(["--data", install.data]);
    equal(usage.code, 2);
    match(usage.stderr, /--cluster is required/);
  } finally {
    await nc.close();
  }
});

Deno.test("migrate --replicas 3 onto a 3-node NATS cluster stores three copies of the stream and buckets", async () => {
  await using dir = await tempDir();
  await using cluster = await startNatsCluster();
  const install = await buildInstall(dir.path);
  const args = ["--cluster", cluster.urls, "--data", install.data, "--replicas", "3"];
  const result = await runTask(args);
  equal(result.code, 0, result.stderr);
  const nc = await connect({ servers: cluster.urls.split(",") });
  try {
    const jsm = await jetstreamManager(nc);
    for (
      const name of [MESSAGE_STREAM, "KV_banter_auth", "KV_banter_bans", "KV_banter_migrations"]
    ) {
      equal((await jsm.streams.info(name)).config.num_replicas, 3, name);
    }
    equal(await streamCount(nc), install.total);
    const verify = await runTask([...args, "--verify"]);
    equal(verify.code, 0, verify.stdout + verify.stderr);
  } finally {
    await nc.close();
  }
});

Deno.test("a run after more chat on the single node moves only what is new, markers moved on a migrated message too", async () => {
  await using dir = await tempDir();
  await using nats = await startNats();
  const install = await buildInstall(dir.path);
  const args = ["--cluster", nats.url, "--data", install.data];
  equal((await runTask(args)).code, 0);
  // The single-node server ran again: one more message, and alice read further.
  const general = install.rooms.general!;
  {
    using history = new SqliteHistory(join(install.data, "history.db"));
    const message: RoomMessage = {
      kind: "message",
      id: history.nextId(),
      room: "general",
      from: "bob",
      text: "one more",
      ts: NOW,
    };
    history.append(message);
    general.push(message);
    history.markRead(install.ids.alice, "#general", general[70]!.id);
  }
  install.markers[0]!.id = general[70]!.id;
  const again = await runTask(args);
  equal(again.code, 0, again.stderr);
  match(line(again.stdout, "messages"), /1 migrated, 300 already there/);
  match(line(again.stdout, "read markers"), /1 migrated, 2 already there/);
  const nc = await connect({ servers: nats.url });
  try {
    equal(await streamCount(nc), install.total + 1);
    await assertMigrated(nc, install, dir.path);
  } finally {
    await nc.close();
  }
});
