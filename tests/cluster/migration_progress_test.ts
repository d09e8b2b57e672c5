/**
 * A migration's progress in KV bucket `banter_migrations` on a real
 * nats-server: kept per install fingerprint, and two runs of one install at
 * once cannot both move it.
 */
import { deepEqual, equal, notEqual, rejects } from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import {
  MigrationConflictError,
  MigrationProgress,
  sourceFingerprint,
} from "../../lib/cluster/migration_progress.ts";
import { startNats } from "../_nats.ts";

Deno.test("sourceFingerprint() names an install by its oldest message", async () => {
  const a = await sourceFingerprint('[1,1000,"alice","hi"]');
  equal(a, await sourceFingerprint('[1,1000,"alice","hi"]'));
  notEqual(a, await sourceFingerprint('[1,1000,"alice","hi!"]'));
  equal(a.length, 16);
});

Deno.test("progress is kept per install, and a second run writing it at once is stopped", async () => {
  await using nats = await startNats();
  const nc = await connect({ servers: nats.url });
  try {
    const first = await MigrationProgress.open(nc, "aaaa000011112222", 1);
    const second = await MigrationProgress.open(nc, "aaaa000011112222", 1);
    const other = await MigrationProgress.open(nc, "bbbb000011112222", 1);
    await first.save({ lastOldId: 100, lastSeq: 97 });
    await rejects(second.save({ lastOldId: 100, lastSeq: 98 }), MigrationConflictError);
    await other.save({ lastOldId: 5, lastSeq: 5 });
    await first.save({ lastOldId: 200, lastSeq: 197 });
    await first.mapId(150, 147);
    const again = await MigrationProgress.open(nc, "aaaa000011112222", 1);
    deepEqual(again.messages, { lastOldId: 200, lastSeq: 197 });
    equal(await again.idOf(150), 147);
    equal(await again.idOf(151), undefined);
    deepEqual((await MigrationProgress.open(nc, "bbbb000011112222", 1)).messages, {
      lastOldId: 5,
      lastSeq: 5,
    });
  } finally {
    await nc.close();
  }
});
