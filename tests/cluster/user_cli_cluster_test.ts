/**
 * `deno task user ... --cluster URL` as an admin runs it (the real task, in
 * its own process, password on stdin) against a real nats-server: the
 * accounts it writes are the cluster's, and an instance's authenticator
 * logs them in.
 */
import { deepEqual, equal, match } from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import { openClusterAccounts } from "../../lib/server/cluster_accounts.ts";
import { Counter } from "../../lib/server/prometheus.ts";
import { PRESENCE_BUCKET } from "../../lib/cluster/presence.ts";
import { TOOL_EXIT } from "../../lib/util/exit_status.ts";
import { clusterGrants, USER_TASK_GRANTS, userRunFlags } from "../../scripts/_user_permissions.ts";
import { FakeClock } from "../_fake_clock.ts";
import { systemRandom } from "../../lib/util/clock.ts";
import { startNats } from "../_nats.ts";
import { GOOD_PASSWORD } from "../auth/_helpers.ts";
import { userTask } from "./_cluster_users.ts";

/** One instance's accounts on the cluster, on its own connection. */
async function instanceOn(url: string) {
  const nc = await connect({ servers: url });
  const accounts = await openClusterAccounts(nc, {
    credentials: "unused",
    data: "unused",
    scryptLogN: 10,
    loginQueue: 10,
    loginQueuePerAddress: 2,
  }, {
    cluster: url,
    clock: new FakeClock(),
    random: systemRandom,
    announce: () => {},
    lockouts: { account: new Counter(), ip: new Counter() },
  });
  return {
    ...accounts,
    nc,
    async [Symbol.asyncDispose]() {
      await accounts.close();
      await nc.close();
    },
  };
}

Deno.test("deno task user add --cluster writes the cluster's accounts, and an instance logs the user in", async () => {
  await using nats = await startNats();
  const add = await userTask(
    ["add", "frank", "--cluster", nats.url, "--scrypt-log-n", "10"],
    `${GOOD_PASSWORD}\n`,
  );
  equal(add.code, TOOL_EXIT.ok, add.stderr);
  equal(add.stdout, `Added user "frank" (user)\n`);
  match(
    add.stderr,
    /^Created NATS KV banter_auth\/credentials with user "admin"; its password \(shown once\): [A-Za-z0-9_-]{20}\n$/,
  );

  await using instance = await instanceOn(nats.url);
  const nc = instance.nc;
  const login = await instance.auth.login({
    username: "frank",
    password: GOOD_PASSWORD,
    ip: "192.0.2.9",
  });
  equal(login.ok && login.user.name, "frank");

  // Online on one instance, per the presence bucket as an instance writes it.
  const presence = await new Kvm(nc).create(PRESENCE_BUCKET, { history: 1 });
  const frank = instance.store.get("frank")!;
  await presence.put(
    "i.one",
    JSON.stringify({ instance: "one", users: [{ account: frank.id, name: "frank" }] }),
  );
  const list = await userTask(["list", "--cluster", nats.url]);
  equal(list.code, TOOL_EXIT.ok, list.stderr);
  const rows = list.stdout.trim().split("\n").map((line) => line.split(/ {2,}/));
  deepEqual(rows.slice(0, 3), [
    ["NAME", "ROLE", "LOCK", "LAST LOGIN", "ONLINE"],
    ["admin", "admin", "-", "?", "0"],
    ["frank", "user", "-", "?", "1"],
  ]);
  match(list.stdout, /^\(cluster: ONLINE counts the instances a user is logged in on/m);

  // And a change by the CLI reaches the running instance.
  const removed = await userTask(["remove", "frank", "--cluster", nats.url]);
  equal(removed.code, TOOL_EXIT.ok, removed.stderr);
  const after = await instance.auth.login({
    username: "frank",
    password: GOOD_PASSWORD,
    ip: "192.0.2.9",
  });
  equal(after.ok, false);
});

Deno.test("deno task user --cluster with NATS unreachable says so in one line and fails", async () => {
  await using nats = await startNats();
  const url = nats.url;
  await nats.kill();
  const run = await userTask(["list", "--cluster", url]);
  equal(run.code, TOOL_EXIT.failure);
  equal(run.stdout, "");
  match(run.stderr, /^user: Cannot connect to the cluster at nats:\/\/127\.0\.0\.1:\d+: .+\n$/);
});

Deno.test("deno task user grants the network only with --cluster, and only its servers", () => {
  deepEqual(userRunFlags(clusterGrants(["list"])), [
    "--no-prompt",
    `--allow-read=${USER_TASK_GRANTS.read.join(",")}`,
    `--allow-write=${USER_TASK_GRANTS.write.join(",")}`,
    "--allow-env=BANTER_*",
  ]);
  deepEqual(
    userRunFlags(clusterGrants([
      "add",
      "bob",
      "--cluster=nats://10.0.0.5:4222,nats://nats-b",
      "--cluster-creds",
      "/etc/banter/user.creds",
    ])),
    [
      "--no-prompt",
      "--allow-read=data,credentials.json,/etc/banter/user.creds",
      "--allow-write=data",
      "--allow-env=BANTER_*",
      "--allow-net=10.0.0.5:4222,nats-b:4222",
    ],
  );
});

Deno.test("deno task user with a --cluster that is not a NATS URL is a usage error", async () => {
  const run = await userTask(["list", "--cluster", "http://example.com"]);
  equal(run.code, TOOL_EXIT.usage);
  match(
    run.stderr,
    /^user: Cannot use the cluster address "http:\/\/example\.com": it is not nats:\/\/HOST:PORT\n$/,
  );
});

Deno.test("deno task user passwd, role and locks --cluster work on the cluster's entries", async () => {
  await using nats = await startNats();
  const cluster = ["--cluster", nats.url, "--scrypt-log-n", "10"];
  equal((await userTask(["add", "gail", ...cluster], `${GOOD_PASSWORD}\n`)).code, TOOL_EXIT.ok);
  const passwd = await userTask(["passwd", "gail", ...cluster], "amber meadow 31\n");
  equal(passwd.code, TOOL_EXIT.ok, passwd.stderr);
  const role = await userTask(["role", "gail", "admin", ...cluster]);
  deepEqual([role.code, role.stdout], [TOOL_EXIT.ok, `Set role of "gail" to admin\n`]);
  const locks = await userTask(["locks", ...cluster]);
  deepEqual([locks.code, locks.stdout], [TOOL_EXIT.ok, "No locks in force\n"]);

  await using instance = await instanceOn(nats.url);
  const login = await instance.auth.login({
    username: "gail",
    password: "amber meadow 31",
    ip: "192.0.2.10",
  });
  equal(login.ok && login.user.role, "admin");
});
