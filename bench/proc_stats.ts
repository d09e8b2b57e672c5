/**
 * CPU time and memory of a process, read from `/proc/<pid>` (Linux), and the
 * generator's own CPU time.
 *
 * @module
 */
import process from "node:process";

/** One reading of a process. */
export interface ProcSample {
  /** User + system CPU time of all its threads, ms. */
  cpuMs: number;
  /** Resident set size now, KiB (VmRSS). */
  rssKiB: number;
  /** Peak resident set size, KiB (VmHWM). */
  hwmKiB: number;
  /** CPU time of every process on the machine so far (user + nice + system in `/proc/stat`), ms. */
  machineTaskMs: number;
  /**
   * Interrupt and softirq time of the machine so far, ms. Loopback TCP is
   * mostly processed in softirq, which the kernel charges to no process.
   */
  machineIrqMs: number;
}

let clockTicks: number | undefined;

/**
 * Clock ticks per second for `/proc/<pid>/stat` (`getconf CLK_TCK`, else 100).
 *
 * @returns Ticks per second.
 */
export async function clockTicksPerSecond(): Promise<number> {
  if (clockTicks !== undefined) return clockTicks;
  try {
    const out = await new Deno.Command("getconf", { args: ["CLK_TCK"], stderr: "null" })
      .output();
    const n = Number(new TextDecoder().decode(out.stdout).trim());
    clockTicks = out.success && n > 0 ? n : 100;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    clockTicks = 100;
  }
  return clockTicks;
}

/**
 * Read CPU time and memory of `pid`.
 *
 * @param pid A live process.
 * @returns CPU ms (resolution 1000/CLK_TCK ms), VmRSS and VmHWM in KiB.
 * @throws {Deno.errors.NotFound} When the process is gone.
 */
export async function sampleProcess(pid: number): Promise<ProcSample> {
  const ticks = await clockTicksPerSecond();
  const [stat, status, machine] = await readProcFiles(pid);
  // Fields after the ")" that closes the command name: state is field 3, so
  // utime (field 14) and stime (field 15) are at 11 and 12.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const cpuMs = (Number(fields[11]) + Number(fields[12])) * 1000 / ticks;
  return {
    cpuMs,
    rssKiB: statusKiB(status, "VmRSS"),
    hwmKiB: statusKiB(status, "VmHWM"),
    ...machineMs(machine, ticks),
  };
}

const SEPARATOR = "--banter-bench--";

/**
 * Deno refuses to read another process's `/proc` files without all
 * permissions, so `cat` reads them (the bench already runs children).
 */
async function readProcFiles(pid: number): Promise<[string, string, string]> {
  const files = [`/proc/${pid}/stat`, `/proc/${pid}/status`, "/proc/stat"];
  const out = await new Deno.Command("sh", {
    args: ["-c", files.map((f) => `cat ${f} && echo ${SEPARATOR}`).join(" && ")],
    stdout: "piped",
    stderr: "null",
  }).output();
  const parts = new TextDecoder().decode(out.stdout).split(`${SEPARATOR}\n`);
  if (!out.success || parts.length < 3) {
    throw new Deno.errors.NotFound(`Cannot read /proc/${pid}: no such process`);
  }
  return [parts[0]!, parts[1]!, parts[2]!];
}

/** Task and irq/softirq time from the `cpu` line of `/proc/stat`, ms. */
function machineMs(
  procStat: string,
  ticks: number,
): { machineTaskMs: number; machineIrqMs: number } {
  const fields = procStat.slice(0, procStat.indexOf("\n")).trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = fields;
  return {
    machineTaskMs: ((user + nice + system) * 1000) / ticks,
    machineIrqMs: ((irq + softirq) * 1000) / ticks,
  };
}

/**
 * CPU time of this process (every thread, so every load worker), ms.
 *
 * @returns User + system ms.
 */
export function selfCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

function statusKiB(status: string, key: string): number {
  const match = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status);
  return match ? Number(match[1]) : NaN;
}
