/**
 * A V8 CPU profile of a Banter server started with `--inspect`, taken over
 * the Chrome DevTools Protocol, saved as a `.cpuprofile` (open it in Chrome
 * DevTools or speedscope) and summarised as the functions with the most
 * self time.
 *
 * @module
 */
import type { Target } from "./targets.ts";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** One function's share of the samples. */
export interface SelfTime {
  name: string;
  percent: number;
}

/**
 * Summarise a CPU profile by self time, as shares of the busy samples
 * (`(idle)` is left out, so the shares say where the CPU time went).
 *
 * @param nodes The profile's nodes.
 * @param top How many functions.
 * @returns The busiest functions, largest share first.
 */
export function selfTimes(nodes: ProfileNode[], top = 12): SelfTime[] {
  const hits = new Map<string, number>();
  let total = 0;
  for (const node of nodes) {
    const n = node.hitCount ?? 0;
    if (n === 0 || node.callFrame.functionName === "(idle)") continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.split("/").slice(-2).join("/");
    const name = url === ""
      ? functionName || "(anonymous)"
      : `${functionName || "(anonymous)"} ${file}:${lineNumber + 1}`;
    hits.set(name, (hits.get(name) ?? 0) + n);
    total += n;
  }
  return [...hits].sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([name, n]) => ({ name, percent: (100 * n) / total }));
}

/** A CDP session with one server's inspector. */
export class CpuProfiler {
  readonly #socket: WebSocket;
  readonly #pending = new Map<number, PromiseWithResolvers<Record<string, unknown>>>();
  #nextId = 1;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.onmessage = (event) => {
      const message = JSON.parse(String(event.data)) as {
        id?: number;
        result?: Record<string, unknown>;
        error?: { message: string };
      };
      const pending = message.id === undefined ? undefined : this.#pending.get(message.id);
      if (pending === undefined) return;
      this.#pending.delete(message.id!);
      if (message.error) pending.reject(new Error(message.error.message));
      else pending.resolve(message.result ?? {});
    };
  }

  /**
   * Connect to a target started with `--inspect=127.0.0.1:PORT`.
   *
   * @param target A Banter target with `inspectPort`.
   * @returns A connected profiler.
   * @throws {Error} When the target has no inspector.
   */
  static async attach(target: Target): Promise<CpuProfiler> {
    if (target.inspectPort === undefined) {
      throw new Error(`Cannot profile ${target.name}: it was started without --inspect`);
    }
    const response = await fetch(`http://127.0.0.1:${target.inspectPort}/json/list`);
    const [first] = await response.json() as { webSocketDebuggerUrl: string }[];
    if (first === undefined) throw new Error(`Cannot profile ${target.name}: no inspector target`);
    const socket = new WebSocket(first.webSocketDebuggerUrl);
    await new Promise<void>((resolve, reject) => {
      socket.onopen = () => resolve();
      socket.onerror = () => reject(new Error(`Cannot connect to ${first.webSocketDebuggerUrl}`));
    });
    return new CpuProfiler(socket);
  }

  #call(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = this.#nextId++;
    const pending = Promise.withResolvers<Record<string, unknown>>();
    this.#pending.set(id, pending);
    this.#socket.send(JSON.stringify({ id, method, params }));
    return pending.promise;
  }

  /**
   * The V8 heap after a full garbage collection.
   *
   * @returns Used and total JS heap bytes.
   */
  async heapUsage(): Promise<{ usedBytes: number; totalBytes: number; externalBytes: number }> {
    await this.#call("HeapProfiler.collectGarbage");
    const { usedSize, totalSize } = await this.#call("Runtime.getHeapUsage") as {
      usedSize: number;
      totalSize: number;
    };
    // Array buffers and other memory V8 tracks outside its heap.
    const { result } = await this.#call("Runtime.evaluate", {
      expression: "Deno.memoryUsage().external",
      returnByValue: true,
    }) as { result?: { value?: unknown } };
    const external = typeof result?.value === "number" ? result.value : Number.NaN;
    return { usedBytes: usedSize, totalBytes: totalSize, externalBytes: external };
  }

  /** Disconnect without profiling. */
  close(): void {
    this.#socket.close();
  }

  /** Start sampling every 200 µs. */
  async start(): Promise<void> {
    await this.#call("Profiler.enable");
    await this.#call("Profiler.setSamplingInterval", { interval: 200 });
    await this.#call("Profiler.start");
  }

  /**
   * Stop, save the profile to `path` and disconnect.
   *
   * @returns Report notes: the file and the top functions by self time.
   */
  async stopAndSave(path: string): Promise<string[]> {
    const { profile } = await this.#call("Profiler.stop") as { profile: { nodes: ProfileNode[] } };
    this.#socket.close();
    await Deno.writeTextFile(path, JSON.stringify(profile));
    const top = selfTimes(profile.nodes)
      .map((t) => `${t.percent.toFixed(1)}% ${t.name}`)
      .join("; ");
    return [`CPU profile ${path}; self time (share of busy samples): ${top}`];
  }
}
