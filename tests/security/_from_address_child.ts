/**
 * The process behind `_from_address.ts`: holds silent TCP connections from
 * chosen loopback addresses. Binding a source address needs net permission
 * for it, which the test runner does not have, so this runs as its own
 * `deno run --allow-net=...` child.
 *
 * Reads commands on stdin, one a line: `open ID PORT FROM` connects to
 * 127.0.0.1:PORT from FROM and answers `open ID` (or `failed ID`); later
 * `closed ID` says the server closed it. `reopen ID` makes ID reconnect
 * (as a new connection under the same ID) each time the server closes it,
 * at most `MAX_REOPENS` times in all. End of stdin closes everything.
 *
 * @module
 */
import * as net from "node:net";

/** Reconnections in all before reopening stops by itself. */
const MAX_REOPENS = 1_000_000;

const out = (line: string) => Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
const sockets = new Map<string, net.Socket>();
const reopening = new Set<string>();
let reopens = 0;
let ending = false;

function open(id: string, port: number, from: string, again: boolean): void {
  const socket = net.connect({ host: "127.0.0.1", port, localAddress: from });
  sockets.set(id, socket);
  let connected = false;
  socket.on("error", () => undefined); // a reset shows as close
  socket.once("connect", () => {
    connected = true;
    if (!again) out(`open ${id}`);
  });
  socket.on("close", () => {
    if (ending || sockets.get(id) !== socket) return;
    if (!connected && !again) return out(`failed ${id}`);
    if (reopening.has(id) && reopens < MAX_REOPENS) {
      reopens++;
      open(id, port, from, true);
      return;
    }
    sockets.delete(id);
    out(`closed ${id}`);
  });
  socket.resume();
}

const byId = new Map<string, { port: number; from: string }>();
let buffer = "";
for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  buffer += chunk;
  const lines = buffer.split("\n");
  buffer = lines.pop() ?? "";
  for (const line of lines) {
    const [command, id = "", port = "0", from = ""] = line.split(" ");
    if (command === "open") {
      byId.set(id, { port: Number(port), from });
      open(id, Number(port), from, false);
    } else if (command === "reopen") {
      reopening.add(id);
      const known = byId.get(id);
      if (known && !sockets.has(id)) open(id, known.port, known.from, true);
    }
  }
}
ending = true;
for (const socket of sockets.values()) socket.destroy();
