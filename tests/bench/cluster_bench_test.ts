/**
 * The cluster bench for real, at a tiny load: a nats-server and two Banter
 * instances as processes, clients spread over both, every delivery counted,
 * every process gone afterwards.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import { clusterChatScenario, seedClusterAccounts } from "../../bench/cluster.ts";
import { startNats } from "../_nats.ts";
import { createFixture } from "../../bench/fixture.ts";
import type { BenchSettings } from "../../bench/scenarios.ts";

const SETTINGS: BenchSettings = {
  workers: 1,
  loginConcurrency: 4,
  payloadBytes: 60,
  clients: 4,
  rate: 5,
  durationMs: 1000,
  messages: 1,
  idleSessions: 1,
  idleRoomSize: 0,
  idleBudgetMs: 1000,
  stormLogins: 1,
  stormChatters: 1,
  stormRate: 1,
  startupRuns: 1,
  denoFlags: [],
  serverArgs: [],
  tuned: false,
  slowRate: 5,
  smallIdleSessions: 1,
  profileDir: undefined,
};

/** Processes whose command line names `dir` (the run's files), by `pgrep -f`. */
async function processesUsing(dir: string): Promise<string> {
  const out = await new Deno.Command("pgrep", { args: ["-a", "-f", dir], stdout: "piped" })
    .output();
  return new TextDecoder().decode(out.stdout).trim();
}

Deno.test("cluster bench: two instances on one nats-server deliver every message to every client, and every process is stopped", async () => {
  await using fixture = await createFixture();
  const record = await clusterChatScenario(
    fixture,
    SETTINGS,
    { mode: "cluster", instances: 2 },
    "paced10",
  );
  equal(record.target, "cluster-2");
  equal(record.clients, 4);
  equal(record.sent, 4 * 5);
  equal(record.expected, record.sent * 4);
  equal(record.received, record.expected);
  equal(record.late, 0);
  equal(record.lost, 0);
  deepEqual(record.notes, []);
  // The clients were spread over both instances, round robin.
  deepEqual(record.instanceConnections, [2, 2]);
  // Both instances and nats-server were measured; every post went through the stream.
  equal(record.instanceCpuPct.length, 2);
  equal(record.instancePeakRssMiB.length, 2);
  ok(record.natsPeakRssMiB > 0);
  equal(record.metrics?.publishes, record.sent);
  equal(record.metrics?.publishFailures, 0);
  equal(await processesUsing(fixture.dir), "");
});

Deno.test("cluster bench: a setup that cannot start stops what it started and says why", async () => {
  await using fixture = await createFixture();
  const settings = { ...SETTINGS, serverArgs: ["--no-such-flag"] };
  let message = "";
  try {
    await clusterChatScenario(fixture, settings, { mode: "cluster", instances: 2 }, "paced10");
  } catch (error) {
    message = (error as Error).message;
  }
  ok(/Cannot start cluster-1-of-2/.test(message), message);
  equal(await processesUsing(fixture.dir), "");
});

Deno.test("cluster bench: the accounts go into the cluster's accounts bucket as the credentials file's text", async () => {
  await using nats = await startNats();
  await using fixture = await createFixture();
  const file = `${fixture.dir}/credentials.json`;
  await Deno.writeTextFile(file, '{"version":2,"users":{}}');
  await seedClusterAccounts(nats.url, file);
  const nc = await connect({ servers: nats.url });
  try {
    const kv = await new Kvm(nc).open("banter_auth");
    equal((await kv.get("credentials"))?.string(), '{"version":2,"users":{}}');
    const status = await kv.status();
    equal(status.history, 1);
    equal(status.streamInfo.config.allow_direct, false);
  } finally {
    await nc.close();
  }
});
