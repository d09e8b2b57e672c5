import { deepEqual, equal, throws } from "node:assert/strict";
import {
  ACTIVITY_HEARTBEAT_MS,
  ACTIVITY_STALE_MS,
  ACTIVITY_WRITE_DELAY_MS,
  ActivityLog,
  isLive,
  readActivity,
  trackActivity,
} from "../../lib/server/activity.ts";
import { FakeClock } from "../_fake_clock.ts";
import { tempDir } from "../_helpers.ts";

/** A write seam that records each write and says when one happened. */
function recordingWrites() {
  const writes: { running: boolean; updatedAt: number; online: Record<string, number> }[] = [];
  let wake = () => {};
  return {
    writes,
    writeFile: async (path: string, text: string) => {
      await Deno.writeTextFile(path, text);
      writes.push(JSON.parse(text));
      wake();
    },
    /** Resolves once `count` writes have happened. */
    async until(count: number) {
      while (writes.length < count) await new Promise<void>((resolve) => wake = resolve);
    },
  };
}

Deno.test("ActivityLog writes a burst of logins once, after the write delay, and beats while idle", async () => {
  await using dir = await tempDir();
  const clock = new FakeClock();
  const start = clock.now();
  const seam = recordingWrites();
  const log = await ActivityLog.open(`${dir.path}/activity.json`, { clock, ...seam });
  equal(seam.writes.length, 1, "marked running at open");
  log.entered("alice");
  log.entered("bob");
  log.entered("alice");
  log.left("bob");
  clock.advance(ACTIVITY_WRITE_DELAY_MS - 1);
  equal(seam.writes.length, 1, "nothing before the delay");
  clock.advance(1);
  await seam.until(2);
  deepEqual(seam.writes[1]?.online, { alice: 2 });
  clock.advance(ACTIVITY_HEARTBEAT_MS);
  await seam.until(3);
  equal(seam.writes[2]?.updatedAt, start + ACTIVITY_HEARTBEAT_MS, "the heartbeat's own pace");
  await log.close();
  const closed = await readActivity(`${dir.path}/activity.json`);
  deepEqual([closed?.running, closed?.online], [false, {}]);
  equal(Object.keys(closed?.lastLogin ?? {}).sort().join(), "alice,bob");
});

Deno.test("ActivityLog keeps last logins across a restart; a file not written lately is not live", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/activity.json`;
  const clock = new FakeClock();
  const first = await ActivityLog.open(path, { clock });
  first.entered("alice");
  const at = clock.now();
  await first.close();
  clock.advance(5_000);
  const second = await ActivityLog.open(path, { clock });
  const live = await readActivity(path);
  deepEqual([live?.running, live?.lastLogin], [true, { alice: at }]);
  equal(isLive(live!, clock.now() + ACTIVITY_STALE_MS), true);
  equal(isLive(live!, clock.now() + ACTIVITY_STALE_MS + 1), false, "a killed server's file");
  await second.close();
});

Deno.test("trackActivity() counts a session from enter until its first leave", () => {
  const counts: string[] = [];
  const log = {
    entered: (n: string) => counts.push(`+${n}`),
    left: (n: string) => counts.push(`-${n}`),
  };
  const left: (string | undefined)[] = [];
  const hub = {
    enter: (_m: { name: string }) => ({ input: () => {}, leave: (r?: string) => left.push(r) }),
  };
  const enter = trackActivity(hub, log);
  const presence = enter({ name: "alice" });
  presence.leave("quit");
  presence.leave("again");
  deepEqual(counts, ["+alice", "-alice"]);
  deepEqual(left, ["quit", "again"], "the hub still hears every leave");
  const refusing = trackActivity({
    enter: (): { leave(): void } => {
      throw new Error("banned");
    },
  }, log);
  throws(() => refusing({ name: "eve" }), /banned/);
  deepEqual(counts, ["+alice", "-alice"], "a refused entry is not counted");
});
