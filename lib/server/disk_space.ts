/**
 * Watch the free space of the data directory's filesystem: a gauge for
 * /metrics, and a warning in the log when it falls below a threshold (once
 * per fall, and once again when it recovers). Measuring needs
 * `--allow-sys=statfs`; without it a warning says so, once.
 *
 * @module
 */
import { statfs } from "node:fs/promises";
import { getLogger } from "@logtape/logtape";
import type { Timers } from "../util/clock.ts";
import type { Gauge } from "./prometheus.ts";

const log = getLogger(["banter", "server"]);

/** How often the free space is measured. */
export const DISK_CHECK_INTERVAL_MS = 60_000;

/** Options for {@linkcode watchDiskSpace}. */
export interface DiskSpaceOptions {
  /** Where the check timer runs. */
  timers: Pick<Timers, "setInterval" | "clearInterval">;
  /** Set to the free bytes (for unprivileged users) at every check. */
  gauge: Gauge;
  /** Below this many free bytes, warn. */
  warnBelowBytes: number;
  /** Also run at every check (e.g. to update a history-size gauge). */
  onCheck?: () => void;
  /** Free bytes of the filesystem holding `dir`. @default node:fs statfs */
  freeBytes?: (dir: string) => Promise<number>;
}

/** A running free-space watch. */
export interface DiskSpaceWatch extends Disposable {
  /** Measure now (also done at start and every {@linkcode DISK_CHECK_INTERVAL_MS}). */
  check(): Promise<void>;
}

/**
 * Measure the free space of `dir`'s filesystem now and every
 * {@linkcode DISK_CHECK_INTERVAL_MS}. A failed measurement is logged, never
 * thrown.
 *
 * @param dir The data directory.
 * @param options Timers, gauge, threshold.
 * @returns The watch; dispose it to stop.
 */
export function watchDiskSpace(dir: string, options: DiskSpaceOptions): DiskSpaceWatch {
  const freeBytes = options.freeBytes ?? freeBytesOf;
  let low = false;
  let failing = false;
  let running: Promise<void> | undefined;
  const measure = async () => {
    options.onCheck?.();
    let free: number;
    try {
      free = await freeBytes(dir);
    } catch (error) {
      // Once per streak of failures, not every minute. Without the
      // permission it is how the server was started: a warning, not an error.
      if (!failing && error instanceof Deno.errors.NotCapable) {
        log.warn("Free space of {dir} is not watched: grant --allow-sys=statfs to watch it", {
          dir,
        });
      } else if (!failing) {
        log.error("Cannot measure free space of {dir}: {error}", {
          dir,
          error: error instanceof Error ? error.message : String(error),
        });
      }
      failing = true;
      return;
    }
    failing = false;
    options.gauge.set(free);
    const nowLow = free < options.warnBelowBytes;
    if (nowLow && !low) {
      log.warn(
        "Low disk space: {free} bytes free for {dir}, under {threshold}; history and lockouts may stop being saved",
        { free, dir, threshold: options.warnBelowBytes },
      );
    } else if (!nowLow && low) {
      log.info("Disk space recovered: {free} bytes free for {dir}", { free, dir });
    }
    low = nowLow;
  };
  const check = () => running ??= measure().finally(() => running = undefined);
  const id = options.timers.setInterval(() => void check(), DISK_CHECK_INTERVAL_MS);
  void check();
  return {
    check,
    [Symbol.dispose]: () => options.timers.clearInterval(id),
  };
}

async function freeBytesOf(dir: string): Promise<number> {
  const stats = await statfs(dir);
  return Number(stats.bavail) * Number(stats.bsize);
}
