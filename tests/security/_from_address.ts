/**
 * Raw TCP peers bound to chosen loopback source addresses (Linux routes all
 * of 127.0.0.0/8 to lo), so one test can be many addresses and networks.
 * `Deno.connect` cannot choose its local address and binding one needs net
 * permission for it, so the sockets live in a child process
 * (`_from_address_child.ts`) allowed exactly those addresses.
 *
 * @module
 */
import { within } from "../_helpers.ts";

/** A TCP connection from a chosen address that never speaks. */
export interface SilentPeer {
  /** The source address it is bound to. */
  readonly from: string;
  /** Resolves when the server closes (or resets) the connection. */
  readonly closed: Promise<void>;
  /** Whether the server has closed it. */
  readonly isClosed: boolean;
  /** Reconnect from the same address each time the server closes it. */
  reopen(): Promise<void>;
}

/** Silent peers from several source addresses; all closed on dispose. */
export interface SilentPeers extends AsyncDisposable {
  /**
   * Connect to 127.0.0.1:`port` from `from` and send nothing.
   *
   * @param port The server's port.
   * @param from One of the addresses the peers were started with.
   * @returns The peer, once connected.
   */
  open(port: number, from: string): Promise<SilentPeer>;
}

/**
 * Start the child that holds the sockets.
 *
 * @param addresses Loopback source addresses it may bind.
 * @returns The peers.
 */
export function silentPeers(addresses: readonly string[]): SilentPeers {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      `--allow-net=127.0.0.1,${addresses.join(",")}`,
      new URL("./_from_address_child.ts", import.meta.url).pathname,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  const waiting = new Map<string, (ok: boolean) => void>();
  const closers = new Map<string, () => void>();
  const reading = (async () => {
    let buffer = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      const lines = buffer.split("\n");
      buffer = lines.pop() ?? "";
      for (const line of lines) {
        const [event, id = ""] = line.split(" ");
        if (event === "open" || event === "failed") waiting.get(id)?.(event === "open");
        if (event === "closed") closers.get(id)?.();
      }
    }
  })();
  const send = (line: string) => writer.write(new TextEncoder().encode(line + "\n"));
  let next = 0;
  return {
    async open(port, from) {
      const id = String(next++);
      const opened = new Promise<boolean>((resolve) => waiting.set(id, resolve));
      const state = { closed: false };
      const closed = new Promise<void>((resolve) =>
        closers.set(id, () => {
          state.closed = true;
          resolve();
        })
      );
      await send(`open ${id} ${port} ${from}`);
      const ok = await within(opened, 5_000, `a TCP connection from ${from}`);
      if (!ok) throw new Error(`Cannot connect from ${from}: refused`);
      return {
        from,
        closed,
        get isClosed() {
          return state.closed;
        },
        reopen: () => send(`reopen ${id}`),
      };
    },
    async [Symbol.asyncDispose]() {
      await writer.close();
      await child.status;
      await reading;
    },
  };
}
